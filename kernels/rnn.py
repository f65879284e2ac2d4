"""Numba kernels for a many-to-one tanh RNN trained with per-sample updates.

Every kernel takes arrays and scalars only and writes into caller-owned buffers; the Python layer
(:mod:`fastrnn._engine`) validates inputs and allocates.  Nothing here checks bounds: a word id
out of range is undefined behaviour, so never call these functions with unvalidated input.

Layout (shared with :mod:`fastrnn.reference`, which mirrors these functions step by step):

========  ==========  ======================================================================
name      shape       meaning
========  ==========  ======================================================================
WxhT      (V, H)      input weights, one row per word: ``WxhT[w] == Wxh[:, w]`` of the tutorial
Whh       (H, H)      recurrent weights, ``h_t = tanh(WxhT[w_t] + Whh @ h_{t-1} + bh)``
WhhT      (H, H)      a transposed copy of ``Whh`` (so both matvecs run over contiguous rows)
Why       (O, H)      output weights, ``y = Why @ r + by`` where ``r`` is the pooled state
bh, by    (H,), (O,)  biases
tokens    (N,) int32  all sentences' word ids, concatenated
offsets   (n+1,) i64  sentence ``s`` is ``tokens[offsets[s]:offsets[s+1]]``
hs        (T+1, H)    hidden states, ``hs[0] = 0`` and ``hs[t]`` after word ``t``
G         (T, H)      ``G[t-1] = (1 - hs[t]**2) * dL/dhs[t]``, the pre-activation gradients
========  ==========  ======================================================================

All float arrays of one call share one dtype (float32 or float64); each dtype is compiled once.
``hp`` holds the hyperparameters in that dtype (see :data:`HP_FIELDS`), so float32 models do
float32 arithmetic throughout, as numpy does.  Modes that only select a branch (gradient,
pooling, optimizer) are runtime integers, not separate compilations.
"""

import numpy as np
from numba import njit, prange, get_num_threads

#: ``gradient=`` codes: the true gradient, or the tutorial's ``d_h = Whh @ g``.
GRADIENT_EXACT, GRADIENT_TUTORIAL = 0, 1
#: ``pooling=`` codes: the classifier reads the last, the mean or the elementwise max state.
POOL_LAST, POOL_MEAN, POOL_MAX = 0, 1, 2
#: ``optimizer=`` codes.
OPT_SGD, OPT_ADAGRAD, OPT_ADAM = 0, 1, 2
#: Slots of the ``hp`` hyperparameter array.
HP_FIELDS = ("lr", "clip", "clip_norm", "weight_decay", "eps", "beta1", "beta2")
HP_LR, HP_CLIP, HP_CLIP_NORM, HP_WD, HP_EPS, HP_BETA1, HP_BETA2 = range(7)
#: Rows of the ``vecs`` workspace, each of length H.
V_DR, V_DH, V_DH2, V_TMP, V_POOL = range(5)
N_VECS = 5

_opts = dict(cache=True, error_model="numpy", nogil=True)


# --------------------------------------------------------------------------------------------
# forward
# --------------------------------------------------------------------------------------------
@njit(**_opts)
def rnn_step(x_row, WhhT, bh, h_prev, h_out, first):
    """``h_out = tanh(x_row + bh + Whh @ h_prev)``; ``first`` skips the matvec (h_prev = 0)."""
    H = bh.shape[0]
    for i in range(H):
        h_out[i] = x_row[i] + bh[i]
    if not first:
        for j in range(H):
            hj = h_prev[j]
            row = WhhT[j]
            for i in range(H):
                h_out[i] += row[i] * hj
    for i in range(H):
        h_out[i] = np.tanh(h_out[i])


@njit(**_opts)
def pool_states(hs, T, pooling, pooled, amax):
    """Readout input ``pooled`` (H,) from ``hs[1..T]``; ``amax`` (H,) gets max-pool argmax steps."""
    H = pooled.shape[0]
    if pooling == POOL_LAST:
        for i in range(H):
            pooled[i] = hs[T, i]
    elif pooling == POOL_MEAN:
        for i in range(H):
            pooled[i] = hs[1, i]
        for t in range(2, T + 1):
            for i in range(H):
                pooled[i] += hs[t, i]
        Tf = pooled.dtype.type(T)
        for i in range(H):
            pooled[i] = pooled[i] / Tf
    else:
        for i in range(H):
            pooled[i] = hs[1, i]
            amax[i] = 1
        for t in range(2, T + 1):
            for i in range(H):
                if hs[t, i] > pooled[i]:
                    pooled[i] = hs[t, i]
                    amax[i] = t


