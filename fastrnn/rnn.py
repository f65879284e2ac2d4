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
from ._validation import (
    check_choice, check_corpus, check_dtype, check_float, check_int, check_labels, check_order,
)

__all__ = ["RNN"]


def _encode_sentence(inputs, V):
    """A sentence as int32 word ids: from one-hot ``(V, 1)``/``(V,)`` vectors or from word ids."""
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
        return ids.astype(np.int32)
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
    return ids.astype(np.int32)


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
        """The attributes as they are now: right shapes, the RNN's dtype, finite."""
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
            if not np.isfinite(a).all():
                raise ValueError(f"{name} contains NaN or infinity")
        return H, V, O

    def _buffers(self, T, H, O):
        w = self._work
        if w.get("H") != H or w.get("O") != O or w["hs"].shape[0] < T + 1:
            n = max(T, 8)
            dt = self.dtype
            w.update(H=H, O=O, hs=np.zeros((n + 1, H), dt), G=np.zeros((n, H), dt),
                     vecs=np.zeros((K.N_VECS, H), dt), amax=np.zeros(H, np.int64),
                     pooled=np.zeros(H, dt), y=np.zeros(O, dt), dWhh=np.zeros((H, H), dt),
                     dWhy=np.zeros((O, H), dt), rows=np.arange(max(H, O), dtype=np.int64),
                     uniq=np.zeros(n, np.int64), counters=np.zeros(2, np.int64))
        return w

    # ---------------------------------------------------------------- the tutorial's API
    def forward(self, inputs):
        """Forward pass: returns ``(y, h)``, the logits ``(O, 1)`` and last hidden state ``(H, 1)``.

        ``inputs`` is the tutorial's list of one-hot ``(input_size, 1)`` vectors, or a 1-D
        sequence of word indices.
        """
        H, V, O = self._check_weights()
        tokens = _encode_sentence(inputs, V)
        T = len(tokens)
        w = self._buffers(T, H, O)
        # only the sentence's input columns, as rows: the cost does not grow with V
        uniq, local = np.unique(tokens, return_inverse=True)
        sub = np.ascontiguousarray(self.Wxh[:, uniq].T)
        WhhT = np.ascontiguousarray(self.Whh.T)
        K.forward(local.astype(np.int32), sub, WhhT, self.bh.reshape(-1), self.Why,
                  self.by.reshape(-1), K.POOL_LAST, w["hs"], w["pooled"], w["amax"], w["y"])
        self._last = (inputs, tokens, w["hs"][:T + 1].copy())
        return w["y"].reshape(O, 1).copy(), w["hs"][T].reshape(H, 1).copy()

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
        lr = check_float("learn_rate", learn_rate, positive=True)
        H, V, O = self._check_weights()
        dy = np.asarray(d_y)
        if dy.shape not in ((O, 1), (O,)):
            raise ValueError(f"d_y must have shape ({O}, 1), got {dy.shape}")
        if not np.issubdtype(dy.dtype, np.number) or np.iscomplexobj(dy):
            raise TypeError(f"d_y must be real numbers, got dtype {dy.dtype}")
        if not np.isfinite(dy).all():
            raise ValueError("d_y contains NaN or infinity")
        _, tokens, hs = self._last
        if hs.shape[1] != H:
            raise ValueError("the weights changed shape since forward(); call forward() again")
        T = len(tokens)
        w = self._buffers(T, H, O)
        dy = np.ascontiguousarray(dy.reshape(O), dtype=self.dtype)
        uniq, local = np.unique(tokens, return_inverse=True)
        local = local.astype(np.int32)
        sub = np.ascontiguousarray(self.Wxh[:, uniq].T)
        Whh = self.Whh if self.Whh.flags.c_contiguous else np.ascontiguousarray(self.Whh)
        Why = self.Why if self.Why.flags.c_contiguous else np.ascontiguousarray(self.Why)
        WhhT = np.ascontiguousarray(Whh.T)
        bh = np.ascontiguousarray(self.bh.reshape(H))
        by = np.ascontiguousarray(self.by.reshape(O))
        pooled = np.ascontiguousarray(hs[T])
        G, vecs = w["G"], w["vecs"]
        K.backward_steps(T, hs, w["amax"], Whh, WhhT, Why, dy, K.POOL_LAST,
                         E.GRADIENTS.index(self.gradient), G, vecs)
        U = len(uniq)
        gX = np.zeros((U, H), self.dtype)
        mark = np.zeros(U, np.int64)
        empty = np.zeros((0,) + (0, 0), self.dtype)
        hp = E.hyperparameters(self.dtype, lr, self.clip)
        K.apply_update(local, hs, pooled, G, dy, sub, Whh, WhhT, Why, bh, by,
                       empty, empty, empty, np.zeros((0, H), self.dtype),
                       np.zeros((0, O), self.dtype), hp, K.OPT_SGD, w["counters"], gX, mark,
                       vecs, w["y"], w["dWhh"], w["dWhy"], w["rows"], w["uniq"])
        # write back in place, so references the caller holds see the update
        self.Wxh[:, uniq] = sub.T
        if Whh is not self.Whh:
            self.Whh[...] = Whh
        if Why is not self.Why:
            self.Why[...] = Why
        self.bh[...] = bh.reshape(H, 1)
        self.by[...] = by.reshape(O, 1)

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
        tokens, offsets = self._corpus(sentences, V)
        return E.predict_proba(self._params(), tokens, offsets, "last")

    def __repr__(self):
        return (f"RNN(input_size={self.input_size}, output_size={self.output_size}, "
                f"hidden_size={self.hidden_size}, gradient={self.gradient!r}, "
                f"clip={self.clip}, dtype=np.{self.dtype.name})")
