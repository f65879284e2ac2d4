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
pooling) are runtime integers, not separate compilations; the optimizer is a compile-time
constant of the per-optimizer epoch kernels (``train_epoch_sgd``, ``train_epoch_adagrad``,
``train_epoch_adam``), which compile only that optimizer's update code, and the default recipe's
``train_epoch_adagrad_default`` also has its modes compiled in (:func:`epoch_kernel` picks).  The
epoch kernels take their arguments in bundles, specified once (:data:`EPOCH_BUNDLES`).
"""

import math

import numpy as np
from llvmlite import ir
from numba import from_dtype, njit, types
from numba.extending import intrinsic, overload

#: ``gradient=`` codes: the true gradient, or the tutorial's ``d_h = Whh @ g``.
GRADIENT_EXACT, GRADIENT_TUTORIAL = 0, 1
#: ``pooling=`` codes: the classifier reads the last, the mean or the elementwise max state.
POOL_LAST, POOL_MEAN, POOL_MAX = 0, 1, 2
#: ``optimizer=`` codes.
OPT_SGD, OPT_ADAGRAD, OPT_ADAM = 0, 1, 2


def _names_by_code(codes):
    """The names of ``{name: code}`` as a tuple indexed by code (codes must be 0..n-1)."""
    names = tuple(sorted(codes, key=codes.get))
    if [codes[n] for n in names] != list(range(len(names))):
        raise AssertionError("mode codes must be 0..n-1: %r" % (codes,))
    return names


#: The public API's mode strings, indexed by the codes above: the one string <-> code map.
GRADIENT_NAMES = _names_by_code({"exact": GRADIENT_EXACT, "tutorial": GRADIENT_TUTORIAL})
POOLING_NAMES = _names_by_code({"last": POOL_LAST, "mean": POOL_MEAN, "max": POOL_MAX})
OPTIMIZER_NAMES = _names_by_code({"sgd": OPT_SGD, "adagrad": OPT_ADAGRAD, "adam": OPT_ADAM})
#: Slots of the ``hp`` hyperparameter array.
HP_FIELDS = ("lr", "clip", "clip_norm", "weight_decay", "eps", "beta1", "beta2")
HP_LR, HP_CLIP, HP_CLIP_NORM, HP_WD, HP_EPS, HP_BETA1, HP_BETA2 = range(7)
#: Rows of the ``vecs`` workspace, each of length H.
V_DR, V_DH, V_DH2, V_TMP, V_POOL, V_ACC = range(6)
N_VECS = 9  # rows V_ACC .. V_ACC + 3: 4 rows of the Whh gradient

_opts = dict(cache=True, error_model="numpy", nogil=True)

# the linear n-gram path's helpers (they import the constants above); the kernels that embed
# them are keyed on its source too (kernels._cache.depends_on follows KERNEL_DEPENDENCIES)
from . import ngram as _ngram  # noqa: E402
from ._cache import depends_on, lock_saves  # noqa: E402

KERNEL_DEPENDENCIES = (_ngram,)


# Hot loops index 2-D arrays as A[r, j] instead of taking row views A[r]: every view made inside
# a loop costs an atomic reference-count update in Numba's runtime, which measured 2x slower.

# Compile time (a new user's first run pays it): numba compiles every njit callee on its own and
# then re-optimises and re-emits it inside each caller that links it, so each call level below
# an entry point multiplies the LLVM work on the code under it.  Helpers called once per
# sentence (forward and its parts, backward_steps, _apply_update) or dispatched once per call
# (_sgd_rows & co.) are therefore inline="always" (inlined in numba's IR: no separate compile);
# helpers with several call sites and big vectorised loops (matvec_add, _whh_fused,
# update_rows) stay separate functions.  Measured cold on the float32 Adagrad epoch: 8.5-10 s
# before, 5.9-6.1 s with this inlining (an epoch kernel taking the optimizer as a runtime
# argument, since removed), 5.4-6.1 s for train_epoch_adagrad; the
# epochs ran no slower (5-15 % faster).
# Pass row indices and counts as variables, not literals: a literal argument compiles the
# callee once more for that value.
# Tried since and measured slower (cold float32 Adagrad epoch kernel, ~10-11.6 s today, against
# an unchanged copy compiled side by side in the same run): per-optimizer copies of
# update_rows/_whh_fused picked by a literal overload (+1.2 s) or by an inline selector whose
# other branches numba prunes (+0.3 s; only the optimizer's copy compiled), a tuple of them
# indexed by the optimizer (+0.4-1.2 s, and numba makes it a table of function pointers);
# the divergence check moved into the epoch kernel (-4 us of GIL-held time per epoch, but
# +0.9-1.6 s inlined, +0.6-1.4 s as one non-inline call); _apply_update_v not inlined
# (+0.5-1.0 s); NUMBA_OPT=1/2 (no change).  Each call site added to the epoch kernel costs
# numba passes over the whole of it.  Only deleting code helped (SGD's short-sentence passes,
# Adam's update, the clip_norm pass and the unused pooling/gradient branches together:
# -1.6 to -3.5 s), which would mean one kernel per combination of those options.
# Where the epoch kernel's own ~8.8 s go (its callees cached): LLVM ~3 s, numba's IR inlining
# 1.4-1.8 s (it deep-copies each inlined function's blocks with its whole scope), typing
# ~1.3 s, the typed inlining of overloads ~0.7 s.


# --------------------------------------------------------------------------------------------
# vectorisable tanh
# --------------------------------------------------------------------------------------------
# Numba has no SVML here: np.tanh in a loop is a scalar libm call (~8-14 ns) that also stops
# LLVM from vectorising the loop around it.  tanh_scalar below is branch-free arithmetic that
# LLVM turns into packed AVX-512 code (~1 ns per element).  It lives in this file on purpose:
# numba's on-disk cache only notices changes to the file that holds the cached function.
def _bitcast(src, dst, llvm_type, doc):
    """A numba intrinsic reinterpreting the bits of a ``src`` scalar as ``dst`` (one register
    bitcast: free, and vectorisable)."""
    def bitcast(typingctx, x):
        if x != src:
            return None

        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], llvm_type)
        return dst(src), codegen
    bitcast.__doc__ = doc
    return intrinsic(bitcast)


_f64_bits = _bitcast(types.float64, types.int64, ir.IntType(64),
                     "The bits of a float64 as an int64.")
_bits_f64 = _bitcast(types.int64, types.float64, ir.DoubleType(),
                     "The float64 with the bits of an int64.")
_f32_bits = _bitcast(types.float32, types.int32, ir.IntType(32),
                     "The bits of a float32 as an int32.")
_bits_f32 = _bitcast(types.int32, types.float32, ir.FloatType(),
                     "The float32 with the bits of an int32.")


_LN2_HI = 6.93147180369123816490e-01  # ln 2 with 21 trailing zero bits: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_INV_LN2 = 1.44269504088896338700e+00
_ROUND = 6755399441055744.0  # 0x1.8p52: x + _ROUND rounds x to an integer held in the low bits


@njit(inline="always", **_opts)
def expm1_reduced(r):
    """``expm1(r)`` for a float64 ``|r| <= ln2 / 2`` (a Cody-Waite remainder): its degree-13
    Taylor polynomial by Horner, ``r + r^2 q(r)`` (truncation < 1e-17 relative)."""
    q = 1.0 / 6227020800.0
    q = q * r + 1.0 / 479001600.0
    q = q * r + 1.0 / 39916800.0
    q = q * r + 1.0 / 3628800.0
    q = q * r + 1.0 / 362880.0
    q = q * r + 1.0 / 40320.0
    q = q * r + 1.0 / 5040.0
    q = q * r + 1.0 / 720.0
    q = q * r + 1.0 / 120.0
    q = q * r + 1.0 / 24.0
    q = q * r + 1.0 / 6.0
    q = q * r + 0.5
    return r + (r * r) * q


@njit(inline="always", **_opts)
def tanh_scalar(x):
    """``tanh(x)`` for a float64 ``x``, branch-free so that loops over it vectorise.

    ``t = expm1(2|x|)`` by ``2|x| = k ln2 + r`` (``|r| <= ln2 / 2``, Cody-Waite), ``expm1(r)``
    from its degree-13 Taylor polynomial (truncation < 1e-17 relative) and ``2^k`` built from
    the bits of the rounding constant; then ``tanh|x| = t / (t + 2)`` (no cancellation near 0)
    and the sign of ``x`` restored.  ``2|x|`` is clamped to 40 (``tanh`` is 1.0 in float64 from
    ``|x| > 19.06``).  Max error ~2.5 ulp (np.tanh: ~1.2); exact for 0, -0, denormals, +-inf;
    NaN in, NaN out.  float32 values use :func:`tanh_f32` (through :func:`tanh_elem`).
    """
    a = abs(x)
    a2 = a + a
    a2 = a2 if a2 < 40.0 else 40.0
    kr = a2 * _INV_LN2 + _ROUND
    kbits = _f64_bits(kr)  # 0x4338000000000000 + k
    kf = kr - _ROUND
    r = (a2 - kf * _LN2_HI) - kf * _LN2_LO
    em1 = expm1_reduced(r)
    s = _bits_f64((kbits + 1023) << 52)  # 2^k: the high bits of kbits shift out
    t = s * em1 + (s - 1.0)  # expm1(2|x|) = 2^k expm1(r) + (2^k - 1), both terms exact but one
    res = math.copysign(t / (t + 2.0), x)
    return res if x == x else x


_F32_LN2_HI = np.float32(0.693145751953125)  # ln 2 with 12 trailing zero bits: k * hi is exact
_F32_LN2_LO = np.float32(1.42860676533018704e-06)  # ln 2 - _F32_LN2_HI
_F32_INV_LN2 = np.float32(1.44269504088896338700)
_F32_ROUND = np.float32(12582912.0)  # 0x1.8p23: x + _F32_ROUND rounds x into the low bits
_F32_SAT = np.float32(20.0)  # 2|x| clamp: tanh is 1.0 in float32 from |x| > 9.01
_F32_C = tuple(np.float32(c) for c in (1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5))
#: ``tanh(x) = x + x^3 (-1/3 + x^2 (2/15 + ...))``, its Taylor series to x^13, for |x| < 0.3
#: (truncation < 1e-10 relative) where ``t / (t + 2)`` loses up to 2 ulp
_F32_SMALL = np.float32(0.3)
_F32_T = tuple(np.float32(c) for c in (21844 / 6081075, -1382 / 155925, 62 / 2835, -17 / 315,
                                       2 / 15, -1 / 3))


@njit(inline="always", **_opts)
def tanh_f32(x):
    """``tanh(x)`` for a float32 ``x`` in float32 arithmetic, branch-free (vectorises).

    The algorithm of :func:`tanh_scalar` with float32 constants: Cody-Waite reduction of
    ``2|x|`` (clamped to 20), ``expm1(r)`` from its degree-7 Taylor polynomial (truncation
    < 2e-8 relative for ``|r| <= ln2 / 2``), ``2^k`` from the bits of the rounding constant
    (``k <= 29``), ``t / (t + 2)``; below ``|x| < 0.3`` the odd Taylor polynomial instead (the
    quotient's roundings cost up to 2 ulp there).  Max error 2 ulp of float32
    (tests/test_tanh.py); exact for 0, -0, denormals, +-inf; NaN in, NaN out.
    """
    a = abs(x)
    a2 = a + a
    a2 = a2 if a2 < _F32_SAT else _F32_SAT
    kr = a2 * _F32_INV_LN2 + _F32_ROUND
    kbits = _f32_bits(kr)  # 0x4B400000 + k
    kf = kr - _F32_ROUND
    r = (a2 - kf * _F32_LN2_HI) - kf * _F32_LN2_LO
    q = _F32_C[0]
    q = q * r + _F32_C[1]
    q = q * r + _F32_C[2]
    q = q * r + _F32_C[3]
    q = q * r + _F32_C[4]
    q = q * r + _F32_C[5]
    em1 = r + (r * r) * q  # expm1(r)
    s = _bits_f32(np.int32((np.int64(kbits) - 0x4B400000 + 127) << 23))  # 2^k
    one = np.float32(1.0)
    two = np.float32(2.0)
    t = s * em1 + (s - one)
    z = a * a
    p = _F32_T[0]
    p = p * z + _F32_T[1]
    p = p * z + _F32_T[2]
    p = p * z + _F32_T[3]
    p = p * z + _F32_T[4]
    p = p * z + _F32_T[5]
    near0 = a + (a * z) * p
    tabs = near0 if a < _F32_SMALL else t / (t + two)  # both computed: no branch in the loop
    res = np.float32(math.copysign(tabs, x))
    return res if x == x else x


def tanh_elem(x):
    """``tanh(x)`` in the dtype of ``x``: :func:`tanh_f32` for float32, :func:`tanh_scalar`
    for float64 (chosen when the caller is compiled; plain Python: ``np.tanh``)."""
    return np.tanh(x)


@overload(tanh_elem, inline="always")
def _tanh_elem_impl(x):
    if x == types.float32:
        return lambda x: tanh_f32(x)
    return lambda x: tanh_scalar(np.float64(x))


@njit(**_opts)
def tanh_rows(A, r0, r1):
    """``A[r] = tanh(A[r])`` for the rows ``r0 <= r < r1`` of a 2-D float32/float64 array."""
    for r in range(r0, r1):
        for i in range(A.shape[1]):
            A[r, i] = tanh_elem(A[r, i])


# --------------------------------------------------------------------------------------------
# forward
# --------------------------------------------------------------------------------------------
@njit(**_opts)
def matvec_add(out, q, M, x, r):
    """``out[q, i] += sum_j M[j, i] * x[r, j]``, summed in ascending ``j``.

    Eight rows of ``M`` per pass, so ``out`` is loaded and stored once per eight products: a
    loop that adds one row at a time is bound by store-to-load latency on ``out`` (eight rows
    measured 1.3x faster than four at H = 64).  The sum keeps the sequential order, so results
    are identical to the one-row loop.
    """
    n, m = M.shape
    nb = n // 8
    for b in range(nb):
        j = 8 * b
        x0 = x[r, j]
        x1 = x[r, j + 1]
        x2 = x[r, j + 2]
        x3 = x[r, j + 3]
        x4 = x[r, j + 4]
        x5 = x[r, j + 5]
        x6 = x[r, j + 6]
        x7 = x[r, j + 7]
        for i in range(m):
            out[q, i] = (((((((out[q, i] + M[j, i] * x0) + M[j + 1, i] * x1)
                              + M[j + 2, i] * x2) + M[j + 3, i] * x3) + M[j + 4, i] * x4)
                          + M[j + 5, i] * x5) + M[j + 6, i] * x6) + M[j + 7, i] * x7
    for j in range(8 * nb, n):
        xj = x[r, j]
        for i in range(m):
            out[q, i] += M[j, i] * xj


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc", "contract"})
def matvec_rows(out, q, M, x, r):
    """``out[q, i] = sum_j M[i, j] * x[r, j]``: row dot products, reassociated so they vectorise.

    The exact gradient's ``d_h = Whh.T @ g`` from ``WhhT``'s contiguous rows, so the epoch keeps
    one layout of the recurrent matrix (``WhhT``) for both gradients.  Eight rows per pass
    (each ``x`` lane loaded once for eight, eight independent sums in flight): with four, the
    float64 default recipe's epoch cost 1.12x the tutorial gradient's on an AVX2 Zen 3 (680 vs
    605 us per tutorial epoch), with eight 0.99x (601 vs 609 us; float32 0.98x).  ``fastmath``
    only reassociates and contracts (NaN and infinity stay meaningful); the order of the sum
    differs from :func:`matvec_add`.
    """
    n, m = M.shape
    nb = n // 8
    for b in range(nb):
        i = 8 * b
        s0 = M.dtype.type(0)  # not M[i, 0] * 0: float32 * int is float64 in numba
        s1 = s0
        s2 = s0
        s3 = s0
        s4 = s0
        s5 = s0
        s6 = s0
        s7 = s0
        for j in range(m):
            xj = x[r, j]
            s0 += M[i, j] * xj
            s1 += M[i + 1, j] * xj
            s2 += M[i + 2, j] * xj
            s3 += M[i + 3, j] * xj
            s4 += M[i + 4, j] * xj
            s5 += M[i + 5, j] * xj
            s6 += M[i + 6, j] * xj
            s7 += M[i + 7, j] * xj
        out[q, i] = s0
        out[q, i + 1] = s1
        out[q, i + 2] = s2
        out[q, i + 3] = s3
        out[q, i + 4] = s4
        out[q, i + 5] = s5
        out[q, i + 6] = s6
        out[q, i + 7] = s7
    for i in range(8 * nb, n):
        s = M.dtype.type(0)
        for j in range(m):
            s += M[i, j] * x[r, j]
        out[q, i] = s


@njit(inline="always", **_opts)
def rnn_step(WxhT, w, WhhT, bh, hs, t):
    """``hs[t+1] = tanh(WxhT[w] + bh + Whh @ hs[t])``; no matvec at t = 0 (``hs[0] = 0``)."""
    H = bh.shape[0]
    for i in range(H):
        hs[t + 1, i] = WxhT[w, i] + bh[i]
    if t > 0:
        matvec_add(hs, t + 1, WhhT, hs, t)
    for i in range(H):
        hs[t + 1, i] = tanh_elem(hs[t + 1, i])


@njit(inline="always", **_opts)
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


@njit(inline="always", **_opts)
def pool_add(pooled, h, row, t, pooling):
    """Streaming :func:`pool_states` for inference: fold state ``h[row]`` of step ``t`` into
    ``pooled`` (the first step copies; mean sums, max keeps the larger; last: nothing yet).
    The same additions in the same order as :func:`pool_states`."""
    H = pooled.shape[0]
    if t == 0:
        for i in range(H):
            pooled[i] = h[row, i]
    elif pooling == POOL_MEAN:
        for i in range(H):
            pooled[i] += h[row, i]
    elif pooling == POOL_MAX:
        for i in range(H):
            if h[row, i] > pooled[i]:
                pooled[i] = h[row, i]


@njit(inline="always", **_opts)
def pool_finish(pooled, h, row, T, pooling):
    """After the ``T`` steps of :func:`pool_add`: last pooling takes ``h[row]`` (the final
    state), mean divides by ``T``."""
    H = pooled.shape[0]
    if pooling == POOL_LAST:
        for i in range(H):
            pooled[i] = h[row, i]
    elif pooling == POOL_MEAN:
        Tf = pooled.dtype.type(T)
        for i in range(H):
            pooled[i] = pooled[i] / Tf


@njit(inline="always", **_opts)
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


@njit(inline="always", **_opts)
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
        rnn_step(WxhT, tokens[t], WhhT, bh, hs, t)
    pool_states(hs, T, pooling, pooled, amax)
    readout(Why, by, pooled, y)


# --------------------------------------------------------------------------------------------
# backward
# --------------------------------------------------------------------------------------------
@njit(inline="always", **_opts)
def backward_steps(T, hs, amax, Whh, WhhT, Why, dy, pooling, gradient, G, vecs):
    """Back-propagate ``dy`` (O,) through time into ``G[0..T-1]`` (T, H).

    ``gradient=GRADIENT_EXACT`` passes ``d_h = Whh.T @ g`` to the previous step, the tutorial's
    ``GRADIENT_TUTORIAL`` passes ``d_h = Whh @ g``.  ``vecs`` is the (N_VECS, H) workspace: its
    rows V_DR, V_DH and V_DH2 are overwritten.
    """
    O, H = Why.shape
    one = dy.dtype.type(1)
    dh2 = np.int64(V_DH2)  # not a literal: a literal argument would compile matvec_add again
    # dr = Why.T @ dy: the gradient of the pooled state
    for j in range(H):
        vecs[V_DR, j] = 0
    for o in range(O):
        d = dy[o]
        for j in range(H):
            vecs[V_DR, j] += Why[o, j] * d
    if pooling == POOL_MEAN:
        Tf = dy.dtype.type(T)
        for j in range(H):
            vecs[V_DR, j] = vecs[V_DR, j] / Tf
    for j in range(H):
        vecs[V_DH, j] = 0
    for k in range(T, 0, -1):
        # the pooled state's share of dL/dh_k
        if pooling == POOL_LAST:
            if k == T:
                for i in range(H):
                    vecs[V_DH, i] += vecs[V_DR, i]
        elif pooling == POOL_MEAN:
            for i in range(H):
                vecs[V_DH, i] += vecs[V_DR, i]
        else:
            for i in range(H):
                if amax[i] == k:
                    vecs[V_DH, i] += vecs[V_DR, i]
        for i in range(H):
            G[k - 1, i] = (one - hs[k, i] * hs[k, i]) * vecs[V_DH, i]
        if k > 1:
            if gradient == GRADIENT_EXACT:
                matvec_rows(vecs, dh2, WhhT, G, k - 1)  # d_h = Whh.T @ g, rows of WhhT
            else:
                for j in range(H):
                    vecs[V_DH2, j] = 0
                matvec_add(vecs, dh2, WhhT, G, k - 1)  # d_h = Whh @ g
            for j in range(H):
                vecs[V_DH, j] = vecs[V_DH2, j]


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
        w = tokens[k - 1]
        for i in range(H):
            gi = G[k - 1, i]
            dbh[i] += gi
            dWxhT[w, i] += gi
            for j in range(H):
                dWhh[i, j] += gi * hs[k - 1, j]


@njit(**_opts)
def backward(tokens, hs, pooled, amax, Whh, WhhT, Why, dy, pooling, gradient, G, vecs,
             dWxhT, dWhh, dWhy, dbh, dby):
    """BPTT for one sentence: fills ``G`` and accumulates the five gradients (``+=``)."""
    backward_steps(tokens.shape[0], hs, amax, Whh, WhhT, Why, dy, pooling, gradient, G, vecs)
    accumulate_gradients(tokens, hs, pooled, G, dy, dWxhT, dWhh, dWhy, dbh, dby)


# --------------------------------------------------------------------------------------------
# fused clip + optimizer update
# --------------------------------------------------------------------------------------------
# One function per optimizer, dispatched once per parameter: a per-row branch on the optimizer
# kept LLVM from vectorising the row loops (measured 5x slower for SGD).
@njit(inline="always", **_opts)
def _sgd_rows(P, D, rows, nrows, lr, wd, clip, scale):
    for n in range(nrows):
        r = rows[n]
        for j in range(P.shape[1]):
            x = min(max(D[r, j] + wd * P[r, j], -clip), clip) * scale
            P[r, j] -= lr * x


@njit(inline="always", **_opts)
def _adagrad_rows(P, D, S, rows, nrows, lr, wd, clip, scale, eps):
    for n in range(nrows):
        r = rows[n]
        for j in range(P.shape[1]):
            x = min(max(D[r, j] + wd * P[r, j], -clip), clip) * scale
            S[0, r, j] += x * x
            P[r, j] -= lr * x / (np.sqrt(S[0, r, j]) + eps)


@njit(inline="always", **_opts)
def _adam_rows(P, D, S, rows, nrows, lr, wd, clip, scale, eps, b1, b2, c1, c2):
    one = lr * 0 + 1
    for n in range(nrows):
        r = rows[n]
        for j in range(P.shape[1]):
            x = min(max(D[r, j] + wd * P[r, j], -clip), clip) * scale
            S[0, r, j] = b1 * S[0, r, j] + (one - b1) * x
            S[1, r, j] = b2 * S[1, r, j] + (one - b2) * (x * x)
            P[r, j] -= lr * (S[0, r, j] / c1) / (np.sqrt(S[1, r, j] / c2) + eps)


@njit(**_opts)
def update_rows(P, D, S, rows, nrows, optimizer, hp, wd, scale, c1, c2):
    """Update the rows ``rows[:nrows]`` of ``P`` from the gradient rows of ``D`` (same index).

    ``d = clip(D[r] + wd * P[r], -clip, clip) * scale``, then an SGD, Adagrad (state ``S[0]``:
    summed squares) or Adam (``S[0]``, ``S[1]``: moments; ``c1, c2`` the bias corrections) step.
    ``D`` is left as it was.
    """
    lr = hp[HP_LR]
    clip = hp[HP_CLIP]
    eps = hp[HP_EPS]
    if optimizer == OPT_SGD:
        _sgd_rows(P, D, rows, nrows, lr, wd, clip, scale)
    elif optimizer == OPT_ADAGRAD:
        _adagrad_rows(P, D, S, rows, nrows, lr, wd, clip, scale, eps)
    else:
        _adam_rows(P, D, S, rows, nrows, lr, wd, clip, scale, eps, hp[HP_BETA1], hp[HP_BETA2],
                   c1, c2)


@njit(**_opts)
def _sumsq_rows(P, D, rows, nrows, wd, clip):
    """Sum of squares of ``clip(D[r] + wd * P[r])`` over the rows, as float64 (``clip_norm``)."""
    s = 0.0
    for n in range(nrows):
        r = rows[n]
        for j in range(P.shape[1]):
            x = np.float64(min(max(D[r, j] + wd * P[r, j], -clip), clip))
            s += x * x
    return s


# --------------------------------------------------------------------------------------------
# the pretrained-vectors input path (embedding models only)
# --------------------------------------------------------------------------------------------
# An embedding model's input row for word w is x_w = Emb[w] @ WpeT (``Emb`` (V, E) the word
# vectors, ``WpeT`` (E, HX) the learned projection's transpose, HX = H for tanh, G*H gated)
# instead of the one-hot model's ``WxhT[w]``.  Per sentence the rows of its unique words are
# projected into a small table ``Xs`` (one row per unique word, :func:`embed_sentence`), the
# sentence is re-numbered into those rows (``lt``), and the unchanged forward / backward /
# update code runs on ``(lt, Xs)`` as on ``(tokens, WxhT)``: its lazily accumulated input
# gradient ``gX`` then holds one row per unique word, chained by :func:`input_sumsq` /
# :func:`input_update` into ``dWpeT = sum_u Emb[w_u] outer gX[u]`` (dense, decayed like
# ``Whh``) and, fine-tuned, ``dEmb[w_u] = WpeT @ gX[u]`` (lazily in the sentence's rows, decayed
# like ``WxhT``'s), both clipped elementwise, counted in ``clip_norm``'s norm and applied by
# the same optimizer.  The one-hot kernels pass ``inp=None``: the two hooks resolve (by type,
# when numba compiles) to exactly the one-hot code they replace, so those kernels compile
# nothing of this path.
#
# ``inp`` bundle (built by ``fastrnn._engine``): ``Emb (V, E)``, ``SE (slots, V, E)`` its
# optimizer state (``(slots, 0, E)`` frozen), ``WpeT (E, HX)``, ``SP (slots, E, HX)``,
# ``dP (E, HX)`` and ``dE (V, E)`` (``(0, E)`` frozen) gradient buffers, ``Xs (Tmax, HX)`` the
# sentence's projected rows, ``lt (Tmax,) int32`` its re-numbered words, ``uw (Tmax,) int64``
# the word of each row of ``Xs``, ``gmark``/``lid`` ``(V,) int64`` (stamp and row of a word in
# the current sentence), ``gu (Tmax,) int64`` (the updated ``Emb`` rows), ``prow`` =
# ``arange(E)`` int64, ``flags (2,) int64``: ``[1 fine-tuned / 0 frozen, sentence stamp]``.
#: The ``inp`` bundle's field names, in order.
INPUT_BUNDLE = ("Emb", "SE", "WpeT", "SP", "dP", "dE", "Xs", "lt", "uw", "gmark", "lid", "gu",
                "prow", "flags")


@njit(inline="always", **_opts)
def embed_sentence(sent, inp):
    """Project the rows of ``sent``'s unique words into ``Xs`` (first occurrence order) and
    return the sentence re-numbered into those rows (a view of ``lt``)."""
    Emb, SE, WpeT, SP, dP, dE, Xs, lt, uw, gmark, lid, gu, prow, flags = inp
    flags[1] += 1
    stamp = flags[1]
    T = sent.shape[0]
    nu = np.int64(0)
    for t in range(T):
        w = sent[t]
        if gmark[w] != stamp:
            gmark[w] = stamp
            lid[w] = nu
            uw[nu] = w
            nu += 1
        lt[t] = lid[w]
    HX = WpeT.shape[1]
    for k in range(nu):
        for i in range(HX):
            Xs[k, i] = 0
        matvec_add(Xs, k, WpeT, Emb, uw[k])  # Xs[k] = Emb[w] @ WpeT, ascending over E
    return lt[:T]


@njit(**_opts)
def project_rows(WpeT, Emb, X):
    """``X[k] = Emb[k] @ WpeT`` for every row of ``Emb`` (the input table of a prediction):
    the arithmetic of :func:`embed_sentence`, so predictions match the training forward."""
    HX = WpeT.shape[1]
    for k in range(Emb.shape[0]):
        for i in range(HX):
            X[k, i] = 0
        matvec_add(X, k, WpeT, Emb, k)


@njit(inline="always", **_opts)
def _emb_grads(inp, gX, uniq, nu):
    """``dP = sum_n Emb[w_n] outer gX[u_n]`` and, fine-tuned, ``dE[w_n] = WpeT @ gX[u_n]`` for
    the sentence's rows ``u_n = uniq[n]`` (words ``w_n = uw[u_n]``, listed in ``gu``)."""
    Emb, SE, WpeT, SP, dP, dE, Xs, lt, uw, gmark, lid, gu, prow, flags = inp
    E, HX = WpeT.shape
    for j in range(E):
        for i in range(HX):
            dP[j, i] = 0
    for n in range(nu):
        u = uniq[n]
        w = uw[u]
        gu[n] = w
        for j in range(E):
            e = Emb[w, j]
            for i in range(HX):
                dP[j, i] += e * gX[u, i]
    if flags[0]:
        for n in range(nu):
            matvec_rows(dE, gu[n], WpeT, gX, uniq[n])


@njit(inline="always", **_opts)
def _emb_sumsq(inp, gX, uniq, nu, wd, clip):
    Emb, SE, WpeT, SP, dP, dE, Xs, lt, uw, gmark, lid, gu, prow, flags = inp
    _emb_grads(inp, gX, uniq, nu)
    s = _sumsq_rows(WpeT, dP, prow, WpeT.shape[0], wd, clip)
    if flags[0]:
        s += _sumsq_rows(Emb, dE, gu, nu, wd, clip)
    return s


@njit(inline="always", **_opts)
def _emb_update(inp, gX, uniq, nu, optimizer, hp, wd, scale, c1, c2):
    Emb, SE, WpeT, SP, dP, dE, Xs, lt, uw, gmark, lid, gu, prow, flags = inp
    if not hp[HP_CLIP_NORM] > 0:  # else input_sumsq computed them (from the same WpeT)
        _emb_grads(inp, gX, uniq, nu)
    update_rows(WpeT, dP, SP, prow, WpeT.shape[0], optimizer, hp, wd, scale, c1, c2)
    if flags[0]:
        update_rows(Emb, dE, SE, gu, nu, optimizer, hp, wd, scale, c1, c2)


def input_sumsq(inp, WxhT, gX, uniq, nu, wd, clip):
    """The input weights' share of ``clip_norm``'s sum of squares: the one-hot rows
    ``WxhT[uniq[:nu]]`` (``inp`` None) or the embedding path's ``dWpeT`` and ``dEmb`` rows
    (``inp`` the bundle; computes those gradients)."""
    if inp is None:
        return _sumsq_rows(WxhT, gX, uniq, nu, wd, clip)
    return _emb_sumsq(inp, gX, uniq, nu, wd, clip)


def input_update(inp, WxhT, gX, Sx, uniq, nu, optimizer, hp, wd, scale, c1, c2):
    """Update the input weights from the sentence's input gradient rows ``gX[uniq[:nu]]``:
    ``WxhT``'s rows (``inp`` None) or the embedding path's ``WpeT`` and ``Emb`` rows."""
    if inp is None:
        update_rows(WxhT, gX, Sx, uniq, nu, optimizer, hp, wd, scale, c1, c2)
    else:
        _emb_update(inp, gX, uniq, nu, optimizer, hp, wd, scale, c1, c2)


# chosen by the type of ``inp`` when the caller compiles (prefer_literal: the optimizer code
# stays a literal for update_rows, as in a direct call)
@overload(input_sumsq, inline="always", prefer_literal=True)
def _input_sumsq_impl(inp, WxhT, gX, uniq, nu, wd, clip):
    if isinstance(inp, types.NoneType):
        return lambda inp, WxhT, gX, uniq, nu, wd, clip: _sumsq_rows(WxhT, gX, uniq, nu, wd,
                                                                        clip)
    return lambda inp, WxhT, gX, uniq, nu, wd, clip: _emb_sumsq(inp, gX, uniq, nu, wd, clip)


@overload(input_update, inline="always", prefer_literal=True)
def _input_update_impl(inp, WxhT, gX, Sx, uniq, nu, optimizer, hp, wd, scale, c1, c2):
    if isinstance(inp, types.NoneType):
        def impl(inp, WxhT, gX, Sx, uniq, nu, optimizer, hp, wd, scale, c1, c2):
            update_rows(WxhT, gX, Sx, uniq, nu, optimizer, hp, wd, scale, c1, c2)
        return impl

    def impl(inp, WxhT, gX, Sx, uniq, nu, optimizer, hp, wd, scale, c1, c2):
        _emb_update(inp, gX, uniq, nu, optimizer, hp, wd, scale, c1, c2)
    return impl


# Fused gradient + clip + update of the recurrent matrix, one row at a time: the (H, H) gradient
# never exists (items 1/2 of the project's performance notes, which live outside this
# repository).  Row r's gradient, sum_{k=T..2} C[k-1, r] * Vv[k-1], summed in descending k, goes to the L1-resident vector acc[V_ACC]: row r of dWhh with
# (C, Vv) = (G, hs), or row r of dWhh.T with (C, Vv) = (hs, G) -- the same products (a * b ==
# b * a) in the same order, so both orientations give bitwise equal updates.  Up to four steps
# per pass, the first pass writing without reading: for short sentences a row takes one pass.
# All in one function with the row loop inside: a helper called (or inlined) per row costs
# atomic reference-count updates on its array arguments, which measured slower than the work.
# Loop indices come from range(): with while-loop indices LLVM left the passes scalar.
@njit(**_opts)
def _whh_fused(P, S, C, Vv, T, acc, optimizer, lr, wd, clip, scale, eps, b1, b2, c1, c2, sumsq):
    """Update ``P`` (or, with ``sumsq``, return the clipped gradient's float64 sum of squares)."""
    H = P.shape[1]
    R = P.shape[0]
    one = lr * 0 + 1
    s = 0.0
    a0 = np.int64(V_ACC)
    a1 = a0 + 1
    a2 = a0 + 2
    a3 = a0 + 3
    # the first 1-4 steps (rows T-1 ..) in a pass that writes without reading, the rest in
    # passes of four; each element sums in descending k, as a one-row loop does
    n = (T - 2) % 4 + 1
    short = T == 2 or T == 3 or (P.itemsize == 4 and 4 < T <= 6)
    if optimizer == OPT_SGD and not sumsq and short:
        # SGD on a short sentence: each row's gradient in registers, applied in the same loop
        # (no acc round trip, no per-block setup); same products in the same order, so bitwise
        # equal to the general path.  Measured alone at H = 64: T = 2 420 -> 165 ns f32,
        # 613 -> 311 ns f64; T = 3 447 -> 294 ns f32, 624 -> 554 ns f64; f32 T = 5 497 -> 367,
        # T = 6 737 -> 496 ns.  f64 lost from T = 4 (one row at a time reloads every Vv row:
        # load-bound) and f32 T = 4 gained too little for its compile time (~3 %).
        if T == 2:
            for r in range(R):
                e0 = C[1, r]
                for j in range(H):
                    x = min(max(e0 * Vv[1, j] + wd * P[r, j], -clip), clip) * scale
                    P[r, j] -= lr * x
        elif T == 3:
            for r in range(R):
                e0 = C[2, r]
                e1 = C[1, r]
                for j in range(H):
                    x = min(max((e0 * Vv[2, j] + e1 * Vv[1, j]) + wd * P[r, j], -clip),
                            clip) * scale
                    P[r, j] -= lr * x
        elif T == 5:
            for r in range(R):
                e0 = C[4, r]
                e1 = C[3, r]
                e2 = C[2, r]
                e3 = C[1, r]
                for j in range(H):
                    x = min(max((((e0 * Vv[4, j] + e1 * Vv[3, j]) + e2 * Vv[2, j])
                                 + e3 * Vv[1, j]) + wd * P[r, j], -clip), clip) * scale
                    P[r, j] -= lr * x
        else:
            # T = 6: the general path sums the first step alone, then four (same order here)
            for r in range(R):
                e0 = C[5, r]
                e1 = C[4, r]
                e2 = C[3, r]
                e3 = C[2, r]
                e4 = C[1, r]
                for j in range(H):
                    x = min(max(((((e0 * Vv[5, j] + e1 * Vv[4, j]) + e2 * Vv[3, j])
                                  + e3 * Vv[2, j]) + e4 * Vv[1, j]) + wd * P[r, j], -clip),
                            clip) * scale
                    P[r, j] -= lr * x
        return s
    for r0 in range(0, R, 4):
        # 4 rows per pass (each Vv row loaded once for all); past the end, the last row again
        # (computed, not applied)
        r1 = min(r0 + 1, R - 1)
        r2 = min(r0 + 2, R - 1)
        r3 = min(r0 + 3, R - 1)
        if T <= 1:
            for j in range(H):
                acc[a0, j] = 0
                acc[a1, j] = 0
                acc[a2, j] = 0
                acc[a3, j] = 0
        elif n == 1:
            e00 = C[T - 1, r0]
            e10 = C[T - 1, r1]
            e20 = C[T - 1, r2]
            e30 = C[T - 1, r3]
            for j in range(H):
                v0 = Vv[T - 1, j]
                acc[a0, j] = e00 * v0
                acc[a1, j] = e10 * v0
                acc[a2, j] = e20 * v0
                acc[a3, j] = e30 * v0
        elif n == 2:
            e00 = C[T - 1, r0]
            e10 = C[T - 1, r1]
            e20 = C[T - 1, r2]
            e30 = C[T - 1, r3]
            e01 = C[T - 2, r0]
            e11 = C[T - 2, r1]
            e21 = C[T - 2, r2]
            e31 = C[T - 2, r3]
            for j in range(H):
                v0 = Vv[T - 1, j]
                v1 = Vv[T - 2, j]
                acc[a0, j] = e00 * v0 + e01 * v1
                acc[a1, j] = e10 * v0 + e11 * v1
                acc[a2, j] = e20 * v0 + e21 * v1
                acc[a3, j] = e30 * v0 + e31 * v1
        elif n == 3:
            e00 = C[T - 1, r0]
            e10 = C[T - 1, r1]
            e20 = C[T - 1, r2]
            e30 = C[T - 1, r3]
            e01 = C[T - 2, r0]
            e11 = C[T - 2, r1]
            e21 = C[T - 2, r2]
            e31 = C[T - 2, r3]
            e02 = C[T - 3, r0]
            e12 = C[T - 3, r1]
            e22 = C[T - 3, r2]
            e32 = C[T - 3, r3]
            for j in range(H):
                v0 = Vv[T - 1, j]
                v1 = Vv[T - 2, j]
                v2 = Vv[T - 3, j]
                acc[a0, j] = (e00 * v0 + e01 * v1) + e02 * v2
                acc[a1, j] = (e10 * v0 + e11 * v1) + e12 * v2
                acc[a2, j] = (e20 * v0 + e21 * v1) + e22 * v2
                acc[a3, j] = (e30 * v0 + e31 * v1) + e32 * v2
        else:
            e00 = C[T - 1, r0]
            e10 = C[T - 1, r1]
            e20 = C[T - 1, r2]
            e30 = C[T - 1, r3]
            e01 = C[T - 2, r0]
            e11 = C[T - 2, r1]
            e21 = C[T - 2, r2]
            e31 = C[T - 2, r3]
            e02 = C[T - 3, r0]
            e12 = C[T - 3, r1]
            e22 = C[T - 3, r2]
            e32 = C[T - 3, r3]
            e03 = C[T - 4, r0]
            e13 = C[T - 4, r1]
            e23 = C[T - 4, r2]
            e33 = C[T - 4, r3]
            for j in range(H):
                v0 = Vv[T - 1, j]
                v1 = Vv[T - 2, j]
                v2 = Vv[T - 3, j]
                v3 = Vv[T - 4, j]
                acc[a0, j] = ((e00 * v0 + e01 * v1) + e02 * v2) + e03 * v3
                acc[a1, j] = ((e10 * v0 + e11 * v1) + e12 * v2) + e13 * v3
                acc[a2, j] = ((e20 * v0 + e21 * v1) + e22 * v2) + e23 * v3
                acc[a3, j] = ((e30 * v0 + e31 * v1) + e32 * v2) + e33 * v3
        for b in range(max(T - 1 - n, 0) // 4):
            q = T - 1 - n - 4 * b
            e00 = C[q, r0]
            e10 = C[q, r1]
            e20 = C[q, r2]
            e30 = C[q, r3]
            e01 = C[q - 1, r0]
            e11 = C[q - 1, r1]
            e21 = C[q - 1, r2]
            e31 = C[q - 1, r3]
            e02 = C[q - 2, r0]
            e12 = C[q - 2, r1]
            e22 = C[q - 2, r2]
            e32 = C[q - 2, r3]
            e03 = C[q - 3, r0]
            e13 = C[q - 3, r1]
            e23 = C[q - 3, r2]
            e33 = C[q - 3, r3]
            for j in range(H):
                v0 = Vv[q, j]
                v1 = Vv[q - 1, j]
                v2 = Vv[q - 2, j]
                v3 = Vv[q - 3, j]
                acc[a0, j] = (((acc[a0, j] + e00 * v0) + e01 * v1) + e02 * v2) + e03 * v3
                acc[a1, j] = (((acc[a1, j] + e10 * v0) + e11 * v1) + e12 * v2) + e13 * v3
                acc[a2, j] = (((acc[a2, j] + e20 * v0) + e21 * v1) + e22 * v2) + e23 * v3
                acc[a3, j] = (((acc[a3, j] + e30 * v0) + e31 * v1) + e32 * v2) + e33 * v3
        for d in range(min(4, R - r0)):
            r = r0 + d
            a = a0 + d
            if sumsq:
                for j in range(H):
                    x = np.float64(min(max(acc[a, j] + wd * P[r, j], -clip), clip))
                    s += x * x
            elif optimizer == OPT_SGD:
                for j in range(H):
                    x = min(max(acc[a, j] + wd * P[r, j], -clip), clip) * scale
                    P[r, j] -= lr * x
            elif optimizer == OPT_ADAGRAD:
                for j in range(H):
                    x = min(max(acc[a, j] + wd * P[r, j], -clip), clip) * scale
                    S[0, r, j] += x * x
                    P[r, j] -= lr * x / (np.sqrt(S[0, r, j]) + eps)
            else:
                for j in range(H):
                    x = min(max(acc[a, j] + wd * P[r, j], -clip), clip) * scale
                    S[0, r, j] = b1 * S[0, r, j] + (one - b1) * x
                    S[1, r, j] = b2 * S[1, r, j] + (one - b2) * (x * x)
                    P[r, j] -= lr * (S[0, r, j] / c1) / (np.sqrt(S[1, r, j] / c2) + eps)
    return s


@njit(**_opts)
def _transpose(A, B):
    """``B = A.T`` for square (H, H) arrays, eight source rows at a time (2x the naive loop)."""
    H = A.shape[0]
    i0 = 0
    while i0 + 8 <= H:
        for j in range(H):
            for i in range(i0, i0 + 8):
                B[j, i] = A[i, j]
        i0 += 8
    for j in range(H):
        for i in range(i0, H):
            B[j, i] = A[i, j]


@njit(**_opts)
def _transpose_inplace(A):
    H = A.shape[0]
    for i in range(H):
        for j in range(i + 1, H):
            a = A[i, j]
            A[i, j] = A[j, i]
            A[j, i] = a


#: How :func:`_apply_update` keeps ``Whh`` and ``WhhT``: update ``Whh`` and refresh ``WhhT``
#: (the public contract; SGD by a second fused pass, Adagrad and Adam by a transpose, cheaper
#: than their sqrt and division twice: Adagrad-mean H=64 f64 5.5 -> 5.0 us/sample); or update
#: only ``WhhT`` with ``Shh`` holding its transposed state (inside a ``gradient="tutorial"``
#: epoch, which never reads ``Whh``; the epoch kernel writes ``Whh`` back at the end).
WHH_BOTH, WHH_ONLY_T = 0, 1


@njit(inline="always", **_opts)
def _apply_update(tokens, hs, pooled, G, dy, WxhT, Whh, WhhT, Why, bh, by,
                  Sx, Shh, Sy, Sbh, Sby, hp, optimizer, counters, gX, mark, vecs, y,
                  dWhy, rows, uniq, whh_mode, norm_pass):
    """:func:`apply_update` with the ``Whh``/``WhhT`` bookkeeping of ``whh_mode`` (WHH_*) and
    ``norm_pass`` as in :func:`_apply_update_v` (``False``: ``hp[HP_CLIP_NORM]`` must be 0)."""
    _apply_update_v(tokens, hs, pooled, G, dy, WxhT, Whh, WhhT, Why, bh, by,
                    Sx, Shh, Sy, Sbh, Sby, hp, optimizer, counters, gX, mark, vecs, norm_pass,
                    dWhy, rows, uniq, whh_mode, _bias_views(vecs, y, bh, by, Sbh, Sby) + (None,),
                    _ngram.none_like(WxhT, Sx, uniq, hp), 0)


@njit(inline="always", **_opts)
def _bias_views(vecs, y, bh, by, Sbh, Sby):
    """The one-row views :func:`_apply_update_v` takes: the by gradient (in ``y``), the bh
    gradient (``vecs[V_TMP]``), ``bh``, ``by`` and their optimizer states.  Each ``reshape`` is
    a call into numba's C helper (~30 ns): the epoch makes them once, not per sample."""
    O = by.shape[0]
    H = bh.shape[0]
    return (y.reshape((1, O)), vecs[V_TMP:V_TMP + 1], bh.reshape((1, H)), by.reshape((1, O)),
            Sbh.reshape((Sbh.shape[0], 1, H)), Sby.reshape((Sby.shape[0], 1, O)))


@njit(inline="always", **_opts)
def _apply_update_v(tokens, hs, pooled, G, dy, WxhT, Whh, WhhT, Why, bh, by,
                    Sx, Shh, Sy, Sbh, Sby, hp, optimizer, counters, gX, mark, vecs, norm_pass,
                    dWhy, rows, uniq, whh_mode, views, ngrams, s):
    """:func:`_apply_update` with the ``views`` of :func:`_bias_views` made by the caller (one
    tuple argument: an inline function with 30-odd arguments cannot be called), and the linear
    n-gram path of sentence ``s`` (the ``ngrams`` bundle, see :mod:`kernels.ngram`).  The last
    item of ``views`` is ``inp`` (in that tuple: an inline function takes at most 30
    arguments): None (one-hot input rows ``WxhT``), or the embedding input bundle (:data:`INPUT_BUNDLE`;
    then ``tokens``/``WxhT``/``gX``/``mark`` are the sentence's re-numbered words, its projected
    rows ``Xs`` and per-row buffers, see :func:`embed_sentence`).

    ``norm_pass``: a compile-time ``True``/``False`` constant (numba prunes the branch before
    typing): ``False`` compiles ``clip_norm``'s sum-of-squares pass out (the caller guarantees
    ``hp[HP_CLIP_NORM] == 0``), ``True`` runs it when ``hp[HP_CLIP_NORM] > 0``."""
    dby, dbh, bh2, by2, Sbh2, Sby2, inp = views
    T = tokens.shape[0]
    O, H = Why.shape
    clip = hp[HP_CLIP]
    clip_norm = hp[HP_CLIP_NORM]
    wd = hp[HP_WD]
    zero = hp.dtype.type(0)
    one = hp.dtype.type(1)
    counters[0] += 1
    counters[1] += 1
    stamp = counters[1]
    c1 = one
    c2 = one
    if optimizer == OPT_ADAM:
        c1 = hp.dtype.type(1.0 - np.float64(hp[HP_BETA1]) ** counters[0])
        c2 = hp.dtype.type(1.0 - np.float64(hp[HP_BETA2]) ** counters[0])
    # the gradients; biases as one-row matrices so that one row routine serves all five
    for o in range(O):
        for j in range(H):
            dWhy[o, j] = dy[o] * pooled[j]
    for o in range(O):
        dby[0, o] = dy[o]
    for i in range(H):
        dbh[0, i] = 0
    for k in range(T, 0, -1):
        for i in range(H):
            dbh[0, i] += G[k - 1, i]
    nu = np.int64(0)  # not a literal (see one_row)
    for k in range(T, 0, -1):
        w = tokens[k - 1]
        if mark[w] != stamp:
            mark[w] = stamp
            uniq[nu] = w
            nu += 1
        for i in range(H):
            gX[w, i] += G[k - 1, i]
    one_row = by2.shape[0]  # 1, not a literal (a literal argument compiles the callee again)

    scale = one
    # sumsq as a runtime flag and the optimizer as given: the norm pass and the update share one
    # compilation of _whh_fused (literal True/False and OPT_SGD compiled it twice, ~1.8 s cold)
    sumsq = np.int64(1)
    update = np.int64(0)
    if norm_pass and clip_norm > 0:
        ss = (_sumsq_rows(Why, dWhy, rows, O, wd, clip) + _sumsq_rows(by2, dby, rows, one_row, zero, clip)
              + _sumsq_rows(bh2, dbh, rows, one_row, zero, clip)
              + (_whh_fused(WhhT, Shh, hs, G, T, vecs, optimizer, zero, wd, clip, one, zero,
                            zero, zero, one, one, sumsq) if whh_mode == WHH_ONLY_T
                 else _whh_fused(Whh, Shh, G, hs, T, vecs, optimizer, zero, wd, clip, one, zero,
                                 zero, zero, one, one, sumsq))
              + input_sumsq(inp, WxhT, gX, uniq, nu, wd, clip)
              + _ngram.sumsq(ngrams, s, dy, wd, clip))
        norm = np.sqrt(ss)
        if norm > clip_norm:
            scale = hp.dtype.type(np.float64(clip_norm) / norm)

    update_rows(Why, dWhy, Sy, rows, O, optimizer, hp, wd, scale, c1, c2)
    update_rows(by2, dby, Sby2, rows, one_row, optimizer, hp, zero, scale, c1, c2)
    update_rows(bh2, dbh, Sbh2, rows, one_row, optimizer, hp, zero, scale, c1, c2)
    lr = hp[HP_LR]
    eps = hp[HP_EPS]
    b1 = hp[HP_BETA1]
    b2 = hp[HP_BETA2]
    if whh_mode == WHH_ONLY_T:
        _whh_fused(WhhT, Shh, hs, G, T, vecs, optimizer, lr, wd, clip, scale, eps, b1, b2, c1, c2,
                   update)
    else:
        _whh_fused(Whh, Shh, G, hs, T, vecs, optimizer, lr, wd, clip, scale, eps, b1, b2, c1, c2,
                   update)
        if optimizer == OPT_SGD:  # a second fused pass is cheaper than a transpose
            _whh_fused(WhhT, Shh, hs, G, T, vecs, optimizer, lr, wd, clip, scale, eps, b1, b2,
                       c1, c2, update)
        else:  # the optimizer's own arithmetic once (sqrt, divide), then a copy: cheaper
            _transpose(Whh, WhhT)
    input_update(inp, WxhT, gX, Sx, uniq, nu, optimizer, hp, wd, scale, c1, c2)
    _ngram.update(ngrams, s, dy, optimizer, wd, clip, scale, c1, c2)
    for n in range(nu):
        w = uniq[n]
        for i in range(H):
            gX[w, i] = 0



@njit(**_opts)
def apply_update(tokens, hs, pooled, G, dy, WxhT, Whh, WhhT, Why, bh, by,
                 Sx, Shh, Sy, Sbh, Sby, hp, optimizer, counters, gX, mark, vecs, y,
                 dWhy, rows, uniq):
    """Clip the sentence's gradients and update all five parameters in place.

    Workspace: ``dWhy`` (O, H), ``rows`` = ``arange(max(H, O))``
    (int64), ``uniq`` (>= T,) int64, ``y`` (O,) (the spent logits' buffer holds the by gradient),
    ``vecs`` rows V_TMP (the bh gradient) and V_ACC (one row of the Whh gradient at a time).
    The input gradient exists only in the rows of the sentence's words: ``gX`` (V, H) must be
    all-zero on entry and is left all-zero; ``mark`` (V,) int64 records which rows this sentence
    touched.  ``S*`` are the optimizer states, shape ``(slots, *param.shape)``: 0 slots for SGD,
    1 (summed squared gradients) for Adagrad, 2 (first and second moments) for Adam.
    ``counters`` (2,) int64: the optimizer step count and the row stamp, both advanced.  Weight
    decay ``hp[HP_WD]`` applies to the weight matrices (lazily: only to the input rows of the
    sentence's words), not to the biases.  ``WhhT`` is kept equal to ``Whh.T``.
    """
    _apply_update(tokens, hs, pooled, G, dy, WxhT, Whh, WhhT, Why, bh, by,
                  Sx, Shh, Sy, Sbh, Sby, hp, optimizer, counters, gX, mark, vecs, y,
                  dWhy, rows, uniq, WHH_BOTH, True)


# --------------------------------------------------------------------------------------------
# whole epoch, inference
# --------------------------------------------------------------------------------------------
# The epoch kernel's arguments travel in six bundles, plain tuples (numba passes a tuple as its
# fields: no boxing, no copies; a namedtuple measured 10 us more per call, typed in Python rather
# than by the dispatcher's C fast path).  This table is their one specification;
# ``fastrnn._engine.Trainer.kernel_args`` builds them and the epoch kernels unpack them:
#
# ``corpus``   (tokens, offsets, labels, order): ``tokens`` (N,) int32, ``offsets`` (n+1,) int64,
#              ``labels`` (n,) int64, ``order`` int64 sample indices, the samples of this epoch
# ``weights``  (WxhT, Whh, WhhT, Why, bh, by), see the layout table; ``WhhT`` is rebuilt on entry
# ``state``    (Sx, Shh, Sy, Sbh, Sby, counters): one ``(slots, *param.shape)`` array per
#              parameter (0 slots for SGD, 1 for Adagrad, 2 for Adam) and ``counters`` (2,) int64,
#              the optimizer step count and the row stamp
# ``hp``       the hyperparameter array (:data:`HP_FIELDS`), not a tuple
# ``modes``    (gradient, pooling, optimizer) codes; ``optimizer`` selects the entry point in
#              :data:`TRAIN_EPOCH_BY_OPTIMIZER` (the epoch kernels do not read it)
# ``work``     (hs, G, gX, mark, vecs, amax, y, p, dWhy, rows, uniq): ``hs`` (Tmax+1, H),
#              ``G`` (Tmax, H), ``gX`` (V, H) zeros, ``mark`` (V,) int64, ``vecs`` (N_VECS, H),
#              ``amax`` (H,) int64, ``y`` and ``p`` (O,), ``dWhy`` (O, H),
#              ``rows`` = arange(max(H, O)) and ``uniq`` (Tmax,) int64
# ``ngrams``   (U, SU, grams, gram_counts, gram_offsets, gram_totals, nhp): the linear n-gram
#              path (:mod:`kernels.ngram`); all empty (``gram_offsets`` of length 0) without it
# ``inp``      the embedding models' kernels only (``train_epoch_emb_*``), an eighth bundle:
#              :data:`INPUT_BUNDLE`; their ``work`` has ``gX`` (Tmax, H) and ``mark`` (Tmax,)
#: The bundles' field names, in order (the table above; for callers and tests).
EPOCH_BUNDLES = (
    ("corpus", ("tokens", "offsets", "labels", "order")),
    ("weights", ("WxhT", "Whh", "WhhT", "Why", "bh", "by")),
    ("state", ("Sx", "Shh", "Sy", "Sbh", "Sby", "counters")),
    ("hp", None),
    ("modes", ("gradient", "pooling", "optimizer")),
    ("work", ("hs", "G", "gX", "mark", "vecs", "amax", "y", "p", "dWhy", "rows", "uniq")),
    ("ngrams", ("U", "SU", "grams", "gram_counts", "gram_offsets", "gram_totals", "nhp")),
)


# The epoch kernel exists as one entry point per optimizer, ``train_epoch_sgd`` / ``_adagrad`` /
# ``_adam``, where the optimizer code is a compile-time constant: a cold start compiles only
# that optimizer's update code (float32 Adagrad: 5.5 s instead of 6.0 s for a kernel taking the
# optimizer as a runtime argument).  The constant reaches the helpers as a literal argument, so
# each helper is compiled for it and LLVM folds the optimizer branches.
# The entry points are built by a factory rather than as thin wrappers around one inner
# function: every njit call level re-optimises and re-emits all the code linked below it
# (~1.5 s for a wrapper).  Cache: the closure holds only the integer OPT, which is part of
# numba's cache key, and each entry point has its own qualified name.
def _make_train_epoch(OPT, name, EMB=False, FIXED=None):
    """The epoch kernel of optimizer ``OPT``; ``EMB``: the embedding models' kernel instead
    (an eighth bundle ``inp``, :data:`INPUT_BUNDLE`).  ``FIXED``: ``(gradient, pooling)`` codes
    compiled in, with ``clip_norm``'s pass compiled out (the default recipe's kernel, see
    :func:`epoch_kernel`; its ``modes`` and ``hp[HP_CLIP_NORM]`` are then not read), or None
    (read from ``modes`` and ``hp`` at run time).  All are compile-time constants of the
    closure: numba prunes the branches on them before typing, so the one-hot kernels compile
    none of the embedding path and a ``FIXED`` kernel none of the other modes' code."""
    GRAD, POOL = (-1, -1) if FIXED is None else FIXED
    NORM_PASS = FIXED is None

    def train_epoch(corpus, weights, state, hp, modes, work, ngrams, inp=None):
        """One pass of per-sample training over ``corpus.order``.

        Per sample: forward, softmax loss, BPTT, fused clip + update.  No allocation per sample.
        Arguments: the tuples of :data:`EPOCH_BUNDLES` (``hp`` an array); updated in place.
        Returns ``(summed loss as float64, number of correct predictions before each update)``.

        An embedding model's kernel also takes ``inp``: each sentence's input rows are
        projected from its word vectors into ``Xs`` (:func:`embed_sentence`), the input
        gradient chained into the projection and, fine-tuned, the vectors' rows
        (:func:`input_update`); ``weights``' ``WxhT`` and ``state``'s ``Sx`` are then not read,
        ``work``'s ``gX`` is (Tmax, HX) zeros and ``mark`` (Tmax,) int64 (per sentence row).
        """
        tokens, offsets, labels, order = corpus
        WxhT, Whh, WhhT, Why, bh, by = weights
        Sx, Shh, Sy, Sbh, Sby, counters = state
        if GRAD < 0:
            gradient, pooling, _ = modes
        else:
            gradient = GRAD
            pooling = POOL
        hs, G, gX, mark, vecs, amax, y, p, dWhy, rows, uniq = work
        if EMB:
            X = inp[6]  # the sentence's projected input rows
        else:
            X = WxhT

        _transpose(Whh, WhhT)
        slots = Shh.shape[0]
        # both gradients read only WhhT (backward_steps): update it alone, with the Whh state
        # transposed in place, and write Whh back at the end
        whh_mode = WHH_ONLY_T
        for q in range(slots):
            _transpose_inplace(Shh[q])
        loss = 0.0
        correct = 0
        pooled = vecs[V_POOL]
        dy = p
        # once per epoch, not per sample; the last item: the embedding input path, if any
        if EMB:
            views = _bias_views(vecs, y, bh, by, Sbh, Sby) + (inp,)
        else:
            views = _bias_views(vecs, y, bh, by, Sbh, Sby) + (None,)
        for n in range(order.shape[0]):
            s = order[n]
            if EMB:
                sent = embed_sentence(tokens[offsets[s]:offsets[s + 1]], inp)  # rows of Xs
            else:
                sent = tokens[offsets[s]:offsets[s + 1]]
            T = sent.shape[0]
            _ngram.prefetch(ngrams, order, n + 1)  # the next sentence's table rows
            forward(sent, X, WhhT, bh, Why, by, pooling, hs, pooled, amax, y)
            _ngram.add_logits(ngrams, s, y)
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
            _apply_update_v(sent, hs, pooled, G, dy, X, Whh, WhhT, Why, bh, by,
                            Sx, Shh, Sy, Sbh, Sby, hp, OPT, counters, gX, mark, vecs, NORM_PASS,
                            dWhy, rows, uniq, whh_mode, views, ngrams, s)
        if whh_mode == WHH_ONLY_T:
            _transpose(WhhT, Whh)
            for q in range(slots):
                _transpose_inplace(Shh[q])
        return loss, correct

    train_epoch.__name__ = train_epoch.__qualname__ = name
    return depends_on(_ngram)(njit(**_opts)(train_epoch))


train_epoch_sgd = _make_train_epoch(OPT_SGD, "train_epoch_sgd")
train_epoch_adagrad = _make_train_epoch(OPT_ADAGRAD, "train_epoch_adagrad")
train_epoch_adam = _make_train_epoch(OPT_ADAM, "train_epoch_adam")
#: The per-optimizer entry points, indexed by optimizer code.
TRAIN_EPOCH_BY_OPTIMIZER = (train_epoch_sgd, train_epoch_adagrad, train_epoch_adam)
train_epoch_emb_sgd = _make_train_epoch(OPT_SGD, "train_epoch_emb_sgd", EMB=True)
train_epoch_emb_adagrad = _make_train_epoch(OPT_ADAGRAD, "train_epoch_emb_adagrad", EMB=True)
train_epoch_emb_adam = _make_train_epoch(OPT_ADAM, "train_epoch_emb_adam", EMB=True)
#: The embedding models' entry points (an eighth bundle ``inp``), by optimizer code.
TRAIN_EPOCH_EMB_BY_OPTIMIZER = (train_epoch_emb_sgd, train_epoch_emb_adagrad, train_epoch_emb_adam)
#: The default recipe (``Model()``: Adagrad, the exact gradient, mean pooling, no ``clip_norm``)
#: has an entry point of its own with those modes compiled in: a cold fit compiled 1.4-2.2 s
#: less than with ``train_epoch_adagrad`` (float32, side by side in one run, twice), and the
#: two give bitwise equal results (tests/test_kernels.py).  Only this recipe has one: each
#: entry point is one more compile for a program (and the test suite) that uses it.
DEFAULT_MODES = (OPT_ADAGRAD, GRADIENT_EXACT, POOL_MEAN)
train_epoch_adagrad_default = _make_train_epoch(OPT_ADAGRAD, "train_epoch_adagrad_default",
                                                FIXED=DEFAULT_MODES[1:])


def epoch_kernel(optimizer, gradient, pooling, clip_norm, embedded=False):
    """The epoch entry point for these codes (``clip_norm`` the ``hp`` value, 0 for none):
    :data:`train_epoch_adagrad_default` for the default recipe, else the optimizer's general
    kernel (one-hot or, ``embedded``, word vectors).  The one place that picks a kernel; the
    ``FIXED`` kernel ignores ``modes`` and ``clip_norm``, so nothing else may call it."""
    if embedded:
        return TRAIN_EPOCH_EMB_BY_OPTIMIZER[optimizer]
    if (optimizer, gradient, pooling) == DEFAULT_MODES and not clip_norm > 0:
        return train_epoch_adagrad_default
    return TRAIN_EPOCH_BY_OPTIMIZER[optimizer]


def callee_signatures(dtype, optimizer):
    """``[(dispatcher, argument types), ...]`` of the separately compiled callees that take
    most of an epoch kernel's cold compile (:func:`update_rows` ~0.6 s, :func:`_whh_fused`
    ~1.9 s), as the epoch kernels of this module call them for float ``dtype`` and optimizer
    code ``optimizer``: C-contiguous arrays of ``dtype``, int64 row counts and index arrays,
    scalars of ``dtype`` (read from ``hp``), and the optimizer as the literal its closure
    constant types as.  ``fastrnn._precompile`` compiles these in a helper process while the
    caller compiles the kernel itself; ``tests/test_precompile.py`` checks that a cold fit then
    compiles none of them (a wrong type here costs that saving, never a wrong result)."""
    f = from_dtype(np.dtype(dtype))
    i64 = types.int64
    a1, a2, a3 = (types.Array(f, n, "C") for n in (1, 2, 3))
    rows = types.Array(i64, 1, "C")
    opt = types.literal(int(optimizer))
    return [(update_rows, (a2, a2, a3, rows, i64, opt, a1, f, f, f, f)),
            (_whh_fused, (a2, a3, a2, a2, i64, a2, opt) + (f,) * 9 + (i64,))]


@depends_on(_ngram)
@njit(cache=True, error_model="numpy", nogil=True)
def predict_proba_range(tokens, offsets, WxhT, WhhT, bh, Why, by, U, grams, gram_counts,
                        gram_offsets, gram_totals, pooling, out, s0, s1):
    """Class probabilities ``out[s]`` (O,) of the sentences ``s0 <= s < s1``.

    ``U, grams, gram_counts, gram_offsets, gram_totals``: the linear n-gram path's table and the
    corpus's flat n-gram arrays (:mod:`kernels.ngram`), all empty for a model without it.

    Same arithmetic, in the same order, as :func:`forward` + :func:`softmax_loss`, so results do
    not depend on how the sentences are split.  :func:`fastrnn._engine.predict_proba` calls it
    directly for small corpora and otherwise runs a few ranges per thread on a thread pool
    (``nogil``: the ranges run in parallel).
    """
    O, H = Why.shape
    h = np.empty((2, H), dtype=bh.dtype)
    pooled = np.empty(H, dtype=bh.dtype)
    y = np.empty(O, dtype=bh.dtype)
    for s in range(s0, s1):
        a = offsets[s]
        T = offsets[s + 1] - a
        for t in range(T):
            cur = t % 2
            # h[cur] holds h_t, h[1 - cur] receives h_{t+1}
            nxt = 1 - cur
            for i in range(H):
                h[nxt, i] = WxhT[tokens[a + t], i] + bh[i]
            if t > 0:
                matvec_add(h, nxt, WhhT, h, cur)
            for i in range(H):
                h[nxt, i] = tanh_elem(h[nxt, i])
            pool_add(pooled, h, nxt, t, pooling)
        pool_finish(pooled, h, T % 2, T, pooling)
        readout(Why, by, pooled, y)
        _ngram.add_logits_range(U, grams, gram_counts, gram_offsets, gram_totals, s, y)
        softmax_loss(y, 0, out[s])


# saves of this module's plain-cached kernels serialised across processes (kernels/_cache.py)
lock_saves(globals(), __name__)
