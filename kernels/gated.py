"""Numba kernels for many-to-one GRU and LSTM classifiers trained with per-sample updates.

The gated counterpart of :mod:`fastrnn.kernels.rnn` (same conventions: arrays and scalars in,
caller-owned buffers out, no bounds checks -- :mod:`fastrnn._gated_engine` validates and
allocates).  Equations, gate order and parameter names are those of
:mod:`fastrnn.reference_gated`, which mirrors these functions step by step (PyTorch's
``nn.GRU``: gates ``r, z, n``; ``nn.LSTM``: ``i, f, g, o``; ``G`` gates, ``GH = G * H``).

Arguments are grouped in tuples (one numba type per tuple, so one compilation per dtype):

=========  ==================================================================================
corpus     ``(tokens (N,) int32, offsets (n+1,) int64, labels (n,) int64, order (m,) int64)``
params     ``(WxhT (V, GH), Whh (GH, H), WhhT (H, GH), bih (GH,), bhh (GH,), Why (O, H),
           by (O,))``; ``WhhT`` is a transposed copy of ``Whh``.  An epoch copies ``Whh`` (and
           its optimizer state) into ``WhhT`` (and ``ShhT``) on entry, trains ``WhhT`` -- the
           forward matvec as axpys over its rows, ``Whh.T @ g`` as row dots (float64), the
           fused update row by row -- and writes ``Whh`` and ``Shh`` back on exit; in float32
           ``Whh`` is also refreshed per sample for the backward's axpys (see ``_dh_add``)
state      ``(Sx, Shh, Sih, Shb, Sy, Sby)``: optimizer states of ``WxhT, Whh, bih, bhh, Why,
           by``, each ``(slots, *param.shape)`` (0 slots SGD, 1 Adagrad, 2 Adam)
work       ``(hs (Tmax+1, H), cs (Tmax+1, H), gates (Tmax, NQ*H), Gh (Tmax, GH), Dn (Tmax, H),
           gX (V, GH) zeros, mark (V,) int64, vecs (N_VECS, GH), acc (rnn.V_ACC+4, GH),
           amax (H,) int64,
           y (O,), p (O,), dWhy (O, H), rows = arange(max(GH, O)) int64, uniq (Tmax,) int64,
           counters (2,) int64, ShhT (slots, H, GH))`` with ``NQ = 4`` (GRU: r, z, n, u_n)
           or 5 (LSTM: i, f, g, o, tanh c)
hp         the hyperparameter array of :data:`fastrnn.kernels.rnn.HP_FIELDS`, model dtype
=========  ==================================================================================

``hs[t]`` / ``cs[t]`` are the hidden / cell states after word ``t`` (``hs[0] = cs[0] = 0``);
``Gh[t-1]`` is the gradient of the loss with respect to ``u_t = Whh @ h_{t-1} + bhh``, from
which the ``WhhT`` update is fused row by row (:func:`fastrnn.kernels.rnn._whh_fused` with
``(C, Vv) = (hs, Gh)``: row r of ``dWhh.T``, the same products in the same order as row r of
``dWhh``; the gradient matrix never exists).  The input gradient exists only in the rows
``gX[w]`` of the sentence's words, marked by ``mark``/``uniq``, updated lazily with their
optimizer state and zeroed again.

Entry points, one per (cell, optimizer) so a program compiles only what it uses:
``train_epoch_{gru,lstm}_{sgd,adagrad,adam}(corpus, params, state, work, hp, pooling, ngrams)`` ->
``(summed loss float64, n correct)``; also :data:`TRAIN_EPOCH` ``[cell][optimizer]``.
Inference: ``predict_proba_range_{gru,lstm}`` (nogil, serial over a range of sentences),
run in ranges on the engine's predict thread pool; :data:`PREDICT`.

The linear n-gram path (``ngrams`` bundle ``(U, SU, grams, gram_counts, gram_offsets,
gram_totals, nhp)``, :mod:`fastrnn.kernels.ngram`) works as in the tanh kernels: its rows are
added to the logits after ``readout``, count in the ``clip_norm`` norm and are updated lazily
after the other rows; empty arrays (``gram_offsets`` of length 0) switch it off.  The predict
kernels take ``U, grams, gram_counts, gram_offsets, gram_totals`` after ``params``.

Cache: these kernels link code from :mod:`fastrnn.kernels.rnn` (``tanh_scalar``, ``matvec_add``,
``_whh_fused``, ``update_rows``, ...) and :mod:`fastrnn.kernels.ngram`; every cached dispatcher
here is keyed on those sources too (:func:`fastrnn.kernels._cache.depends_on`), so an edit to
any of the files recompiles them.
"""

import numpy as np
from numba import from_dtype, njit, types
from numba.core.dispatcher import Dispatcher

