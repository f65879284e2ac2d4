"""The seam between Python and the kernels: parameters, optimizer state, workspaces, calls.

Everything here allocates once and hands the kernels aligned, C-contiguous buffers of one dtype.
Callers (``RNN``, ``Model``, ``train_many``) validate user input first; this module checks the
invariants the kernels rely on (layouts, dtypes, index ranges) and turns a non-finite result into
a clear error.
"""

import collections.abc
import math
import mmap
import operator
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from . import _compile, _precompile
from . import kernels as K
from . import reference as _ref
from .kernels import dropin as _dropin
from .kernels import ngram as _ngram
from ._validation import check_choice, check_dtype

#: Mode strings indexed by kernel code (built from the kernel constants in ``kernels.rnn``).
GRADIENTS = K.GRADIENT_NAMES
POOLINGS = K.POOLING_NAMES
OPTIMIZERS = K.OPTIMIZER_NAMES
INITS = ("tutorial", "xavier")
SERIAL_PREDICT_BELOW = 256  # sentences: below this predict_proba runs on the calling thread
ALIGN = 64  # bytes: numpy only guarantees 16, and misaligned weights cost up to 1.8x


def _shape_bytes(shape, dtype):
    """``(shape as a tuple of ints, its size in bytes)`` for the aligned allocators, in plain
    Python: ``np.prod`` took ~5 us of an allocation's 9.4 (``timeit``), and a small fit makes
    ~30 of them."""
    if isinstance(shape, tuple):
        shape = tuple(map(operator.index, shape))
    else:
        shape = tuple(int(s) for s in np.atleast_1d(shape))
    return shape, math.prod(shape) * dtype.itemsize


def aligned_empty(shape, dtype, align=ALIGN):
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary."""
    dtype = np.dtype(dtype)
    shape, nbytes = _shape_bytes(shape, dtype)
    buf = np.empty(nbytes + align, dtype=np.uint8)
    start = (-buf.ctypes.data) % align
    return buf[start:start + nbytes].view(dtype).reshape(shape)


def _is_aligned(a, dtype, align=ALIGN):
    """True when ``a`` is a C-contiguous ``dtype`` ndarray starting on an ``align`` boundary
    (what :func:`aligned_copy` makes)."""
    return (isinstance(a, np.ndarray) and a.dtype == np.dtype(dtype) and a.flags.c_contiguous
            and a.ctypes.data % align == 0)


#: From this size up, :func:`aligned_zeros` maps fresh zero pages (``mmap``) instead of
#: allocating: they are filled by the OS on first touch, where the kernels write, instead of
#: by a memset up front while holding the GIL (calloc memsets reused heap memory: the 8 MiB
#: n-gram table and its optimizer state cost ~2 ms per fit, a third of a tutorial fit).
LAZY_ZEROS_FROM = 1 << 20


def aligned_zeros(shape, dtype, align=ALIGN):
    """A zero C-contiguous array on an ``align``-byte boundary (large ones lazily zero)."""
    dtype = np.dtype(dtype)
    shape, nbytes = _shape_bytes(shape, dtype)
    if nbytes >= LAZY_ZEROS_FROM:
        # page-aligned; unmapped when the last array viewing it is gone
        return np.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype).reshape(shape)
    buf = np.zeros(nbytes + align, dtype=np.uint8)
    start = (-buf.ctypes.data) % align
    return buf[start:start + nbytes].view(dtype).reshape(shape)


def aligned_copy(a, dtype=None):
    out = aligned_empty(np.shape(a), a.dtype if dtype is None else dtype)
    out[...] = a
    return out


def init_weights(V, H, O, init="tutorial", rng=None):
    """Draw ``(Whh (H, H), Wxh (H, V), Why (O, H))`` in the tutorial's order and orientation.

    ``init="tutorial"``: ``randn(shape) / 1000``.  ``init="xavier"``: Glorot-uniform,
    ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``.  ``rng=None`` draws from numpy's global
    random state (so ``np.random.seed(k)`` reproduces the tutorial's weights), else from the
    ``numpy.random.Generator`` given.  Returns float64 arrays.
    """
    shapes = ((H, H), (H, V), (O, H))
    out = []
    for shape in shapes:
        if init == "tutorial":
            draw = np.random.randn(*shape) if rng is None else rng.standard_normal(shape)
            out.append(draw / 1000)
        else:
            a = math.sqrt(6.0 / (shape[0] + shape[1]))
            out.append(np.random.uniform(-a, a, shape) if rng is None
                       else rng.uniform(-a, a, shape))
    return tuple(out)


class NamedArrays:
    """Mapping access to a parameter object's arrays: ``P["Whh"]``, ``list(P)`` (its
    ``names``), ``dict(P)``, ``P.items()``; the arrays themselves, not copies.  (Registered as
    a ``collections.abc.Mapping`` without Mapping's ``==``: equality stays identity.)"""

    def __getitem__(self, name):
        if name not in self.names:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)

    def __contains__(self, name):
        return name in self.names

    def keys(self):
        return list(self.names)

    def values(self):
        return [getattr(self, n) for n in self.names]

    def items(self):
        return [(n, getattr(self, n)) for n in self.names]

    def get(self, name, default=None):
        return getattr(self, name) if name in self.names else default

    @property
    def dtype(self):
        return self.Whh.dtype

    def arrays(self):
        """The ``names`` arrays, in order."""
        return tuple(getattr(self, n) for n in self.names)

    @property
    def shape(self):
        """``(V, H, O)``."""
        V = self.WxhT.shape[0] if self.Emb is None else self.Emb.shape[0]
        return V, self.Whh.shape[1], self.Why.shape[0]

    @property
    def embedded(self):
        """True for an embedding model (``Emb``, ``WpeT`` instead of ``WxhT``)."""
        return self.Emb is not None

    @property
    def buckets(self):
        """Rows of the n-gram table (0: no linear path)."""
        return self.U.shape[0]

    def copy(self):
        return copy_embeddings(self, self._like(self.kernel_arrays(), self.U))

    def copy_without_table(self):
        """A copy with an empty n-gram table (the best-epoch snapshot keeps its rows apart)."""
        return copy_embeddings(self, self._like(self.kernel_arrays(), None))

    def sync_transpose(self):
        self.WhhT[...] = self.Whh.T

    def all_finite(self, U_rows=None):
        """No NaN or infinity in any parameter (the matrices and vectors of
        ``_finite_groups`` and the rows ``U_rows`` of the n-gram table in one GIL-holding
        kernel call, then the rest: the whole table when ``U_rows`` is None, an embedding
        model's ``Emb`` and ``WpeT``); ``U_rows`` (a few validated int64 row ids, see
        :func:`touched_rows`) limits the check of ``U`` to those rows."""
        if not _dropin.all_finite_arrays(*self.finite_args(U_rows)):
            return False
        if U_rows is None and self.buckets:  # 2**20 rows took ~200 us per epoch, a tutorial
            # epoch's worth: only when the rows are not known
            if not _ngram.all_finite(self.U):
                return False
        return embeddings_finite(self)

    def finite_args(self, U_rows=None):
        """The arguments of ``kernels.dropin.all_finite_arrays`` for :meth:`all_finite`."""
        return self._finite_groups() + (self.U, _NO_ROWS if U_rows is None else U_rows)


