"""Plain-numpy reference for the gated cells (GRU, LSTM): the oracle of ``kernels.gated``.

Each function mirrors the kernel of the same name step for step, written to read like the math.
Equations and gate order are PyTorch's (``nn.GRU`` / ``nn.LSTM``), ``h_0 = c_0 = 0``, one-hot
word inputs (so ``W_ih @ x`` is the row ``WxhT[w]``).

Parameters (a ``{name: array}`` dict; ``G`` gates: 3 for GRU, 4 for LSTM; ``GH = G * H``):

=====  ========  =========================================================================
name   shape     meaning (PyTorch name for ``nn.GRU``/``nn.LSTM(input_size=V, hidden_size=H)``
               + ``nn.Linear(H, O)``)
=====  ========  =========================================================================
WxhT   (V, GH)   row ``w`` is word ``w``'s input contribution to every gate;
                 ``weight_ih_l0 == WxhT.T``
Whh    (GH, H)   recurrent weights, ``weight_hh_l0``
bih    (GH,)     input bias, ``bias_ih_l0``
bhh    (GH,)     recurrent bias, ``bias_hh_l0``
Why    (O, H)    classifier weights, ``fc.weight``
by     (O,)      classifier bias, ``fc.bias``
=====  ========  =========================================================================

Gates are stacked in blocks of H rows: GRU ``r, z, n``; LSTM ``i, f, g, o``.  With
``x = WxhT[w_t] + bih`` and ``u = Whh @ h_{t-1} + bhh`` (block ``k`` written ``x_k``, ``u_k``):

    GRU:   r = sigmoid(x_r + u_r),  z = sigmoid(x_z + u_z),  n = tanh(x_n + r * u_n)
           h_t = (1 - z) * n + z * h_{t-1}
    LSTM:  i, f, o = sigmoid(x_i + u_i), sigmoid(x_f + u_f), sigmoid(x_o + u_o)
           g = tanh(x_g + u_g),  c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)

then, as for the tanh cell, ``r = pool(h_1..h_T)`` (last, mean or elementwise max),
``y = Why @ r + by``, ``p = softmax(y)``, ``loss = -ln p[c]``.

The update (:func:`clip_and_update`) has the semantics of
:func:`fastrnn.reference.clip_and_update`: ``d = clip(d + weight_decay * W, -clip, clip)`` with
weight decay on the weight matrices ``WxhT`` (lazily: only the rows of the sentence's words),
``Whh`` and ``Why``, not on the biases; optionally rescaled to the global norm ``clip_norm``
(over all clipped gradients); then an SGD, Adagrad or Adam step (the same
:func:`fastrnn.reference._optimizer_step`).  Only the input rows of the sentence's words and
their optimizer state are touched.

Linear n-gram path (as in :mod:`fastrnn.reference`): with a table ``params["U"]`` (B, O),
``y += sum_u (c_u / n) * U[g_u]`` over the sentence's unique buckets; the rows
``dU[g_u] = (c_u / n) * dy`` are clipped and decayed like ``WxhT``'s rows, count in the
``clip_norm`` norm and are applied lazily at the rate ``ngram_lr``.  ``ngram`` arguments are
``(U, g, c, n)`` (:func:`fastrnn.reference.sentence_ngrams`), ``grams`` the corpus's flat
arrays ``(grams, gram_counts, gram_offsets, gram_totals)``.

:func:`loss_and_grad` is the public one-sentence entry point for every cell, ``"tanh"``
included (names ``WxhT, Whh, Why, bh, by``, computed by :mod:`fastrnn.reference`).
Works in float32 and float64 on numpy 1.26 and 2.x.
"""

import numpy as np

from . import reference as _tanh_ref
from .reference import (
    _optimizer_step, add_pool_share, chain_input_grads, embed_sentence, ngram_grad_rows,
    ngram_logits, sentence_ngrams, softmax_loss,
)

__all__ = [
    "CELLS", "GATES", "PARAM_NAMES", "sigmoid", "forward", "backward", "loss_and_grad",
    "init_optimizer_state", "clip_and_update", "train_epoch", "predict_proba",
]

