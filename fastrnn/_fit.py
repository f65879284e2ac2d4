"""The one fit seam: preparation, split, backend choice and the per-epoch loop of one model.

:meth:`fastrnn.Model.fit`, :func:`fastrnn.train_many` (on its thread pool and on Dask workers)
and the benchmarks all train through this module, so a model gets the same weights whichever
of them trains it:

* :func:`prepare` validates the inputs, draws everything random from one
  ``default_rng(seed)`` in a fixed order (stratified split, initial weights, then one
  permutation per epoch in :meth:`FitRun.next_order`), builds the vocabulary and encodes.
  It does not touch the model's fitted attributes.
* :func:`epoch_runner` picks the backend: ``"numba"`` (the cell's trainer from
  :func:`fastrnn._engine.cell_engine`, the nogil whole-epoch kernel) or ``"numpy"``
  (:mod:`fastrnn.reference`, or :mod:`fastrnn.reference_gated` for a GRU/LSTM).  Both raise
  :class:`FloatingPointError` when training diverges.
* :func:`run` trains epoch after epoch with validation and early stopping.
* :meth:`FitRun.apply` sets the learned attributes, only after training succeeded: a fit
  that raises leaves the model as it was (its previous fitted state, or unfitted;
  ``Model.fit`` restores it if a callback was shown the live run, :meth:`FitRun.expose`).
"""

import math
import time
import warnings

import numpy as np

from . import _engine as E
from . import ngrams as NG
from . import reference as R
from ._validation import check_pair
from .vocab import Vocabulary

__all__ = ["DivergenceWarning", "divergence", "warn_if_diverged", "EmptyTextWarning", "FitRun",
           "prepare", "epoch_runner", "run", "evaluate",
           "predict_proba", "stratified_split", "count_empty", "FITTED_ATTRIBUTES",
           "load_embeddings", "encode"]

#: the attributes a successful fit sets (and a failed one leaves alone)
FITTED_ATTRIBUTES = ("vocabulary_", "classes_", "params_", "best_epoch_", "history_",
                     "n_epochs_", "fit_time_")


class DivergenceWarning(UserWarning):
    """The fitted model's training loss is far above a uniform guess's: training diverged
    without producing NaN (a learning rate far too large), and the model predicts little
    better than a constant.  :func:`divergence` says when."""


#: A fit counts as diverged when the training loss of the epoch whose weights it keeps exceeds
#: this many times the loss of a uniform guess (ln K for K classes): such a model is far worse
#: than guessing.  Healthy fits end below 1x; a too-large but finite rate (10 on the demo
#: corpus) ends near 4x, 1e3 near 400x.
DIVERGED_LOSS_FACTOR = 10.0


def divergence(model):
    """None, or what is wrong with fitted ``model``'s loss (see :data:`DIVERGED_LOSS_FACTOR`),
    as a sentence: the one rule ``Model.fit`` warns on and ``fastrnn train`` refuses on."""
    loss = model.history_[model.best_epoch_ - 1]["loss"]
    chance = math.log(len(model.classes_))
    if math.isfinite(loss) and loss <= DIVERGED_LOSS_FACTOR * chance:
        return None
    return (f"training diverged: the training loss of the kept epoch ({model.best_epoch_}) is "
            f"{loss:.3g}, more than {DIVERGED_LOSS_FACTOR:g}x that of a uniform guess "
            f"({chance:.3g})")


def warn_if_diverged(model, name=None, stacklevel=2):
    """Warn :class:`DivergenceWarning` when fitted ``model`` diverged (:func:`divergence`);
    ``name`` (e.g. ``train_many``'s "model 3 (seed=1, ...)") starts the message."""
    problem = divergence(model)
    if problem is not None:
        warnings.warn(DivergenceWarning(
            f"{name + ': ' if name else ''}{problem}: the model predicts little better than a "
            f"constant; lower learning_rate (now {model.learning_rate!r})"),
            stacklevel=stacklevel + 1)


#: ``n_iter_no_change="auto"``: ``(floor, ceiling)`` of :func:`patience`
AUTO_PATIENCE = (5, 10)