#: no rows of ``U`` (``all_finite_arrays``' rows when the whole table is checked apart)
_NO_ROWS = np.zeros(0, dtype=np.int64)


collections.abc.Mapping.register(NamedArrays)


class Params(NamedArrays):
    """The five parameters in kernel layout (aligned, C-contiguous, one dtype) plus ``WhhT``,
    and ``U`` (B, O), the linear n-gram path's table ((0, O) without the path)."""

    names = ("WxhT", "Whh", "Why", "bh", "by")
    cell = "tanh"
    Emb = WpeT = None  # an embedding model's input path (attach_embeddings)

    def __init__(self, WxhT, Whh, Why, bh, by, dtype=None, U=None):
        dtype = check_dtype(Whh.dtype if dtype is None else dtype)
        self.WxhT = aligned_copy(WxhT, dtype)
        self.Whh = aligned_copy(Whh, dtype)
        self.Why = aligned_copy(Why, dtype)
        self.bh = aligned_copy(bh, dtype)
        self.by = aligned_copy(by, dtype)
        self.WhhT = aligned_copy(self.Whh.T)
        V, H = self.WxhT.shape
        O = self.Why.shape[0]
        self.U = aligned_zeros((0, O), dtype) if U is None else aligned_copy(U, dtype)
        if self.U.ndim != 2 or self.U.shape[1] != O:
            raise ValueError("the n-gram table U must be (buckets, %d), got %s"
                             % (O, self.U.shape))
        if (self.Whh.shape != (H, H) or self.Why.shape != (O, H) or self.bh.shape != (H,)
                or self.by.shape != (O,)):
            raise ValueError("inconsistent parameter shapes: WxhT %s, Whh %s, Why %s, bh %s, "
                             "by %s" % (self.WxhT.shape, self.Whh.shape, self.Why.shape,
                                        self.bh.shape, self.by.shape))

    @classmethod
    def initial(cls, V, H, O, init="tutorial", rng=None, dtype=np.float64, buckets=0):
        """Fresh parameters: weights from :func:`init_weights`, zero biases, and a zero
        ``(buckets, O)`` n-gram table (drawing no random numbers: ``buckets=0`` or not, the
        other weights are the same)."""
        Whh, Wxh, Why = init_weights(V, H, O, init, rng)
        params = cls(Wxh.T, Whh, Why, np.zeros(H), np.zeros(O), dtype=dtype)
        if buckets:
            params.U = aligned_zeros((buckets, O), params.dtype)  # not built twice
        return params

    def kernel_arrays(self):
        """``(WxhT, Whh, Why, bh, by)``, the one-hot layout (an embedding model's ``WxhT``
        has no rows)."""
        return (self.WxhT, self.Whh, self.Why, self.bh, self.by)

    def _like(self, arrays, U):
        return Params(*arrays, U=U)

    def predict_weights(self):
        """The weights ``predict_proba_range`` takes, in its order."""
        return (self.WxhT, self.WhhT, self.bh, self.Why, self.by)

    def _finite_groups(self):
        """``(matrices, vectors)`` for :meth:`NamedArrays.all_finite`."""
        return (self.Whh, self.WxhT, self.Why), (self.bh, self.by)


