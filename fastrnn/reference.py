"""Plain-numpy reference implementation: the correctness oracle and the benchmark baseline.

Each function mirrors the Numba kernel of the same name in :mod:`fastrnn.kernels.rnn` (same
arguments, same variable names, same layout: ``WxhT`` is ``(V, H)``, one row per word;
:func:`train_epoch` mirrors the per-optimizer ``train_epoch_<optimizer>`` kernels), written to
read like the math.  Parameter dicts are keyed :data:`PARAM_NAMES`, the kernels' names:

    h_0 = 0,   h_t = tanh(WxhT[w_t] + Whh @ h_{t-1} + bh),   r = pool(h_1..h_T)
    y = Why @ r + by,   p = softmax(y),   loss = -ln p[c]

Backward: ``dy = p - onehot(c)``; ``dWhy = outer(dy, r)``; ``dby = dy``; ``dr = Why.T @ dy``;
for t = T..1: ``dh += share of dr``; ``g = (1 - h_t**2) * dh``; ``dbh += g``;
``dWhh += outer(g, h_{t-1})``; ``dWxhT[w_t] += g``; ``dh = Whh.T @ g`` (``gradient="exact"``) or
``Whh @ g`` (``"tutorial"``, what the original tutorial computes).

Update: ``d = clip(d + weight_decay * W, -clip, clip)`` (weight decay on the weight matrices,
lazily on the input rows of the sentence's words), optionally rescaled to a global norm
``clip_norm``, then an SGD, Adagrad or Adam step.

Linear n-gram path (``Model(ngrams=N)``, :mod:`fastrnn.ngrams`): with a table ``U`` (B, O) and
the sentence's unique buckets ``g_u`` with counts ``c_u`` out of ``n`` n-grams,
``y += sum_u (c_u / n) * U[g_u]``; its gradient rows ``dU[g_u] = (c_u / n) * dy`` are clipped,
decayed and applied like the input rows (lazily, at the rate ``ngram_lr``), and count in the
``clip_norm`` norm.  ``ngram`` arguments are ``(U, g, c, n)`` for one sentence, ``grams`` the
corpus's flat arrays ``(grams, gram_counts, gram_offsets, gram_totals)``.

Works in float32 and float64 (arithmetic stays in the arrays' dtype) on numpy 1.26 and 2.x.
:func:`train_epoch` with ``dense=True`` runs the tutorial's algorithm as it is: the full
``(V, H)`` input gradient built, clipped and applied for every sample.
"""

import functools

import numpy as np

# the mode strings, by kernel code (kernels.rnn is imported for its constants only)
from .kernels.rnn import OPTIMIZER_NAMES

__all__ = [
    "forward", "softmax_loss", "backward", "apply_update", "train_epoch", "predict_proba",
    "init_optimizer_state", "PARAM_NAMES", "sentence_ngrams", "ngram_logits", "ngram_grad_rows",
    "EMBEDDING_NAMES", "embed_sentence", "chain_input_grads",
]

#: The parameters' keys in the dicts this module takes and returns, in the kernels' names.
PARAM_NAMES = ("WxhT", "Whh", "Why", "bh", "by")


def sentence_ngrams(grams, s, U):
    """``(U, g, c, n)`` of sentence ``s`` from the corpus's flat n-gram arrays (None: no path)."""
    if grams is None or U is None or U.shape[0] == 0:
        return None
    g, counts, goffs, totals = grams
    a, b = int(goffs[s]), int(goffs[s + 1])
    return U, np.asarray(g[a:b]), np.asarray(counts[a:b]), int(totals[s])


def _ngram_weights(ngram, dtype):
    _, g, c, n = ngram
    return g, np.asarray(c).astype(dtype) / dtype.type(n)


def ngram_logits(ngram, O, dtype):
    """The linear path's share of the logits, ``sum_u (c_u / n) * U[g_u]`` (O,)."""
    out = np.zeros(O, dtype=dtype)
    if ngram is None or ngram[3] == 0:
        return out
    g, w = _ngram_weights(ngram, np.dtype(dtype))
    for gu, wu in zip(g, w):
        out += wu * ngram[0][gu]
    return out