def patience(setting, best_epoch):
    """How many epochs without a new lowest validation loss end a fit: ``setting`` (an int),
    or for ``"auto"`` (``None``) the best epoch's number kept within :data:`AUTO_PATIENCE`
    (5 to 10).  A fit whose validation loss fell for many epochs is usually still learning
    when it stalls, and gets as long to leave the plateau; an early best epoch (MR's 2-4, an
    overfitting model) keeps the short wait."""
    if setting is not None:
        return setting
    lo, hi = AUTO_PATIENCE
    return min(max(lo, best_epoch or 0), hi)


class EmptyTextWarning(UserWarning):
    """Some texts have no word the tokenizer keeps (empty, punctuation only, emoji...).

    Such a text is read as one unknown word: the model learns nothing from it and predicts
    the same probabilities for all of them.
    """


def count_empty(vocab, texts, tokens, offsets):
    """How many ``texts`` tokenise to no word at all (their encoding is one unknown id)."""
    if len(texts) == 0:
        return 0
    lengths = np.diff(offsets)
    cand = np.flatnonzero((lengths == 1) & (tokens[offsets[:-1]] == Vocabulary.UNKNOWN_ID))
    tok = vocab.tokenizer
    return sum(1 for i in cand if len(tok(texts[i])) == 0)


def check_embeddings_source(source):
    """``TypeError`` naming ``embeddings`` unless it is a kind :func:`load_vectors` reads
    (checked before anything is read or trained)."""
    from .vectors import source_kind
    if source is not None:
        source_kind(source, "embeddings")


def _vector_key(lowercase):
    return str.lower if lowercase else (lambda w: w)


def load_embeddings(source, vocab, dtype, frozen, oov=None):
    """The input table of an embedding model: ``(Emb (V, E), Ext (n, E), ext_words,
    lowercase)``.

    Vocabulary word ``w`` (ids ``1..V-1``; id 0, the unknown word, has no vector) gets the
    vector of ``w.lower()`` when the vectors are lower-case (:attr:`WordVectors.lowercase`,
    e.g. GloVe), else of ``w``; the rows of words without one are NaN (:func:`prepare` draws
    them, after the other weights: small random rows ``U(-1/E, 1/E)``, fastText's rule).  Fine-tuned (``frozen`` False) only the
    vocabulary's rows are read (``load_vectors(words=...)``); frozen, the whole source is read
    and ``Ext``/``ext_words`` keep the vectors of every other word, for words first seen at
    prediction.  ``ValueError`` when the vectors cover none of the vocabulary.  ``oov``:
    None, or ``oov(words, build)`` returning a shared ``build()`` (``train_many``).
    """
    from .vectors import WordVectors, load_vectors
    words = vocab.words
    if isinstance(source, WordVectors) and source.vectors.dtype == dtype:
        wv = source  # only read here: Emb and Ext are copies of its rows
    elif frozen:
        wv = load_vectors(source, dtype=dtype)
    else:
        wanted = set(words[1:]) | {w.lower() for w in words[1:]}
        wv = load_vectors(source, words=sorted(wanted), dtype=dtype)
    key = _vector_key(wv.lowercase)
    E = wv.dim
    V = len(words)
    rows = np.full(V, -1, dtype=np.int64)
    for i in range(1, V):
        rows[i] = wv.index.get(key(words[i]), -1)
    found = rows >= 0
    if not found.any():
        raise ValueError(f"embeddings {wv.source} cover none of the {V - 1} vocabulary words "
                         f"(looked up {'lower-cased' if wv.lowercase else 'as tokenised'}); "
                         "check that the vectors match the texts' language and tokenisation")
    Emb = np.full((V, E), np.nan, dtype=dtype)
    Emb[found] = wv.vectors[rows[found]]
    if not frozen:
        return Emb, None, [], wv.lowercase
    if oov is None:
        Ext, ext_words = oov_vectors(wv, words)
    else:
        Ext, ext_words = oov(words, lambda: oov_vectors(wv, words))
    return Emb, Ext, ext_words, wv.lowercase


def oov_vectors(wv, words):
    """``(Ext, ext_words)``: the rows of ``wv`` that no word of ``words`` (a vocabulary's,
    id 0 the unknown word) looks up."""
    key = _vector_key(wv.lowercase)
    used = {key(w) for w in words[1:]}
    keep = [j for j, w in enumerate(wv.words) if w not in used]
    return wv.vectors[keep], [wv.words[j] for j in keep]


