"""The seam between Python and the gated-cell kernels (:mod:`fastrnn.kernels.gated`).

:class:`GatedParams` holds a GRU's or LSTM's parameters in kernel layout (aligned, C-contiguous,
one dtype; names and meaning in :mod:`fastrnn.reference_gated`), :class:`GatedTrainer` the
optimizer state and workspaces of per-sample training, :func:`gated_predict_proba` runs batched
inference.  As in :mod:`fastrnn._engine`, callers validate the corpus first (``check_corpus``,
``check_labels``, ``check_order``); this module checks its own arguments and turns a
non-finite result into a clear error.
"""

import math

import numpy as np

from . import _compile, _precompile
from ._engine import (
    OPTIMIZERS, POOLINGS, EmbeddingInput, NamedArrays, aligned_copy, aligned_zeros,
    check_grams, check_jobs, hyperparameters, predict_args, predict_ranges, predict_what,
    touched_rows,
)
from ._validation import check_choice, check_dtype, check_int
from .kernels import gated as KG
from .kernels import rnn as _rnn

CELLS = KG.CELLS  # ("gru", "lstm")
#: ``"xavier"``: Glorot-uniform per gate block, zero biases; ``"pytorch"``: PyTorch's default
#: for nn.GRU / nn.LSTM / nn.Linear(H, O), ``U(-1/sqrt(H), 1/sqrt(H))`` for every parameter.
GATED_INITS = ("xavier", "pytorch")


def check_cell(cell):
    """The kernel code of a gated cell name (``ValueError`` naming ``cell`` otherwise)."""
    if cell == "tanh":
        raise ValueError("cell='tanh' is the plain RNN: use fastrnn._engine.Params/Trainer; "
                         "the gated engine takes cell='gru' or 'lstm'")
    return check_choice("cell", cell, CELLS)


class GatedParams(NamedArrays):
    """``WxhT (V, GH), Whh (GH, H), bih (GH,), bhh (GH,), Why (O, H), by (O,)`` plus ``WhhT``,
    and ``U`` (B, O), the linear n-gram path's table ((0, O) without the path)."""

    names = ("WxhT", "Whh", "bih", "bhh", "Why", "by")
    Emb = WpeT = None  # an embedding model's input path (_engine.attach_embeddings)

    def __init__(self, WxhT, Whh, bih, bhh, Why, by, cell, dtype=None, U=None):
        self.cell = CELLS[check_cell(cell)]
        dtype = check_dtype(np.asarray(Whh).dtype if dtype is None else dtype)
        for name, a in zip(self.names, (WxhT, Whh, bih, bhh, Why, by)):
            setattr(self, name, aligned_copy(np.asarray(a), dtype))
        G = KG.N_GATES[self.code]
        V, GH = self.WxhT.shape if self.WxhT.ndim == 2 else (0, -1)
        H = GH // G if GH % G == 0 else -1
        O = self.Why.shape[0] if self.Why.ndim == 2 else -1
        if (H < 1 or self.Whh.shape != (GH, H) or self.bih.shape != (GH,)
                or self.bhh.shape != (GH,) or self.Why.shape != (O, H) or self.by.shape != (O,)):
            raise ValueError(
                "inconsistent %s parameter shapes (want WxhT (V, %d*H), Whh (%d*H, H), bih and "
                "bhh (%d*H,), Why (O, H), by (O,)): WxhT %s, Whh %s, bih %s, bhh %s, Why %s, "
                "by %s" % ((self.cell, G, G, G) + tuple(getattr(self, n).shape
                                                       for n in self.names)))
        self.WhhT = aligned_copy(self.Whh.T)
        self.U = aligned_zeros((0, O), dtype) if U is None else aligned_copy(np.asarray(U), dtype)
        if self.U.ndim != 2 or self.U.shape[1] != O:
            raise ValueError("the n-gram table U must be (buckets, %d), got %s"
                             % (O, self.U.shape))

    @property
    def code(self):
        return CELLS.index(self.cell)

    @classmethod
    def initial(cls, V, H, O, cell, init="xavier", rng=None, dtype=np.float64, buckets=0):
        """Fresh parameters for ``V`` words, ``H`` hidden units and ``O`` classes.

        ``init="xavier"``: each gate's block drawn Glorot-uniform on its own (``WxhT`` blocks
        ``U(+-sqrt(6 / (V + H)))``, ``Whh`` blocks ``U(+-sqrt(6 / 2H))``, ``Why``
        ``U(+-sqrt(6 / (H + O)))``), zero biases.  ``init="pytorch"``: every parameter
        ``U(-1/sqrt(H), 1/sqrt(H))`` as ``nn.GRU``/``nn.LSTM`` and ``nn.Linear(H, O)`` do.
        ``rng``: a ``numpy.random.Generator`` (None: ``default_rng()``).  ``buckets``: rows of
        the linear n-gram path's table, zeros (no random numbers drawn: the other weights are
        the same with or without it; 0: no path).
        """
        code = check_cell(cell)
        init = GATED_INITS[check_choice("init", init, GATED_INITS)]
        V = check_int("V", V, 1)
        H = check_int("H", H, 1)
        O = check_int("O", O, 2)
        buckets = check_int("buckets", buckets, 0)
        rng = np.random.default_rng() if rng is None else rng
        G = KG.N_GATES[code]
        if init == "pytorch":
            k = 1.0 / math.sqrt(H)
            draw = [rng.uniform(-k, k, s) for s in ((V, G * H), (G * H, H), (G * H,), (G * H,),
                                                    (O, H), (O,))]
        else:
            ax = math.sqrt(6.0 / (V + H))
            ah = math.sqrt(6.0 / (2 * H))
            ay = math.sqrt(6.0 / (H + O))
            WxhT = np.concatenate([rng.uniform(-ax, ax, (V, H)) for _ in range(G)], axis=1)
            Whh = np.concatenate([rng.uniform(-ah, ah, (H, H)) for _ in range(G)], axis=0)
            draw = [WxhT, Whh, np.zeros(G * H), np.zeros(G * H), rng.uniform(-ay, ay, (O, H)),
                    np.zeros(O)]
        params = cls(*draw, cell=cell, dtype=dtype)
        if buckets:
            params.U = aligned_zeros((buckets, O), params.dtype)
        return params

    def kernel_arrays(self):
        """``(WxhT, Whh, bih, bhh, Why, by)``, the one-hot layout (an embedding model's
        ``WxhT`` has no rows)."""
        return (self.WxhT, self.Whh, self.bih, self.bhh, self.Why, self.by)

    def _like(self, arrays, U):
        return GatedParams(*arrays, cell=self.cell, U=U)

    def as_dict(self):
        """Copies as ``{name: array}`` (``reference_gated.loss_and_grad``'s layout; ``"U"`` too
        when the model has an n-gram table)."""
        d = {n: getattr(self, n).copy() for n in self.names}
        if self.buckets:
            d["U"] = self.U.copy()
        return d

    def kernel_tuple(self):
        return (self.WxhT, self.Whh, self.WhhT, self.bih, self.bhh, self.Why, self.by)

    def predict_weights(self):
        """The weights the gated predict kernels take: one tuple (:meth:`kernel_tuple`)."""
        return (self.kernel_tuple(),)

    def _finite_groups(self):
        """``(matrices, vectors)`` for :meth:`NamedArrays.all_finite`."""
        return (self.WxhT, self.Whh, self.Why), (self.bih, self.bhh, self.by)  # WhhT = Whh.T