from . import rnn
from ._cache import depends_on
from .rnn import (
    HP_BETA1, HP_BETA2, HP_CLIP, HP_CLIP_NORM, HP_EPS, HP_LR, HP_WD, OPT_ADAGRAD, OPT_ADAM,
    OPT_SGD, POOL_LAST, POOL_MEAN, V_ACC, _INV_LN2, _LN2_HI, _LN2_LO, _ROUND, _bits_f64,
    _f64_bits, _sumsq_rows, _whh_fused, embed_sentence, expm1_reduced, input_sumsq,
    input_update, matvec_add, pool_add, pool_finish, pool_states, readout, softmax_loss,
    tanh_scalar, update_rows,
)
from . import ngram as _ngram
from . import rnn as _rnn

#: Cell codes.
CELL_GRU, CELL_LSTM = 0, 1
CELLS = ("gru", "lstm")
#: Gates per cell and rows of the per-step ``gates`` record (times H).
N_GATES = (3, 4)
N_RECORD = (4, 5)
#: Rows of the ``vecs`` workspace (each GH long; rows 0-4 use the first H entries).
V_DR, V_DH, V_DH2, V_DC, V_POOL, V_U, V_DBIH, V_DBHH = range(8)
N_VECS = 8
#: Rows of the ``acc`` workspace that ``_whh_fused`` uses: ``V_ACC .. V_ACC + 3``.
N_ACC = V_ACC + 4

_opts = dict(cache=True, error_model="numpy", nogil=True)

_ROUND_BITS = 0x4338000000000000  # the bits of _ROUND: bits(x + _ROUND) - _ROUND_BITS = round(x)


# --------------------------------------------------------------------------------------------
# vectorisable sigmoid
# --------------------------------------------------------------------------------------------
@njit(inline="always", **_opts)
def sigmoid_scalar(x):
    """``1 / (1 + exp(-x))`` for a float64 ``x``, branch-free so that loops over it vectorise.

    ``e = exp(-|x|)`` by the Cody-Waite reduction of :func:`fastrnn.kernels.rnn.tanh_scalar`
    (``-|x| = k ln2 + r``, ``expm1(r)`` from the same degree-13 polynomial), with ``2^k``
    applied as two halves ``2^(k>>1) * 2^(k - (k>>1))`` so that results down to the denormals
    are right (``|x|`` is clamped to 746, past which ``e`` rounds to 0); then
    ``sigmoid(x) = 1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` below (no cancellation).
    Max error ~2 ulp; exact 0.5 at +-0, 1 at +inf, 0 at -inf; NaN in, NaN out.  float32
    callers pass ``np.float64(x)`` and round the result once (<= 1 ulp of float32).
    """
    a = abs(x)
    a = a if a < 746.0 else 746.0
    kr = a * -_INV_LN2 + _ROUND
    k = _f64_bits(kr) - _ROUND_BITS  # round(-a / ln 2), in [-1076, 0]
    kf = kr - _ROUND
    r = (-a - kf * _LN2_HI) - kf * _LN2_LO
    er = 1.0 + expm1_reduced(r)  # exp(r)
    k1 = k >> 1
    k2 = k - k1
    e = (er * _bits_f64((k1 + 1023) << 52)) * _bits_f64((k2 + 1023) << 52)
    num = 1.0 if x >= 0 else e
    res = num / (1.0 + e)
    return res if x == x else x


@njit(**_opts)
def sigmoid_rows(A, r0, r1):
    """``A[r] = sigmoid(A[r])`` for the rows ``r0 <= r < r1`` of a 2-D float32/float64 array."""
    for r in range(r0, r1):
        for i in range(A.shape[1]):
            A[r, i] = sigmoid_scalar(np.float64(A[r, i]))


# --------------------------------------------------------------------------------------------
# forward: one step of each cell (same signature, so the epoch factory can pick either)
# --------------------------------------------------------------------------------------------
# The step and backward functions are ordinary njit functions, not inline="always" like the
# tanh cell's per-sentence helpers: inlined in numba's IR, the GRU step's gate loop ran ~3.5x
# slower (48.7 vs 14.0 us per 20-word sentence, H = 32, f64, measured alone), and a cold
# compile of one epoch kernel costs about what the tanh one does either way (10.0 vs 9.8 s CPU,
# f32 Adagrad).  Inside a loop, every array stream that may alias another costs LLVM a runtime
# check; a loop with too many (the backward step with the gX and bias sums in it) stays scalar,
# so each loop below writes few arrays.
@njit(**_opts)
def gru_step(WxhT, w, WhhT, bih, bhh, hs, cs, t0, t1, u, uq, gates, tg, first):
    """``hs[t1]`` = GRU step from ``hs[t0]`` on word ``w``; ``gates[tg] = [r, z, n, u_n]``.

    ``u[uq]`` (GH,) receives ``Whh @ hs[t0] + bhh`` (no matvec when ``first``: ``hs[t0] = 0``);
    the input part ``WxhT[w] + bih`` is added inside the gate loops.  r and z are one
    contiguous sigmoid loop over ``2H`` written straight to ``gates``, then n and h: 3-5 % less
    epoch time than one loop over H doing all three gates (f64/f32, H = 32/64, same bits).
    ``cs`` and ``u[uq + 1]`` are not used (the LSTM step's signature).
    """
    H = hs.shape[1]
    GH = bhh.shape[0]
    ft = hs.dtype.type
    one = ft(1)
    for i in range(GH):
        u[uq, i] = bhh[i]
    if not first:
        matvec_add(u, uq, WhhT, hs, t0)
    # r and z in one contiguous loop, then n and h
    for i in range(2 * H):
        gates[tg, i] = ft(sigmoid_scalar(np.float64((WxhT[w, i] + bih[i]) + u[uq, i])))
    for i in range(H):
        r = gates[tg, i]
        z = gates[tg, H + i]
        un = u[uq, 2 * H + i]
        n = ft(tanh_scalar(np.float64((WxhT[w, 2 * H + i] + bih[2 * H + i]) + r * un)))
        hs[t1, i] = (one - z) * n + z * hs[t0, i]
        gates[tg, 2 * H + i] = n
        gates[tg, 3 * H + i] = un