def reattach_vectors(params, vocab, source, where, frozen):
    """Give a loaded embedding model its vectors again (:meth:`fastrnn.Model.load`):
    checks their width; frozen, ``params.Ext`` gets the words outside the vocabulary."""
    from .vectors import load_vectors
    wv = load_vectors(source, dtype=params.dtype, words=None if frozen else ["\x00"])
    E_dim = params.WpeT.shape[0]
    if wv.dim != E_dim:
        raise ValueError(f"{wv.source}: vectors of width {wv.dim}, but the model in {where} "
                         f"was trained on vectors of width {E_dim}")
    if frozen:
        Ext, params.ext_words = oov_vectors(wv, vocab.words)
        params.Ext = E.aligned_copy(Ext, params.dtype)
        params.emb_lowercase = wv.lowercase
        params._ext_index = None


def encode(vocab, texts, ngrams, buckets, params=None):
    """``(tokens, offsets, grams)`` of ``texts`` (:func:`fastrnn.ngrams.encode`); for an
    embedding model with out-of-vocabulary vectors (frozen, ``params.Ext``), a word outside
    the vocabulary that has a vector becomes token ``V + row`` of ``Ext`` instead of the
    unknown word."""
    tokens, offsets, grams = NG.encode(vocab, texts, ngrams, buckets)
    return _with_vectors(tokens, offsets, vocab, texts, params), offsets, grams


def _with_vectors(tokens, offsets, vocab, texts, params):
    """``tokens`` of ``texts`` with :func:`encode`'s out-of-vocabulary vector ids (a copy
    for a model with such vectors; ``tokens`` itself otherwise)."""
    if params is None or getattr(params, "Emb", None) is None or not params.Ext.shape[0]:
        return tokens
    index = getattr(params, "_ext_index", None)
    if index is None:
        index = params._ext_index = dict(zip(params.ext_words, range(len(params.ext_words))))
    key = _vector_key(params.emb_lowercase)
    V = params.Emb.shape[0]
    tokens = np.array(tokens, dtype=np.int32)
    unk = tokens == Vocabulary.UNKNOWN_ID
    if not unk.any():
        return tokens
    tok = vocab.tokenizer
    for i in np.unique(np.searchsorted(offsets, np.flatnonzero(unk), side="right") - 1):
        a, b = offsets[i], offsets[i + 1]
        ws = tok(texts[i])
        if len(ws) != b - a:
            continue
        for k in np.flatnonzero(unk[a:b]):
            j = index.get(key(ws[k]))
            if j is not None:
                tokens[a + k] = V + j
    return tokens


def _corpus_positions(corpus, model, texts, validation_data, val):
    """``(positions of texts, positions of the validation texts or None)`` in ``corpus`` (a
    :class:`fastrnn._shared_corpus.SharedCorpus`), or None when it cannot code this fit: no
    corpus, a custom tokenizer, or texts other than the corpus's."""
    if corpus is None or model.tokenizer is not None:
        return None
    where = corpus.positions(texts)
    if where is None:
        return None
    if validation_data is None:
        return where, None
    val_where = corpus.positions(val[0], extra=True)
    return None if val_where is None else (where, val_where)


def _shorten(text, n=30):
    return text if len(text) <= n else text[:n - 3] + "..."


def stratified_split(yi, fraction, rng):
    """Seeded stratified split: about ``fraction`` of each class (at least one) to validation.

    Returns sorted ``(train indices, validation indices)``.
    """
    train, val = [], []
    for c in np.unique(yi):
        idx = np.flatnonzero(yi == c)
        idx = idx[rng.permutation(len(idx))]
        k = int(round(fraction * len(idx)))
        k = min(max(k, 1), len(idx) - 1) if len(idx) > 1 else 0
        val.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def predict_proba(params, tokens, offsets, pooling, backend="numba", serial=False, grams=None):
    """Class probabilities of an encoded corpus.  ``serial``: on the calling thread only (the
    bits are the same as the parallel path's; used by ``train_many``'s pool threads).
    ``grams``: the corpus's n-gram arrays (:func:`fastrnn.ngrams.encode`) for a model with the
    linear n-gram path."""
    eng = E.cell_engine(params)
    if backend == "numpy":
        return eng.reference_predict(params, tokens, offsets, pooling, grams)
    if not serial:
        return eng.predict_proba(params, tokens, offsets, pooling, grams)
    n = offsets.shape[0] - 1
    out = np.empty((n, params.shape[2]), dtype=params.dtype)
    eng.predict_proba_serial(params, tokens, offsets, pooling, out, grams)
    return out