class GatedTrainer:
    """Per-sample training state of one gated model: parameters, optimizer state, workspace.

    ``epoch(tokens, offsets, labels, order, grams)`` runs one whole epoch in one kernel call
    (the entry point of this cell and optimizer only).  Inputs must already be validated.
    ``grams`` is the corpus's ``fastrnn.ngrams.ngram_arrays`` tuple when ``params.U`` has rows
    (the linear n-gram path), trained at ``ngram_lr`` (None: ``lr``).
    """

    def __init__(self, params, *, lr, clip=1.0, clip_norm=None, weight_decay=0.0,
                 optimizer="sgd", pooling="last", eps=1e-8, beta1=0.9, beta2=0.999,
                 gradient="exact", ngram_lr=None, train_embeddings=True):
        if not isinstance(params, GatedParams):
            raise TypeError(f"params must be GatedParams, got {type(params).__name__}")
        if gradient != "exact":
            raise ValueError(f"gradient={gradient!r} is not available for cell={params.cell!r}: "
                             "the tutorial's shortcut gradient exists only for the tanh cell; "
                             "gated cells train with gradient='exact'")
        self.params = params
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
        self.hp = hyperparameters(params.dtype, lr, clip, clip_norm, weight_decay, eps, beta1,
                                  beta2)
        V, H, O = params.shape
        GH = params.Whh.shape[0]
        dt = params.dtype
        slots = self.optimizer  # sgd: 0 slots, adagrad: 1, adam: 2
        self.state = tuple(aligned_zeros((slots,) + a.shape, dt) for a in params.kernel_arrays())
        self.SU = aligned_zeros((slots,) + params.U.shape, dt)
        self.nhp = self.hp.copy()
        self.nhp[_rnn.HP_LR] = lr if ngram_lr is None else ngram_lr
        self.counters = np.zeros(2, dtype=np.int64)
        # an embedding model's input gradient has one row per word of the sentence (grown)
        self.inp = EmbeddingInput(params, slots, train_embeddings) if params.embedded else None
        self.gX = aligned_zeros((1 if self.inp else V, GH), dt)
        self.mark = np.zeros(1 if self.inp else V, dtype=np.int64)
        self.vecs = aligned_zeros((KG.N_VECS, GH), dt)
        self.acc = aligned_zeros((KG.N_ACC, GH), dt)
        self.ShhT = aligned_zeros((slots, H, GH), dt)  # Whh's state in WhhT layout (epoch only)
        self.amax = np.zeros(H, dtype=np.int64)
        self.y = np.zeros(O, dtype=dt)
        self.p = np.zeros(O, dtype=dt)
        self.dWhy = aligned_zeros((O, H), dt)
        self.rows = np.arange(max(GH, O), dtype=np.int64)
        self.hs = None
        self._grow(1)
        self._corpus = None  # the corpus's checked n-gram bundle, see epoch
        # a cold start says what it compiles, as the tanh cell's Trainer.epoch does
        self._what = "%s %s %s epoch kernel%s" % (
            params.cell.upper(), OPTIMIZERS[self.optimizer], dt.name,
            "" if self.inp is None else " (word vectors)")

    def _grow(self, max_len):
        P = self.params
        H = P.shape[1]
        GH = P.Whh.shape[0]
        if self.hs is None or self.hs.shape[0] < max_len + 1:
            dt = P.dtype
            self.hs = aligned_zeros((max_len + 1, H), dt)
            self.cs = aligned_zeros((max_len + 1, H), dt)
            self.gates = aligned_zeros((max_len, KG.N_RECORD[P.code] * H), dt)
            self.Gh = aligned_zeros((max_len, GH), dt)
            self.Dn = aligned_zeros((max_len, H), dt)
            self.uniq = np.zeros(max_len, dtype=np.int64)
        if self.inp is not None and self.gX.shape[0] < max_len:
            self.gX = aligned_zeros((max_len, GH), P.dtype)
            self.mark = np.zeros(max_len, dtype=np.int64)
            self.inp.grow(max_len)

    def work(self):
        return (self.hs, self.cs, self.gates, self.Gh, self.Dn, self.gX, self.mark, self.vecs,
                self.acc, self.amax, self.y, self.p, self.dWhy, self.rows, self.uniq, self.counters,
                self.ShhT)

    def ngram_bundle(self, offsets, grams=None):
        """The epoch kernel's ``ngrams`` bundle (empty arrays without a table)."""
        P = self.params
        return (P.U, self.SU) + check_grams(grams, P, offsets) + (self.nhp,)

    def compile_jobs(self, tokens, offsets, grams, rows):
        """What a cold first epoch and the fit after it compile besides the epoch kernel, in
        the order needed (``fastrnn._precompile``): the cell's step and backward (one-hot
        input) and the tanh kernels' shared callees, the divergence checks, the predict kernel
        (one-hot input).  ``rows``: the epoch's touched n-gram rows (None: all)."""
        P = self.params
        if P.embedded:
            return _rnn.callee_signatures(P.dtype, self.optimizer) + check_jobs(P, rows)
        jobs = KG.callee_signatures(P.dtype, self.optimizer, P.code)
        out = np.empty((0, P.shape[2]), P.dtype)
        return jobs + check_jobs(P, rows, (KG.PREDICT[P.code], predict_args(
            P, tokens, offsets, self.pooling, grams, out)))

    def epoch(self, tokens, offsets, labels, order, grams=None):
        """Train on the samples ``order`` once; returns ``(summed loss, n correct)``."""
        P = self.params
        # the corpus's checks once per corpus, not per epoch (as the tanh cell's Trainer.epoch)
        c = self._corpus
        if c is None or c[0] is not offsets or c[1] is not grams or c[2] is not P.U:
            ngrams = self.ngram_bundle(offsets, grams)  # checked even for an empty order
            rows = touched_rows(P, None if grams is None else ngrams[2])
            if offsets.shape[0] > 1:
                self._grow(int(np.diff(offsets).max()))
            c = self._corpus = (offsets, grams, P.U, ngrams, rows)
        ngrams, rows = c[3], c[4]
        if len(order) == 0:
            return 0.0, 0
        args = ((tokens, offsets, labels, order), P.kernel_tuple(), self.state, self.work(),
                self.hp, self.pooling, ngrams)
        if self.inp is None:
            kernel = KG.TRAIN_EPOCH[P.code][self.optimizer]
        else:  # the embedding models' kernel: an eighth bundle (kernels.rnn.INPUT_BUNDLE)
            kernel = KG.TRAIN_EPOCH_EMB[P.code][self.optimizer]
            args = args + (self.inp.bundle(),)
        _precompile.before_call(kernel, args, self._what,
                                lambda: self.compile_jobs(tokens, offsets, grams, rows))
        loss, correct = _compile.call(kernel, *args, what=self._what, about=13)
        if not math.isfinite(loss) or not P.all_finite(rows):
            raise FloatingPointError(
                "training diverged: the loss or the weights became NaN or infinite; lower the "
                "learning rate or enable clipping")
        return loss, int(correct)


def gated_predict_proba(params, tokens, offsets, pooling="last", grams=None):
    """Probabilities (n, O) for a validated flat corpus, in parallel over sentences
    (``grams``: the corpus's n-gram arrays, for a model with the linear path)."""
    n = offsets.shape[0] - 1
    out = np.empty((n, params.shape[2]), dtype=params.dtype)
    # the nogil range kernel on the predict thread pool, as for the tanh cell
    predict_ranges(KG.PREDICT[params.code],
                   predict_args(params, tokens, offsets, pooling, grams, out), n,
                   predict_what(params))
    return out
