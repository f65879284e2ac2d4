"""Per-sample kernels for the drop-in ``fastrnn.RNN`` (one kernel call per Python method call).

``RNN.forward`` and ``RNN.backprop`` are called once per sample from Python, so what they cost
is mostly call overhead: these kernels fuse the steps of one call into one dispatch and read the
tutorial-layout attributes (``Wxh`` is ``(H, V)``) directly, touching only the sentence's columns.
"""

import numpy as np
from numba import njit

from . import rnn
from ._cache import depends_on
from .rnn import (GRADIENT_TUTORIAL, OPT_SGD, POOL_LAST, V_POOL, WHH_BOTH, WHH_ONLY_T,
                  _apply_update, _transpose, backward_steps, forward)

_opts = dict(cache=True, error_model="numpy", nogil=True)


@njit(inline="always", **_opts)
def _poison(a):
    """``sum(a * 0)``: 0 when ``a`` is finite, NaN when it holds a NaN or an infinity.

    Branch-free, so the loop vectorises (an early-exit isfinite loop does not)."""
    s = a.dtype.type(0)
    for x in a.reshape(-1):
        s += x * 0
    return s


@njit(**_opts)
def all_finite(Whh, Wxh, Why, bh, by):
    """True when none of the five parameter arrays holds a NaN or an infinity."""
    s = _poison(Whh) + _poison(Why) + _poison(bh) + _poison(by)
    for i in range(Wxh.shape[0]):  # Wxh may be a strided view: no reshape
        for j in range(Wxh.shape[1]):
            s += Wxh[i, j] * 0
    return s == 0


@njit(**_opts)
def gather_columns(tokens, Wxh, uniq, local, sub):
    """Distinct words of ``tokens`` into ``uniq[:U]`` (first-seen order), ``local`` = positions
    in ``uniq``, and ``sub[u] = Wxh[:, uniq[u]]``.  Returns U."""
    U = 0
    for t in range(tokens.shape[0]):
        w = tokens[t]
        u = 0
        while u < U and uniq[u] != w:
            u += 1
        if u == U:
            uniq[U] = w
            for i in range(Wxh.shape[0]):
                sub[U, i] = Wxh[i, w]
            U += 1
        local[t] = u
    return U


@njit(**_opts)
def dropin_forward(tokens, Wxh, Whh, bh, Why, by, uniq, local, sub, WhhT, hs, pooled, amax, y):
    """The tutorial's ``forward`` for one sentence: fills ``hs[0..T]`` and the logits ``y``.

    Returns 0, or, having computed nothing: 1 when a parameter holds a NaN or an infinity, 2 when
    a word id is negative, 3 when a word id is >= V.
    """
    V = Wxh.shape[1]
    for t in range(tokens.shape[0]):
        if tokens[t] < 0:
            return 2
        if tokens[t] >= V:
            return 3
    if not all_finite(Whh, Wxh, Why, bh, by):
        return 1
    gather_columns(tokens, Wxh, uniq, local, sub)
    _transpose(Whh, WhhT)
    forward(local[:tokens.shape[0]], sub, WhhT, bh, Why, by, POOL_LAST, hs, pooled,
            amax, y)
    return 0


@njit(**_opts)
def dropin_backprop(tokens, Wxh, Whh, bh, Why, by, dy, hs, gradient, hp, uniq, local, sub, WhhT,
                    G, vecs, amax, y, counters, gX, mark, dWhh, dWhy, rows, Sx, Shh, Sy, Sbh,
                    Sby):
    """The tutorial's ``backprop``: BPTT from ``dy`` and a clipped SGD step, all in place.

    Arrays: ``Wxh`` (H, V), ``Whh`` (H, H), ``Why`` (O, H) C-contiguous, ``bh`` (H,), ``by`` (O,);
    workspace ``uniq``/``local`` (>= 2T,) int64, ``sub`` and ``gX`` (>= T, H), ``mark`` (>= T,)
    int64 kept with ``counters`` between calls; the rest as for ``apply_update``.
    Returns False, having changed nothing, when a parameter or ``dy`` is not finite.
    ``Wxh`` (H, V) is updated only in the sentence's columns (the others' gradient is zero).
    """
    if not all_finite(Whh, Wxh, Why, bh, by):
        return False
    for o in range(dy.shape[0]):
        if not np.isfinite(dy[o]):
            return False
    T = tokens.shape[0]
    H = Whh.shape[0]
    U = gather_columns(tokens, Wxh, uniq, local, sub)
    _transpose(Whh, WhhT)
    pooled = vecs[V_POOL]
    for i in range(H):
        pooled[i] = hs[T, i]
    backward_steps(T, hs, amax, Whh, WhhT, Why, dy, POOL_LAST, gradient, G, vecs)
    if gradient == GRADIENT_TUTORIAL:
        # nothing reads Whh after BPTT: update the transposed copy alone, then copy it back
        _apply_update(local[:T], hs, pooled, G, dy, sub, Whh, WhhT, Why, bh, by,
                      Sx, Shh, Sy, Sbh, Sby, hp, OPT_SGD, counters, gX, mark, vecs, y, dWhy,
                      rows, uniq[T:], WHH_ONLY_T)
        _transpose(WhhT, Whh)
    else:
        _apply_update(local[:T], hs, pooled, G, dy, sub, Whh, WhhT, Why, bh, by,
                      Sx, Shh, Sy, Sbh, Sby, hp, OPT_SGD, counters, gX, mark, vecs, y, dWhy,
                      rows, uniq[T:], WHH_BOTH)
    for u in range(U):
        w = uniq[u]
        for i in range(H):
            Wxh[i, w] = sub[u, i]
    return True


# cached kernels embed the compiled code of rnn.py's functions: an edit there recompiles them
for _kernel in (_poison, all_finite, gather_columns, dropin_forward, dropin_backprop):
    depends_on(rnn)(_kernel)

__all__ = ["all_finite", "gather_columns", "dropin_forward", "dropin_backprop"]