_TINY = np.finfo(np.float64).tiny


def evaluate(params, tokens, offsets, yi, pooling, backend="numba", serial=False, grams=None):
    """``(mean cross-entropy, accuracy)`` of an encoded, labelled corpus."""
    p = predict_proba(params, tokens, offsets, pooling, backend, serial, grams)
    return _loss_accuracy(p, yi, np.arange(len(yi)) * p.shape[1] + yi)


def _loss_accuracy(p, yi, flat):
    """``(mean cross-entropy, accuracy)`` of probabilities ``p`` (n, O), C-contiguous, for
    labels ``yi``; ``flat`` = ``arange(n) * O + yi``, the true classes' positions in ``p``.  The
    mean is ``np.mean``'s (the pairwise sum, then a divide)."""
    n = len(yi)
    pc = p.reshape(-1).take(flat).astype(np.float64)
    loss = float(-(np.add.reduce(np.log(np.maximum(pc, _TINY, out=pc), out=pc)) / n))
    return loss, int(np.count_nonzero(p.argmax(axis=1) == yi)) / n  # Python floats


class _Validation:
    """The per-epoch validation score of a run: :func:`evaluate`'s numbers (the same bits) with
    the corpus's checks, index arrays and output buffer made once, not every epoch.  Only
    for the one-hot tanh cell on the numba backend; :meth:`FitRun.record` uses :func:`evaluate`
    for the others (an embedding model predicts through its projected rows)."""

    def __init__(self, run):
        P = run.params
        tokens, offsets, yi = run.val
        n = offsets.shape[0] - 1
        self.yi, self.flat = yi, np.arange(n) * P.shape[2] + yi
        self.out = np.empty((n, P.shape[2]), dtype=P.dtype)
        self.params = P
        self.corpus = (tokens, offsets)
        self.rest = E.check_grams(run.val_grams, P, offsets) + (E.POOLINGS.index(run.pooling),
                                                               self.out, 0, n)
        self.parallel = not run.serial and n >= E.SERIAL_PREDICT_BELOW
        self.what = E.predict_what(P)
        # compiled (announced) now, not inside the first epoch's validation
        E._compile.ensure(E.K.rnn.predict_proba_range, *self._args(), 0, 0, what=self.what,
                          about=2)

    def _args(self):
        P = self.params
        return self.corpus + (P.WxhT, P.WhhT, P.bh, P.Why, P.by, P.U) + self.rest[:-2]

    def __call__(self):
        P = self.params
        if self.parallel:  # the thread-pool path of Model.fit's larger validation sets
            E.predict_ranges(E.K.rnn.predict_proba_range, self._args(), self.out.shape[0],
                             self.what)
        else:
            E.K.rnn.predict_proba_range(*self.corpus, P.WxhT, P.WhhT, P.bh, P.Why, P.by, P.U,
                                        *self.rest)
        return _loss_accuracy(self.out, self.yi, self.flat)


def _row_items(a):
    """The rows of the C-contiguous 2-D ``a`` as the items of a 1-D void view (same memory)."""
    return a.view(np.dtype((np.void, a.shape[1] * a.itemsize))).reshape(-1)