@njit(**_opts)
def lstm_step(WxhT, w, WhhT, bih, bhh, hs, cs, t0, t1, u, uq, gates, tg, first):
    """``hs[t1], cs[t1]`` = LSTM step from ``hs[t0], cs[t0]`` on word ``w``;
    ``gates[tg] = [i, f, g, o, tanh(c)]``.  ``u[uq]`` (GH,) receives the gate pre-activations
    ``(WxhT[w] + bih) + (Whh @ hs[t0] + bhh)``, summed in a pass of its own (fewer arrays in
    the gate loops); the gates are contiguous loops (i and f one sigmoid loop over 2H, g, o)
    written straight to ``gates``, then c and h (4-6 % less epoch time than one loop doing all
    four; folding the input sum into the gate loops, as the GRU step does, was 3 % slower
    here); ``u[uq + 1]`` is not used."""
    H = hs.shape[1]
    GH = bhh.shape[0]
    ft = hs.dtype.type
    for i in range(GH):
        u[uq, i] = bhh[i]
    if not first:
        matvec_add(u, uq, WhhT, hs, t0)
    for i in range(GH):
        u[uq, i] = (WxhT[w, i] + bih[i]) + u[uq, i]
    # the gates in contiguous loops (i and f together), then c and h
    for i in range(2 * H):
        gates[tg, i] = ft(sigmoid_scalar(np.float64(u[uq, i])))
    for i in range(H):
        gates[tg, 2 * H + i] = ft(tanh_scalar(np.float64(u[uq, 2 * H + i])))
    for i in range(H):
        gates[tg, 3 * H + i] = ft(sigmoid_scalar(np.float64(u[uq, 3 * H + i])))
    for i in range(H):
        ig = gates[tg, i]
        fg = gates[tg, H + i]
        gg = gates[tg, 2 * H + i]
        og = gates[tg, 3 * H + i]
        c = fg * cs[t0, i] + ig * gg
        tc = ft(tanh_scalar(np.float64(c)))
        cs[t1, i] = c
        hs[t1, i] = og * tc
        gates[tg, 4 * H + i] = tc


# --------------------------------------------------------------------------------------------
# backward: reverse-time BPTT of each cell (same signature)
# --------------------------------------------------------------------------------------------
@njit(inline="always", **_opts)
def _pooled_grad(T, Why, dy, pooling, vecs):
    """``vecs[V_DR] = Why.T @ dy`` (/T for mean pooling); ``vecs[V_DH] = vecs[V_DC] = 0``."""
    O, H = Why.shape
    for j in range(H):
        vecs[V_DR, j] = 0
        vecs[V_DH, j] = 0
        vecs[V_DC, j] = 0
    for o in range(O):
        d = dy[o]
        for j in range(H):
            vecs[V_DR, j] += Why[o, j] * d
    if pooling == POOL_MEAN:
        Tf = dy.dtype.type(T)
        for j in range(H):
            vecs[V_DR, j] = vecs[V_DR, j] / Tf


@njit(inline="always", **_opts)
def _add_pool_share(k, T, pooling, amax, vecs, H):
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


@njit(inline="always", **_opts)
def _mark(w, mark, stamp, uniq, nu):
    if mark[w] != stamp:
        mark[w] = stamp
        uniq[nu] = w
        nu += 1
    return nu


@njit(inline="always", **_opts)
def _accumulate_inputs(sent, Gx, gX, vecs, row, c0, c1):
    """Columns ``c0 <= j < c1`` of the input gradient: ``gX[w_k, j] += Gx[k-1, j - c0]`` and
    ``vecs[row, j] += Gx[k-1, j - c0]`` for k = T..1 (descending, as the reference sums).
    One store stream per loop: a loop that also wrote the bias sum did not vectorise."""
    T = sent.shape[0]
    for k in range(T, 0, -1):
        w = sent[k - 1]
        for j in range(c0, c1):
            gX[w, j] += Gx[k - 1, j - c0]
    for k in range(T, 0, -1):
        for j in range(c0, c1):
            vecs[row, j] += Gx[k - 1, j - c0]