@njit(**_opts)
def readout(Why, by, pooled, y):
    """``y = Why @ pooled + by``."""
    O, H = Why.shape
    for o in range(O):
        acc = by[o] * 0
        for j in range(H):
            acc += Why[o, j] * pooled[j]
        y[o] = acc + by[o]


@njit(**_opts)
def softmax_loss(y, c, p):
    """Stable softmax of ``y`` into ``p``; returns ``-ln p[c]`` as float64."""
    O = y.shape[0]
    m = y[0]
    for o in range(1, O):
        if y[o] > m:
            m = y[o]
    s = y[0] * 0
    for o in range(O):
        p[o] = np.exp(y[o] - m)
        s += p[o]
    for o in range(O):
        p[o] = p[o] / s
    return np.float64(np.log(s) - (y[c] - m))


@njit(**_opts)
def forward(tokens, WxhT, WhhT, bh, Why, by, pooling, hs, pooled, amax, y):
    """Forward pass over one sentence.

    Fills ``hs[0..T]`` (T+1, H), ``pooled`` (H,), ``amax`` (H,) int64 (max pooling only) and the
    logits ``y`` (O,).
    """
    T = tokens.shape[0]
    H = bh.shape[0]
    for i in range(H):
        hs[0, i] = 0
    for t in range(T):
        rnn_step(WxhT[tokens[t]], WhhT, bh, hs[t], hs[t + 1], t == 0)
    pool_states(hs, T, pooling, pooled, amax)
    readout(Why, by, pooled, y)


# --------------------------------------------------------------------------------------------
# backward
# --------------------------------------------------------------------------------------------
@njit(**_opts)
def backward_steps(T, hs, amax, Whh, WhhT, Why, dy, pooling, gradient, G, vecs):
    """Back-propagate ``dy`` (O,) through time into ``G[0..T-1]`` (T, H).

    ``gradient=GRADIENT_EXACT`` passes ``d_h = Whh.T @ g`` to the previous step, the tutorial's
    ``GRADIENT_TUTORIAL`` passes ``d_h = Whh @ g``.  ``vecs`` is a (>= 3, H) workspace.
    """
    O, H = Why.shape
    one = dy.dtype.type(1)
    dr = vecs[V_DR]
    dh = vecs[V_DH]
    dn = vecs[V_DH2]
    # dr = Why.T @ dy: the gradient of the pooled state
    for j in range(H):
        dr[j] = 0
    for o in range(O):
        d = dy[o]
        for j in range(H):
            dr[j] += Why[o, j] * d
    if pooling == POOL_MEAN:
        Tf = dr.dtype.type(T)
        for j in range(H):
            dr[j] = dr[j] / Tf
    for j in range(H):
        dh[j] = 0
    for k in range(T, 0, -1):
        # the pooled state's share of dL/dh_k
        if pooling == POOL_LAST:
            if k == T:
                for i in range(H):
                    dh[i] += dr[i]
        elif pooling == POOL_MEAN:
            for i in range(H):
                dh[i] += dr[i]
        else:
            for i in range(H):
                if amax[i] == k:
                    dh[i] += dr[i]
        g = G[k - 1]
        for i in range(H):
            g[i] = (one - hs[k, i] * hs[k, i]) * dh[i]
        if k > 1:
            for j in range(H):
                dn[j] = 0
            if gradient == GRADIENT_EXACT:
                for i in range(H):  # dn = Whh.T @ g
                    gi = g[i]
                    row = Whh[i]
                    for j in range(H):
                        dn[j] += row[j] * gi
            else:
                for j in range(H):  # dn = Whh @ g
                    gj = g[j]
                    row = WhhT[j]
                    for i in range(H):
                        dn[i] += row[i] * gj
            for j in range(H):
                dh[j] = dn[j]