CELLS = ("tanh", "gru", "lstm")
#: Gates per cell.
GATES = {"gru": 3, "lstm": 4}
#: Parameter names per cell, in the order the kernels take them.
PARAM_NAMES = {"tanh": ("WxhT", "Whh", "Why", "bh", "by"),
               "gru": ("WxhT", "Whh", "bih", "bhh", "Why", "by"),
               "lstm": ("WxhT", "Whh", "bih", "bhh", "Why", "by")}
POOLINGS = ("last", "mean", "max")
OPTIMIZERS = ("sgd", "adagrad", "adam")
#: Weight decay applies to these (not to the biases); an embedding model's ``Emb`` rows are
#: decayed like ``WxhT``'s, its projection ``WpeT`` like ``Whh``.
DECAYED = ("WxhT", "Whh", "Why", "Emb", "WpeT")


def param_names(cell, embedded=False):
    """:data:`PARAM_NAMES` of ``cell``; ``embedded``: with ``Emb, WpeT`` in ``WxhT``'s place
    (an embedding model, :data:`fastrnn.reference.EMBEDDING_NAMES`)."""
    names = PARAM_NAMES[cell]
    if not embedded:
        return names
    return tuple(m for n in names
                 for m in (_tanh_ref.EMBEDDING_NAMES if n == "WxhT" else (n,)))


def _check(cell, pooling):
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


def sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow warnings (``exp`` of a non-positive number only)."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


@_tanh_ref.ignores_blas_invalid_flag
def forward(tokens, params, cell, pooling="last", ngram=None):
    """Forward pass of a GRU or LSTM over one sentence (``ngram``: the linear n-gram path's
    ``(U, g, c, n)`` of this sentence, or None).

    Returns ``hs`` (T+1, H) with ``hs[0] = 0``; ``cs`` (T+1, H) the LSTM cell states (zeros for
    GRU); ``gates`` (T, ...) what the backward pass needs per step -- GRU ``[r, z, n, u_n]``
    (T, 4H), LSTM ``[i, f, g, o, tanh(c_t)]`` (T, 5H); ``pooled`` (H,); ``amax`` (H,) int64 (the
    1-based step of each unit's maximum for max pooling, else zeros); ``y`` (O,) logits.
    """
    WxhT, Whh, bih, bhh, Why, by = (params[n] for n in PARAM_NAMES[cell])
    T = len(tokens)
    H = Whh.shape[1]
    dt = Whh.dtype
    hs = np.zeros((T + 1, H), dtype=dt)
    cs = np.zeros((T + 1, H), dtype=dt)
    gates = np.zeros((T, (4 if cell == "gru" else 5) * H), dtype=dt)
    for t in range(1, T + 1):
        x = WxhT[tokens[t - 1]] + bih
        u = Whh @ hs[t - 1] + bhh
        if cell == "gru":
            r = sigmoid(x[:H] + u[:H])
            z = sigmoid(x[H:2 * H] + u[H:2 * H])
            n = np.tanh(x[2 * H:] + r * u[2 * H:])
            hs[t] = (1 - z) * n + z * hs[t - 1]
            gates[t - 1] = np.concatenate([r, z, n, u[2 * H:]])
        else:
            a = x + u
            i = sigmoid(a[:H])
            f = sigmoid(a[H:2 * H])
            g = np.tanh(a[2 * H:3 * H])
            o = sigmoid(a[3 * H:])
            cs[t] = f * cs[t - 1] + i * g
            tc = np.tanh(cs[t])
            hs[t] = o * tc
            gates[t - 1] = np.concatenate([i, f, g, o, tc])
    amax = np.zeros(H, dtype=np.int64)
    if pooling == "last":
        pooled = hs[T].copy()
    elif pooling == "mean":
        pooled = hs[1:].sum(axis=0) / dt.type(T)
    else:
        amax = np.argmax(hs[1:], axis=0) + 1
        pooled = hs[amax, np.arange(H)]
    y = Why @ pooled + by
    if ngram is not None and ngram[3] > 0:
        y = y + ngram_logits(ngram, Why.shape[0], dt)
    return hs, cs, gates, pooled, amax, y