@njit(fastmath={"reassoc", "contract"}, **_opts)
def matTvec_rows(out, q, MT, g, r):
    """``out[q, j] += sum_i MT[j, i] * g[r, i]`` (``MT`` (H, GH) = ``M.T``: ``out += M.T @ g``
    as one contiguous dot product per row of ``MT``), four rows per pass so each ``g`` load
    serves four sums.  ``fastmath`` reassoc/contract lets LLVM split each dot into vector
    partial sums (no NaN/Inf assumption: NaNs still propagate); the summation order is not
    the sequential one (the reference's BLAS order differs anyway)."""
    n, m = MT.shape
    j0 = 0
    while j0 + 4 <= n:
        a0 = out[q, j0] * 0
        a1 = a0
        a2 = a0
        a3 = a0
        for i in range(m):
            gi = g[r, i]
            a0 += MT[j0, i] * gi
            a1 += MT[j0 + 1, i] * gi
            a2 += MT[j0 + 2, i] * gi
            a3 += MT[j0 + 3, i] * gi
        out[q, j0] += a0
        out[q, j0 + 1] += a1
        out[q, j0 + 2] += a2
        out[q, j0 + 3] += a3
        j0 += 4
    for j in range(j0, n):
        a = out[q, j] * 0
        for i in range(m):
            a += MT[j, i] * g[r, i]
        out[q, j] += a


@njit(inline="always", **_opts)
def _dh_add(vecs, dh2, Whh, WhhT, Gh, q):
    """``vecs[dh2] += Whh.T @ Gh[q]``: float64 as row dots over ``WhhT`` (no per-sample copy of
    ``Whh`` needed), float32 as axpys over the rows of ``Whh`` (kept equal to ``WhhT.T`` per
    sample).  In float32 the dots ran 2.3x slower than the axpys (1.39 vs 0.60 us, H = 64,
    GH = 256, measured alone; float64 1.16-1.30 vs 1.17 us), more than the copy costs.
    ``itemsize`` is a compile-time constant: each dtype compiles one branch."""
    if Whh.itemsize == 4:
        matvec_add(vecs, dh2, Whh, Gh, q)
    else:
        matTvec_rows(vecs, dh2, WhhT, Gh, q)


@njit(**_opts)
def gru_backward(sent, hs, cs, gates, amax, Whh, WhhT, Why, dy, pooling, Gh, Dn, gX, vecs,
                 mark, uniq, stamp):
    """BPTT of one GRU sentence: fills ``Gh[0..T-1]`` (d loss / d u_t) and ``Dn[0..T-1]`` (the
    n gate's input gradient, ``Gh``'s n block divided by r), adds the input rows to ``gX``
    (marking them in ``uniq``) and sums the bias gradients into ``vecs[V_DBIH]`` and
    ``vecs[V_DBHH]`` (zero on entry).  Returns the number of distinct words.

    The per-step loop writes only ``Gh``, ``Dn`` and the next ``dh``: with the ``gX`` and bias
    sums in it as well LLVM left it scalar (too many possibly aliasing streams); those sums are
    separate passes afterwards.
    """
    T = sent.shape[0]
    H = WhhT.shape[0]
    H2 = 2 * H
    GH = WhhT.shape[1]
    one = dy.dtype.type(1)
    dh2 = np.int64(V_DH2)
    _pooled_grad(T, Why, dy, pooling, vecs)
    nu = np.int64(0)
    for k in range(T, 0, -1):
        _add_pool_share(k, T, pooling, amax, vecs, H)
        nu = _mark(sent[k - 1], mark, stamp, uniq, nu)
        q = k - 1
        for i in range(H):
            dhv = vecs[V_DH, i]
            r = gates[q, i]
            z = gates[q, H + i]
            n = gates[q, H2 + i]
            un = gates[q, 3 * H + i]
            dn = dhv * (one - z)
            dz = dhv * (hs[q, i] - n)
            dan = dn * (one - n * n)
            Gh[q, i] = dan * un * r * (one - r)
            Gh[q, H + i] = dz * z * (one - z)
            Gh[q, H2 + i] = dan * r
            Dn[q, i] = dan
            vecs[V_DH2, i] = dhv * z
        if k > 1:
            _dh_add(vecs, dh2, Whh, WhhT, Gh, q)  # += Whh.T @ Gh[q]
            for i in range(H):
                vecs[V_DH, i] = vecs[V_DH2, i]
    # the input rows: columns [0, 2H) from Gh, [2H, GH) from Dn, one pass over the words
    for k in range(T, 0, -1):
        w = sent[k - 1]
        for j in range(H2):
            gX[w, j] += Gh[k - 1, j]
        for j in range(H):
            gX[w, H2 + j] += Dn[k - 1, j]
    # bhh's gradient sums Gh; bih's r and z blocks are the same sums (same order), its n block
    # sums Dn
    for k in range(T, 0, -1):
        for j in range(GH):
            vecs[V_DBHH, j] += Gh[k - 1, j]
    for j in range(H2):
        vecs[V_DBIH, j] = vecs[V_DBHH, j]
    for k in range(T, 0, -1):
        for j in range(H):
            vecs[V_DBIH, H2 + j] += Dn[k - 1, j]
    return nu


