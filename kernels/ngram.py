"""Numba helpers of the linear n-gram path, called from the epoch and predict kernels.

The path (see :mod:`fastrnn.ngrams` for the hash and the flat arrays) adds to the logits

    y += sum_u w_u * U[g_u],    w_u = gram_counts[u] / gram_totals[s]

over the unique buckets ``g_u = grams[u]`` of sentence ``s`` (``u`` in
``gram_offsets[s] .. gram_offsets[s+1]``).  Its gradient lives in those rows only:
``dU[g_u] = w_u * dy``; it is clipped, decayed and applied like every other weight matrix's
(elementwise ``clip(dU + wd * U)``, the sentence's global norm for ``clip_norm``), with the
optimizer's state ``SU`` (slots, B, O) touched lazily, in those rows only, at the rate
``nhp[HP_LR]`` (``nhp`` is a copy of the model's ``hp`` array with the n-gram rate).

The bundle ``ngrams = (U, SU, grams, gram_counts, gram_offsets, gram_totals, nhp)`` is the epoch
kernels' seventh argument (``kernels.rnn.EPOCH_BUNDLES``).  A model without the path passes
empty arrays (``gram_offsets`` of length 0): every helper returns at its first test.

Everything here is ``inline="always"``: each helper runs once per sentence and is compiled
into its caller (``kernels.rnn``'s epoch and predict kernels, whose disk cache is keyed on
this file's source too, see :mod:`kernels._cache`).
"""

import numpy as np
from numba import njit

# the constants only (rnn.py imports this module after defining them)
from .rnn import HP_BETA1, HP_BETA2, HP_EPS, HP_LR, OPT_ADAGRAD, OPT_SGD

_inline = dict(inline="always", error_model="numpy", nogil=True)


@njit(**_inline)
def active(ngrams):
    """True when the bundle carries n-grams (``gram_offsets`` not empty)."""
    return ngrams[4].shape[0] > 0


@njit(**_inline)
def add_logits(ngrams, s, y):
    """``y += sum_u w_u * U[g_u]`` for sentence ``s`` (nothing for an empty bundle or a
    sentence without n-grams)."""
    U, _, grams, counts, offs, totals, _ = ngrams
    if offs.shape[0] == 0:
        return
    n = totals[s]
    if n == 0:
        return
    O = y.shape[0]
    nf = y.dtype.type(n)
    for u in range(offs[s], offs[s + 1]):
        g = grams[u]
        w = y.dtype.type(counts[u]) / nf
        for o in range(O):
            y[o] += w * U[g, o]


@njit(**_inline)
def add_logits_range(U, grams, counts, offs, totals, s, y):
    """:func:`add_logits` with the arrays passed one by one (the predict kernels)."""
    if offs.shape[0] == 0:
        return
    n = totals[s]
    if n == 0:
        return
    O = y.shape[0]
    nf = y.dtype.type(n)
    for u in range(offs[s], offs[s + 1]):
        g = grams[u]
        w = y.dtype.type(counts[u]) / nf
        for o in range(O):
            y[o] += w * U[g, o]


@njit(**_inline)
def sumsq(ngrams, s, dy, wd, clip):
    """float64 sum of squares of the clipped gradient rows ``clip(w_u dy + wd U[g_u])``."""
    U, _, grams, counts, offs, totals, _ = ngrams
    acc = 0.0
    if offs.shape[0] == 0:
        return acc
    n = totals[s]
    if n == 0:
        return acc
    O = dy.shape[0]
    nf = dy.dtype.type(n)
    for u in range(offs[s], offs[s + 1]):
        g = grams[u]
        w = dy.dtype.type(counts[u]) / nf
        for o in range(O):
            x = np.float64(min(max(w * dy[o] + wd * U[g, o], -clip), clip))
            acc += x * x
    return acc


@njit(**_inline)
def update(ngrams, s, dy, optimizer, wd, clip, scale, c1, c2):
    """Clip and apply the sentence's gradient rows ``w_u * dy`` to ``U`` and ``SU`` in place.

    ``optimizer`` the kernels' code (a literal in the per-optimizer epoch kernels), ``scale``
    the ``clip_norm`` factor, ``c1, c2`` Adam's bias corrections (the shared step count).
    """
    U, S, grams, counts, offs, totals, nhp = ngrams
    if offs.shape[0] == 0:
        return
    n = totals[s]
    if n == 0:
        return
    O = dy.shape[0]
    nf = dy.dtype.type(n)
    lr = nhp[HP_LR]
    eps = nhp[HP_EPS]
    one = lr * 0 + 1
    for u in range(offs[s], offs[s + 1]):
        g = grams[u]
        w = dy.dtype.type(counts[u]) / nf
        if optimizer == OPT_SGD:
            for o in range(O):
                x = min(max(w * dy[o] + wd * U[g, o], -clip), clip) * scale
                U[g, o] -= lr * x
        elif optimizer == OPT_ADAGRAD:
            for o in range(O):
                x = min(max(w * dy[o] + wd * U[g, o], -clip), clip) * scale
                S[0, g, o] += x * x
                U[g, o] -= lr * x / (np.sqrt(S[0, g, o]) + eps)
        else:
            b1 = nhp[HP_BETA1]
            b2 = nhp[HP_BETA2]
            for o in range(O):
                x = min(max(w * dy[o] + wd * U[g, o], -clip), clip) * scale
                S[0, g, o] = b1 * S[0, g, o] + (one - b1) * x
                S[1, g, o] = b2 * S[1, g, o] + (one - b2) * (x * x)
                U[g, o] -= lr * (S[0, g, o] / c1) / (np.sqrt(S[1, g, o] / c2) + eps)


@njit(**_inline)
def none_like(W, S, idx, hp):
    """An empty bundle with the types of a live one (zero-length views: no allocation)."""
    return (W[:0], S[:, :0], idx[:0], idx[:0], idx[:0], idx[:0], hp)
