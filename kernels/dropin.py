"""Per-sample kernels for the drop-in ``fastrnn.RNN`` (one kernel call per Python method call).

``RNN.forward`` and ``RNN.backprop`` are called once per sample from Python, so what they cost
is mostly call overhead: these kernels fuse the steps of one call into one dispatch and read the
tutorial-layout attributes (``Wxh`` is ``(H, V)``) directly, touching only the sentence's columns.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from . import rnn
from ._cache import depends_on
from .rnn import (GRADIENT_TUTORIAL, N_VECS, OPT_SGD, POOL_LAST, V_POOL, WHH_BOTH, WHH_ONLY_T,
                  _apply_update, _transpose, backward_steps, forward)

_opts = dict(cache=True, error_model="numpy", nogil=True)


@njit(inline="always", **_opts)
def _any_not_finite(a):
    """1 when the C-contiguous ``a`` holds a NaN or an infinity, else 0.

    ``x - x`` is 0 for a finite ``x`` and NaN otherwise; OR-ing the comparisons is an integer
    reduction, which LLVM vectorises (a float sum such as ``s += x * 0`` stays a serial chain
    of dependent adds).  An index loop: numba's array iterator (``for x in a``) vectorises
    worse.  Measured on 64 x 64 float64: 0.4 us, vs 1.8 us (iterator) and 3.4 us (float sum).
    """
    b = a.reshape(-1)
    n = 0
    for i in range(b.shape[0]):
        n |= (b[i] - b[i]) != 0
    return n


@njit(cache=True, error_model="numpy")
def all_finite_arrays(mats, vecs, table, rows):
    """True when none of the C-contiguous 2-D arrays of the tuple ``mats``, the 1-D arrays of
    ``vecs`` (one dtype each: ``UniTuple`` s, so one compilation per dtype and counts) and the
    rows ``rows`` (int64 row ids, in range; repeats allowed) of the 2-D ``table`` holds a NaN
    or an infinity: a fitted model's parameters and the n-gram table rows an epoch touched,
    checked after each epoch in one call (the rows gathered in numpy cost ~8 us more per
    tutorial epoch).  It keeps the GIL, as :func:`all_finite` does (and for the same reason).
    Cold, it compiles in 0.13-0.2 s, where :func:`all_finite`'s five array types took
    0.39-0.45 s."""
    n = 0
    for a in mats:
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                n |= (a[i, j] - a[i, j]) != 0
    for a in vecs:
        for i in range(a.shape[0]):
            n |= (a[i] - a[i]) != 0
    for k in range(rows.shape[0]):
        r = rows[k]
        for j in range(table.shape[1]):
            n |= (table[r, j] - table[r, j]) != 0
    return n == 0


@njit(cache=True, error_model="numpy")
def all_finite(Whh, Wxh, Why, bh, by):
    """True when none of the five parameter arrays holds a NaN or an infinity.

    ``Wxh`` may be a strided view; the others are C-contiguous.  It keeps the GIL: a few
    microseconds after every epoch, where releasing it let another training thread take it
    for its whole Python step (``train_many``'s pool threads handed it back and forth)."""
    n = _any_not_finite(Whh) | _any_not_finite(Why) | _any_not_finite(bh) | _any_not_finite(by)
    if Wxh.flags.c_contiguous:
        n |= _any_not_finite(Wxh)
    else:
        for i in range(Wxh.shape[0]):
            for j in range(Wxh.shape[1]):
                n |= (Wxh[i, j] - Wxh[i, j]) != 0
    return n == 0


@njit(**_opts)
def onehot_ids(X, columns, ids):
    """Word ids of one-hot vectors: ``ids[t]`` = the position of the single 1 of vector ``t``.

    The vectors are the columns of ``X`` (V, T) when ``columns`` is true, else its rows
    (T, V).  Returns -1, or the first ``t`` whose vector is not one-hot (exactly one entry
    equal to 1, all others 0; NaN is neither), leaving ``ids[t:]`` unspecified.
    """
    T = ids.shape[0]
    V = X.shape[0] if columns else X.shape[1]
    for t in range(T):
        hit = -1
        for v in range(V):
            x = X[v, t] if columns else X[t, v]
            if x == 1 and hit < 0:
                hit = v
            elif x != 0:
                return t
        if hit < 0:
            return t
        ids[t] = hit
    return -1


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


def _int_view(a):
    """``a`` (C-contiguous float64 or float32) viewed as same-size integers (kernels only)."""
    return a


@overload(_int_view, inline="always")
def _int_view_impl(a):
    if a.dtype == types.float64:
        return lambda a: a.reshape(-1).view(np.int64)
    return lambda a: a.reshape(-1).view(np.int32)


@njit(inline="always", **_opts)
def _same_bits(A, B):
    """True when the C-contiguous ``A`` and ``B`` hold the same bits (an integer OR reduction
    LLVM vectorises, ~0.4 us for 64 x 64 float64; ``-0.0`` and ``0.0`` differ, NaNs compare)."""
    a = _int_view(A)
    b = _int_view(B)
    n = 0
    for i in range(a.shape[0]):
        n |= a[i] != b[i]
    return n == 0


#: ``flags`` entries of the drop-in's integer workspace (see :func:`workspace_rows`).
F_SNAP_VALID, F_CAPACITY = 0, 1
N_FLAGS = 4


def workspace_sizes(n, H, O):
    """``(float rows of H, int64 entries)`` of the drop-in workspace for sentences of up to
    ``n`` words: see :func:`_carve` for the layout (``rows`` must hold ``arange(max(H, O))``,
    ``flags[F_CAPACITY]`` = ``n``, all else zeros)."""
    return 4 * n + 1 + N_VECS + 2 * H + O, N_FLAGS + 2 + H + max(H, O) + 5 * n


@njit(inline="always", **_opts)
def _carve(R, Y, I, H, O):
    """The views of the drop-in workspace, kept between ``forward`` and ``backprop`` calls.

    ``R`` (rows, H) float: ``hs`` (n+1), ``G`` (n), ``vecs`` (N_VECS), ``sub`` (n) the
    sentence's columns of ``Wxh``, ``gX`` (n) zeros, ``WhhT`` (H) the transposed copy of
    ``Whh`` and ``snap`` (H) the bits of ``Whh`` it was built from, ``dWhy`` (O).  ``Y`` (3, O)
    float: the logits, the ``d_y`` copy, and empty optimizer states.  ``I`` int64: ``flags``,
    ``counters`` (2), ``amax`` (H), ``rows`` (max(H, O)), ``uniq`` (2n), ``local`` (2n),
    ``mark`` (n).
    """
    n = I[F_CAPACITY]
    r = 0
    hs = R[r:r + n + 1]
    r += n + 1
    G = R[r:r + n]
    r += n
    vecs = R[r:r + N_VECS]
    r += N_VECS
    sub = R[r:r + n]
    r += n
    gX = R[r:r + n]
    r += n
    WhhT = R[r:r + H]
    r += H
    snap = R[r:r + H]
    r += H
    dWhy = R[r:r + O]
    i = N_FLAGS
    counters = I[i:i + 2]
    i += 2
    amax = I[i:i + H]
    i += H
    rows = I[i:i + max(H, O)]
    i += max(H, O)
    uniq = I[i:i + 2 * n]
    i += 2 * n
    local = I[i:i + 2 * n]
    i += 2 * n
    mark = I[i:i + n]
    return hs, G, vecs, sub, gX, WhhT, snap, dWhy, counters, amax, rows, uniq, local, mark


@njit(inline="always", **_opts)
def _sync_whh(Whh, WhhT, snap, flags):
    """Make ``WhhT`` equal ``Whh.T``.  Returns False (changing nothing) when ``Whh`` holds a NaN
    or an infinity.

    ``flags[F_SNAP_VALID]`` = 1 says ``snap`` holds the bits ``WhhT`` was built from, finite:
    when ``Whh`` still has those bits (the tutorial's loop never edits it between calls) the
    comparison is the whole cost, and it also proves ``Whh`` finite.  Otherwise (an edit, a
    reassignment, a fresh workspace) ``Whh`` is checked, transposed and remembered.
    """
    if flags[F_SNAP_VALID] == 1 and _same_bits(Whh, snap):
        return True
    flags[F_SNAP_VALID] = 0
    if _any_not_finite(Whh):
        return False
    _transpose(Whh, WhhT)
    a = Whh.reshape(-1)
    b = snap.reshape(-1)
    for i in range(a.shape[0]):
        b[i] = a[i]
    flags[F_SNAP_VALID] = 1
    return True


@njit(inline="always", **_opts)
def _small_finite(Why, bh, by, sub, U):
    """True when ``Why``, the biases and the ``U`` gathered columns of ``Wxh`` are finite."""
    n = _any_not_finite(Why) | _any_not_finite(bh) | _any_not_finite(by)
    for u in range(U):
        for i in range(sub.shape[1]):
            n |= (sub[u, i] - sub[u, i]) != 0
    return n == 0


@njit(**_opts)
def dropin_forward(tokens, Wxh, Whh, bh, Why, by, R, Y, I, out_y, out_h):
    """The tutorial's ``forward`` for one sentence: fills ``hs[0..T]`` of the workspace
    ``(R, Y, I)`` (:func:`_carve`), the logits ``out_y`` (O, 1) and the last state ``out_h``
    (H, 1).

    Returns 0, or, having computed nothing: 1 when a parameter the sentence reads (``Whh``,
    ``Why``, the biases, the sentence's columns of ``Wxh``) holds a NaN or an infinity, 2 when a
    word id is negative, 3 when a word id is >= V.
    """
    V = Wxh.shape[1]
    T = tokens.shape[0]
    for t in range(T):
        if tokens[t] < 0:
            return 2
        if tokens[t] >= V:
            return 3
    O, H = Why.shape
    hs, G, vecs, sub, gX, WhhT, snap, dWhy, counters, amax, rows, uniq, local, mark = _carve(
        R, Y, I, H, O)
    U = gather_columns(tokens, Wxh, uniq, local, sub)
    if not _small_finite(Why, bh, by, sub, U):
        return 1
    if not _sync_whh(Whh, WhhT, snap, I):
        return 1
    y = Y[0]
    forward(local[:T], sub, WhhT, bh, Why, by, POOL_LAST, hs, vecs[V_POOL], amax, y)
    for o in range(O):
        out_y[o, 0] = y[o]
    for i in range(H):
        out_h[i, 0] = hs[T, i]
    return 0


@njit(**_opts)
def dropin_backprop(tokens, Wxh, Whh, bh, Why, by, d_y, gradient, hp, R, Y, I):
    """The tutorial's ``backprop``: BPTT from ``d_y`` (O, 1) for the states ``hs`` the last
    :func:`dropin_forward` left in the workspace ``(R, Y, I)``, and a clipped SGD step of all
    five parameters in place.

    Arrays: ``Wxh`` (H, V), ``Whh`` (H, H), ``Why`` (O, H) C-contiguous, ``bh`` (H,), ``by``
    (O,).  Returns False, having changed no parameter, when ``d_y`` or a parameter the sentence
    reads is not finite.  ``Wxh`` (H, V) is updated only in the sentence's columns (the others'
    gradient is zero).  ``hp`` is :func:`fastrnn._engine.hyperparameters`' array; its
    ``clip_norm`` entry is not read (the drop-in clips elementwise only, as the tutorial does).
    """
    O, H = Why.shape
    T = tokens.shape[0]
    hs, G, vecs, sub, gX, WhhT, snap, dWhy, counters, amax, rows, uniq, local, mark = _carve(
        R, Y, I, H, O)
    dy = Y[1]
    ok = True
    for o in range(O):
        dy[o] = d_y[o, 0]
        ok &= np.isfinite(dy[o])
    if not ok:
        return False
    U = gather_columns(tokens, Wxh, uniq, local, sub)
    if not _small_finite(Why, bh, by, sub, U):
        return False
    if not _sync_whh(Whh, WhhT, snap, I):
        return False
    y = Y[0]
    S3 = R[0:0].reshape((0, 0, 0))
    Sbh = R[0:0]
    Sby = Y[0:0]
    pooled = vecs[V_POOL]
    for i in range(H):
        pooled[i] = hs[T, i]
    backward_steps(T, hs, amax, Whh, WhhT, Why, dy, POOL_LAST, gradient, G, vecs)
    a = Whh.reshape(-1)
    b = snap.reshape(-1)
    bad = 0
    # the tutorial gradient: nothing reads Whh after BPTT, so the update writes the transposed
    # copy alone and Whh (and its snapshot) is written from it in one pass.  One inlined
    # update with the mode as a run-time value, and no clip_norm pass (the drop-in's hp has
    # none), instead of two specialised copies: the float64 kernel's cold compile 14.8-18.7 s
    # -> 11.4-13.4 s (alternating runs), per-call time unchanged (~22 us forward + backprop)
    tutorial = gradient == GRADIENT_TUTORIAL
    whh_mode = WHH_ONLY_T if tutorial else WHH_BOTH
    _apply_update(local[:T], hs, pooled, G, dy, sub, Whh, WhhT, Why, bh, by,
                  S3, S3, S3, Sbh, Sby, hp, OPT_SGD, counters, gX, mark, vecs, y, dWhy,
                  rows, uniq[T:], whh_mode, False)
    if tutorial:
        _transpose(WhhT, Whh)
    for i in range(a.shape[0]):
        x = a[i]
        b[i] = x
        bad |= (x - x) != 0
    I[F_SNAP_VALID] = 1 if bad == 0 else 0
    for u in range(U):
        w = uniq[u]
        for i in range(H):
            Wxh[i, w] = sub[u, i]
    return True


# cached kernels embed the compiled code of rnn.py's functions: an edit there recompiles them
for _kernel in (_any_not_finite, all_finite_arrays, all_finite, _same_bits, _carve, _sync_whh,
                _small_finite, onehot_ids, gather_columns, dropin_forward, dropin_backprop):
    depends_on(rnn)(_kernel)

__all__ = ["all_finite", "all_finite_arrays", "onehot_ids", "gather_columns", "dropin_forward",
           "dropin_backprop", "workspace_sizes"]