@njit(**_opts)
def lstm_backward(sent, hs, cs, gates, amax, Whh, WhhT, Why, dy, pooling, Gh, Dn, gX, vecs,
                  mark, uniq, stamp):
    """BPTT of one LSTM sentence, as :func:`gru_backward` (``Dn`` not used); the input and
    recurrent biases have the same gradient, summed once into ``vecs[V_DBIH]``."""
    T = sent.shape[0]
    H = WhhT.shape[0]
    H2 = 2 * H
    H3 = 3 * H
    GH = WhhT.shape[1]
    one = dy.dtype.type(1)
    dh2 = np.int64(V_DH2)
    _pooled_grad(T, Why, dy, pooling, vecs)
    nu = np.int64(0)
    for k in range(T, 0, -1):
        _add_pool_share(k, T, pooling, amax, vecs, H)
        nu = _mark(sent[k - 1], mark, stamp, uniq, nu)
        q = k - 1
        for i in range(H):
            dhv = vecs[V_DH, i]
            ig = gates[q, i]
            fg = gates[q, H + i]
            gg = gates[q, H2 + i]
            og = gates[q, H3 + i]
            tc = gates[q, 4 * H + i]
            do = dhv * tc
            dc = vecs[V_DC, i] + dhv * og * (one - tc * tc)
            Gh[q, i] = dc * gg * ig * (one - ig)
            Gh[q, H + i] = dc * cs[q, i] * fg * (one - fg)
            Gh[q, H2 + i] = dc * ig * (one - gg * gg)
            Gh[q, H3 + i] = do * og * (one - og)
            vecs[V_DC, i] = dc * fg
            vecs[V_DH2, i] = 0
        if k > 1:
            _dh_add(vecs, dh2, Whh, WhhT, Gh, q)  # += Whh.T @ Gh[q]
            for i in range(H):
                vecs[V_DH, i] = vecs[V_DH2, i]
    _accumulate_inputs(sent, Gh, gX, vecs, np.int64(V_DBIH), np.int64(0), GH)
    return nu


# --------------------------------------------------------------------------------------------
# fused clip + update
# --------------------------------------------------------------------------------------------
@njit(**_opts)
def transpose_rect(A, B):
    """``B = A.T`` for ``A`` (R, C), ``B`` (C, R), eight source rows at a time."""
    R, C = A.shape
    i0 = 0
    while i0 + 8 <= R:
        for j in range(C):
            for i in range(i0, i0 + 8):
                B[j, i] = A[i, j]
        i0 += 8
    for j in range(C):
        for i in range(i0, R):
            B[j, i] = A[i, j]


@njit(inline="always", **_opts)
def _gated_update(T, nu, hs, pooled, Gh, dy, params, state, work, views, hp, optimizer,
                  ngrams, s, inp):
    """Clip the sentence's gradients (elementwise ``clip``, global ``clip_norm``) and apply one
    optimizer step to every parameter; ``WhhT`` refreshed, the touched ``gX`` rows zeroed.
    The linear n-gram path of sentence ``s`` (the ``ngrams`` bundle, :mod:`kernels.ngram`;
    empty: nothing) counts in the norm and is updated after the other rows.  ``inp``: None
    (one-hot input rows), or the embedding input bundle (:data:`kernels.rnn.INPUT_BUNDLE`;
    then ``WxhT`` is the sentence's projected rows ``Xs``)."""
    WxhT, Whh, WhhT, bih, bhh, Why, by = params
    Sx, Shh, Sih, Shb, Sy, Sby = state
    (hs_, cs_, gates, Gh_, Dn, gX, mark, vecs, acc, amax, y, p, dWhy, rows, uniq, counters,
     ShhT) = work
    dby, dbih, dbhh, bih2, bhh2, by2, Sih2, Shb2, Sby2 = views
    O, H = Why.shape
    clip = hp[HP_CLIP]
    clip_norm = hp[HP_CLIP_NORM]
    wd = hp[HP_WD]
    zero = hp.dtype.type(0)
    one = hp.dtype.type(1)
    counters[0] += 1
    c1 = one
    c2 = one
    if optimizer == OPT_ADAM:
        c1 = hp.dtype.type(1.0 - np.float64(hp[HP_BETA1]) ** counters[0])
        c2 = hp.dtype.type(1.0 - np.float64(hp[HP_BETA2]) ** counters[0])
    for o in range(O):
        for j in range(H):
            dWhy[o, j] = dy[o] * pooled[j]
    for o in range(O):
        dby[0, o] = dy[o]
    one_row = by2.shape[0]  # 1, not a literal (a literal argument compiles the callee again)
    # the norm pass and the update share one compilation of _whh_fused: sumsq as a runtime
    # int, the optimizer as the update passes it (literal OPT_SGD/True vs OPT/False compiled
    # the biggest helper twice: 19.0 vs 9.5 s of a cold GRU fit's compile, on a busy machine)
    sumsq = np.int64(1)
    update = np.int64(0)
    scale = one
    if clip_norm > 0:
        ss = (_sumsq_rows(Why, dWhy, rows, O, wd, clip)
              + _sumsq_rows(by2, dby, rows, one_row, zero, clip)
              + _sumsq_rows(bih2, dbih, rows, one_row, zero, clip)
              + _sumsq_rows(bhh2, dbhh, rows, one_row, zero, clip)
              + _whh_fused(WhhT, ShhT, hs, Gh, T, acc, optimizer, zero, wd, clip, one, zero,
                           zero, zero, one, one, sumsq)
              + input_sumsq(inp, WxhT, gX, uniq, nu, wd, clip)
              + _ngram.sumsq(ngrams, s, dy, wd, clip))
        norm = np.sqrt(ss)
        if norm > clip_norm:
            scale = hp.dtype.type(np.float64(clip_norm) / norm)
    update_rows(Why, dWhy, Sy, rows, O, optimizer, hp, wd, scale, c1, c2)
    update_rows(by2, dby, Sby2, rows, one_row, optimizer, hp, zero, scale, c1, c2)
    update_rows(bih2, dbih, Sih2, rows, one_row, optimizer, hp, zero, scale, c1, c2)
    update_rows(bhh2, dbhh, Shb2, rows, one_row, optimizer, hp, zero, scale, c1, c2)
    # WhhT (H, GH) is the live recurrent matrix during an epoch: row r of dWhh.T is
    # sum_k hs[k-1, r] * Gh[k-1], the same products in the same order as row r of dWhh
    _whh_fused(WhhT, ShhT, hs, Gh, T, acc, optimizer, hp[HP_LR], wd, clip, scale, hp[HP_EPS],
               hp[HP_BETA1], hp[HP_BETA2], c1, c2, update)
    if Whh.itemsize == 4:
        transpose_rect(WhhT, Whh)  # float32: the backward's axpys read Whh (see _dh_add)
    input_update(inp, WxhT, gX, Sx, uniq, nu, optimizer, hp, wd, scale, c1, c2)
    _ngram.update(ngrams, s, dy, optimizer, wd, clip, scale, c1, c2)
    GH = WxhT.shape[1]
    for n in range(nu):
        w = uniq[n]
        for i in range(GH):
            gX[w, i] = 0