# ---------------------------------------------------------------------------------- embeddings
# An embedding model (``Model(embeddings=...)``) has, instead of the one-hot input rows
# ``WxhT`` (V, HX), the word vectors ``Emb`` (V, E) and the projection ``WpeT`` (E, HX): word
# w's input row is ``Emb[w] @ WpeT`` (HX = H for tanh, G*H gated).  Its ``WxhT`` has no rows,
# its ``names`` list ``Emb, WpeT`` in ``WxhT``'s place, and ``Ext`` (n, E) holds the frozen
# vectors of words outside the vocabulary (token ids ``V + row``; empty when fine-tuned).
EMBEDDING_NAMES = _ref.EMBEDDING_NAMES


def attach_embeddings(params, Emb, WpeT, Ext=None):
    """Turn ``params`` (a Params / GatedParams) into an embedding model's, in place."""
    dt = params.dtype
    HX = params.WxhT.shape[1]
    Emb = aligned_copy(np.asarray(Emb), dt)
    WpeT = aligned_copy(np.asarray(WpeT), dt)
    if Emb.ndim != 2 or Emb.shape[0] < 1 or Emb.shape[1] < 1 or WpeT.shape != (Emb.shape[1], HX):
        raise ValueError("embedding model arrays do not fit: Emb %s must be (V, E) and WpeT %s "
                         "(E, %d)" % (Emb.shape, WpeT.shape, HX))
    E = Emb.shape[1]
    if Ext is None:
        Ext = aligned_zeros((0, E), dt)
    elif not _is_aligned(Ext, dt):  # an aligned Ext (read-only data) is kept, not copied
        Ext = aligned_copy(np.asarray(Ext), dt)
    if Ext.ndim != 2 or Ext.shape[1] != E:
        raise ValueError("the out-of-vocabulary vectors Ext %s must be (n, %d)" % (Ext.shape, E))
    params.Emb, params.WpeT, params.Ext = Emb, WpeT, Ext
    # the words of Ext's rows and whether the vectors are lower-case (fastrnn._fit.encode)
    params.ext_words = getattr(params, "ext_words", [])
    params.emb_lowercase = getattr(params, "emb_lowercase", False)
    params.WxhT = aligned_zeros((0, HX), dt)
    params.names = tuple(m for n in type(params).names
                         for m in (EMBEDDING_NAMES if n == "WxhT" else (n,)))
    return params


def copy_embeddings(src, dst):
    """``dst`` with copies of ``src``'s embedding arrays (nothing for a one-hot model);
    ``Ext`` (read-only data) is shared."""
    if src.Emb is not None:
        attach_embeddings(dst, src.Emb, src.WpeT)
        dst.Ext, dst.ext_words, dst.emb_lowercase = src.Ext, src.ext_words, src.emb_lowercase
    return dst


def embeddings_finite(params):
    return params.Emb is None or (_ngram.all_finite(params.Emb)
                                  and _ngram.all_finite(params.WpeT))


def input_view(params, tokens, reference=False):
    """``(view, tokens)`` for predicting with an embedding model: ``view`` a shallow copy of
    ``params`` whose ``WxhT`` holds the projected rows ``x_w = vector(w) @ WpeT`` of the
    distinct words of ``tokens`` (ids ``< V``: ``Emb``'s rows, ``V + j``: ``Ext[j]``), and the
    corpus re-numbered into those rows.  ``reference``: project with numpy (the reference)
    instead of the kernels' :func:`kernels.rnn.project_rows` (the training forward's order)."""
    import copy
    V = params.Emb.shape[0]
    n_ext = params.Ext.shape[0]
    uniq, inv = np.unique(tokens, return_inverse=True)
    if uniq.size and (uniq[0] < 0 or uniq[-1] >= V + n_ext):
        raise ValueError("word ids out of range for %d vocabulary + %d out-of-vocabulary "
                         "vectors" % (V, n_ext))
    k = int(np.searchsorted(uniq, V))
    table = np.concatenate([params.Emb[uniq[:k]], params.Ext[uniq[k:] - V]])
    HX = params.WpeT.shape[1]
    if reference:
        X = table @ params.WpeT
    else:
        X = aligned_empty((len(uniq), HX), params.dtype)
        K.rnn.project_rows(params.WpeT, np.ascontiguousarray(table), X)
    view = copy.copy(params)
    view.Emb = view.WpeT = None
    view.names = type(params).names
    view.WxhT = X
    return view, inv.reshape(-1).astype(np.int32)