def ignores_blas_invalid_flag(f):
    """Run ``f`` with numpy's "invalid value" warnings off.

    OpenBLAS's matrix-vector kernels can leave the FE_INVALID flag set for finite inputs and
    outputs (numpy/numpy#24067, OpenMathLib/OpenBLAS#1924), and numpy then warns "invalid
    value encountered in matmul". The fresh-clone CI saw this at random in float32 GRU runs of
    this reference, whose results were finite. The reference does not rely on those warnings:
    a NaN or inf in its weights is found by explicit finiteness checks. One ``errstate`` per
    call (a sentence), not per product, keeps it out of the timed loops.
    """
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        with np.errstate(invalid="ignore"):
            return f(*args, **kwargs)
    return wrapper


def ngram_grad_rows(ngram, dy):
    """The linear path's gradient: dict bucket -> (O,) row ``(c_u / n) * dy``."""
    if ngram is None or ngram[3] == 0:
        return {}
    g, w = _ngram_weights(ngram, dy.dtype)
    return {int(gu): wu * dy for gu, wu in zip(g, w)}


#: An embedding model's input parameters, in place of ``WxhT``: the word vectors ``Emb``
#: (V, E) and the projection ``WpeT`` (E, HX); word w's input row is ``Emb[w] @ WpeT``.
EMBEDDING_NAMES = ("Emb", "WpeT")


@ignores_blas_invalid_flag
def embed_sentence(sent, Emb, WpeT):
    """``(words, local, X)``: the sentence's distinct word ids, the sentence re-numbered into
    them, and their projected input rows ``X = Emb[words] @ WpeT`` -- the one-hot model's
    ``(tokens, WxhT)`` for this sentence (the kernels' ``embed_sentence``)."""
    words, local = np.unique(np.asarray(sent), return_inverse=True)
    return words, local.reshape(-1), Emb[words] @ WpeT


@ignores_blas_invalid_flag
def chain_input_grads(words, rows, Emb, WpeT):
    """``(dWpeT, {word: dEmb row})`` from the input-row gradients ``rows`` ({local row: (HX,)},
    as :func:`backward` returns them for :func:`embed_sentence`'s rows):
    ``dWpeT = sum_u outer(Emb[w_u], g_u)`` and ``dEmb[w_u] = WpeT @ g_u``."""
    dWpeT = np.zeros_like(WpeT)
    dE = {}
    for u, g in rows.items():
        w = int(words[u])
        dWpeT += np.outer(Emb[w], g)
        dE[w] = WpeT @ g
    return dWpeT, dE


@ignores_blas_invalid_flag
def forward(tokens, WxhT, Whh, bh, Why, by, pooling="last", ngram=None):
    """Forward pass over one sentence.

    Parameters
    ----------
    tokens : (T,) int array of word ids, T >= 1
    WxhT : (V, H); Whh : (H, H); bh : (H,); Why : (O, H); by : (O,)
    pooling : {"last", "mean", "max"}
    ngram : ``(U, g, c, n)`` of the linear n-gram path (:func:`sentence_ngrams`), or None

    Returns
    -------
    hs : (T+1, H) hidden states, ``hs[0] = 0``
    pooled : (H,) the state the classifier reads
    amax : (H,) int64, for max pooling the step (1..T) each unit's maximum came from, else zeros
    y : (O,) logits
    """
    T = len(tokens)
    H = Whh.shape[0]
    hs = np.zeros((T + 1, H), dtype=Whh.dtype)
    for t in range(1, T + 1):
        hs[t] = np.tanh(WxhT[tokens[t - 1]] + bh + Whh @ hs[t - 1])
    amax = np.zeros(H, dtype=np.int64)
    if pooling == "last":
        pooled = hs[T].copy()
    elif pooling == "mean":
        pooled = hs[1:].sum(axis=0) / T
    else:
        amax = np.argmax(hs[1:], axis=0) + 1
        pooled = hs[amax, np.arange(H)]
    y = Why @ pooled + by
    if ngram is not None and ngram[3] > 0:
        y = y + ngram_logits(ngram, Why.shape[0], Why.dtype)
    return hs, pooled, amax, y


