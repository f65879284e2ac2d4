"""``fastrnn.Model``: a scikit-learn-style text classifier trained by the Numba kernels.

Text in, labels out: :class:`~fastrnn.vocab.Vocabulary` encodes the texts, the epoch kernel
trains a many-to-one RNN with per-sample updates (the update policy — optimizer, rate,
clipping, weight decay — is the model's, the arithmetic runs fused inside the kernel), and early
stopping keeps the best epoch's weights.  The cell is the tutorial's tanh (default), or
PyTorch's GRU or LSTM (``cell=``).

The defaults are the recipe measured to learn real sentiment data (mean pooling, per-sample
Adagrad at 0.1, Xavier init, 32 hidden units, float32, vocabulary ``min_count=2``, early
stopping on validation loss).  The tutorial's recipe is one set of arguments away::

    Model(hidden_size=64, pooling="last", optimizer="sgd", learning_rate=0.02,
          init="tutorial", min_count=1, early_stopping=False, gradient="tutorial",
          dtype="float64")
"""

import io
import json
import math
import os
import warnings
import zipfile

import numpy as np

from . import _engine as E
from . import _fit
from ._fit import DivergenceWarning, EmptyTextWarning
from ._io import as_path, atomic_write, not_regular, write_target
from ._progress import Progress, metrics_text
from ._validation import (
    check_bool, check_choice, check_dtype, check_float, check_int,
)
from .vocab import Vocabulary

__all__ = ["Model", "NotFittedError", "EmptyTextWarning", "DivergenceWarning",
           "MissingVectorsWarning", "FORMAT_VERSION"]

FORMAT_VERSION = 2  # 2: the cell is stored (gated cells); version 1 files are tanh models
#: the version of files with pretrained word vectors (Emb, WpeT; one-hot models stay version 2)
EMBEDDING_FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


class NotFittedError(ValueError, AttributeError):
    """Raised when a model is used before :meth:`Model.fit` (scikit-learn's convention)."""


class MissingVectorsWarning(UserWarning):
    """:meth:`Model.load` of a frozen-vectors model saved with ``oov_vectors=False`` and given
    no ``embeddings=``: the words outside its vocabulary have no vector until it is."""


_PARAMS = ("hidden_size", "learning_rate", "epochs", "clip", "clip_norm", "gradient", "pooling",
           "optimizer", "init", "weight_decay", "early_stopping", "validation_fraction",
           "n_iter_no_change", "min_count", "max_size", "dtype", "seed", "shuffle", "backend",
           "tokenizer", "progress", "ngrams", "buckets", "ngram_learning_rate", "cell",
           "embeddings", "freeze_embeddings")


def _texts(texts, name="texts"):
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of strings, not a single string")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of strings, got "
                        f"{type(texts).__name__}") from None
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] is {type(t).__name__}, not str")
    return texts


def _short(embeddings):
    """A one-line description of an ``embeddings`` value (a table is not printed whole)."""
    if isinstance(embeddings, (str, os.PathLike)):
        return repr(str(embeddings))
    if isinstance(embeddings, (tuple, list)) and len(embeddings) == 2:
        return f"<(words, matrix) of shape {getattr(embeddings[1], 'shape', '?')}>"
    return f"<{type(embeddings).__name__}>"


def _one_kind(labels, name):
    """``TypeError`` when ``labels`` mix strings with other types (``[1, "pos"]``)."""
    kinds = {"str" if isinstance(v, str) else type(v).__name__ for v in labels}
    if len(kinds) > 1 and "str" in kinds:
        raise TypeError(f"{name} mix strings and other types ({', '.join(sorted(kinds))}); "
                        "use one kind of label")


def _few(classes, k=5):
    """``"3 (a, b, c)"`` / ``"99 (0, 1, 2, 3, 4, ...)"``: a count and a few values, for messages."""
    shown = ", ".join(repr(c) for c in classes[:k].tolist())
    return f"{len(classes)} ({shown}{', ...' if len(classes) > k else ''})"


def _is_model_file(path):
    """True when ``path`` is a file :meth:`Model.save` wrote: a regular file, an .npz whose
    ``meta`` says ``"format": "fastrnn.Model"`` (any other archive with a ``meta`` array, your
    own ``np.savez(..., meta=...)``, is not one)."""
    if not_regular(path) is not None or not os.path.isfile(path):
        return False  # (a pipe: is_zipfile would block reading it)
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as z:
            if "meta.npy" not in z.namelist() or z.getinfo("meta.npy").file_size > 1 << 26:
                return False
            raw = np.load(io.BytesIO(z.read("meta.npy")), allow_pickle=False)
        _model_meta(raw, path)
        return True
    except (OSError, ValueError, TypeError, zipfile.BadZipFile, EOFError):
        return False


def _model_meta(raw, path):
    """The metadata dict of a saved model from its ``meta`` array (UTF-8 JSON bytes), or a
    ``ValueError`` saying ``path`` is not a fastrnn model file: :meth:`Model.load`'s test,
    and what :func:`_is_model_file` asks before ``save`` replaces a file."""
    try:
        meta = json.loads(bytes(raw).decode("utf-8"))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValueError(f"{path} is not a fastrnn model file (no readable metadata)") from None
    if not isinstance(meta, dict) or meta.get("format") != "fastrnn.Model":
        raise ValueError(f"{path} is not a fastrnn model file")
    return meta