class EmbeddingInput:
    """The epoch kernels' ``inp`` bundle (``kernels.rnn.INPUT_BUNDLE``) of one embedding
    model's trainer: optimizer state and gradient buffers of ``WpeT`` and (fine-tuned) ``Emb``,
    and the per-sentence work buffers (grown with the longest sentence)."""

    def __init__(self, params, slots, train_embeddings):
        V, E = params.Emb.shape
        HX = params.WpeT.shape[1]
        dt = params.dtype
        self.params = params
        self.train = bool(train_embeddings)
        Vt = V if self.train else 0  # frozen: no state or gradient for the vectors
        self.SE = aligned_zeros((slots, Vt, E), dt)
        self.SP = aligned_zeros((slots, E, HX), dt)
        self.dP = aligned_zeros((E, HX), dt)
        self.dE = aligned_zeros((Vt, E), dt)
        self.gmark = np.zeros(V, dtype=np.int64)
        self.lid = np.zeros(V, dtype=np.int64)
        self.prow = np.arange(E, dtype=np.int64)
        self.flags = np.array([int(self.train), 0], dtype=np.int64)
        self.Xs = None
        self.grow(1)

    def grow(self, max_len):
        if self.Xs is None or self.Xs.shape[0] < max_len:
            self.Xs = aligned_zeros((max_len, self.params.WpeT.shape[1]), self.params.dtype)
            self.lt = np.zeros(max_len, dtype=np.int32)
            self.uw = np.zeros(max_len, dtype=np.int64)
            self.gu = np.zeros(max_len, dtype=np.int64)

    def bundle(self):
        P = self.params
        return (P.Emb, self.SE, P.WpeT, self.SP, self.dP, self.dE, self.Xs, self.lt, self.uw,
                self.gmark, self.lid, self.gu, self.prow, self.flags)


def _from_arrays(make, names, arrays):
    """``make(arrays in names' order)``, for an embedding model (``"Emb"`` in ``arrays``) with
    a row-less ``WxhT`` and then :func:`attach_embeddings`."""
    if "Emb" not in arrays:
        return make([arrays[n] for n in names])
    WpeT = np.asarray(arrays["WpeT"])
    if WpeT.ndim != 2:
        raise ValueError("WpeT must be 2-D (E, HX), got shape %s" % (WpeT.shape,))
    placeholder = np.zeros((0, WpeT.shape[1]), dtype=WpeT.dtype)
    params = make([placeholder if n == "WxhT" else arrays[n] for n in names])
    return attach_embeddings(params, arrays["Emb"], WpeT, arrays.get("Ext"))


class TrainingDiverged(FloatingPointError):
    """Training produced a NaN or an infinity in the loss or the weights."""


def hyperparameters(dtype, lr, clip=1.0, clip_norm=None, weight_decay=0.0, eps=1e-8,
                    beta1=0.9, beta2=0.999):
    """The kernels' ``hp`` array (see ``kernels.HP_FIELDS``) in the model's dtype."""
    return np.array([lr, np.inf if clip is None else clip, 0.0 if clip_norm is None else clip_norm,
                     weight_decay, eps, beta1, beta2], dtype=dtype)