@njit(**_opts)
def accumulate_gradients(tokens, hs, pooled, G, dy, dWxhT, dWhh, dWhy, dbh, dby):
    """Add this sentence's dense gradients to the caller's buffers (``+=``, zero them first)."""
    T = tokens.shape[0]
    O, H = dWhy.shape
    for o in range(O):
        for j in range(H):
            dWhy[o, j] += dy[o] * pooled[j]
        dby[o] += dy[o]
    for k in range(T, 0, -1):
        g = G[k - 1]
        hp = hs[k - 1]
        xrow = dWxhT[tokens[k - 1]]
        for i in range(H):
            dbh[i] += g[i]
            xrow[i] += g[i]
            gi = g[i]
            for j in range(H):
                dWhh[i, j] += gi * hp[j]


@njit(**_opts)
def backward(tokens, hs, pooled, amax, Whh, WhhT, Why, dy, pooling, gradient, G, vecs,
             dWxhT, dWhh, dWhy, dbh, dby):
    """BPTT for one sentence: fills ``G`` and accumulates the five gradients (``+=``)."""
    backward_steps(tokens.shape[0], hs, amax, Whh, WhhT, Why, dy, pooling, gradient, G, vecs)
    accumulate_gradients(tokens, hs, pooled, G, dy, dWxhT, dWhh, dWhy, dbh, dby)


# --------------------------------------------------------------------------------------------
# fused clip + optimizer update
# --------------------------------------------------------------------------------------------
@njit(**_opts)
def _clip_row(p, d, wd, clip, scale):
    """``d = clip(d + wd * p, -clip, clip) * scale`` in place."""
    for j in range(d.shape[0]):
        x = d[j] + wd * p[j]
        if x > clip:
            x = clip
        elif x < -clip:
            x = -clip
        d[j] = x * scale


@njit(**_opts)
def _sumsq_row(p, d, wd, clip):
    """Sum of squares of ``clip(d + wd * p)`` (for ``clip_norm``), as float64."""
    s = 0.0
    for j in range(d.shape[0]):
        x = d[j] + wd * p[j]
        if x > clip:
            x = clip
        elif x < -clip:
            x = -clip
        s += np.float64(x) * np.float64(x)
    return s


@njit(**_opts)
def _step_row(p, d, s1, s2, lr, eps, b1, b2, c1, c2, optimizer):
    """Apply one optimizer step to the row ``p`` from its (clipped) gradient ``d``."""
    n = p.shape[0]
    one = p.dtype.type(1)
    if optimizer == OPT_SGD:
        for j in range(n):
            p[j] -= lr * d[j]
    elif optimizer == OPT_ADAGRAD:
        for j in range(n):
            s1[j] += d[j] * d[j]
            p[j] -= lr * d[j] / (np.sqrt(s1[j]) + eps)
    else:
        for j in range(n):
            s1[j] = b1 * s1[j] + (one - b1) * d[j]
            s2[j] = b2 * s2[j] + (one - b2) * (d[j] * d[j])
            p[j] -= lr * (s1[j] / c1) / (np.sqrt(s2[j] / c2) + eps)


@njit(**_opts)
def _whh_grad_row(i, T, hs, G, out):
    """``out = dWhh[i] = sum_k G[k-1, i] * hs[k-1]`` (k from T down to 2; hs[0] = 0)."""
    H = out.shape[0]
    for j in range(H):
        out[j] = 0
    for k in range(T, 1, -1):
        gi = G[k - 1, i]
        hp = hs[k - 1]
        for j in range(H):
            out[j] += gi * hp[j]