# --------------------------------------------------------------------------------------------
# whole epoch
# --------------------------------------------------------------------------------------------
def _make_train_epoch(CELL, OPT, name, EMB=False):
    """The epoch kernel of one (cell, optimizer): both compile-time constants of the closure
    (part of numba's cache key), so only that cell's and that optimizer's code is compiled.

    The closure holds plain constants only (``LSTM``, ``OPT``, ``EMB``): the cell's step and
    backward are module globals behind ``if LSTM`` (numba prunes the other branch before
    typing, so the other cell is never compiled).  A closure over the dispatchers themselves
    pickles their per-process uuid into numba's cache key: every new process missed the disk
    cache and compiled the epoch kernel again (~9 s of a warm GRU fit).

    ``EMB``: the embedding models' kernel instead (an eighth argument ``inp``,
    :data:`kernels.rnn.INPUT_BUNDLE`), pruned like ``LSTM``: a one-hot kernel compiles none of
    the embedding path."""
    LSTM = CELL == CELL_LSTM

    def train_epoch(corpus, params, state, work, hp, pooling, ngrams, inp=None):
        """One pass of per-sample training over ``order``: per sample forward, softmax loss,
        exact BPTT, fused clip + update.  No allocation per sample.  Returns ``(summed loss as
        float64, number of correct predictions before each update)``.  ``ngrams``: the linear
        n-gram path's bundle (:data:`kernels.rnn.EPOCH_BUNDLES`), empty arrays without it.

        An embedding model's kernel also takes ``inp``: each sentence's input rows projected
        from its word vectors into ``Xs`` (:func:`kernels.rnn.embed_sentence`) and the input
        gradient chained into the projection and, fine-tuned, the vectors' rows.  ``params``'
        ``WxhT`` and ``state``'s ``Sx`` are then not read; ``work``'s ``gX`` is (Tmax, GH)
        zeros and ``mark`` (Tmax,) int64 (per sentence row, not per word)."""
        tokens, offsets, labels, order = corpus
        WxhT, Whh, WhhT, bih, bhh, Why, by = params
        if EMB:  # the sentence's projected input rows stand in for WxhT
            X = inp[6]
            lparams = (X, Whh, WhhT, bih, bhh, Why, by)
            hook = inp
        else:
            X = WxhT
            lparams = params
            hook = None  # _gated_update's input hooks: the one-hot rows
        Sx, Shh, Sih, Shb, Sy, Sby = state
        (hs, cs, gates, Gh, Dn, gX, mark, vecs, acc, amax, y, p, dWhy, rows, uniq, counters,
         ShhT) = work
        O, H = Why.shape
        GH = Whh.shape[0]
        # the epoch trains WhhT (and its optimizer state ShhT), Whh and Shh written back at
        # the end: no per-sample transpose (both matvecs and the update run over WhhT rows)
        transpose_rect(Whh, WhhT)
        for k in range(Shh.shape[0]):
            transpose_rect(Shh[k], ShhT[k])
        pooled = vecs[V_POOL, :H]
        dbih = vecs[V_DBIH:V_DBIH + 1]
        dbhh = vecs[V_DBIH:V_DBIH + 1] if LSTM else vecs[V_DBHH:V_DBHH + 1]
        # one-row views made once per epoch (each reshape is a call into numba's C helper)
        views = (y.reshape((1, O)), dbih, dbhh, bih.reshape((1, GH)), bhh.reshape((1, GH)),
                 by.reshape((1, O)), Sih.reshape((Sih.shape[0], 1, GH)),
                 Shb.reshape((Shb.shape[0], 1, GH)), Sby.reshape((Sby.shape[0], 1, O)))
        uq = np.int64(V_U)
        loss = 0.0
        correct = 0
        dy = p
        for n in range(order.shape[0]):
            s = order[n]
            if EMB:
                sent = embed_sentence(tokens[offsets[s]:offsets[s + 1]], inp)  # rows of Xs
            else:
                sent = tokens[offsets[s]:offsets[s + 1]]
            T = sent.shape[0]
            _ngram.prefetch(ngrams, order, n + 1)  # the next sentence's table rows
            for i in range(H):
                hs[0, i] = 0
                cs[0, i] = 0
            for t in range(T):
                if LSTM:
                    lstm_step(X, sent[t], WhhT, bih, bhh, hs, cs, t, t + 1, vecs, uq, gates,
                              t, t == 0)
                else:
                    gru_step(X, sent[t], WhhT, bih, bhh, hs, cs, t, t + 1, vecs, uq, gates,
                             t, t == 0)
            pool_states(hs, T, pooling, pooled, amax)
            readout(Why, by, pooled, y)
            _ngram.add_logits(ngrams, s, y)
            c = labels[s]
            loss += softmax_loss(y, c, p)
            best = 0
            for o in range(1, O):
                if p[o] > p[best]:
                    best = o
            if best == c:
                correct += 1
            dy[c] -= 1  # p becomes dL/dy in place
            counters[1] += 1
            for i in range(GH):
                vecs[V_DBIH, i] = 0
                vecs[V_DBHH, i] = 0
            if LSTM:
                nu = lstm_backward(sent, hs, cs, gates, amax, Whh, WhhT, Why, dy, pooling, Gh,
                                   Dn, gX, vecs, mark, uniq, counters[1])
            else:
                nu = gru_backward(sent, hs, cs, gates, amax, Whh, WhhT, Why, dy, pooling, Gh,
                                  Dn, gX, vecs, mark, uniq, counters[1])
            _gated_update(T, nu, hs, pooled, Gh, dy, lparams, state, work, views, hp, OPT,
                          ngrams, s, hook)
        transpose_rect(WhhT, Whh)
        for k in range(Shh.shape[0]):
            transpose_rect(ShhT[k], Shh[k])
        return loss, correct

    train_epoch.__name__ = train_epoch.__qualname__ = name
    return depends_on(_rnn)(njit(**_opts)(train_epoch))