class Trainer:
    """Per-sample training state of one model: parameters, optimizer state, workspace.

    ``epoch(tokens, offsets, labels, order, grams)`` runs one whole epoch in one kernel call.
    Inputs must already be validated (``check_corpus``, ``check_labels``, ``check_order``).
    ``grams`` is the corpus's ``fastrnn.ngrams.ngram_arrays`` tuple when ``params.U`` has rows
    (the linear n-gram path), trained at ``ngram_lr`` (None: ``lr``).
    """

    def __init__(self, params, *, lr, clip=1.0, clip_norm=None, weight_decay=0.0,
                 optimizer="sgd", gradient="exact", pooling="last", eps=1e-8, beta1=0.9,
                 beta2=0.999, ngram_lr=None, train_embeddings=True):
        self.params = params
        self.gradient = check_choice("gradient", gradient, GRADIENTS)
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
        self.hp = hyperparameters(params.dtype, lr, clip, clip_norm, weight_decay, eps, beta1,
                                  beta2)
        V, H, O = params.shape
        slots = self.optimizer  # sgd: 0 slots, adagrad: 1, adam: 2
        dt = params.dtype
        self.state = tuple(aligned_zeros((slots,) + a.shape, dt) for a in params.kernel_arrays())
        self.SU = aligned_zeros((slots,) + params.U.shape, dt)
        self.nhp = self.hp.copy()
        self.nhp[K.rnn.HP_LR] = lr if ngram_lr is None else ngram_lr
        self.counters = np.zeros(2, dtype=np.int64)
        # an embedding model's input gradient has one row per word of the sentence (grown)
        self.inp = EmbeddingInput(params, slots, train_embeddings) if params.embedded else None
        self.gX = aligned_zeros((1 if self.inp else V, H), dt)
        self.mark = np.zeros(1 if self.inp else V, dtype=np.int64)
        self.vecs = aligned_zeros((K.N_VECS, H), dt)
        self.amax = np.zeros(H, dtype=np.int64)
        self.y = np.zeros(O, dtype=dt)
        self.p = np.zeros(O, dtype=dt)
        self.dWhy = aligned_zeros((O, H), dt)
        self.rows = np.arange(max(H, O), dtype=np.int64)
        self.hs = None
        self._corpus_args = self._what = self._kernel = None
        self._grow(1)

    def _grow(self, max_len):
        H = self.params.shape[1]
        if getattr(self, "hs", None) is None or self.hs.shape[0] < max_len + 1:
            self.hs = aligned_zeros((max_len + 1, H), self.params.dtype)
            self.G = aligned_zeros((max_len, H), self.params.dtype)
            self.uniq = np.zeros(max_len, dtype=np.int64)
        if self.inp is not None and self.gX.shape[0] < max_len:
            self.gX = aligned_zeros((max_len, H), self.params.dtype)
            self.mark = np.zeros(max_len, dtype=np.int64)
            self.inp.grow(max_len)

    def kernel_args(self, tokens, offsets, labels, order, grams=None, ngrams=None):
        """The epoch kernel's arguments ``(corpus, weights, state, hp, modes, work, ngrams)``.

        The one place the bundles of ``kernels.rnn.EPOCH_BUNDLES`` are filled (plain tuples, in
        that order); the workspace must already fit the longest sentence (:meth:`epoch` grows it).
        ``ngrams``: that bundle built already for this corpus (:meth:`epoch` keeps it).
        """
        P = self.params
        args = ((tokens, offsets, labels, order),
                (P.WxhT, P.Whh, P.WhhT, P.Why, P.bh, P.by),
                self.state + (self.counters,),
                self.hp,
                (self.gradient, self.pooling, self.optimizer),
                (self.hs, self.G, self.gX, self.mark, self.vecs, self.amax, self.y, self.p,
                 self.dWhy, self.rows, self.uniq),
                ngrams if ngrams is not None
                else (P.U, self.SU) + check_grams(grams, P, offsets) + (self.nhp,))
        # an embedding model's kernel takes an eighth bundle (kernels.rnn.INPUT_BUNDLE)
        return args if self.inp is None else args + (self.inp.bundle(),)

    def compile_jobs(self, tokens, offsets, grams=None, rows=None):
        """``[(dispatcher, argument types), ...]`` that a cold first epoch and the fit after it
        compile besides the epoch kernel, in the order they are needed: the epoch kernel's big
        callees, the divergence checks, and (one-hot input) the predict kernel for this
        corpus's arrays.  ``rows``: the epoch's :func:`touched_rows` (None: all of ``U``).
        For :mod:`fastrnn._precompile`'s helper process."""
        P = self.params
        return K.rnn.callee_signatures(P.dtype, self.optimizer) + check_jobs(
            P, rows,
            None if P.embedded else (K.rnn.predict_proba_range, predict_args(
                P, tokens, offsets, self.pooling, grams, np.empty((0, P.shape[2]), P.dtype))))

    def epoch(self, tokens, offsets, labels, order, grams=None):
        """Train on the samples ``order`` once; returns ``(summed loss, n correct)``.

        Raises :class:`TrainingDiverged` when the loss or a weight is no longer finite.
        """
        # the corpus's part of the arguments once per corpus, not per epoch (a tutorial
        # epoch's kernel takes ~250 us: ~20 us of checks each epoch slowed train_many's threads)
        P = self.params
        c = self._corpus_args
        if (c is None or c[0] is not tokens or c[1] is not offsets or c[2] is not grams
                or c[3] is not P.U):
            self._grow(int(np.diff(offsets).max()))
            ngrams = (P.U, self.SU) + check_grams(grams, P, offsets) + (self.nhp,)
            # the divergence check's n-gram rows, once per corpus (None: all of U)
            rows = touched_rows(P, None if grams is None else ngrams[2])
            c = self._corpus_args = (tokens, offsets, grams, P.U, ngrams, rows)
        args = self.kernel_args(tokens, offsets, labels, order, grams, ngrams=c[4])
        # the optimizer's own entry point (the default recipe's has its modes compiled in): a
        # cold start compiles only the code it runs
        if self._what is None:
            self._kernel = K.rnn.epoch_kernel(self.optimizer, self.gradient, self.pooling,
                                              self.hp[K.rnn.HP_CLIP_NORM], self.inp is not None)
            self._what = "%s %s epoch kernel%s" % (
                OPTIMIZERS[self.optimizer], P.dtype.name,
                " (word vectors)" if self.inp is not None
                else "" if self._kernel is K.rnn.train_epoch_adagrad_default
                or self.optimizer != K.OPT_ADAGRAD
                else " for %s pooling, %s gradient%s" % (
                    POOLINGS[self.pooling], GRADIENTS[self.gradient],
                    ", clip_norm" if self.hp[K.rnn.HP_CLIP_NORM] > 0 else ""))
            _precompile.before_call(self._kernel, args, self._what,
                                    lambda: self.compile_jobs(tokens, offsets, grams, c[5]))
        loss, correct = _compile.call(self._kernel, *args, what=self._what, about=10)
        if not math.isfinite(loss) or not self.params.all_finite(c[5]):
            raise TrainingDiverged(
                "training diverged: the loss or the weights became NaN or infinite; lower the "
                "learning rate or enable clipping")
        return loss, int(correct)