@njit(**_opts)
def apply_update(tokens, hs, pooled, G, dy, WxhT, Whh, WhhT, Why, bh, by,
                 Sx, Shh, Sy, Sbh, Sby, hp, optimizer, counters, gX, mark, vecs, y):
    """Clip the sentence's gradients and update all five parameters in place.

    The gradients are never materialised in full: ``dWhh`` is formed one row at a time, and
    ``dWxhT`` only in the rows of the sentence's words (``gX`` (V, H) must be all-zero on entry
    and is left all-zero; ``mark`` (V,) int64 tracks which rows this sentence touched; ``y`` (O,)
    is scratch).
    ``S*`` are the optimizer states, shape ``(slots, *param.shape)``: 0 slots for SGD, 1
    (sum of squared gradients) for Adagrad, 2 (first and second moments) for Adam.
    ``counters`` (2,) int64 holds the optimizer step count and the row stamp; both advance.
    Weight decay ``hp[HP_WD]`` applies to the weight matrices (lazily: only the input rows of the
    sentence's words), not to the biases.  ``WhhT`` is refreshed from ``Whh`` at the end.
    """
    T = tokens.shape[0]
    O, H = Why.shape
    lr = hp[HP_LR]
    clip = hp[HP_CLIP]
    clip_norm = hp[HP_CLIP_NORM]
    wd = hp[HP_WD]
    eps = hp[HP_EPS]
    b1 = hp[HP_BETA1]
    b2 = hp[HP_BETA2]
    zero = hp.dtype.type(0)
    one = hp.dtype.type(1)
    counters[0] += 1
    counters[1] += 1
    stamp = counters[1]
    c1 = one
    c2 = one
    if optimizer == OPT_ADAM:
        c1 = hp.dtype.type(1.0 - np.float64(b1) ** counters[0])
        c2 = hp.dtype.type(1.0 - np.float64(b2) ** counters[0])
    tmp = vecs[V_TMP]
    has1 = Sx.shape[0] >= 1
    has2 = Sx.shape[0] >= 2
    # gX rows: the input-weight gradient of each distinct word of the sentence
    for k in range(T, 0, -1):
        xrow = gX[tokens[k - 1]]
        g = G[k - 1]
        for i in range(H):
            xrow[i] += g[i]

    scale = one
    if clip_norm > 0:
        ss = 0.0
        for o in range(O):
            for j in range(H):
                tmp[j] = dy[o] * pooled[j]
            ss += _sumsq_row(Why[o], tmp, wd, clip)
        ss += _sumsq_row(by, dy, zero, clip)
        for i in range(H):
            tmp[i] = 0
        for k in range(T, 0, -1):
            for i in range(H):
                tmp[i] += G[k - 1, i]
        ss += _sumsq_row(bh, tmp, zero, clip)
        for i in range(H):
            _whh_grad_row(i, T, hs, G, tmp)
            ss += _sumsq_row(Whh[i], tmp, wd, clip)
        for k in range(T, 0, -1):
            w = tokens[k - 1]
            if mark[w] != stamp:
                mark[w] = stamp
                ss += _sumsq_row(WxhT[w], gX[w], wd, clip)
        norm = np.sqrt(ss)
        if norm > clip_norm:
            scale = hp.dtype.type(np.float64(clip_norm) / norm)
        counters[1] += 1
        stamp = counters[1]

    # Why and by
    for o in range(O):
        for j in range(H):
            tmp[j] = dy[o] * pooled[j]
        _clip_row(Why[o], tmp, wd, clip, scale)
        _step_row(Why[o], tmp, Sy[0, o] if has1 else tmp, Sy[1, o] if has2 else tmp,
                  lr, eps, b1, b2, c1, c2, optimizer)
    dby = y  # the logits are spent: reuse their buffer
    for o in range(O):
        dby[o] = dy[o]
    _clip_row(by, dby, zero, clip, scale)
    _step_row(by, dby, Sby[0] if has1 else dby, Sby[1] if has2 else dby,
              lr, eps, b1, b2, c1, c2, optimizer)
    # bh
    for i in range(H):
        tmp[i] = 0
    for k in range(T, 0, -1):
        for i in range(H):
            tmp[i] += G[k - 1, i]
    _clip_row(bh, tmp, zero, clip, scale)
    _step_row(bh, tmp, Sbh[0] if has1 else tmp, Sbh[1] if has2 else tmp,
              lr, eps, b1, b2, c1, c2, optimizer)
    # Whh, one gradient row at a time, then its transposed copy
    for i in range(H):
        _whh_grad_row(i, T, hs, G, tmp)
        _clip_row(Whh[i], tmp, wd, clip, scale)
        _step_row(Whh[i], tmp, Shh[0, i] if has1 else tmp, Shh[1, i] if has2 else tmp,
                  lr, eps, b1, b2, c1, c2, optimizer)
    for i in range(H):
        for j in range(H):
            WhhT[j, i] = Whh[i, j]
    # WxhT, only the rows of the sentence's words
    for k in range(T, 0, -1):
        w = tokens[k - 1]
        if mark[w] != stamp:
            mark[w] = stamp
            d = gX[w]
            _clip_row(WxhT[w], d, wd, clip, scale)
            _step_row(WxhT[w], d, Sx[0, w] if has1 else d, Sx[1, w] if has2 else d,
                      lr, eps, b1, b2, c1, c2, optimizer)
            for i in range(H):
                d[i] = 0