train_epoch_gru_sgd = _make_train_epoch(CELL_GRU, OPT_SGD, "train_epoch_gru_sgd")
train_epoch_gru_adagrad = _make_train_epoch(CELL_GRU, OPT_ADAGRAD, "train_epoch_gru_adagrad")
train_epoch_gru_adam = _make_train_epoch(CELL_GRU, OPT_ADAM, "train_epoch_gru_adam")
train_epoch_lstm_sgd = _make_train_epoch(CELL_LSTM, OPT_SGD, "train_epoch_lstm_sgd")
train_epoch_lstm_adagrad = _make_train_epoch(CELL_LSTM, OPT_ADAGRAD, "train_epoch_lstm_adagrad")
train_epoch_lstm_adam = _make_train_epoch(CELL_LSTM, OPT_ADAM, "train_epoch_lstm_adam")
#: ``TRAIN_EPOCH[cell code][optimizer code]``.
TRAIN_EPOCH = ((train_epoch_gru_sgd, train_epoch_gru_adagrad, train_epoch_gru_adam),
               (train_epoch_lstm_sgd, train_epoch_lstm_adagrad, train_epoch_lstm_adam))
train_epoch_emb_gru_sgd = _make_train_epoch(CELL_GRU, OPT_SGD, "train_epoch_emb_gru_sgd", True)
train_epoch_emb_gru_adagrad = _make_train_epoch(CELL_GRU, OPT_ADAGRAD,
                                                "train_epoch_emb_gru_adagrad", True)
train_epoch_emb_gru_adam = _make_train_epoch(CELL_GRU, OPT_ADAM, "train_epoch_emb_gru_adam", True)
train_epoch_emb_lstm_sgd = _make_train_epoch(CELL_LSTM, OPT_SGD, "train_epoch_emb_lstm_sgd", True)
train_epoch_emb_lstm_adagrad = _make_train_epoch(CELL_LSTM, OPT_ADAGRAD,
                                                 "train_epoch_emb_lstm_adagrad", True)