def touched_rows(params, buckets):
    """The n-gram table rows a corpus's epochs update, for the divergence check: ``buckets``
    (the corpus's checked buckets, int64, repeated as they occur; ``check_grams``' third
    array), their distinct rows, or None (check all of ``U``): an epoch changes no other row,
    so checking these is checking all it changed.  Only when they are few: a full pass over a
    2**20-row table cost more than a whole tutorial epoch, but reads 2,000 MR sentences' 80 k
    buckets faster (0.4 ms) than their rows one by one (1 ms).  When the occurrences are many,
    their distinct rows may still be few (the built-in corpus: 4,000 sentences' ~50 k n-grams
    in a few thousand rows, whose check takes microseconds instead of a 0.6 ms scan each
    epoch); one boolean pass over the table's row count finds them, once per corpus (2**20
    rows: 0.14 ms for the built-in corpus; MR's 304 k occurrences 2.3 ms and SST-2's 986 k
    4.1 ms, whose 102 k and 77 k distinct rows are too many: they keep the full check).
    Call it once per corpus (the trainers keep the result).
    """
    B = params.buckets
    if B == 0 or buckets is None:
        return None
    if 64 * buckets.shape[0] < B:
        return buckets
    seen = np.zeros(B, dtype=np.bool_)
    seen[buckets] = True
    rows = np.flatnonzero(seen).astype(np.int64, copy=False)
    return rows if 64 * rows.shape[0] < B else None


_POOL = None
_POOL_LOCK = threading.Lock()