# --------------------------------------------------------------------------------------------
# whole epoch, inference
# --------------------------------------------------------------------------------------------
@njit(**_opts)
def train_epoch(tokens, offsets, labels, order, WxhT, Whh, WhhT, Why, bh, by,
                Sx, Shh, Sy, Sbh, Sby, hp, gradient, pooling, optimizer, counters,
                hs, G, gX, mark, vecs, amax, y, p):
    """One pass of per-sample training over ``order`` (int64 sample indices).

    Per sample: forward, softmax loss, BPTT, fused clip + update.  No allocation per sample.
    Workspace: ``hs`` (Tmax+1, H), ``G`` (Tmax, H), ``gX`` (V, H) zeros, ``mark`` (V,) int64,
    ``vecs`` (N_VECS, H), ``amax`` (H,) int64, ``y`` and ``p`` (O,).
    Returns ``(summed loss as float64, number of correct predictions before each update)``.
    """
    H = bh.shape[0]
    for i in range(H):
        for j in range(H):
            WhhT[j, i] = Whh[i, j]
    loss = 0.0
    correct = 0
    pooled = vecs[V_POOL][:H]
    dy = p
    for n in range(order.shape[0]):
        s = order[n]
        sent = tokens[offsets[s]:offsets[s + 1]]
        T = sent.shape[0]
        forward(sent, WxhT, WhhT, bh, Why, by, pooling, hs, pooled, amax, y)
        c = labels[s]
        loss += softmax_loss(y, c, p)
        best = 0
        for o in range(1, p.shape[0]):
            if p[o] > p[best]:
                best = o
        if best == c:
            correct += 1
        dy[c] -= 1  # p becomes dL/dy in place
        backward_steps(T, hs, amax, Whh, WhhT, Why, dy, pooling, gradient, G, vecs)
        apply_update(sent, hs, pooled, G, dy, WxhT, Whh, WhhT, Why, bh, by,
                     Sx, Shh, Sy, Sbh, Sby, hp, optimizer, counters, gX, mark, vecs, y)
    return loss, correct


@njit(cache=True, error_model="numpy", parallel=True)
def predict_proba(tokens, offsets, WxhT, WhhT, bh, Why, by, pooling, out):
    """Class probabilities ``out`` (n, O) for every sentence, in parallel over sentences.

    Same arithmetic, in the same order, as :func:`forward` + :func:`softmax_loss`.
    """
    n = offsets.shape[0] - 1
    O, H = Why.shape
    nchunks = min(n, 8 * get_num_threads())
    for c in prange(nchunks):
        h = np.empty((2, H), dtype=bh.dtype)
        pooled = np.empty(H, dtype=bh.dtype)
        y = np.empty(O, dtype=bh.dtype)
        for s in range(c * n // nchunks, (c + 1) * n // nchunks):
            sent = tokens[offsets[s]:offsets[s + 1]]
            T = sent.shape[0]
            cur = 0
            for i in range(H):
                h[0, i] = 0
            for t in range(T):
                nxt = 1 - cur
                rnn_step(WxhT[sent[t]], WhhT, bh, h[cur], h[nxt], t == 0)
                cur = nxt
                if t == 0:
                    for i in range(H):
                        pooled[i] = h[cur, i]
                elif pooling == POOL_MEAN:
                    for i in range(H):
                        pooled[i] += h[cur, i]
                elif pooling == POOL_MAX:
                    for i in range(H):
                        if h[cur, i] > pooled[i]:
                            pooled[i] = h[cur, i]
            if pooling == POOL_LAST:
                for i in range(H):
                    pooled[i] = h[cur, i]
            elif pooling == POOL_MEAN:
                Tf = pooled.dtype.type(T)
                for i in range(H):
                    pooled[i] = pooled[i] / Tf
            readout(Why, by, pooled, y)
            softmax_loss(y, 0, out[s])