def softmax_loss(y, c):
    """Stable softmax ``p`` (O,) of the logits ``y`` and the loss ``-ln p[c]`` (a Python float)."""
    m = y.max()
    e = np.exp(y - m)
    s = e.sum()
    p = e / s
    return p, float(np.log(s) - (y[c] - m))


def add_pool_share(dh, dr, t, T, pooling, amax):
    """``dh`` plus the pooled state's share of dL/dh_t (``dr`` = dL/d pooled, already /T for
    mean pooling; ``amax`` the max pooling's argmax steps, 1-based)."""
    if pooling == "last":
        return dh + dr if t == T else dh
    if pooling == "mean":
        return dh + dr
    return dh + np.where(amax == t, dr, 0).astype(dh.dtype)


@ignores_blas_invalid_flag
def backward(tokens, hs, pooled, amax, Whh, Why, dy, pooling="last", gradient="exact"):
    """Back-propagation through time for one sentence.

    Returns ``G`` (T, H), the pre-activation gradients ``G[t-1] = (1 - h_t**2) * dL/dh_t``, and
    a dict of gradients: ``"Whh"`` (H, H), ``"Why"`` (O, H), ``"bh"`` (H,), ``"by"`` (O,), and
    ``"WxhT_rows"``, a dict word id -> (H,) summed input-gradient row for each distinct word of
    the sentence (every other row of the input gradient is zero).
    """
    T = len(tokens)
    H = Whh.shape[0]
    dr = Why.T @ dy
    if pooling == "mean":
        dr = dr / T
    G = np.zeros((T, H), dtype=Whh.dtype)
    dh = np.zeros(H, dtype=Whh.dtype)
    for t in range(T, 0, -1):
        dh = add_pool_share(dh, dr, t, T, pooling, amax)
        G[t - 1] = (1 - hs[t] ** 2) * dh
        if t > 1:
            dh = Whh.T @ G[t - 1] if gradient == "exact" else Whh @ G[t - 1]
    grads = {"Why": np.outer(dy, pooled), "by": dy.copy()}
    dbh = np.zeros(H, dtype=Whh.dtype)
    dWhh = np.zeros((H, H), dtype=Whh.dtype)
    rows = {}
    for t in range(T, 0, -1):
        g = G[t - 1]
        dbh += g
        dWhh += np.outer(g, hs[t - 1])
        w = int(tokens[t - 1])
        rows[w] = rows[w] + g if w in rows else g.copy()
    grads.update(bh=dbh, Whh=dWhh, WxhT_rows=rows)
    return G, grads


def init_optimizer_state(optimizer, WxhT, Whh, Why, bh, by, U=None, Emb=None, WpeT=None):
    """Zero optimizer state: a dict name -> array of shape ``(slots, *param.shape)`` (with a
    ``"U"`` entry when the n-gram table ``U`` is given, ``"Emb"`` and ``"WpeT"`` for an
    embedding model's)."""
    slots = OPTIMIZER_NAMES.index(optimizer)
    state = {name: np.zeros((slots,) + a.shape, dtype=a.dtype)
             for name, a in zip(PARAM_NAMES, (WxhT, Whh, Why, bh, by))}
    for name, a in (("U", U), ("Emb", Emb), ("WpeT", WpeT)):
        if a is not None:
            state[name] = np.zeros((slots,) + a.shape, dtype=a.dtype)
    return state


def _optimizer_step(W, d, S, optimizer, lr, eps, beta1, beta2, c1, c2):
    """One optimizer step on ``W`` from its clipped gradient ``d``; ``S`` (slots, *W.shape)."""
    if optimizer == "sgd":
        W -= lr * d
    elif optimizer == "adagrad":
        S[0] += d * d
        W -= lr * d / (np.sqrt(S[0]) + eps)
    else:
        S[0] = beta1 * S[0] + (1 - beta1) * d
        S[1] = beta2 * S[1] + (1 - beta2) * (d * d)
        W -= lr * (S[0] / c1) / (np.sqrt(S[1] / c2) + eps)