@_tanh_ref.ignores_blas_invalid_flag
def backward(tokens, params, cell, hs, cs, gates, pooled, amax, dy, pooling="last"):
    """Exact back-propagation through time for one sentence.

    Returns a dict of gradients: ``"Whh"``, ``"bih"``, ``"bhh"``, ``"Why"``, ``"by"`` and
    ``"WxhT_rows"``, a dict word id -> (GH,) summed input-gradient row for each distinct word of
    the sentence (every other row of the input gradient is zero).
    """
    Whh, Why = params["Whh"], params["Why"]
    T = len(tokens)
    H = Whh.shape[1]
    dt = Whh.dtype
    dr = Why.T @ dy  # gradient of the pooled state
    if pooling == "mean":
        dr = dr / dt.type(T)
    dWhh = np.zeros_like(Whh)
    dbih = np.zeros(Whh.shape[0], dtype=dt)
    dbhh = np.zeros(Whh.shape[0], dtype=dt)
    rows = {}
    dh = np.zeros(H, dtype=dt)
    dc = np.zeros(H, dtype=dt)
    for t in range(T, 0, -1):
        dh = add_pool_share(dh, dr, t, T, pooling, amax)  # the pooled state's share
        h_prev = hs[t - 1]
        q = gates[t - 1]
        if cell == "gru":
            r, z, n, un = q[:H], q[H:2 * H], q[2 * H:3 * H], q[3 * H:]
            dn = dh * (1 - z)
            dz = dh * (h_prev - n)
            dan = dn * (1 - n * n)  # d loss / d (x_n + r * u_n)
            dar = dan * un * r * (1 - r)
            daz = dz * z * (1 - z)
            gx = np.concatenate([dar, daz, dan])  # d loss / d x
            gu = np.concatenate([dar, daz, dan * r])  # d loss / d u
            dh_direct = dh * z
        else:
            i, f, g, o, tc = q[:H], q[H:2 * H], q[2 * H:3 * H], q[3 * H:4 * H], q[4 * H:]
            do = dh * tc
            dc = dc + dh * o * (1 - tc * tc)
            gx = np.concatenate([dc * g * i * (1 - i), dc * cs[t - 1] * f * (1 - f),
                                 dc * i * (1 - g * g), do * o * (1 - o)])
            gu = gx
            dc = dc * f
            dh_direct = np.zeros(H, dtype=dt)
        dbih += gx
        dbhh += gu
        dWhh += np.outer(gu, h_prev)
        w = int(tokens[t - 1])
        rows[w] = rows[w] + gx if w in rows else gx.copy()
        dh = dh_direct + Whh.T @ gu
    return {"WxhT_rows": rows, "Whh": dWhh, "bih": dbih, "bhh": dbhh,
            "Why": np.outer(dy, pooled), "by": dy.copy()}