train_epoch_emb_lstm_adam = _make_train_epoch(CELL_LSTM, OPT_ADAM, "train_epoch_emb_lstm_adam",
                                              True)
#: ``TRAIN_EPOCH_EMB[cell code][optimizer code]``: the embedding models' epoch kernels (an
#: eighth argument ``inp``, :data:`kernels.rnn.INPUT_BUNDLE`).
TRAIN_EPOCH_EMB = ((train_epoch_emb_gru_sgd, train_epoch_emb_gru_adagrad,
                    train_epoch_emb_gru_adam),
                   (train_epoch_emb_lstm_sgd, train_epoch_emb_lstm_adagrad,
                    train_epoch_emb_lstm_adam))


def callee_signatures(dtype, optimizer, cell):
    """``[(dispatcher, argument types), ...]`` of the separately compiled callees that take
    most of a one-hot gated epoch kernel's cold compile, in the order it calls them: the
    cell's step and backward (``cell`` a ``CELL_*`` code), then the update callees it shares
    with the tanh kernels (:func:`kernels.rnn.callee_signatures`).  As the kernels call them:
    C-contiguous arrays of ``dtype``, the sentence an int32 slice of the corpus (its word an
    int32), positions and counters int64, ``first`` a bool.  For ``fastrnn._precompile``;
    checked by ``tests/test_precompile.py`` (a cold fit compiles none of them itself)."""
    f = from_dtype(np.dtype(dtype))
    i32, i64 = types.int32, types.int64
    a1, a2 = types.Array(f, 1, "C"), types.Array(f, 2, "C")
    ids, sent = types.Array(i64, 1, "C"), types.Array(i32, 1, "C")
    step = (a2, i32, a2, a1, a1, a2, a2, i64, i64, a2, i64, a2, i64, types.boolean)
    back = (sent, a2, a2, a2, ids, a2, a2, a2, a1, i64, a2, a2, a2, a2, ids, ids, i64)
    lstm = cell == CELL_LSTM
    return [(lstm_step if lstm else gru_step, step),
            (lstm_backward if lstm else gru_backward, back)] + _rnn.callee_signatures(
        dtype, optimizer)


# --------------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------------
def _make_predict(CELL, name):
    LSTM = CELL == CELL_LSTM  # constants only in the closure (see _make_train_epoch)
    NQ = N_RECORD[CELL]

    def predict_proba_range(tokens, offsets, params, U, grams, gram_counts, gram_offsets,
                            gram_totals, pooling, out, s0, s1):
        """Class probabilities ``out[s]`` (O,) of the sentences ``s0 <= s < s1``: the same
        arithmetic, in the same order, as the epoch's forward pass + softmax.  ``U, grams,
        gram_counts, gram_offsets, gram_totals``: the linear n-gram path's table and the
        corpus's flat n-gram arrays, all empty for a model without it."""
        WxhT, Whh, WhhT, bih, bhh, Why, by = params
        O, H = Why.shape
        GH = Whh.shape[0]
        dt = bih.dtype
        h = np.zeros((2, H), dtype=dt)
        c = np.zeros((2, H), dtype=dt)
        u = np.empty((2, GH), dtype=dt)
        gates = np.empty((1, NQ * H), dtype=dt)
        pooled = np.empty(H, dtype=dt)
        y = np.empty(O, dtype=dt)
        zq = np.int64(0)
        for s in range(s0, s1):
            a = offsets[s]
            T = offsets[s + 1] - a
            for i in range(H):
                h[0, i] = 0
                c[0, i] = 0
            for t in range(T):
                cur = t % 2
                nxt = 1 - cur
                if LSTM:
                    lstm_step(WxhT, tokens[a + t], WhhT, bih, bhh, h, c, cur, nxt, u, zq, gates,
                              zq, t == 0)
                else:
                    gru_step(WxhT, tokens[a + t], WhhT, bih, bhh, h, c, cur, nxt, u, zq, gates,
                             zq, t == 0)
                pool_add(pooled, h, nxt, t, pooling)
            pool_finish(pooled, h, T % 2, T, pooling)
            readout(Why, by, pooled, y)
            _ngram.add_logits_range(U, grams, gram_counts, gram_offsets, gram_totals, s, y)
            softmax_loss(y, zq, out[s])  # zq, not a literal 0: the epoch's compilation

    predict_proba_range.__name__ = predict_proba_range.__qualname__ = "predict_proba_range_" + name
    rng_kernel = depends_on(_rnn)(njit(**_opts)(predict_proba_range))

    return rng_kernel


predict_proba_range_gru = _make_predict(CELL_GRU, "gru")
predict_proba_range_lstm = _make_predict(CELL_LSTM, "lstm")
#: ``PREDICT[cell code]``: the nogil range kernel (the engine runs ranges on a thread pool).
PREDICT = (predict_proba_range_gru, predict_proba_range_lstm)


# cached kernels embed the compiled code of rnn.py's functions: an edit there recompiles them
for _kernel in [d for d in list(globals().values())
                if isinstance(d, Dispatcher) and d.py_func.__module__ == __name__]:
    depends_on(rnn)(_kernel)
del _kernel