class FitRun:
    """The state of one model's training: data, parameters, RNG, history, early stopping."""

    def __init__(self, model, settings, rng, vocab, classes, params, tokens, offsets, labels,
                 val):
        self.model = model
        self.settings = settings
        self.rng = rng
        self.vocab = vocab
        self.classes = classes
        self.params = params
        self.tokens, self.offsets, self.labels = tokens, offsets, labels
        self.val = val
        self.history = []
        self.best, self.best_params, self.bad = np.inf, None, 0
        self.best_epoch = None
        self.done = False
        self.serial = False
        self.t0 = time.perf_counter()
        self.fit_time = None
        self.grams = self.val_grams = None  # the n-gram arrays (ngram_arrays), if any
        self._rows = self._best_U = None  # see _u_rows, _keep_best
        self._validation = None  # see record
        self.u_starts_zero = False  # prepare(): U is a fresh zero table (Params.initial)

    @property
    def pooling(self):
        return self.model.pooling

    def next_order(self):
        """The next epoch's sample order (int64), drawn from the model's RNG."""
        n = len(self.labels)
        order = self.rng.permutation(n) if self.model.shuffle else np.arange(n)
        return order.astype(np.int64, copy=False)

    def record(self, loss, correct, seconds=None):
        """Book one finished epoch: metrics, validation, early stopping. Returns the metrics.

        ``time`` is the training clock since preparation; ``epoch_s`` the seconds of this
        epoch's kernel call (``seconds``, when the caller timed it).
        """
        n = len(self.labels)
        epoch = len(self.history) + 1
        m = {"epoch": epoch, "loss": loss / n, "accuracy": correct / n,
             "time": time.perf_counter() - self.t0}
        if seconds is not None:
            m["epoch_s"] = seconds
        if self.val is not None:
            if self._validation is None:
                fast = (self.model.backend == "numba" and type(self.params) is E.Params
                        and not self.params.embedded)  # embedding models: input_view first
                self._validation = _Validation(self) if fast else (
                    lambda: evaluate(self.params, *self.val, self.pooling, self.model.backend,
                                     self.serial, self.val_grams))
            m["val_loss"], m["val_accuracy"] = self._validation()
        self.history.append(m)
        if self.val is not None and self.model.early_stopping:
            if m["val_loss"] < self.best:
                self._keep_best()
                self.best, self.bad = m["val_loss"], 0
                self.best_epoch = epoch
            else:
                self.bad += 1
                if self.bad >= patience(self.settings["patience"], self.best_epoch):
                    self.done = True
        if epoch >= self.settings["epochs"]:
            self.done = True
        return m

    def _keep_best(self):
        """Snapshot the current weights: one allocation per fit, then copies into it.

        Of the n-gram table ``U`` only the rows of the training corpus's buckets are kept, in a
        compact copy (:meth:`_best_params` puts them back): the epochs change no other row (a
        full copy of a 2**20-row table cost several tutorial epochs, and two models training at
        once did not overlap its memory traffic).
        """
        P = self.params
        rows = self._u_rows()
        if self.best_params is None:
            if rows is None:
                self.best_params = P.copy()
                return
            # U: an empty table until _best_params; an embedding model's Emb/WpeT copied too
            self.best_params = P.copy_without_table()
            self._best_U = P.U[rows]
            return
        for name in P.names + ("WhhT",):
            np.copyto(getattr(self.best_params, name), getattr(P, name))
        if rows is None:
            np.copyto(self.best_params.U, P.U)
        else:
            np.take(P.U, rows, axis=0, out=self._best_U)

    def _best_params(self):
        """The best epoch's parameters, complete: the compact ``U`` rows written back into the
        live table, which becomes theirs (training is over)."""
        best = self.best_params
        if self._best_U is not None:
            # rows as single items (a void view): numpy's 1-D fancy assignment, 65x faster
            # than U[rows] = ... on the 2-D table (0.13 vs 8.5 ms for MR's 80 k rows)
            _row_items(self.params.U)[self._rows] = _row_items(self._best_U)
            best.U = self.params.U
            self._best_U = None
        return best

    def _u_rows(self):
        """The rows of ``U`` the epochs update (the training corpus's buckets, as they occur),
        or None for a model without an n-gram table; computed on first use."""
        if not self.u_starts_zero or self.params.buckets == 0 or self.grams is None:
            return None  # copy all of U
        if self._rows is None:  # repeats and all: sorting them out cost more than copying
            self._rows = np.ascontiguousarray(self.grams[0], dtype=np.int64)
        return self._rows

    def expose(self, model):
        """Show the run in progress on ``model`` (vocabulary, classes, the live weights and the
        history so far), for a per-epoch callback; :meth:`apply` replaces it at the end."""
        model.vocabulary_ = self.vocab
        model.classes_ = self.classes
        model.params_ = self.params
        model.history_ = self.history

    def apply(self, model=None):
        """Set the fitted attributes on ``model`` (default: the run's) from a finished run:
        the best epoch's weights with early stopping, else the last.  Returns the model."""
        model = self.model if model is None else model
        if self.fit_time is None:
            self.fit_time = time.perf_counter() - self.t0
        model.vocabulary_ = self.vocab
        model.classes_ = self.classes
        if self.best_params is not None:
            model.params_ = self._best_params()
            model.best_epoch_ = self.best_epoch
        else:
            model.params_ = self.params
            model.best_epoch_ = len(self.history)
        model.history_ = self.history
        model.n_epochs_ = len(self.history)
        model.fit_time_ = self.fit_time
        return model