def _predict_pool():
    """The process's predict thread pool (``NUMBA_NUM_THREADS`` workers), made on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=numba.config.NUMBA_NUM_THREADS,
                                       thread_name_prefix="fastrnn-predict")
        return _POOL


_NO_GRAMS = tuple(np.zeros(0, dtype=np.int64) for _ in range(4))


def check_grams(grams, params, offsets):
    """The kernels' four n-gram arrays for ``params`` and the corpus ``offsets``.

    Without the path (``params.U`` has no rows) they are empty, whatever ``grams`` holds; with
    it ``grams`` must be ``fastrnn.ngrams.ngram_arrays``'s tuple for this corpus (checked: the
    kernels index ``U`` with it unchecked).
    """
    if params.buckets == 0:
        return _NO_GRAMS
    if grams is None:
        raise ValueError("this model has an n-gram table: pass the corpus's n-gram arrays")
    g, counts, goffs, totals = (np.ascontiguousarray(a, dtype=np.int64) for a in grams)
    n = offsets.shape[0] - 1
    if goffs.shape != (n + 1,) or totals.shape != (n,) or g.shape != counts.shape:
        raise ValueError("the n-gram arrays do not match the corpus (%d sentences)" % n)
    if goffs[0] != 0 or goffs[-1] != g.shape[0] or (g.size and (g.min() < 0
                                                                or g.max() >= params.buckets)):
        raise ValueError("n-gram buckets out of range for a table of %d rows" % params.buckets)
    return g, counts, goffs, totals


def predict_proba(params, tokens, offsets, pooling="last", grams=None):
    """Probabilities (n, O) for a validated flat corpus, in parallel over sentences
    (``grams``: the corpus's n-gram arrays, for a model with the linear path).

    Contiguous ranges of sentences run the nogil kernel ``predict_proba_range`` on a thread
    pool, ``numba.get_num_threads()`` of them at a time (``numba.set_num_threads`` controls the
    count); a range's results do not depend on the split, so the bits are the same for any
    thread count.  A thread pool instead of a ``parallel=True`` kernel: one kernel to compile
    (a cold ``prange`` kernel cost ~1.5 s more), and no threading-layer start-up.
    """
    n = offsets.shape[0] - 1
    out = np.empty((n, params.shape[2]), dtype=params.dtype)
    args = predict_args(params, tokens, offsets, pooling, grams, out)
    predict_ranges(K.rnn.predict_proba_range, args, n, predict_what(params))
    return out


def check_jobs(params, rows, predict=None):
    """The compile helper's jobs after the epoch kernel's callees (see
    ``Trainer.compile_jobs``): the divergence checks of ``params`` (``rows``: the epoch's
    :func:`touched_rows`; the whole-table check only when it is None) and ``predict``,
    ``(range kernel, its arguments but the range)`` or None."""
    checks = [(_dropin.all_finite_arrays, params.finite_args(rows))]
    if params.buckets and rows is None:
        checks.append((_ngram.all_finite, (params.U,)))
    if predict is not None:
        checks.append((predict[0], tuple(predict[1]) + (0, 0)))
    jobs = []
    for d, args in checks:
        sig = _compile.signature(d, args)
        if sig is not None:
            jobs.append((d, sig))
    return jobs


def predict_args(params, tokens, offsets, pooling, grams, out):
    """The predict range kernel's arguments but the range (``s0, s1``) for ``out`` (n, O),
    for either cell (``params.predict_weights()`` in the kernel's order)."""
    code = check_choice("pooling", pooling, POOLINGS) if isinstance(pooling, str) else pooling
    if params.embedded:
        params, tokens = input_view(params, tokens)
    ng = (params.U,) + check_grams(grams, params, offsets)
    return (tokens, offsets) + params.predict_weights() + ng + (code, out)


def predict_what(params):
    """The compile notice's name for ``params``' predict kernel: "float32 predict kernel",
    "GRU float64 predict kernel" (what selects the compilation: the cell and the dtype)."""
    cell = "" if params.cell == "tanh" else params.cell.upper() + " "
    return "%s%s predict kernel" % (cell, params.dtype.name)


def predict_ranges(range_kernel, args, n, what, serial=False):
    """Run ``range_kernel(*args, s0, s1)`` over the sentences ``0 <= s < n``: on the calling
    thread below :data:`SERIAL_PREDICT_BELOW` sentences (or with ``serial``), else in
    contiguous ranges on the predict thread pool (the bits do not depend on the split).

    The first call in a process for ``what`` (:func:`predict_what`) compiles or loads the
    kernel on the calling thread, with the compile notice (``fastrnn._compile``): a cold
    predict kernel takes ~1.5-2 s, which used to pass without a word."""
    _compile.ensure(range_kernel, *args, 0, 0, what=what, about=2)
    threads = min(numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if serial or n < SERIAL_PREDICT_BELOW or threads <= 1:
        # a hand-off to threads costs more than a few hundred sentences take on one thread
        range_kernel(*args, 0, n)
        return
    # a few contiguous chunks per thread, so that uneven sentence lengths balance out
    nchunks = min(n, 4 * threads)
    bounds = [c * n // nchunks for c in range(nchunks + 1)]
    pool = _predict_pool()
    sem = threading.Semaphore(threads)  # at most `threads` ranges run at once

    def run(s0, s1):
        with sem:
            range_kernel(*args, s0, s1)

    futures = [pool.submit(run, bounds[c], bounds[c + 1]) for c in range(nchunks)]
    for f in futures:
        f.result()


# ---------------------------------------------------------------------------------- cells
#: The cells a model can use: the tutorial's tanh RNN and PyTorch's GRU and LSTM.
CELLS = ("tanh", "gru", "lstm")
#: Every ``init`` some cell takes (tanh: xavier, tutorial; gru/lstm: xavier, pytorch).
CELL_INITS = ("xavier", "tutorial", "pytorch")


def check_cell(cell):
    """The name of a known cell (``ValueError`` naming ``cell`` otherwise)."""
    return CELLS[check_choice("cell", cell, CELLS)]


class _TanhEngine:
    """The tanh cell: :class:`Params`, :class:`Trainer`, :func:`predict_proba`."""

    cell = "tanh"
    gated = False
    names = Params.names
    inits = INITS
    gradients = GRADIENTS

    def initial(self, V, H, O, init, rng, dtype, buckets=0):
        return Params.initial(V, H, O, init, rng, dtype, buckets=buckets)

    def from_arrays(self, arrays, dtype=None, U=None):
        """Parameters from ``{name: array}`` (the names of :attr:`names`) and the n-gram
        table ``U`` (None: no linear path); an embedding model's ``Emb``, ``WpeT`` (and
        ``Ext``) instead of ``WxhT``."""
        return _from_arrays(lambda a: Params(*a, dtype=dtype, U=U), self.names, arrays)

    def trainer(self, params, **kw):
        return Trainer(params, **kw)

    def predict_proba(self, params, tokens, offsets, pooling, grams=None):
        return predict_proba(params, tokens, offsets, pooling, grams)

    def predict_proba_serial(self, params, tokens, offsets, pooling, out, grams=None):
        if params.embedded:
            params, tokens = input_view(params, tokens)
        P = params
        args = (tokens, offsets, P.WxhT, P.WhhT, P.bh, P.Why, P.by, P.U,
                *check_grams(grams, P, offsets), POOLINGS.index(pooling), out)
        predict_ranges(K.rnn.predict_proba_range, args, out.shape[0], predict_what(P),
                       serial=True)

    def reference_predict(self, params, tokens, offsets, pooling, grams=None):
        from . import reference as R
        if params.embedded:
            params, tokens = input_view(params, tokens, reference=True)
        P = params
        return R.predict_proba(tokens, offsets, P.WxhT, P.Whh, P.bh, P.Why, P.by, pooling,
                               P.U, check_grams(grams, P, offsets))

    def torch_layout(self, params):
        """``{torch name: array}`` for ``nn.RNN(V, H, nonlinearity="tanh")`` + ``nn.Linear``:
        the tanh cell has one bias, ``bh``, which is ``bias_ih``; ``bias_hh`` is zero."""
        P = params
        return {"rnn.weight_ih_l0": P.WxhT.T, "rnn.weight_hh_l0": P.Whh,
                "rnn.bias_ih_l0": P.bh, "rnn.bias_hh_l0": np.zeros_like(P.bh),
                "fc.weight": P.Why, "fc.bias": P.by}


class _GatedEngine:
    """A GRU or LSTM: :mod:`fastrnn._gated_engine` (imported on first use, so a program that
    trains only tanh models never imports, let alone compiles, the gated kernels)."""

    gated = True
    inits = ("xavier", "pytorch")
    gradients = ("exact",)

    def __init__(self, cell):
        self.cell = cell
        self.names = ("WxhT", "Whh", "bih", "bhh", "Why", "by")

    @staticmethod
    def _ge():
        from . import _gated_engine
        return _gated_engine

    def initial(self, V, H, O, init, rng, dtype, buckets=0):
        return self._ge().GatedParams.initial(V, H, O, self.cell, init, rng, dtype,
                                              buckets=buckets)

    def from_arrays(self, arrays, dtype=None, U=None):
        return _from_arrays(lambda a: self._ge().GatedParams(*a, cell=self.cell, dtype=dtype,
                                                             U=U), self.names, arrays)

    def trainer(self, params, **kw):
        return self._ge().GatedTrainer(params, **kw)

    def predict_proba(self, params, tokens, offsets, pooling, grams=None):
        return self._ge().gated_predict_proba(params, tokens, offsets, pooling, grams)

    def predict_proba_serial(self, params, tokens, offsets, pooling, out, grams=None):
        if params.embedded:
            params, tokens = input_view(params, tokens)
        args = (tokens, offsets, params.kernel_tuple(), params.U,
                *check_grams(grams, params, offsets), POOLINGS.index(pooling), out)
        predict_ranges(self._ge().KG.PREDICT[params.code], args, out.shape[0],
                       predict_what(params), serial=True)

    def reference_predict(self, params, tokens, offsets, pooling, grams=None):
        from . import reference_gated as RG
        if params.embedded:
            params, tokens = input_view(params, tokens, reference=True)
        return RG.predict_proba(tokens, offsets, params.as_dict(), self.cell, pooling,
                                check_grams(grams, params, offsets) if params.buckets else None)

    def torch_layout(self, params):
        """``{torch name: array}`` for ``nn.GRU``/``nn.LSTM(V, H)`` + ``nn.Linear(H, O)``: the
        gate blocks are already stacked in PyTorch's order (GRU ``r, z, n``; LSTM ``i, f, g,
        o``)."""
        P = params
        return {"rnn.weight_ih_l0": P.WxhT.T, "rnn.weight_hh_l0": P.Whh,
                "rnn.bias_ih_l0": P.bih, "rnn.bias_hh_l0": P.bhh,
                "fc.weight": P.Why, "fc.bias": P.by}


_ENGINES = {"tanh": _TanhEngine(), "gru": _GatedEngine("gru"), "lstm": _GatedEngine("lstm")}


def cell_engine(cell):
    """The one place a cell name chooses its engine: parameters (``initial``,
    ``from_arrays``, ``names``), the trainer, batched and serial ``predict_proba``, the numpy
    reference's ``predict_proba`` and the PyTorch layout (``torch_layout``).  ``cell`` is a
    name or a parameter object (its ``cell`` attribute)."""
    return _ENGINES[check_cell(getattr(cell, "cell", cell))]