def apply_update(params, grads, state, *, lr, clip=1.0, clip_norm=None, weight_decay=0.0,
                 optimizer="sgd", eps=1e-8, beta1=0.9, beta2=0.999, step=1, dense_WxhT=None,
                 ngram_lr=None):
    """Clip every gradient elementwise and update the parameters in place (the kernels'
    ``apply_update``).

    ``params``: dict with the keys :data:`PARAM_NAMES` (``"WxhT"`` (V, H), ``"Whh"``, ...);
    ``grads``: as returned by :func:`backward`; ``state``: from :func:`init_optimizer_state`;
    ``step``: the 1-based optimizer step (Adam's bias correction).  The input matrix is updated
    only in the rows of the sentence's words, unless ``dense_WxhT`` (V, H) is given: then that
    whole gradient is clipped and applied (the tutorial's algorithm; identical for SGD and
    Adagrad without weight decay, since a zero row clips to zero).  ``grads["U_rows"]`` (from
    :func:`ngram_grad_rows`) updates ``params["U"]``'s rows at ``ngram_lr`` (None: ``lr``).
    An embedding model (``params`` with ``"Emb"`` and ``"WpeT"`` instead of ``"WxhT"``) takes
    ``grads["WpeT"]`` (dense, decayed like ``Whh``) and ``grads["Emb_rows"]`` ({word: row},
    empty when frozen; decayed like ``WxhT``'s rows) from :func:`chain_input_grads`.
    """
    dt = params["Whh"].dtype.type
    lr, eps, b1, b2 = dt(lr), dt(eps), dt(beta1), dt(beta2)
    c = dt(np.inf if clip is None else clip)
    wd = dt(weight_decay)
    c1 = dt(1.0 - float(b1) ** step) if optimizer == "adam" else dt(1)
    c2 = dt(1.0 - float(b2) ** step) if optimizer == "adam" else dt(1)

    def clipped(W, d, decay):
        return np.clip(d + decay * W, -c, c)

    emb = "WpeT" in params
    dense_names = ("Why", "by", "bh", "Whh") + (("WpeT",) if emb else ())
    d = {name: clipped(params[name], grads[name], wd if name in ("Whh", "Why", "WpeT") else 0)
         for name in dense_names}
    W = params["Emb"] if emb else params["WxhT"]
    if dense_WxhT is not None:
        dX = np.clip(dense_WxhT + wd * W, -c, c)
    else:
        dX = {w: clipped(W[w], g, wd)
              for w, g in grads["Emb_rows" if emb else "WxhT_rows"].items()}
    dU = {g: clipped(params["U"][g], r, wd) for g, r in grads.get("U_rows", {}).items()}
    if clip_norm is not None and clip_norm > 0:
        xs = dX.values() if isinstance(dX, dict) else [dX]
        ss = sum(float(np.sum(v.astype(np.float64) ** 2))
                 for v in list(d.values()) + list(xs) + list(dU.values()))
        norm = np.sqrt(ss)
        if norm > clip_norm:
            scale = dt(clip_norm / norm)
            d = {k: v * scale for k, v in d.items()}
            dX = ({w: v * scale for w, v in dX.items()} if isinstance(dX, dict) else dX * scale)
            dU = {g: v * scale for g, v in dU.items()}
    for name in dense_names:
        _optimizer_step(params[name], d[name], state[name], optimizer, lr, eps, b1, b2, c1, c2)
    S = state["Emb" if emb else "WxhT"]
    if isinstance(dX, dict):
        for w, g in dX.items():
            Sw = S[:, w]
            _optimizer_step(W[w], g, Sw, optimizer, lr, eps, b1, b2, c1, c2)
            S[:, w] = Sw
    else:
        _optimizer_step(W, dX, S, optimizer, lr, eps, b1, b2, c1, c2)
    nlr = lr if ngram_lr is None else dt(ngram_lr)
    for g, r in dU.items():
        Sg = state["U"][:, g]
        _optimizer_step(params["U"][g], r, Sg, optimizer, nlr, eps, b1, b2, c1, c2)
        state["U"][:, g] = Sg