def prepare(model, texts, labels, validation_data=None, vectors=None, corpus=None):
    """Validate, split, build the vocabulary, encode and initialise: a :class:`FitRun`.

    ``vectors``: None, or the vectors file ``model.embeddings`` names, read once for several
    models (``train_many``'s shared source: ``get()`` the :class:`fastrnn.WordVectors`,
    ``oov(words, build)`` the other words' vectors per vocabulary); the model's rows are
    selected from it as from the file.  ``corpus``: None, or a
    :class:`fastrnn._shared_corpus.SharedCorpus` of these texts (and validation texts), which
    a default-tokenizer model's vocabulary and encodings are then taken from (the same
    arrays; used only when its texts are exactly these).

    Everything random is
    drawn here and in :meth:`FitRun.next_order` from one ``default_rng(model.seed)``, in a
    fixed order, so a model trained alone or in ``train_many`` gets the same weights.
    Warns :class:`EmptyTextWarning` with a count when texts tokenise to nothing; refuses when
    all do.
    """
    from .model import _texts
    s = model._validate()
    texts = _texts(texts)
    if not texts:
        raise ValueError("cannot fit on an empty dataset")
    y = model._labels(labels, len(texts))
    classes, yi = np.unique(y, return_inverse=True)
    yi = yi.reshape(-1)
    if len(classes) < 2:
        raise ValueError("labels must contain at least two classes, got only "
                         f"{classes.tolist()!r}")
    single = int(np.count_nonzero(np.bincount(yi) == 1))
    if len(classes) > 2 and 2 * single > len(classes):
        shown = ", ".join(_shorten(repr(c)) for c in classes[:3].tolist())
        raise ValueError(f"{len(classes)} classes for {len(texts)} texts, {single} of them with "
                         f"a single text (e.g. {shown}): these labels look like texts or ids; "
                         "check which column holds the labels")
    rng = np.random.default_rng(model.seed)

    val = None
    train_idx = np.arange(len(texts))
    if validation_data is not None:
        vt, vl = check_pair("validation_data", validation_data)
        vt = _texts(vt, "validation texts")
        if not vt:
            raise ValueError("validation_data holds no texts: give at least one, or None "
                             "(early stopping then splits validation_fraction off the data)")
        vy = model._labels(vl, len(vt), "validation labels")
        unknown = ~np.isin(vy, classes)
        if unknown.any():
            raise ValueError(f"validation labels contain classes not seen in training: "
                             f"{np.unique(vy[unknown]).tolist()!r}")
        val = (vt, np.searchsorted(classes, vy))
    elif model.early_stopping:
        train_idx, val_idx = stratified_split(yi, s["vf"], rng)
        if (len(np.unique(yi[val_idx])) < len(classes)
                or len(np.unique(yi[train_idx])) < len(classes)):
            raise ValueError(
                f"validation_fraction={s['vf']} leaves a class without training or "
                f"validation samples ({len(texts)} samples, {len(classes)} classes); use more "
                "data, another validation_fraction, or early_stopping=False")
        val = ([texts[i] for i in val_idx], yi[val_idx])

    vocab = Vocabulary(tokenizer=model.tokenizer, min_count=model.min_count,
                       max_size=model.max_size)
    train_texts = [texts[i] for i in train_idx]
    N, B = s["ngrams"], s["buckets"]
    coded = _corpus_positions(corpus, model, texts, validation_data, val)
    if coded is None:
        vocab.fit(train_texts)
        tokens, offsets, grams = NG.encode(vocab, train_texts, N, B)  # grams: None for N = 0
    else:  # the same arrays, gathered from the dataset coded once (train_many)
        every, val_where = coded  # val_where: validation_data's texts, if given
        if val_where is None and val is not None:  # the split's validation texts
            val_where = every[val_idx]
        where = every[train_idx]
        ids = corpus.fit_vocabulary(vocab, where)
        tokens, offsets, grams = corpus.encode(ids, where, N, B)
    V, H, O = len(vocab), s["H"], len(classes)
    emb = None
    if model.embeddings is not None:  # read (and checked) before any weight is drawn
        source = model.embeddings if vectors is None else vectors.get()
        emb = load_embeddings(source, vocab, s["dtype"], s["freeze"],
                              oov=None if vectors is None else vectors.oov)
    if V * H > 2**31:
        raise ValueError(f"vocabulary ({V} words) x hidden_size ({H}) is too large; "
                         "set max_size or min_count")
    if s["ngrams"] and s["buckets"] * O > 2**31:
        raise ValueError(f"buckets ({s['buckets']}) x classes ({O}) is too large; lower buckets")
    eng = E.cell_engine(s["cell"])
    if emb is None:
        params = eng.initial(V, H, O, model.init, rng, s["dtype"],
                             buckets=s["buckets"] if s["ngrams"] else 0)
    else:  # the projection drawn as the input weights of E inputs, then the missing rows
        Emb, Ext, ext_words, lowercase = emb
        params = eng.initial(Emb.shape[1], H, O, model.init, rng, s["dtype"],
                             buckets=s["buckets"] if s["ngrams"] else 0)
        missing = ~np.isfinite(Emb[:, 0])
        Emb[missing] = rng.uniform(-1.0 / Emb.shape[1], 1.0 / Emb.shape[1],
                                   (int(missing.sum()), Emb.shape[1]))
        E.attach_embeddings(params, Emb, params.WxhT, Ext)
        params.ext_words, params.emb_lowercase = ext_words, lowercase
    vtok = val_grams = None
    if val is not None:
        if coded is None:
            *vtok, val_grams = encode(vocab, val[0], N, B, params)
        else:
            *vtok, val_grams = corpus.encode(ids, val_where, N, B)
            vtok[0] = _with_vectors(vtok[0], vtok[1], vocab, val[0], params)
        vtok = tuple(vtok) + (val[1].astype(np.int64),)
    if coded is None:
        empty = count_empty(vocab, train_texts, tokens, offsets)
        empty_val = 0 if val is None else count_empty(vocab, val[0], vtok[0], vtok[1])
    else:
        empty = corpus.count_empty(where)
        empty_val = 0 if val is None else corpus.count_empty(val_where)
    n_all = len(train_texts) + (len(val[0]) if val is not None else 0)
    if empty + empty_val == n_all:
        raise ValueError(f"all {n_all} texts tokenise to no word (empty, punctuation or "
                         "symbols only): there is nothing to learn from")
    if empty + empty_val:
        warnings.warn(EmptyTextWarning(
            f"{empty + empty_val} of {n_all} texts tokenise to no word (empty, punctuation "
            "or symbols only); each is read as one unknown word"), stacklevel=3)
    run = FitRun(model, s, rng, vocab, classes, params, tokens, offsets,
                 yi[train_idx].astype(np.int64), vtok)
    run.grams, run.val_grams = grams, val_grams
    run.u_starts_zero = True  # initial() made U all zero: rows outside the corpus stay zero
    return run


