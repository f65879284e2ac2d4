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
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._cache import lock_saves

# the constants only (rnn.py imports this module after defining them)
from .rnn import HP_BETA1, HP_BETA2, HP_EPS, HP_LR, OPT_ADAGRAD, OPT_SGD

_inline = dict(inline="always", error_model="numpy", nogil=True)


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch the cache line of ``arr[idx]`` (``idx`` a tuple of ints); no
    effect on results.  LLVM's ``llvm.prefetch`` (read, keep in all cache levels)."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.UniTuple) \
            or idx.count != arr.ndim:
        return None

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        indices = cgutils.unpack_tuple(builder, args[1], aryty.ndim)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, indices, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.none(arr, idx), codegen


# The table is large (2**20-2**21 rows: 8-32 MB with its optimizer state), so nearly every row a
# sentence reads is a cache miss; the epoch kernel asks for the next sentence's rows before
# the current sentence's forward pass, whose work then hides their latency.  Measured on MR (Adagrad, H = 32,
# float32, 2**21 buckets, 2 loaded cores): see CHANGELOG / the report of this change.
@njit(**_inline)
def prefetch(ngrams, order, n):
    """Prefetch the rows of ``U`` and of its optimizer state that sentence ``order[n]`` uses
    (nothing past the end of ``order``)."""
    U, S, grams, _, offs, _, _ = ngrams
    if offs.shape[0] == 0 or n >= order.shape[0]:
        return
    s = order[n]
    zero = np.int64(0)
    for u in range(offs[s], offs[s + 1]):
        g = np.int64(grams[u])
        _prefetch(U, (g, zero))
        for q in range(S.shape[0]):
            _prefetch(S, (np.int64(q), g, zero))


@njit(cache=True, error_model="numpy", nogil=True)
def all_finite(U):
    """True when the C-contiguous ``U`` holds no NaN or infinity (an integer OR reduction of
    ``x - x != 0``, which LLVM vectorises: one sequential pass over the table)."""
    b = U.reshape(-1)
    n = 0
    for i in range(b.shape[0]):
        n |= (b[i] - b[i]) != 0
    return n == 0


@njit(**_inline)
def active(ngrams):
    """True when the bundle carries n-grams (``gram_offsets`` not empty)."""
    return ngrams[4].shape[0] > 0


@njit(**_inline)
def add_logits(ngrams, s, y):
    """``y += sum_u w_u * U[g_u]`` for sentence ``s`` (nothing for an empty bundle or a
    sentence without n-grams)."""
    U, _, grams, counts, offs, totals, _ = ngrams
    add_logits_range(U, grams, counts, offs, totals, s, y)


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


# saves of this module's plain-cached kernels serialised across processes (kernels/_cache.py)
lock_saves(globals(), __name__)