def loss_and_grad(params, tokens, label, cell="tanh", pooling="last", ngram=None):
    """Loss and exact gradient of one sentence: ``(loss, {name: gradient})``.

    ``params``: ``{name: array}`` with the names of :data:`PARAM_NAMES` for ``cell`` (``"tanh"``:
    ``WxhT, Whh, Why, bh, by`` as in :mod:`fastrnn.reference`; ``"gru"``/``"lstm"``: see the
    module docstring), and ``"U"`` (B, O), the n-gram table, for the linear path.  ``ngram``:
    ``(g, c, n)``, the sentence's unique buckets, their counts and its number of n-grams (needs
    ``params["U"]``).  Every gradient has its parameter's shape (``WxhT``'s and ``U``'s are
    dense, zero outside the sentence's rows).  Nothing is updated.  An embedding model's
    ``params`` have ``Emb`` (V, E) and ``WpeT`` (E, HX) instead of ``WxhT`` (word w's input row
    ``Emb[w] @ WpeT``): their gradients are returned under those names (``Emb``'s dense, zero
    outside the sentence's words).
    """
    _check(cell, pooling)
    emb = "WpeT" in params
    names = param_names(cell, emb)
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"params for cell={cell!r} lack {missing}; expected {names}")
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or len(tokens) == 0:
        raise ValueError("tokens must be a non-empty 1-D array of word ids")
    if emb:  # the sentence on its projected rows (fastrnn.reference.embed_sentence)
        words, tokens, X = embed_sentence(tokens, params["Emb"], params["WpeT"])
        full, params = params, dict(params, WxhT=X)
    c = int(label)
    U = params.get("U")
    if ngram is not None:
        if U is None:
            raise ValueError("ngram= needs the n-gram table params['U'] (buckets, O)")
        g_, c_, n_ = ngram
        g_ = np.asarray(g_, dtype=np.int64)
        if g_.size and (g_.min() < 0 or g_.max() >= U.shape[0]):
            raise ValueError("n-gram buckets out of range for a table of %d rows" % U.shape[0])
        ngram = (U, g_, np.asarray(c_), int(n_))
    if cell == "tanh":
        WxhT, Whh, Why, bh, by = (params[n] for n in PARAM_NAMES["tanh"])
        hs, pooled, amax, y = _tanh_ref.forward(tokens, WxhT, Whh, bh, Why, by, pooling, ngram)
        p, loss = softmax_loss(y, c)
        dy = p.copy()
        dy[c] -= 1
        _, g = _tanh_ref.backward(tokens, hs, pooled, amax, Whh, Why, dy, pooling, "exact")
        rows = g.pop("WxhT_rows")
    else:
        hs, cs, gates, pooled, amax, y = forward(tokens, params, cell, pooling, ngram)
        p, loss = softmax_loss(y, c)
        dy = p.copy()
        dy[c] -= 1
        g = backward(tokens, params, cell, hs, cs, gates, pooled, amax, dy, pooling)
        rows = g.pop("WxhT_rows")
    if emb:
        g["WpeT"], erows = chain_input_grads(words, rows, full["Emb"], full["WpeT"])
        g["Emb"] = np.zeros_like(full["Emb"])
        for w, row in erows.items():
            g["Emb"][w] = row
    else:
        dX = np.zeros_like(params["WxhT"])
        for w, row in rows.items():
            dX[w] = row
        g["WxhT"] = dX
    out = {n: g[n] for n in names}
    if U is not None:
        dU = np.zeros_like(U)
        for gu, row in ngram_grad_rows(ngram, dy).items():
            dU[gu] += row
        out["U"] = dU
    return loss, out


def init_optimizer_state(optimizer, params, cell):
    """Zero optimizer state: ``{name: (slots, *param.shape)}`` (slots 0 / 1 / 2 for sgd / adagrad
    / adam), with a ``"U"`` entry when ``params`` has the n-gram table."""
    slots = OPTIMIZERS.index(optimizer)
    names = param_names(cell, "WpeT" in params) + (("U",) if "U" in params else ())
    return {n: np.zeros((slots,) + params[n].shape, dtype=params[n].dtype) for n in names}


def clip_and_update(params, grads, state, cell, *, lr, clip=1.0, clip_norm=None,
                    weight_decay=0.0, optimizer="sgd", eps=1e-8, beta1=0.9, beta2=0.999,
                    step=1, ngram_lr=None):
    """Clip the gradients of :func:`backward` and update ``params`` and ``state`` in place.

    The semantics of :func:`fastrnn.reference.apply_update` for the gated parameter names:
    elementwise clip of ``d + weight_decay * W`` (decay on ``WxhT``'s sentence rows, ``Whh``,
    ``Why``), then the global ``clip_norm`` rescale, then the optimizer step ``step`` (1-based).
    ``grads["U_rows"]`` (bucket -> (O,) row, :func:`fastrnn.reference.ngram_grad_rows`)
    updates ``params["U"]``'s rows like ``WxhT``'s, at ``ngram_lr`` (None: ``lr``).
    """
    dt = params["Whh"].dtype.type
    lr, eps, b1, b2 = dt(lr), dt(eps), dt(beta1), dt(beta2)
    c = dt(np.inf if clip is None else clip)
    wd = dt(weight_decay)
    c1 = dt(1.0 - float(b1) ** step) if optimizer == "adam" else dt(1)
    c2 = dt(1.0 - float(b2) ** step) if optimizer == "adam" else dt(1)
    emb = "WpeT" in params
    dense = [n for n in param_names(cell, emb) if n not in ("WxhT", "Emb")]
    d = {n: np.clip(grads[n] + (wd if n in DECAYED else dt(0)) * params[n], -c, c)
         for n in dense}
    W = params["Emb" if emb else "WxhT"]
    dX = {w: np.clip(g + wd * W[w], -c, c)
          for w, g in grads["Emb_rows" if emb else "WxhT_rows"].items()}
    dU = {g: np.clip(r + wd * params["U"][g], -c, c) for g, r in grads.get("U_rows", {}).items()}
    if clip_norm is not None and clip_norm > 0:
        ss = sum(float(np.sum(v.astype(np.float64) ** 2))
                 for v in list(d.values()) + list(dX.values()) + list(dU.values()))
        norm = np.sqrt(ss)
        if norm > clip_norm:
            scale = dt(clip_norm / norm)
            d = {k: v * scale for k, v in d.items()}
            dX = {w: v * scale for w, v in dX.items()}
            dU = {g: v * scale for g, v in dU.items()}
    for n in dense:
        _optimizer_step(params[n], d[n], state[n], optimizer, lr, eps, b1, b2, c1, c2)
    S = state["Emb" if emb else "WxhT"]
    for w, g in dX.items():
        Sw = S[:, w]
        _optimizer_step(W[w], g, Sw, optimizer, lr, eps, b1, b2, c1, c2)
        S[:, w] = Sw
    nlr = lr if ngram_lr is None else dt(ngram_lr)
    for g, r in dU.items():
        Sg = state["U"][:, g]
        _optimizer_step(params["U"][g], r, Sg, optimizer, nlr, eps, b1, b2, c1, c2)
        state["U"][:, g] = Sg