class _NumpyEpoch:
    """One epoch of the numpy reference on ``Params`` (kept in kernel layout)."""

    backend = "numpy"

    def __init__(self, params, optimizer, lr, kw, grams=None, ngram_lr=None):
        self.params = params
        self.P = dict(params.items())  # an embedding model: Emb, WpeT in WxhT's place
        U = None
        if params.buckets:
            self.P["U"] = U = params.U
        emb = {n: self.P[n] for n in R.EMBEDDING_NAMES} if params.embedded else {}
        self.state = R.init_optimizer_state(optimizer, params.WxhT,
                                            *[self.P[n] for n in R.PARAM_NAMES[1:]], U=U, **emb)
        self.step = 0
        self.lr = lr
        self.grams = grams
        self.kw = dict(kw, optimizer=optimizer, ngram_lr=ngram_lr)

    def __call__(self, tokens, offsets, labels, order):
        grams = E.check_grams(self.grams, self.params, offsets) if self.params.buckets else None
        loss, correct, self.step = R.train_epoch(tokens, offsets, labels, order, self.P,
                                                 self.state, lr=self.lr, step=self.step,
                                                 grams=grams, **self.kw)
        self.params.sync_transpose()
        if not math.isfinite(loss) or not self.params.all_finite():
            raise E.TrainingDiverged("training diverged: the loss or the weights became NaN "
                                     "or infinite; lower the learning rate")
        return loss, correct