def train_epoch(tokens, offsets, labels, order, params, state, *, lr, clip=1.0, clip_norm=None,
                weight_decay=0.0, optimizer="sgd", gradient="exact", pooling="last",
                eps=1e-8, beta1=0.9, beta2=0.999, step=0, dense=False, grams=None,
                ngram_lr=None, train_embeddings=True):
    """One pass of per-sample training over ``order``, updating ``params`` and ``state`` in place.

    With ``params["U"]`` (the n-gram table) and ``grams`` (the corpus's flat n-gram arrays) the
    linear path is trained too, at ``ngram_lr`` (None: ``lr``).

    Returns ``(summed loss, number correct, step)``, the correctness counted before each update
    and ``step`` the optimizer step count after the epoch.  ``dense=True`` builds, clips and
    applies the full ``(V, H)`` input gradient every sample, as the tutorial does.

    An embedding model (``params`` with ``"Emb"`` and ``"WpeT"``, see :data:`EMBEDDING_NAMES`)
    runs each sentence on its projected rows (:func:`embed_sentence`) and chains the input
    gradient (:func:`chain_input_grads`); ``train_embeddings=False`` keeps ``Emb`` frozen.
    """
    emb = "WpeT" in params
    if dense and emb:
        raise ValueError("dense=True is the tutorial's one-hot update; an embedding model has "
                         "no (V, H) input matrix")
    if dense and (optimizer == "adam" or weight_decay):
        raise ValueError("dense=True reproduces the tutorial's update; it is defined for "
                         "optimizer='sgd' or 'adagrad' without weight decay")
    P = params
    loss, correct = 0.0, 0
    for s in order:
        sent = tokens[offsets[s]:offsets[s + 1]]
        ngram = sentence_ngrams(grams, s, P.get("U"))
        WxhT = P.get("WxhT")
        if emb:
            words, sent, WxhT = embed_sentence(sent, P["Emb"], P["WpeT"])
        hs, pooled, amax, y = forward(sent, WxhT, P["Whh"], P["bh"], P["Why"], P["by"],
                                      pooling, ngram)
        c = int(labels[s])
        p, l = softmax_loss(y, c)
        loss += l
        correct += int(np.argmax(p) == c)
        dy = p.copy()
        dy[c] -= 1
        G, grads = backward(sent, hs, pooled, amax, P["Whh"], P["Why"], dy, pooling, gradient)
        grads["U_rows"] = ngram_grad_rows(ngram, dy)
        if emb:
            grads["WpeT"], rows = chain_input_grads(words, grads.pop("WxhT_rows"), P["Emb"],
                                                    P["WpeT"])
            grads["Emb_rows"] = rows if train_embeddings else {}
        dense_WxhT = None
        if dense:
            dense_WxhT = np.zeros_like(P["WxhT"])
            for w, g in grads["WxhT_rows"].items():
                dense_WxhT[w] = g
        step += 1
        apply_update(P, grads, state, lr=lr, clip=clip, clip_norm=clip_norm,
                        weight_decay=weight_decay, optimizer=optimizer, eps=eps, beta1=beta1,
                        beta2=beta2, step=step, dense_WxhT=dense_WxhT, ngram_lr=ngram_lr)
    return loss, correct, step


def predict_proba(tokens, offsets, WxhT, Whh, bh, Why, by, pooling="last", U=None, grams=None):
    """Class probabilities (n, O) for every sentence of a flat corpus (``U``, ``grams``: the
    linear n-gram path's table and the corpus's flat n-gram arrays)."""
    n = len(offsets) - 1
    out = np.empty((n, Why.shape[0]), dtype=Whh.dtype)
    for s in range(n):
        *_, y = forward(tokens[offsets[s]:offsets[s + 1]], WxhT, Whh, bh, Why, by, pooling,
                        sentence_ngrams(grams, s, U))
        out[s] = softmax_loss(y, 0)[0]
    return out
