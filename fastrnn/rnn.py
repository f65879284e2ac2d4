"""``fastrnn.RNN``: a drop-in, faster replacement for the tutorial's ``RNN`` class.

Swap ``from rnn import RNN`` for ``from fastrnn import RNN`` and the tutorial's training loop runs
unchanged, computing the same numbers (``gradient="tutorial"`` by default: the tutorial's
``d_h = Whh @ temp``).  The attributes ``Whh (H, H)``, ``Wxh (H, V)``, ``Why (O, H)``,
``bh (H, 1)`` and ``by (O, 1)`` are plain numpy arrays and are the truth: in-place edits and
reassignment take effect on the next call, as with the tutorial's class.
"""

import numbers

import numpy as np

from . import _engine as E
from . import kernels as K
from .kernels import dropin as DI
from ._validation import (
    check_choice, check_corpus, check_dtype, check_float, check_int, check_labels, check_order,
)

__all__ = ["RNN"]

_GRADIENT_CODES = {g: i for i, g in enumerate(E.GRADIENTS)}  # the kernels' gradient codes


def _onehot_list_ids(seq, shape, V):
    """Word ids of a list of same-shape one-hot ndarrays, ``(V, 1)`` or ``(V,)``, of a real
    dtype: one ``np.concatenate`` and one kernel pass (4-word sentence: 2.8 us, was 16 us).

    Returns None for anything else (mixed shapes or types, bool or complex vectors): the
    general path then converts it or explains the problem.
    """
    if shape == (V, 1):
        columns = True
    elif shape == (V,):
        columns = False
    else:
        return None
    for x in seq:
        if type(x) is not np.ndarray or x.shape != shape:
            return None
    X = np.concatenate(seq, axis=1) if columns else np.concatenate(seq).reshape(len(seq), V)
    if X.dtype != np.float64:
        if X.dtype.kind not in "iuf":
            return None
        X = X.astype(np.float64)  # exact for every value that can equal 0 or 1
    ids = np.empty(len(seq), np.int64)
    bad = DI.onehot_ids(X, columns, ids)
    if bad >= 0:
        raise ValueError(f"input {bad} is not a one-hot vector (exactly one 1, zeros elsewhere); "
                         "fastrnn.RNN takes one-hot vectors or word indices")
    return ids


def _encode_sentence(inputs, V, check_range=True):
    """A sentence as int64 word ids: from one-hot ``(V, 1)``/``(V,)`` vectors or from word ids.

    With ``check_range=False`` the ids' range is left to the caller (the drop-in kernels check
    it before computing anything).
    """
    if type(inputs) is list and inputs:  # the common fast cases
        kind = type(inputs[0])
        if kind is int:
            ids = np.array(inputs)
            if ids.dtype == np.int64 and ids.ndim == 1:
                if check_range and (ids.min() < 0 or ids.max() >= V):
                    return _encode_sentence(ids, V)  # for the error message
                return ids
        elif kind is np.ndarray:
            ids = _onehot_list_ids(inputs, inputs[0].shape, V)
            if ids is not None:
                return ids
    if isinstance(inputs, np.ndarray) and inputs.ndim == 1:
        seq = inputs
    else:
        try:
            seq = list(inputs)
        except TypeError:
            raise TypeError("inputs must be a list of one-hot (input_size, 1) vectors or a "
                            f"1-D sequence of word indices, got {type(inputs).__name__}") from None
    if len(seq) == 0:
        raise ValueError("inputs is empty: a sentence needs at least one word")
    first = seq[0]
    if isinstance(seq, np.ndarray) or isinstance(first, (numbers.Integral, np.integer)):
        ids = np.asarray(seq)
        if ids.dtype == np.bool_ or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"word indices must be integers, got dtype {ids.dtype}")
        if ids.ndim != 1:
            raise ValueError(f"word indices must be 1-D, got shape {ids.shape}")
        if ids.min() < 0:
            raise ValueError(f"word indices must be >= 0, got {ids.min()}")
        if ids.max() >= V:
            raise ValueError(f"word index {ids.max()} is out of range for input_size {V}")
        return ids.astype(np.int64)
    try:
        X = np.stack([np.asarray(x) for x in seq])
    except ValueError:
        raise ValueError("inputs must all have the same shape (input_size, 1)") from None
    if X.shape[1:] not in ((V, 1), (V,)):
        raise ValueError(f"each input must be a one-hot vector of shape ({V}, 1), got "
                         f"{X.shape[1:]}")
    X = X.reshape(len(seq), V)
    if not np.issubdtype(X.dtype, np.number):
        raise TypeError(f"one-hot inputs must be numeric, got dtype {X.dtype}")
    ids = np.argmax(X, axis=1)
    ok = (X[np.arange(len(seq)), ids] == 1) & (np.count_nonzero(X, axis=1) == 1)
    if not ok.all():
        bad = int(np.argmin(ok))
        raise ValueError(f"input {bad} is not a one-hot vector (exactly one 1, zeros elsewhere); "
                         "fastrnn.RNN takes one-hot vectors or word indices")
    return ids.astype(np.int64)