class _NumpyGatedEpoch:
    """One epoch of the gated numpy reference (:mod:`fastrnn.reference_gated`) on
    ``GatedParams`` (kept in kernel layout; ``U`` too, with the linear n-gram path)."""

    backend = "numpy"

    def __init__(self, params, optimizer, lr, kw, grams=None, ngram_lr=None):
        from . import reference_gated as RG
        self.RG = RG
        self.params = params
        self.P = {n: getattr(params, n) for n in params.names}  # the arrays, not copies
        if params.buckets:
            self.P["U"] = params.U
        self.state = RG.init_optimizer_state(optimizer, self.P, params.cell)
        self.step = 0
        self.lr = lr
        self.grams = grams
        kw = {k: v for k, v in kw.items() if k != "gradient"}  # gated cells: exact only
        self.kw = dict(kw, optimizer=optimizer, ngram_lr=ngram_lr)

    def __call__(self, tokens, offsets, labels, order):
        grams = E.check_grams(self.grams, self.params, offsets) if self.params.buckets else None
        loss, correct, self.step = self.RG.train_epoch(tokens, offsets, labels, order, self.P,
                                                       self.state, self.params.cell,
                                                       lr=self.lr, step=self.step, grams=grams,
                                                       **self.kw)
        self.params.sync_transpose()
        if not math.isfinite(loss) or not self.params.all_finite():
            raise E.TrainingDiverged("training diverged: the loss or the weights became NaN "
                                     "or infinite; lower the learning rate")
        return loss, correct


class _NumbaEpoch:
    """One epoch of the nogil whole-epoch kernel (:meth:`fastrnn._engine.Trainer.epoch`)."""

    backend = "numba"

    def __init__(self, params, optimizer, lr, kw, grams=None, ngram_lr=None):
        self.trainer = E.cell_engine(params).trainer(params, lr=lr, optimizer=optimizer,
                                                     ngram_lr=ngram_lr, **kw)
        self.grams = grams

    def __call__(self, tokens, offsets, labels, order):
        return self.trainer.epoch(tokens, offsets, labels, order, self.grams)


def epoch_runner(run):
    """The epoch function of ``run``'s backend: ``f(tokens, offsets, labels, order) ->
    (summed loss, n correct)``, raising ``FloatingPointError`` on divergence; its ``backend``
    attribute names it."""
    model, s = run.model, run.settings
    kw = dict(clip=s["clip"], clip_norm=s["clip_norm"], weight_decay=s["wd"],
              gradient=model.gradient, pooling=model.pooling,
              train_embeddings=not s["freeze"])
    if model.backend == "numba":
        cls = _NumbaEpoch
    else:
        cls = _NumpyGatedEpoch if E.cell_engine(run.params).gated else _NumpyEpoch
    return cls(run.params, model.optimizer, s["lr"], kw, run.grams, s["ngram_lr"])


def run(run, epoch=None, on_epoch=None, callback=None, stop=None):
    """Train ``run`` to the end (epochs, early stopping, ``callback`` returning ``False``, or
    ``stop.is_set()``); returns ``run``.  ``on_epoch(metrics)`` is called after each epoch.

    Raises ``FloatingPointError`` if training diverges (the run is then unusable).
    """
    epoch = epoch_runner(run) if epoch is None else epoch
    clock = time.perf_counter
    while not run.done:
        order = run.next_order()
        t0 = clock()
        loss, correct = epoch(run.tokens, run.offsets, run.labels, order)
        m = run.record(loss, int(correct), clock() - t0)
        if on_epoch is not None:
            on_epoch(m)
        if callback is not None and callback(dict(m)) is False:
            run.done = True
        if stop is not None and stop.is_set():
            run.done = True
    run.fit_time = time.perf_counter() - run.t0
    return run