def train_epoch(tokens, offsets, labels, order, params, state, cell, *, lr, clip=1.0,
                clip_norm=None, weight_decay=0.0, optimizer="sgd", pooling="last", eps=1e-8,
                beta1=0.9, beta2=0.999, step=0, grams=None, ngram_lr=None,
                train_embeddings=True):
    """One pass of per-sample training over ``order``; ``params`` and ``state`` updated in place.

    With ``params["U"]`` (the n-gram table) and ``grams`` (the corpus's flat n-gram arrays) the
    linear path is trained too, at ``ngram_lr`` (None: ``lr``).

    Returns ``(summed loss, number correct before each update, optimizer step after the
    epoch)``.
    """
    emb = "WpeT" in params
    loss, correct = 0.0, 0
    for s in order:
        sent = tokens[offsets[s]:offsets[s + 1]]
        ngram = sentence_ngrams(grams, s, params.get("U"))
        P = params
        if emb:  # the sentence on its projected rows
            words, sent, X = embed_sentence(sent, params["Emb"], params["WpeT"])
            P = dict(params, WxhT=X)
        hs, cs, gates, pooled, amax, y = forward(sent, P, cell, pooling, ngram)
        c = int(labels[s])
        p, l = softmax_loss(y, c)
        loss += l
        correct += int(np.argmax(p) == c)
        dy = p.copy()
        dy[c] -= 1
        grads = backward(sent, P, cell, hs, cs, gates, pooled, amax, dy, pooling)
        grads["U_rows"] = ngram_grad_rows(ngram, dy)
        if emb:
            grads["WpeT"], rows = chain_input_grads(words, grads.pop("WxhT_rows"),
                                                    params["Emb"], params["WpeT"])
            grads["Emb_rows"] = rows if train_embeddings else {}
        step += 1
        clip_and_update(params, grads, state, cell, lr=lr, clip=clip, clip_norm=clip_norm,
                        weight_decay=weight_decay, optimizer=optimizer, eps=eps, beta1=beta1,
                        beta2=beta2, step=step, ngram_lr=ngram_lr)
    return loss, correct, step


def predict_proba(tokens, offsets, params, cell, pooling="last", grams=None):
    """Class probabilities (n, O) for every sentence of a flat corpus (``grams``: the corpus's
    flat n-gram arrays, used with ``params["U"]``)."""
    n = len(offsets) - 1
    out = np.empty((n, params["Why"].shape[0]), dtype=params["Whh"].dtype)
    for s in range(n):
        y = forward(tokens[offsets[s]:offsets[s + 1]], params, cell, pooling,
                    sentence_ngrams(grams, s, params.get("U")))[-1]
        out[s] = softmax_loss(y, 0)[0]
    return out
