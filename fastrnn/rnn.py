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
            try:
                ids = np.array(inputs)
            except ValueError:  # ragged: named below
                ids = None
            if ids is not None and ids.dtype == np.int64 and ids.ndim == 1:
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
        if isinstance(inputs, (str, bytes)):
            raise TypeError("inputs must be a list of one-hot (input_size, 1) vectors or a 1-D "
                            f"sequence of word indices, got {type(inputs).__name__} (encode "
                            "the words first)")
        try:
            seq = list(inputs)
        except TypeError:
            raise TypeError("inputs must be a list of one-hot (input_size, 1) vectors or a "
                            f"1-D sequence of word indices, got {type(inputs).__name__}") from None
    if len(seq) == 0:
        raise ValueError("inputs is empty: a sentence needs at least one word")
    first = seq[0]
    if isinstance(first, (numbers.Number, str, bytes)) and not isinstance(
            first, (numbers.Integral, np.integer)):
        raise TypeError(f"word indices must be integers, got {type(first).__name__} "
                        f"{first!r}")
    if isinstance(seq, np.ndarray) or isinstance(first, (numbers.Integral, np.integer)):
        try:
            ids = np.asarray(seq)
        except ValueError:
            raise ValueError("inputs mix word indices with vectors or sequences: give word "
                             "indices only, or one-hot vectors only") from None
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