class RNN:
    """A many-to-one vanilla RNN with the tutorial's interface, backed by Numba kernels.

    Parameters
    ----------
    input_size : int
        Vocabulary size V (length of a one-hot input).
    output_size : int
        Number of classes O (>= 1).
    hidden_size : int, default 64
        H.
    gradient : {"tutorial", "exact"}, keyword-only, default "tutorial"
        ``"tutorial"`` back-propagates ``d_h = Whh @ temp`` exactly as the original code does;
        ``"exact"`` uses the true gradient ``Whh.T @ temp``.
    clip : float or None, default 1.0
        Elementwise gradient clip before the update (``None`` disables it).
    seed : None, int or numpy.random.Generator
        ``None`` draws the initial weights from numpy's global random state in the tutorial's
        order (``np.random.seed(k)`` then ``RNN(V, 2)`` gives the tutorial's weights); an int or
        a Generator uses ``numpy.random.default_rng(seed)``.
    dtype : float64 or float32
    """

    def __init__(self, input_size, output_size, hidden_size=64, *, gradient="tutorial",
                 clip=1.0, seed=None, dtype=np.float64):
        V = check_int("input_size", input_size, 1)
        O = check_int("output_size", output_size, 1)
        H = check_int("hidden_size", hidden_size, 1)
        if V * H > 2**31:
            raise ValueError(f"input_size * hidden_size = {V * H} weights is too large")
        self.gradient = gradient
        check_choice("gradient", gradient, E.GRADIENTS)
        self.clip = check_float("clip", clip, positive=True, allow_none=True)
        self.dtype = check_dtype(dtype)
        if seed is not None and not isinstance(seed, np.random.Generator):
            check_int("seed", seed, 0)
        rng = None if seed is None else np.random.default_rng(seed)
        Whh, Wxh, Why = E.init_weights(V, H, O, "tutorial", rng)
        self.Whh = Whh.astype(self.dtype)
        self.Wxh = Wxh.astype(self.dtype)
        self.Why = Why.astype(self.dtype)
        self.bh = np.zeros((H, 1), dtype=self.dtype)
        self.by = np.zeros((O, 1), dtype=self.dtype)
        self._last = None
        self._work = {}
        self._hp = None
        self._checked = None
        self._views = None

    # ---------------------------------------------------------------- attribute checks
    @property
    def input_size(self):
        return self.Wxh.shape[1]

    @property
    def hidden_size(self):
        return self.Whh.shape[0]

    @property
    def output_size(self):
        return self.Why.shape[0]

    def _check_weights(self):
        """The attributes as they are now: right shapes and the RNN's dtype; returns (H, V, O).

        The result is remembered for the very same array objects (shape and dtype cannot change
        in place), so the per-sample calls pay for it only after a reassignment.
        """
        cached = self._checked
        if cached is not None:
            c = cached[0]
            if (c[0] is self.Whh and c[1] is self.Wxh and c[2] is self.Why and c[3] is self.bh
                    and c[4] is self.by):
                return cached[1]
        current = (self.Whh, self.Wxh, self.Why, self.bh, self.by)
        self._checked = None
        self._views = None
        dt = self.dtype
        H = np.shape(self.Whh)[0] if np.ndim(self.Whh) == 2 else None
        V = np.shape(self.Wxh)[1] if np.ndim(self.Wxh) == 2 else None
        O = np.shape(self.Why)[0] if np.ndim(self.Why) == 2 else None
        expected = {"Whh": (H, H), "Wxh": (H, V), "Why": (O, H), "bh": (H, 1), "by": (O, 1)}
        for name, shape in expected.items():
            a = getattr(self, name)
            if not isinstance(a, np.ndarray):
                raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
            if None in shape or a.shape != shape:
                raise ValueError(f"{name} has shape {a.shape}; expected {shape} from Whh "
                                 f"{np.shape(self.Whh)}, Wxh {np.shape(self.Wxh)}, "
                                 f"Why {np.shape(self.Why)}")
            if a.dtype != dt:
                raise TypeError(f"{name} has dtype {a.dtype} but this RNN computes in {dt}; "
                                f"assign {name}.astype(np.{dt.name}) or create the RNN with "
                                f"dtype=np.{a.dtype.name}")
        self._checked = (current, (H, V, O))
        return H, V, O

    def _kernel_arrays(self):
        """C-contiguous views of the attributes (copies only for exotic layouts, written back),
        after checking that they are finite."""
        arrs = self._views
        if arrs is None:
            arrs = {}
            for name in ("Wxh", "Whh", "Why", "bh", "by"):
                a = getattr(self, name)
                k = a.reshape(-1) if name in ("bh", "by") else a
                if not k.flags.c_contiguous or not np.may_share_memory(k, a):
                    k = np.ascontiguousarray(k)
                arrs[name] = k
            if all(np.may_share_memory(k, getattr(self, n)) for n, k in arrs.items()):
                self._views = arrs  # pure views: valid while the attributes are these objects
        else:
            arrs = dict(arrs)
        return arrs

    def _raise_not_finite(self, arrs, dy=None):
        for name, a in arrs.items():
            if not np.isfinite(a).all():
                raise ValueError(f"{name} contains NaN or infinity")
        if dy is not None and not np.isfinite(dy).all():
            raise ValueError("d_y contains NaN or infinity")

    def _check_finite(self):
        arrs = self._kernel_arrays()
        if not DI.all_finite(arrs["Whh"], arrs["Wxh"], arrs["Why"], arrs["bh"], arrs["by"]):
            self._raise_not_finite(arrs)

    def _write_back(self, arrs):
        for name, k in arrs.items():
            a = getattr(self, name)
            if not np.may_share_memory(k, a):
                a[...] = k.reshape(a.shape)

    def _buffers(self, T, H, O):
        w = self._work
        if w.get("H") != H or w.get("O") != O or w["hs"].shape[0] < T + 1:
            n = max(T, 8)
            dt = self.dtype
            w.update(H=H, O=O, hs=np.zeros((n + 1, H), dt), G=np.zeros((n, H), dt),
                     vecs=np.zeros((K.N_VECS, H), dt), amax=np.zeros(H, np.int64),
                     pooled=np.zeros(H, dt), y=np.zeros(O, dt),
                     dWhy=np.zeros((O, H), dt), rows=np.arange(max(H, O), dtype=np.int64),
                     uniq=np.zeros(2 * n, np.int64), local=np.zeros(2 * n, np.int32),
                     sub=np.zeros((n, H), dt), gX=np.zeros((n, H), dt),
                     mark=np.zeros(n, np.int64), counters=np.zeros(2, np.int64),
                     WhhT=np.zeros((H, H), dt), S3=np.zeros((0, 0, 0), dt),
                     Sbh=np.zeros((0, H), dt), Sby=np.zeros((0, O), dt))
            # the kernels' workspace arguments in their order: one tuple lookup per call
            w["fwd"] = tuple(w[k] for k in ("uniq", "local", "sub", "WhhT", "hs", "pooled",
                                            "amax", "y"))
            w["bwd"] = tuple(w[k] for k in ("uniq", "local", "sub", "WhhT", "G", "vecs", "amax",
                                            "y", "counters", "gX", "mark", "dWhy",
                                            "rows", "S3", "S3", "S3", "Sbh", "Sby"))
        return w

    # ---------------------------------------------------------------- the tutorial's API
    def forward(self, inputs):
        """Forward pass: returns ``(y, h)``, the logits ``(O, 1)`` and last hidden state ``(H, 1)``.

        ``inputs`` is the tutorial's list of one-hot ``(input_size, 1)`` vectors, or a 1-D
        sequence of word indices.
        """
        H, V, O = self._check_weights()
        tokens = _encode_sentence(inputs, V, check_range=False)
        T = len(tokens)
        a = self._kernel_arrays()
        w = self._buffers(T, H, O)
        status = DI.dropin_forward(tokens, a["Wxh"], a["Whh"], a["bh"], a["Why"], a["by"],
                                   *w["fwd"])
        if status == 1:
            self._raise_not_finite(a)
        elif status:
            _encode_sentence(tokens, V)  # raises the range error
        # a view: the buffer is rewritten only by the next forward, which replaces _last anyway
        self._last = (inputs, tokens, w["hs"][:T + 1])
        return w["y"].copy().reshape(O, 1), w["hs"][T].copy().reshape(H, 1)

    @property
    def last_inputs(self):
        """The inputs of the last :meth:`forward` call, as the tutorial keeps them."""
        return None if self._last is None else self._last[0]

    @property
    def last_hs(self):
        """The tutorial's ``{t: h_t}`` dict of ``(H, 1)`` hidden states of the last forward."""
        if self._last is None:
            return None
        hs = self._last[2]
        return {t: hs[t].reshape(-1, 1).copy() for t in range(hs.shape[0])}

    def backprop(self, d_y, learn_rate=2e-2):
        """Backward pass through time and a clipped SGD update of all five parameters in place.

        ``d_y`` is ``dL/dy`` with shape ``(O, 1)`` (or ``(O,)``) for the last :meth:`forward`.
        """
        if self._last is None:
            raise RuntimeError("backprop() needs a forward() call first")
        # hyperparameters: the kernels' array is rebuilt only when learn_rate or clip change;
        # an exact float or None equal to the last validated pair needs no new check
        clip = self.clip
        hp = self._hp
        if (hp is None or hp[0] != (learn_rate, clip) or type(learn_rate) is not float
                or (clip is not None and type(clip) is not float)):
            lr = check_float("learn_rate", learn_rate, positive=True)
            clip = check_float("clip", clip, positive=True, allow_none=True)
            hp = self._hp = ((lr, clip), E.hyperparameters(self.dtype, lr, clip))
        H, V, O = self._check_weights()
        dy = d_y if type(d_y) is np.ndarray else np.asarray(d_y)
        if dy.shape != (O, 1) and dy.shape != (O,):
            raise ValueError(f"d_y must have shape ({O}, 1), got {dy.shape}")
        if dy.dtype != self.dtype:
            if dy.dtype.kind not in "fiu":
                raise TypeError(f"d_y must be real numbers, got dtype {dy.dtype}")
            dy = dy.astype(self.dtype)
        dy = dy.reshape(O)
        if not dy.flags.c_contiguous:
            dy = np.ascontiguousarray(dy)
        _, tokens, hs = self._last
        if hs.shape[1] != H:
            raise ValueError("the weights changed shape since forward(); call forward() again")
        w = self._buffers(len(tokens), H, O)
        gradient = self.gradient
        gradient = _GRADIENT_CODES.get(gradient) if type(gradient) is str else None
        if gradient is None:
            check_choice("gradient", self.gradient, E.GRADIENTS)  # raises
        a = self._kernel_arrays()
        ok = DI.dropin_backprop(tokens, a["Wxh"], a["Whh"], a["bh"], a["Why"], a["by"], dy, hs,
                                gradient, hp[1], *w["bwd"])
        if not ok:
            self._raise_not_finite(a, dy)
        if self._views is None:
            self._write_back(a)

    # ---------------------------------------------------------------- fast paths
    def _params(self):
        return E.Params(self.Wxh.T, self.Whh, self.Why, self.bh.reshape(-1), self.by.reshape(-1),
                        dtype=self.dtype)

    def _corpus(self, sentences, V):
        if isinstance(sentences, tuple) and len(sentences) == 2:
            return check_corpus(sentences[0], sentences[1], V)
        sents = [_encode_sentence(s, V) for s in sentences]
        if not sents:
            raise ValueError("no sentences given")
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in sents])]).astype(np.int64)
        return np.concatenate(sents).astype(np.int32), offsets

    def train_epoch(self, sentences, targets, learn_rate=2e-2, order=None):
        """One epoch of the tutorial's per-sample training in a single kernel call.

        Same updates as calling :meth:`forward`, softmax and :meth:`backprop` for each sentence
        in ``order`` (default: as given).  ``sentences`` is a list of sentences (one-hot lists or
        word-index sequences) or a flat ``(tokens, offsets)`` pair; ``targets`` the class indices.
        Returns ``(mean loss, accuracy)`` like the tutorial's ``processData``.
        """
        lr = check_float("learn_rate", learn_rate, positive=True)
        H, V, O = self._check_weights()
        self._check_finite()
        tokens, offsets = self._corpus(sentences, V)
        n = len(offsets) - 1
        labels = check_labels(targets, n, O)
        order = np.arange(n) if order is None else check_order(order, n)
        P = self._params()
        tr = E.Trainer(P, lr=lr, clip=self.clip, gradient=self.gradient, pooling="last")
        loss, correct = tr.epoch(tokens, offsets, labels, order)
        self.Wxh[...] = P.WxhT.T
        self.Whh[...] = P.Whh
        self.Why[...] = P.Why
        self.bh[...] = P.bh.reshape(H, 1)
        self.by[...] = P.by.reshape(O, 1)
        m = max(len(order), 1)
        return loss / m, correct / m

    def predict_proba(self, sentences):
        """Softmax probabilities ``(n, O)`` for many sentences, in parallel."""
        H, V, O = self._check_weights()
        self._check_finite()
        tokens, offsets = self._corpus(sentences, V)
        return E.predict_proba(self._params(), tokens, offsets, "last")

    def __repr__(self):
        return (f"RNN(input_size={self.input_size}, output_size={self.output_size}, "
                f"hidden_size={self.hidden_size}, gradient={self.gradient!r}, "
                f"clip={self.clip}, dtype=np.{self.dtype.name})")