def _load_table(data, model, O):
    """The n-gram table of a saved model: ``(buckets, O)`` from its non-zero rows (files
    written before the n-gram path, or without it, have none: ``(0, O)``)."""
    has = "U_rows" in data or "U_values" in data
    s = model._validate()
    if not s["ngrams"]:
        if has:
            raise ValueError("n-gram table present but ngrams=0")
        return None
    if not has:
        raise ValueError(f"ngrams={s['ngrams']} but no n-gram table")
    rows, values = data["U_rows"], data["U_values"]
    B = s["buckets"]
    if (rows.ndim != 1 or rows.dtype.kind not in "iu" or values.shape != (rows.shape[0], O)
            or (rows.size and (rows.min() < 0 or rows.max() >= B
                               or np.any(np.diff(rows) <= 0)))):
        raise ValueError(f"malformed n-gram table (rows {rows.shape} {rows.dtype}, values "
                         f"{values.shape}; {B} buckets, {O} classes)")
    U = np.zeros((B, O), dtype=s["dtype"])
    U[rows] = values
    return U


class Model:
    """An RNN (tanh, GRU or LSTM) sentiment/text classifier with a scikit-learn interface.

    Parameters
    ----------
    hidden_size : int, default 32
    learning_rate : float, default 0.1
    epochs : int, default 100
        Maximum number of passes over the training data (early stopping stops sooner).
    clip : float or None, default 1.0
        Elementwise gradient clip (the tutorial's); ``None`` disables it.
    clip_norm : float or None, default None
        Rescale each sample's whole gradient to at most this L2 norm.
    gradient : {"exact", "tutorial"}, default "exact"
        The true BPTT gradient, or the tutorial's ``d_h = Whh @ g``.
    pooling : {"mean", "last", "max"}, default "mean"
        What the classifier reads: the mean, last or elementwise max of the hidden states.
    optimizer : {"adagrad", "sgd", "adam"}, default "adagrad"
        Per-sample update; Adagrad/Adam state is updated lazily for the input rows.
    init : {"xavier", "tutorial", "pytorch"}, default "xavier"
        Glorot-uniform (per gate block for GRU/LSTM), or the tutorial's ``randn / 1000``
        (tanh only), or PyTorch's ``U(-1/sqrt(H), 1/sqrt(H))`` for every parameter (GRU/LSTM
        only).
    weight_decay : float, default 0.0
        L2 penalty on the weight matrices (lazily on the rows of each sentence's words).
    early_stopping : bool, default True
        Hold out ``validation_fraction`` of the training data (stratified), keep the weights of
        the epoch with the lowest validation loss and stop after ``n_iter_no_change`` epochs
        without a new lowest loss (see there).  With ``validation_data`` given to :meth:`fit`, that data is
        used instead.  (Validation loss, not accuracy: accuracy plateaus for many epochs before
        a model starts to learn, and on data whose validation split shares phrases with the
        training part it keeps rising while the test accuracy falls.)
    validation_fraction : float in (0, 1), default 0.1
    n_iter_no_change : int or "auto", default "auto"
        How many epochs without a new lowest validation loss end the fit.  ``"auto"``: 5, or
        the best epoch's number when that is later, at most 10
        (:func:`fastrnn._fit.patience`): a model whose validation loss kept falling for many
        epochs gets longer to leave a plateau (with a fixed 5, one seed in twelve on the
        built-in corpus stopped on one at epoch 15 with 79.6% test accuracy, where 10 more
        epochs gave 99.8%); a fit whose best epoch comes within 5, as on MR, is unchanged.
        An int: exactly that many.
    min_count : int, default 2
        Words seen fewer times in training map to the unknown-word id.
    max_size : int or None
        Keep at most this many words.
    dtype : {"float32", "float64"}, default "float32"
    seed : None, int or numpy.random.Generator
        Same seed and data give bit-identical weights.
    shuffle : bool, default True
        Shuffle the sample order every epoch.
    backend : {"numba", "numpy"}, default "numba"
        ``"numpy"`` trains with :mod:`fastrnn.reference`, to re-check any result.
    tokenizer : callable or None
        ``str -> list[str]``; default: lowercase Unicode words.
    progress : bool or None
        Show a progress bar; ``None`` (default) shows one only on a terminal.
    ngrams : int, default 2
        The linear n-gram path (fastText's model beside the RNN): the logits get the mean,
        over the sentence's word n-grams of orders 1..``ngrams``, of one learned row per
        n-gram (hashed into ``buckets`` rows, see :mod:`fastrnn.ngrams`), trained jointly by
        the same optimizer.  The n-grams come from the tokenizer's words, rare ones included.
        ``0`` disables it (the model is then exactly the plain RNN).  The defaults (``ngrams=2``,
        ``buckets=2**20``, ``ngram_learning_rate=1.0``) were chosen on validation splits of MR,
        SST-2 and the built-in corpus (README, "Accuracy on real text").
    buckets : int, default 2**20
        Rows of the n-gram table (used only with ``ngrams > 0``); costs ``buckets`` x classes
        weights plus the optimizer's state, and is saved with the model (its non-zero rows).
    ngram_learning_rate : float or None, default 1.0
        The n-gram table's own learning rate; ``None``: ``learning_rate``.
    cell : {"tanh", "gru", "lstm"}, default "tanh"
        The recurrent cell.  ``"tanh"`` is the tutorial's ``h' = tanh(Wxh x + Whh h + bh)``;
        ``"gru"`` and ``"lstm"`` are PyTorch's ``nn.GRU`` (gates ``r, z, n``) and ``nn.LSTM``
        (gates ``i, f, g, o``) with both biases, trained with ``gradient="exact"``.  Only the
        kernels of the cell a program uses are compiled.
    embeddings : None, path, ``(words, matrix)`` pair, KeyedVectors-like object or WordVectors
        Pretrained word vectors for the input (anything :func:`fastrnn.load_vectors` reads, or
        its result).  The input row of word ``w`` becomes ``Emb[w] @ WpeT``: a ``(V, E)`` table
        of the vocabulary's vectors and a learned projection (``WpeT`` ``(E, H)`` for tanh,
        ``(E, G*H)`` for GRU/LSTM) in place of ``WxhT``; the input biases stay.  Lookup rule:
        the default tokenizer lower-cases; when the vectors are lower-case
        (:attr:`WordVectors.lowercase`, e.g. GloVe) each vocabulary word is looked up
        lower-cased, otherwise as the tokenizer gave it.  Vocabulary words without a vector
        (and the unknown word) get small random rows ``U(-1/E, 1/E)`` from ``seed``.  Vectors
        that cover no vocabulary word raise ``ValueError``.  ``None``: one-hot inputs.
    freeze_embeddings : bool, default True
        Keep the vectors fixed (only the projection learns) or fine-tune the rows of each
        sentence's words with the same optimizer.  Frozen, the model keeps the vectors of
        every other word of the source too (``params_.Ext``, saved with the model): a word
        first seen at prediction gets its vector instead of the unknown word's row.
        Fine-tuned, only the vocabulary's rows are read, kept and saved.  The default was
        chosen on validation: with the tanh cell frozen and fine-tuned GloVe tie on MR and
        SST-2 (README, "Vectors inside the model"); ``Model.preset("accurate", embeddings=...)``
        fine-tunes (a GRU's best).

    Attributes
    ----------
    params_ : the learned weights, a mapping ``{name: array}`` in kernel layout
        (``params_["Whh"]``, ``dict(params_)``; also ``params_.Whh``), in the model's dtype.
        ``V`` words, ``H`` hidden units, ``O`` classes, ``G`` gates (GRU 3, LSTM 4):

        * tanh: ``WxhT (V, H)`` (row ``w``: word ``w``'s input weights, ``Wxh.T``),
          ``Whh (H, H)``, ``Why (O, H)``, ``bh (H,)``, ``by (O,)``;
        * gru / lstm: ``WxhT (V, G*H)``, ``Whh (G*H, H)``, ``bih (G*H,)``, ``bhh (G*H,)``,
          ``Why (O, H)``, ``by (O,)``, gate blocks of ``H`` rows in PyTorch's order;
        * with ``embeddings``: ``Emb (V, E)`` (the word vectors) and ``WpeT (E, H)`` / ``(E,
          G*H)`` (the projection, transposed) in ``WxhT``'s place (word ``w``'s input row is
          ``Emb[w] @ WpeT``); ``params_.Ext`` (not a learned weight) holds the frozen vectors
          of words outside the vocabulary.

        The names :func:`fastrnn.reference_gated.loss_and_grad` takes;
        :meth:`to_torch_state_dict` gives them in PyTorch's layout.
    vocabulary_, classes_, history_, best_epoch_, n_epochs_, fit_time_ : see :meth:`fit`.
    """

    def __init__(self, hidden_size=32, learning_rate=0.1, epochs=100, clip=1.0, clip_norm=None,
                 gradient="exact", pooling="mean", optimizer="adagrad", init="xavier",
                 weight_decay=0.0, early_stopping=True, validation_fraction=0.1,
                 n_iter_no_change="auto", min_count=2, max_size=None, dtype="float32", seed=None,
                 shuffle=True, backend="numba", tokenizer=None, progress=None, ngrams=2,
                 buckets=2**20, ngram_learning_rate=1.0, cell="tanh", embeddings=None,
                 freeze_embeddings=True):
        self.hidden_size = hidden_size
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.clip = clip
        self.clip_norm = clip_norm
        self.gradient = gradient
        self.pooling = pooling
        self.optimizer = optimizer
        self.init = init
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.min_count = min_count
        self.max_size = max_size
        self.dtype = dtype
        self.seed = seed
        self.shuffle = shuffle
        self.backend = backend
        self.tokenizer = tokenizer
        self.progress = progress
        self.ngrams = ngrams
        self.buckets = buckets
        self.ngram_learning_rate = ngram_learning_rate
        self.cell = cell
        self.embeddings = embeddings
        self.freeze_embeddings = freeze_embeddings

    #: Named recipes for :meth:`preset`: settings on top of the defaults (README, "Accuracy on
    #: real text", has what each measured and cost).
    PRESETS = {
        "fast": {},                  # the defaults: tanh cell + the linear n-gram path
        "accurate": {"cell": "gru"},  # a GRU + the linear n-gram path: 1.4-2.2x the fit time
    }
    #: The recipes when ``embeddings=`` is given (chosen on the validation splits of MR and
    #: SST-2 with GloVe 6B 50d; README, "Vectors inside the model"): "accurate" fine-tunes
    #: the vectors (a GRU's best on validation; the tanh cell's frozen and fine-tuned tie).
    PRESETS_WITH_EMBEDDINGS = {
        "fast": {},
        "accurate": {"cell": "gru", "freeze_embeddings": False},
    }

    @classmethod
    def preset(cls, name, **overrides):
        """A configured, unfitted ``Model`` for the recipe ``name`` (see :attr:`PRESETS`):
        ``"fast"`` (the defaults) or ``"accurate"`` (a GRU with the linear n-gram path);
        keyword ``overrides`` set any other parameter, e.g. ``Model.preset("accurate",
        seed=0)``.  With ``embeddings=`` the recipe is :attr:`PRESETS_WITH_EMBEDDINGS`'s
        (``"accurate"``: a GRU with fine-tuned vectors and the n-gram path)."""
        if not isinstance(name, str) or name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from "
                             f"{', '.join(map(repr, cls.PRESETS))}")
        unknown = sorted(set(overrides) - set(_PARAMS))
        if unknown:
            raise TypeError(f"unknown Model parameter(s) for preset {name!r}: "
                            f"{', '.join(unknown)}")
        return cls(**{**cls._preset_settings(name, overrides.get("embeddings") is not None),
                      **overrides})

    @classmethod
    def _preset_settings(cls, name, embeddings=False):
        """The settings recipe ``name`` puts on top of the defaults, ``{parameter: value}``
        (a copy): :attr:`PRESETS`'s, or with ``embeddings`` true
        :attr:`PRESETS_WITH_EMBEDDINGS`'s.  The one rule :meth:`preset` and ``fastrnn train
        --preset`` apply."""
        return dict((cls.PRESETS_WITH_EMBEDDINGS if embeddings else cls.PRESETS)[name])

    # ------------------------------------------------------------------ scikit-learn plumbing
    _estimator_type = "classifier"

    def __sklearn_tags__(self):
        """Tags for scikit-learn >= 1.6 (imported lazily: scikit-learn is optional)."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags
        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(),
                    input_tags=InputTags(one_d_array=True, two_d_array=False, string=True))

    def get_params(self, deep=True):
        """The constructor's parameters as a dict (scikit-learn's estimator contract)."""
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params):
        """Set constructor parameters; unknown names raise ``ValueError``."""
        for name, value in params.items():
            if name not in _PARAMS:
                raise ValueError(f"invalid parameter {name!r} for Model; valid parameters: "
                                 f"{', '.join(_PARAMS)}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        default = Model()
        changed = [f"{k}={_short(v) if k == 'embeddings' else repr(v)}"
                   for k, v in self.get_params().items()
                   if not (v is getattr(default, k) or (isinstance(v, (int, float, str))
                                                         and v == getattr(default, k)))]
        return f"Model({', '.join(changed)})"

    def _validate(self):
        """Check every hyperparameter; returns the normalised settings."""
        s = {}
        s["H"] = check_int("hidden_size", self.hidden_size, 1, 65536)
        s["lr"] = check_float("learning_rate", self.learning_rate, positive=True)
        s["epochs"] = check_int("epochs", self.epochs, 1, 10**6)
        s["clip"] = check_float("clip", self.clip, positive=True, allow_none=True)
        s["clip_norm"] = check_float("clip_norm", self.clip_norm, positive=True, allow_none=True)
        s["cell"] = E.check_cell(self.cell)
        eng = E.cell_engine(s["cell"])
        check_choice("gradient", self.gradient, E.GRADIENTS)
        if self.gradient not in eng.gradients:
            raise ValueError(f"gradient={self.gradient!r} is not available with "
                             f"cell={self.cell!r}: the tutorial's shortcut gradient exists only "
                             "for the tutorial's own tanh cell; use gradient='exact'")
        check_choice("pooling", self.pooling, E.POOLINGS)
        check_choice("optimizer", self.optimizer, E.OPTIMIZERS)
        check_choice("init", self.init, E.CELL_INITS)
        if self.init not in eng.inits:
            raise ValueError(f"init={self.init!r} is not available with cell={self.cell!r}; "
                             f"choose one of {', '.join(map(repr, eng.inits))}")
        s["wd"] = check_float("weight_decay", self.weight_decay, nonnegative=True)
        check_bool("early_stopping", self.early_stopping)
        check_bool("shuffle", self.shuffle)
        check_bool("progress", self.progress, allow_none=True)
        vf = check_float("validation_fraction", self.validation_fraction)
        if not 0 < vf < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {vf}")
        s["vf"] = vf
        # None: the "auto" rule (_fit.patience)
        s["patience"] = None if (isinstance(self.n_iter_no_change, str)
                                 and self.n_iter_no_change == "auto") else check_int(
            "n_iter_no_change", self.n_iter_no_change, 1, what='or "auto"')
        check_int("min_count", self.min_count, 1)
        if self.max_size is not None:
            check_int("max_size", self.max_size, 1)
        s["dtype"] = check_dtype(self.dtype)
        if self.seed is not None and not isinstance(self.seed, np.random.Generator):
            check_int("seed", self.seed, 0)
        check_choice("backend", self.backend, ("numba", "numpy"))
        if self.tokenizer is not None and not callable(self.tokenizer):
            raise TypeError("tokenizer must be a callable str -> list of str, or None")
        s["ngrams"] = check_int("ngrams", self.ngrams, 0, 16)
        s["buckets"] = check_int("buckets", self.buckets, 1, 2**31 - 1)
        s["ngram_lr"] = check_float("ngram_learning_rate", self.ngram_learning_rate,
                                    positive=True, allow_none=True)
        s["freeze"] = check_bool("freeze_embeddings", self.freeze_embeddings)
        _fit.check_embeddings_source(self.embeddings)
        return s

    # ------------------------------------------------------------------ fitting
    def _labels(self, labels, n, name="labels"):
        """``labels`` as a 1-D array of length ``n``; a missing or blank label is refused.

        ``None``, NaN and blank strings are not classes (a file's empty cell, a pandas gap):
        the ``ValueError`` names the first such position instead of letting them become a class
        of their own or fail later with a numpy ``TypeError``.
        """
        try:
            y = np.asarray(labels)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be a sequence of labels (bool, int or str): {e}") \
                from None
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(f"{name} must be 1-D with one label per text ({n}), got shape "
                             f"{y.shape}")
        if y.dtype.kind == "U" and not isinstance(labels, np.ndarray):
            _one_kind(labels, name)  # numpy turns [1, "pos"] into strings ("1", "pos")
        bad = None
        if y.dtype.kind == "f":
            missing = ~np.isfinite(y)
            if missing.any():
                i = int(np.argmax(missing))
                bad = (i, f"is {float(y[i])!r}")
        elif y.dtype.kind in "US":
            blank = np.char.str_len(np.char.strip(y)) == 0
            if blank.any():
                bad = (int(np.argmax(blank)), "is blank")
        elif y.dtype.kind == "O":
            for i, v in enumerate(y.tolist()):
                if v is None or (isinstance(v, float) and not math.isfinite(v)):
                    bad = (i, f"is {v!r}")
                elif isinstance(v, (str, bytes)) and not v.strip():
                    bad = (i, "is blank")
                if bad:
                    break
            else:
                _one_kind(y.tolist(), name)
        if bad is not None:
            i, what = bad
            raise ValueError(f"{name}[{i}] {what}: every text needs a label (a missing label "
                             "is not a class)")
        return y

    def fit(self, texts, labels, validation_data=None, progress=None, callback=None):
        """Train on ``texts`` (sequence of str) and ``labels`` (bool, int or str, any classes).

        ``validation_data=(texts, labels)`` is scored every epoch (and used for early stopping);
        ``callback(metrics: dict)`` is called after every epoch with ``epoch``, ``loss``,
        ``accuracy``, ``time`` (seconds since the start), ``epoch_s`` (seconds of this epoch's
        training pass) and, with validation, ``val_loss`` and ``val_accuracy`` (Python numbers);
        returning ``False`` stops training.  Returns ``self``; per-epoch metrics are in
        ``history_``.

        Inside ``callback`` the model holds the weights of the epoch just finished, so
        ``self.evaluate``/``predict`` work there.  Texts that tokenise to no word warn
        :class:`EmptyTextWarning` with a count (all of them: ``ValueError``).

        The fitted attributes (``vocabulary_``, ``classes_``, ``params_``, ``history_``,
        ``best_epoch_``, ``n_epochs_``, ``fit_time_``) change only when training succeeds: a
        fit that raises (bad input, ``FloatingPointError`` when training diverges, an
        exception from ``callback``) leaves the model as it was, fitted with its previous
        weights or unfitted (scikit-learn's behaviour).
        """
        check_bool("progress", progress, allow_none=True)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable (metrics dict -> bool or None), got "
                            f"{type(callback).__name__}")
        run = _fit.prepare(self, texts, labels, validation_data)
        show = self.progress if progress is None else progress
        saved = {a: self.__dict__[a] for a in _fit.FITTED_ATTRIBUTES if a in self.__dict__}
        try:
            if callback is not None:
                run.expose(self)  # the live weights, for a callback that evaluates the model
            with Progress(run.settings["epochs"], "training", show) as bar:
                def on_epoch(m):
                    bar.advance(1, metrics_text(m))
                _fit.run(run, on_epoch=on_epoch if bar.shown else None, callback=callback)
        except BaseException:
            for a in _fit.FITTED_ATTRIBUTES:
                self.__dict__.pop(a, None)
            self.__dict__.update(saved)
            raise
        run.apply(self)
        _fit.warn_if_diverged(self, stacklevel=2)  # a finite but diverged fit
        return self

    # ------------------------------------------------------------------ inference
    def _check_fitted(self):
        if not hasattr(self, "params_"):
            raise NotFittedError("this Model is not fitted yet: call fit(texts, labels) first")

    def _encode(self, texts):
        """``(tokens, offsets, grams)`` of ``texts``: ``grams`` the n-gram arrays for the
        fitted table (None without the path), from the same tokenization."""
        B = self.params_.buckets
        if B and (not self.ngrams or self.buckets != B):
            raise ValueError(f"ngrams={self.ngrams!r}, buckets={self.buckets!r} do not match the "
                             f"fitted n-gram table ({B} rows): refit, or set them back")
        # an embedding model with frozen vectors looks words outside the vocabulary up there
        return _fit.encode(self.vocabulary_, texts, self.ngrams if B else 0, B, self.params_)

    def _proba_encoded(self, tokens, offsets, grams=None):
        return _fit.predict_proba(self.params_, tokens, offsets, self.pooling, self.backend,
                                  grams=grams)

    def _evaluate_encoded(self, tokens, offsets, yi, grams=None):
        return _fit.evaluate(self.params_, tokens, offsets, yi, self.pooling, self.backend,
                             grams=grams)

    def predict_proba(self, texts):
        """Class probabilities, shape ``(n, n_classes)``, columns ordered as ``classes_``.

        Texts that tokenise to no word (empty, punctuation or symbols only) warn
        :class:`EmptyTextWarning` with a count: they all get the same probabilities.
        """
        return self._predict_proba(texts, stacklevel=4)

    def _predict_proba(self, texts, stacklevel):
        self._check_fitted()
        texts = _texts(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=self.params_.dtype)
        tokens, offsets, grams = self._encode(texts)
        self._warn_empty(texts, tokens, offsets, stacklevel=stacklevel)
        return self._proba_encoded(tokens, offsets, grams)

    def _warn_empty(self, texts, tokens, offsets, stacklevel):
        """:class:`EmptyTextWarning` with a count when texts tokenise to no word."""
        empty = _fit.count_empty(self.vocabulary_, texts, tokens, offsets)
        if empty:
            warnings.warn(EmptyTextWarning(
                f"{empty} of {len(texts)} texts tokenise to no word (empty, punctuation or "
                "symbols only); they all get the same probabilities"), stacklevel=stacklevel)

    def predict(self, texts):
        """Predicted labels (of the same kind as the training labels)."""
        p = self._predict_proba(texts, stacklevel=4)
        return self.classes_[np.argmax(p, axis=1)]

    def _encode_labels(self, labels, n, name="labels"):
        y = self._labels(labels, n, name)
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"{name} contain classes the model was not trained on: "
                             f"{_few(np.unique(y[unknown]))}; it knows {_few(self.classes_)}")
        return np.searchsorted(self.classes_, y)

    def evaluate(self, texts, labels):
        """``{"loss": mean cross-entropy, "accuracy": fraction correct}`` on labelled texts.

        Texts that tokenise to no word warn :class:`EmptyTextWarning`, as in
        :meth:`predict_proba`.
        """
        return self._evaluate(texts, labels)

    def _evaluate(self, texts, labels):
        self._check_fitted()
        texts = _texts(texts)
        if not texts:
            raise ValueError("cannot evaluate on an empty dataset")
        yi = self._encode_labels(labels, len(texts))
        tokens, offsets, grams = self._encode(texts)
        self._warn_empty(texts, tokens, offsets, stacklevel=4)
        loss, acc = self._evaluate_encoded(tokens, offsets, yi, grams)
        return {"loss": loss, "accuracy": acc}

    def score(self, texts, labels):
        """Accuracy (scikit-learn's classifier ``score``)."""
        return self._evaluate(texts, labels)["accuracy"]

    # ------------------------------------------------------------------ PyTorch export
    def _torch_inexpressible(self):
        """Why torch's one-hot RNN layout cannot hold this model's inputs, or ``None``.

        The export maps word ids one to one onto one-hot inputs of ``nn.RNN``/``nn.GRU``/
        ``nn.LSTM(input_size=V)``; an input path that adds features beside the words (hashed
        n-gram buckets) or feeds projected pretrained vectors has no place in that layout.
        """
        if getattr(getattr(self, "params_", None), "Emb", None) is not None:
            return ("embeddings: its inputs are projected pretrained word vectors "
                    "(Emb @ WpeT), which torch's one-hot nn.RNN/nn.GRU/nn.LSTM(input_size=V) "
                    "layout cannot hold; export a model trained without embeddings")
        ngrams = getattr(self, "ngrams", None)  # the linear n-gram path (0/None: words only)
        if ngrams:
            return (f"ngrams={ngrams!r}: hashed n-gram inputs have no place in the one-hot "
                    "word input of torch's nn.RNN/nn.GRU/nn.LSTM(input_size=V); export a model "
                    "trained on words only")
        return None

    def to_torch_state_dict(self):
        """The weights as ``{name: ndarray}`` in PyTorch's layout (copies, the model's dtype).

        For ``nn.RNN(V, H, nonlinearity="tanh")`` / ``nn.GRU(V, H)`` / ``nn.LSTM(V, H)``
        (``batch_first=True``) registered as ``rnn``, fed one-hot vectors of the vocabulary's
        word ids, and ``nn.Linear(H, O)`` registered as ``fc``: keys ``rnn.weight_ih_l0``,
        ``rnn.weight_hh_l0``, ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0``, ``fc.weight``,
        ``fc.bias``, gates stacked in PyTorch's order.  The tanh cell has one bias: it is
        ``bias_ih_l0`` and ``bias_hh_l0`` is zero.  Pool the RNN's output as the model does
        (``out[:, -1]``, ``out.mean(1)`` or ``out.max(1).values``) and take the softmax of
        ``fc``'s output to reproduce :meth:`predict_proba` (README: "PyTorch export").

        Raises :class:`NotFittedError` before :meth:`fit`, and ``ValueError`` naming the
        argument when the model's inputs cannot be expressed in that layout.
        """
        if not hasattr(self, "params_"):
            raise NotFittedError("to_torch_state_dict needs a fitted model: call "
                                 "fit(texts, labels) first")
        why = self._torch_inexpressible()
        if why is not None:
            raise ValueError(f"to_torch_state_dict cannot export this model: {why}")
        layout = E.cell_engine(self.params_).torch_layout(self.params_)
        return {k: np.ascontiguousarray(v).copy() for k, v in layout.items()}

    # ------------------------------------------------------------------ persistence
    def save(self, path, oov_vectors=True, *, overwrite=False):
        """Write weights, vocabulary, classes and hyperparameters to one ``.npz`` (no pickle).

        An existing fastrnn model file at ``path`` is replaced; any other existing file (your
        data, say) is not: ``ValueError``, unless ``overwrite=True``.

        A model with ``embeddings`` stores its vocabulary's vectors (``Emb``) and the
        projection; frozen, also the vectors of every other word of the source (``Ext``, for
        words first seen at prediction) unless ``oov_vectors=False`` (a smaller file: give the
        vectors again to :meth:`load` to restore them).

        The file is written to a temporary file beside ``path`` and renamed, so a failure never
        leaves a half-written model; it gets the permissions of any new file (``0o666`` minus
        the umask).
        """
        self._check_fitted()
        path = as_path(path)
        check_bool("oov_vectors", oov_vectors)
        check_bool("overwrite", overwrite)
        kind = not_regular(path)
        if kind == "a directory":
            raise ValueError(f"{path} is a directory: give a file name for the model")
        if kind is not None:  # overwrite or not: a model never replaces /dev/null
            raise ValueError(f"{path} is {kind}, not a regular file: a model is not written "
                             "there")
        if not overwrite and path.exists() and not _is_model_file(path):
            raise ValueError(f"{path} exists and is not a fastrnn model file: not overwritten "
                             "(pass overwrite=True to replace it)")
        target = write_target(path)
        if not overwrite and target.exists() and not os.access(target, os.W_OK):
            raise ValueError(f"{path} is read-only: not overwritten (pass overwrite=True to "
                             "replace it)")
        if self.tokenizer is not None:
            raise ValueError("a model with a custom tokenizer cannot be saved: the tokenizer is "
                             "code; save with the default tokenizer")
        meta, arrays = self._fitted_state(oov_vectors)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        return atomic_write(path, lambda f: np.savez(f, **arrays))

    def _fitted_state(self, oov_vectors=True):
        """``(meta, arrays)``: this fitted model as JSON-able metadata and named arrays, what
        :meth:`save` writes and ``train_many``'s Dask workers send back; :meth:`_from_state`
        reads both.  The n-gram table is its non-zero rows (``U_rows``, ``U_values``)."""
        params = {k: v for k, v in self.get_params().items()
                  if k not in ("tokenizer", "progress", "seed")}
        params["dtype"] = np.dtype(params["dtype"]).name
        if isinstance(self.seed, (int, np.integer)):
            params["seed"] = int(self.seed)
        # the vectors themselves are in the file (Emb, Ext): keep a path, drop in-memory tables
        src = params["embeddings"]
        params["embeddings"] = str(src) if isinstance(src, (str, os.PathLike)) else None
        P = self.params_
        embedded = P.Emb is not None
        meta = {"format": "fastrnn.Model",
                "format_version": EMBEDDING_FORMAT_VERSION if embedded else FORMAT_VERSION,
                "params": params, "vocabulary": self.vocabulary_.to_dict(),
                "classes": self.classes_.tolist(), "classes_dtype": self.classes_.dtype.str,
                "best_epoch": getattr(self, "best_epoch_", None)}
        arrays = {name: getattr(self.params_, name) for name in self.params_.names}
        if embedded:  # frozen: the vectors of the words outside the vocabulary too
            meta["embedding"] = {"lowercase": bool(P.emb_lowercase),
                                 "ext_words": list(P.ext_words)}
            if not oov_vectors:
                meta["embedding"]["ext_words"] = []
                if P.Ext.shape[0]:  # vectors left out: load warns without embeddings=
                    meta["embedding"]["oov_vectors"] = False
            elif P.Ext.shape[0]:
                arrays["Ext"] = P.Ext
        if self.params_.buckets:  # the n-gram table: its non-zero rows only
            U = self.params_.U
            rows = np.flatnonzero(np.any(U != 0, axis=1))
            arrays["U_rows"], arrays["U_values"] = rows.astype(np.int64), U[rows]
        return meta, arrays

    @classmethod
    def load(cls, path, embeddings=None):
        """Load a model written by :meth:`save`; a bad file raises ``ValueError`` naming it.

        ``embeddings``: for a model trained with frozen ``embeddings`` and saved with
        ``oov_vectors=False``, the vectors again (any source :func:`fastrnn.load_vectors`
        reads): the vectors of the words outside its vocabulary are read from them
        (``ValueError`` when their width differs from the model's).  Without them such a model
        warns :class:`MissingVectorsWarning`.
        """
        path = as_path(path)
        if path.is_dir():
            raise ValueError(f"{path} is a directory, not a fastrnn model file")
        if not path.exists():
            raise FileNotFoundError(f"model file {path} does not exist")
        kind = not_regular(path)
        if kind is not None:  # a pipe would block; a model is read twice (check, then load)
            raise ValueError(f"{path} is {kind}, not a regular file: give the model file itself")
        try:
            is_zip = zipfile.is_zipfile(path)
        except OSError as e:
            raise OSError(f"cannot read model file {path}: {e.strerror or e}") from None
        if not is_zip:  # np.load would try it as .npy / pickle and suggest allow_pickle
            raise ValueError(f"{path} is not a fastrnn model file (not an .npz archive)")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            if "pickle" in reason:
                reason = "it holds pickled objects, which fastrnn never writes"
            raise ValueError(f"{path} is not a readable fastrnn model file ({reason})") from None
        if "meta" not in data:
            raise ValueError(f"{path} is not a fastrnn model file (no readable metadata)")
        meta = _model_meta(data.pop("meta"), path)
        if meta.get("format_version") not in READABLE_VERSIONS:
            raise ValueError(f"{path} has model format version {meta.get('format_version')!r}; "
                             f"this fastrnn reads versions "
                             f"{', '.join(map(str, READABLE_VERSIONS))}")
        model = cls._from_state(meta, data, path)
        if embeddings is not None:
            _fit.check_embeddings_source(embeddings)
            if model.params_.Emb is None:
                raise ValueError(f"{path} holds a model trained without embeddings: "
                                 "embeddings= does not apply")
            _fit.reattach_vectors(model.params_, model.vocabulary_, embeddings, path,
                                  model.freeze_embeddings)
            model.embeddings = embeddings
        elif (model.params_.Emb is not None and model.freeze_embeddings
              and (meta.get("embedding") or {}).get("oov_vectors") is False):
            warnings.warn(MissingVectorsWarning(
                f"{path} was saved without the vectors of the words outside its vocabulary "
                "(oov_vectors=False): until they are given again, such words get no vector at "
                "prediction; Model.load(path, embeddings=...) restores them"), stacklevel=2)
        return model

    @classmethod
    def _from_state(cls, meta, data, where, params=None):
        """The fitted model of :meth:`_fitted_state`'s ``(meta, data)``, built with
        ``params`` (default: the ones in ``meta``); ``ValueError`` naming ``where`` when the
        arrays do not fit the metadata."""
        try:
            if params is None:
                params = dict(meta["params"])
                # files written before the n-gram path have no table: their models are ngrams=0
                params.setdefault("ngrams", 0)
            model = cls(**params)
            vocab = Vocabulary.from_dict(meta["vocabulary"])
            classes = np.array(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
            if classes.ndim != 1 or len(np.unique(classes)) != len(classes):
                raise ValueError(f"the classes {classes.tolist()} are not distinct")
            for name, a in data.items():  # weights are real numbers (np.savez keeps any dtype)
                if a.dtype.kind not in "biuf":
                    raise ValueError(f"array {name!r} holds {a.dtype} values, not numbers")
            if data["Why"].ndim != 2:
                raise ValueError(f"array 'Why' has {data['Why'].ndim} dimensions, not 2")
            s = model._validate()
            params = E.cell_engine(s["cell"]).from_arrays(
                data, dtype=model.dtype, U=_load_table(data, model, data["Why"].shape[0]))
            V, H, O = params.shape
            if V != len(vocab) or O != len(classes) or H != model.hidden_size:
                raise ValueError("weights do not match the vocabulary, classes or hidden size")
            if not params.all_finite():
                raise ValueError("weights contain NaN or infinity")
            if params.Emb is not None:
                info = meta.get("embedding") or {}
                words = info.get("ext_words", [])
                if (not isinstance(words, list) or len(words) != params.Ext.shape[0]
                        or not all(isinstance(w, str) for w in words)):
                    raise ValueError(f"{len(words) if isinstance(words, list) else 'no'} "
                                     f"out-of-vocabulary words for {params.Ext.shape[0]} "
                                     "vectors")
                params.ext_words = words
                params.emb_lowercase = bool(info.get("lowercase", False))
        except KeyError as e:  # a missing array or field: say which, not just its name
            raise ValueError(f"{where} is not a valid fastrnn model file: it has no "
                             f"{e.args[0]!r}") from None
        except (TypeError, ValueError, IndexError, AttributeError) as e:
            raise ValueError(f"{where} is not a valid fastrnn model file: {e}") from None
        model.vocabulary_ = vocab
        model.classes_ = classes
        model.params_ = params
        model.best_epoch_ = meta.get("best_epoch")
        return model