def _refuse_read_only(rnn):
    """``ValueError`` naming the weights of ``rnn`` that cannot be written, if any (training
    updates them in place; forward and predict need no writable weights)."""
    names = [n for n in ("Whh", "Wxh", "Why", "bh", "by") if not getattr(rnn, n).flags.writeable]
    if not names:
        return names
    raise ValueError(f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} read-only "
                     "(a memory-mapped or broadcast array, or setflags(write=False)): training "
                     "updates the weights in place; assign writable copies, e.g. "
                     f"rnn.{names[0]} = rnn.{names[0]}.copy()")


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
        # aligned copies: a kernel reading a badly placed array runs up to 1.8x slower
        self.Whh = E.aligned_copy(Whh, self.dtype)
        self.Wxh = E.aligned_copy(Wxh, self.dtype)
        self.Why = E.aligned_copy(Why, self.dtype)
        self.bh = E.aligned_zeros((H, 1), self.dtype)
        self.by = E.aligned_zeros((O, 1), self.dtype)
        self._last = None
        self._work = None
        self._hp = None
        self._checked = None
        self._views = None
        self._fast = None

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
            if not isinstance(a, np.ndarray) or isinstance(a, np.matrix):
                # np.matrix breaks the kernels' typing (a memmap, another subclass, is fine)
                got = (f"{type(a).__module__}.{type(a).__name__}" if isinstance(a, np.ndarray)
                       else type(a).__name__)
                raise TypeError(f"{name} must be a numpy array, got {got}")
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
        """The drop-in kernels' workspace ``(H, O, capacity, R, Y, I)`` for sentences of up to
        ``T`` words (see ``kernels.dropin._carve``), reused between calls and grown on demand."""
        w = self._work
        if w is None or w[0] != H or w[1] != O or w[2] < T:
            n = max(T, 8 if w is None or w[0] != H or w[1] != O else 2 * w[2])
            dt = self.dtype
            rows, ints = DI.workspace_sizes(n, H, O)
            R = E.aligned_zeros((rows, H), dt)
            Y = np.zeros((3, O), dt)
            I = np.zeros(ints, np.int64)
            I[DI.F_CAPACITY] = n
            start = DI.N_FLAGS + 2 + H
            I[start:start + max(H, O)] = np.arange(max(H, O))
            w = self._work = (H, O, n, R, Y, I)
        return w

    def _fast_state(self):
        """``(Whh, Wxh, Why, bh, by, kernel weight arrays, (H, V, O))`` for the attributes as
        they are now, checked; remembered while they are the same objects and plain views."""
        H, V, O = self._check_weights()
        a = self._kernel_arrays()
        writable = all(getattr(self, n).flags.writeable
                       for n in ("Whh", "Wxh", "Why", "bh", "by"))
        state = (self.Whh, self.Wxh, self.Why, self.bh, self.by,
                 (a["Wxh"], a["Whh"], a["bh"], a["Why"], a["by"]), (H, V, O), a, writable)
        self._fast = state if self._views is not None else None
        return state

    # ---------------------------------------------------------------- the tutorial's API
    def forward(self, inputs):
        """Forward pass: returns ``(y, h)``, the logits ``(O, 1)`` and last hidden state ``(H, 1)``.

        ``inputs`` is the tutorial's list of one-hot ``(input_size, 1)`` vectors, or a 1-D
        sequence of word indices.
        """
        f = self._fast
        if (f is None or f[0] is not self.Whh or f[1] is not self.Wxh or f[2] is not self.Why
                or f[3] is not self.bh or f[4] is not self.by):
            f = self._fast_state()
        H, V, O = f[6]
        tokens = None
        if type(inputs) is list and inputs:  # the tutorial's inputs: no general dispatch
            kind = type(inputs[0])
            if kind is int:
                try:
                    tokens = np.array(inputs)
                except ValueError:  # ragged: _encode_sentence names the problem
                    tokens = None
                if tokens is not None and (tokens.dtype != np.int64 or tokens.ndim != 1):
                    tokens = None
            elif kind is np.ndarray:
                tokens = _onehot_list_ids(inputs, inputs[0].shape, V)
        if tokens is None:
            tokens = _encode_sentence(inputs, V, check_range=False)
        T = len(tokens)
        w = self._work
        if w is None or w[2] < T or w[0] != H or w[1] != O:
            w = self._buffers(T, H, O)
        dt = self.dtype
        y = np.empty((O, 1), dt)
        h = np.empty((H, 1), dt)
        status = DI.dropin_forward(tokens, *f[5], w[3], w[4], w[5], y, h)
        if status:
            if status == 1:
                self._raise_not_finite(f[7])
            _encode_sentence(tokens, V)  # raises the range error
        self._last = (inputs, tokens, w)
        return y, h

    @property
    def last_inputs(self):
        """The inputs of the last :meth:`forward` call, as the tutorial keeps them."""
        return None if self._last is None else self._last[0]

    @property
    def last_hs(self):
        """The tutorial's ``{t: h_t}`` dict of ``(H, 1)`` hidden states of the last forward."""
        if self._last is None:
            return None
        _, tokens, w = self._last
        hs = w[3][:len(tokens) + 1]  # the first rows of the workspace (kernels.dropin._carve)
        return {t: hs[t].reshape(-1, 1).copy() for t in range(hs.shape[0])}

    def backprop(self, d_y, learn_rate=2e-2):
        """Backward pass through time and a clipped SGD update of all five parameters in place.

        ``d_y`` is ``dL/dy`` with shape ``(O, 1)`` (or ``(O,)``) for the last :meth:`forward`.
        """
        last = self._last
        if last is None:
            raise RuntimeError("backprop() needs a forward() call first")
        # hyperparameters: the kernels' array is rebuilt only when learn_rate or clip change;
        # an exact float or None equal to the last validated pair needs no new check
        clip = self.clip
        hp = self._hp
        if (hp is None or hp[0] != learn_rate or hp[1] != clip or type(learn_rate) is not float
                or (clip is not None and type(clip) is not float)):
            lr = check_float("learn_rate", learn_rate, positive=True)
            clip = check_float("clip", clip, positive=True, allow_none=True)
            hp = self._hp = (lr, clip, E.hyperparameters(self.dtype, lr, clip))
        f = self._fast
        if (f is None or f[0] is not self.Whh or f[1] is not self.Wxh or f[2] is not self.Why
                or f[3] is not self.bh or f[4] is not self.by):
            f = self._fast_state()
        if not f[8]:  # before anything is updated
            _refuse_read_only(self)
        H, V, O = f[6]
        dy = d_y
        if type(dy) is not np.ndarray or dy.shape != (O, 1) or dy.dtype != self.dtype:
            dy = self._check_d_y(d_y, O)
        _, tokens, w = last
        if w[0] != H or w[1] != O:
            raise ValueError("the weights changed shape since forward(); call forward() again")
        gradient = _GRADIENT_CODES.get(self.gradient) if type(self.gradient) is str else None
        if gradient is None:
            check_choice("gradient", self.gradient, E.GRADIENTS)  # raises
        ok = DI.dropin_backprop(tokens, *f[5], dy, gradient, hp[2], w[3], w[4], w[5])
        if not ok:
            self._raise_not_finite(f[7], dy)
        if self._views is None:
            self._write_back(f[7])

    def _check_d_y(self, d_y, O):
        """``d_y`` as an ``(O, 1)`` array of the RNN's dtype, or a clear error."""
        dy = np.asarray(d_y)
        if dy.shape != (O, 1) and dy.shape != (O,):
            raise ValueError(f"d_y must have shape ({O}, 1), got {dy.shape}")
        if dy.dtype.kind not in "fiu":
            raise TypeError(f"d_y must be real numbers, got dtype {dy.dtype}")
        return dy.astype(self.dtype).reshape(O, 1)

    # ---------------------------------------------------------------- fast paths
    def _params(self):
        return E.Params(self.Wxh.T, self.Whh, self.Why, self.bh.reshape(-1), self.by.reshape(-1),
                        dtype=self.dtype)

    def _corpus(self, sentences, V):
        # a tuple of two is the flat (tokens, offsets) pair, as it always was; pass two
        # sentences as a list (zip(*pairs) gives tuples: list() them)
        if isinstance(sentences, tuple) and len(sentences) == 2:
            try:
                return check_corpus(sentences[0], sentences[1], V)
            except (TypeError, ValueError) as e:
                raise type(e)(f"{e} (a tuple of two is read as the flat (tokens, offsets) "
                              "pair; give sentences as a list)") from None
        sents = [_encode_sentence(s, V) for s in sentences]
        if not sents:
            raise ValueError("no sentences given")
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in sents])]).astype(np.int64)
        return np.concatenate(sents).astype(np.int32), offsets

    def train_epoch(self, sentences, targets, learn_rate=2e-2, order=None):
        """One epoch of the tutorial's per-sample training in a single kernel call.

        Same updates as calling :meth:`forward`, softmax and :meth:`backprop` for each sentence
        in ``order`` (default: as given).  ``sentences`` is a list of sentences (one-hot lists or
        word-index sequences) or a flat ``(tokens, offsets)`` pair (a tuple of two: two
        sentences go in a list); ``targets`` the class indices.
        Returns ``(mean loss, accuracy)`` like the tutorial's ``processData``.
        """
        lr = check_float("learn_rate", learn_rate, positive=True)
        H, V, O = self._check_weights()
        self._check_finite()
        _refuse_read_only(self)
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
