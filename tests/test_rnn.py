"""The drop-in ``fastrnn.RNN``: the tutorial's interface, the tutorial's numbers, clear errors."""

import random

import numpy as np
import pytest

from fastrnn import RNN
from fastrnn import reference as R

from conftest import TOLERANCES

TRAIN = {"good": 1, "bad": 0, "not good": 0, "not bad": 1, "i am very happy": 1,
         "this is not sad": 1, "i am sad": 0, "this is very bad": 0, "good good": 1}
WORDS = sorted({w for t in TRAIN for w in t.split()})
V = len(WORDS)


def one_hot(text):
    out = []
    for w in text.split():
        v = np.zeros((V, 1))
        v[WORDS.index(w)] = 1
        out.append(v)
    return out


def softmax(y):
    e = np.exp(y - y.max())
    return e / e.sum()


def tutorial_loop(rnn, epochs, seed):
    """The tutorial's training loop (shuffle, forward, softmax, loss, d_y = p - 1_c, backprop)."""
    rnd = random.Random(seed)
    items = list(TRAIN.items())
    orders = []
    for _ in range(epochs):
        rnd.shuffle(items)
        orders.append([list(TRAIN).index(x) for x, _ in items])
        loss, correct = 0.0, 0
        for x, c in items:
            out, _ = rnn.forward(one_hot(x))
            probs = softmax(out)
            loss -= float(np.log(probs[c, 0]))
            correct += int(np.argmax(probs) == c)
            d_y = probs
            d_y[c] -= 1
            rnn.backprop(d_y)
    return orders, loss / len(items), correct / len(items)


def reference_run(W, orders, gradient="tutorial"):
    tokens = np.concatenate([[WORDS.index(w) for w in t.split()] for t in TRAIN]).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(t.split()) for t in TRAIN])])
    labels = np.array(list(TRAIN.values()))
    P = {"WxhT": W["Wxh"].T.copy(), "Whh": W["Whh"].copy(), "Why": W["Why"].copy(),
         "bh": W["bh"].ravel().copy(), "by": W["by"].ravel().copy()}
    st = R.init_optimizer_state("sgd", *P.values())
    for order in orders:
        R.train_epoch(tokens, offsets, labels, np.array(order), P, st, lr=0.02, clip=1.0,
                      gradient=gradient, dense=True)
    return P


def weights(rnn):
    return {k: getattr(rnn, k).copy() for k in ("Whh", "Wxh", "Why", "bh", "by")}


def test_global_seed_gives_the_tutorials_initial_weights():
    np.random.seed(7)
    rnn = RNN(V, 2)
    np.random.seed(7)
    Whh = np.random.randn(64, 64) / 1000
    Wxh = np.random.randn(64, V) / 1000
    Why = np.random.randn(2, 64) / 1000
    np.testing.assert_array_equal(rnn.Whh, Whh)
    np.testing.assert_array_equal(rnn.Wxh, Wxh)
    np.testing.assert_array_equal(rnn.Why, Why)
    assert rnn.bh.shape == (64, 1) and rnn.by.shape == (2, 1) and not rnn.bh.any()


def test_seed_uses_a_generator_and_leaves_global_state_alone():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    a, b = RNN(V, 2, seed=3), RNN(V, 2, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a.Whh, b.Whh)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    assert not np.array_equal(a.Whh, RNN(V, 2, seed=4).Whh)


@pytest.mark.parametrize("gradient", ["tutorial", "exact"])
def test_tutorial_loop_matches_reference(gradient):
    """50 epochs of the tutorial's loop through fastrnn.RNN vs the numpy reference, same order."""
    rnn = RNN(V, 2, seed=0, gradient=gradient)
    W0 = weights(rnn)
    orders, loss, acc = tutorial_loop(rnn, 50, seed=1)
    P = reference_run(W0, orders, gradient)
    tol = TOLERANCES["epochs"][np.float64]  # ~2,900 float64 updates
    np.testing.assert_allclose(rnn.Wxh, P["WxhT"].T, **tol)
    np.testing.assert_allclose(rnn.Whh, P["Whh"], **tol)
    np.testing.assert_allclose(rnn.Why, P["Why"], **tol)
    np.testing.assert_allclose(rnn.bh.ravel(), P["bh"], **tol)
    np.testing.assert_allclose(rnn.by.ravel(), P["by"], **tol)


def test_train_epoch_equals_per_sample_calls():
    a, b = RNN(V, 2, seed=5), RNN(V, 2, seed=5)
    sents = [[WORDS.index(w) for w in t.split()] for t in TRAIN]
    labels = list(TRAIN.values())
    order = np.array([3, 1, 0, 2, 8, 7, 6, 5, 4])
    for _ in range(3):
        a.train_epoch(sents, labels, order=order)
        for s in order:
            out, _ = b.forward(sents[s])
            p = softmax(out)
            p[labels[s]] -= 1
            b.backprop(p)
    for k in ("Whh", "Wxh", "Why", "bh", "by"):
        np.testing.assert_allclose(getattr(a, k), getattr(b, k), **TOLERANCES["step"][np.float64])


def test_indices_and_one_hot_inputs_agree():
    rnn = RNN(V, 3, hidden_size=5, seed=1)
    y1, h1 = rnn.forward(one_hot("i am very happy"))
    y2, h2 = rnn.forward([WORDS.index(w) for w in "i am very happy".split()])
    assert y1.shape == (3, 1) and h1.shape == (5, 1)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(h1, h2)
    assert len(rnn.last_hs) == 5 and rnn.last_hs[0].shape == (5, 1)


def test_attributes_are_the_truth():
    rnn = RNN(V, 2, seed=0)
    x = [0, 1]
    y0, _ = rnn.forward(x)
    rnn.by[1, 0] += 1.0  # in-place edit
    y1, _ = rnn.forward(x)
    assert y1[1, 0] == pytest.approx(y0[1, 0] + 1.0)
    rnn.Why = np.zeros((2, 64))  # reassignment
    y2, _ = rnn.forward(x)
    np.testing.assert_array_equal(y2.ravel(), rnn.by.ravel())
    held = rnn.Wxh
    rnn.backprop(np.array([[0.5], [-0.5]]))
    assert held is rnn.Wxh  # updated in place, like the tutorial's -=


def test_clip_and_gradient_attributes_take_effect():
    a, b = RNN(V, 2, seed=0), RNN(V, 2, seed=0)
    d = np.array([[50.0], [-50.0]])  # large enough that clipping matters
    for rnn in (a, b):
        rnn.forward([0, 1, 2])
        rnn.backprop(d)
    np.testing.assert_array_equal(a.by, b.by)
    b.clip = None  # dby = d_y = +-50 is no longer clipped to +-1
    for rnn in (a, b):
        rnn.forward([0, 1, 2])
        rnn.backprop(d)
    np.testing.assert_allclose(a.by - b.by, [[0.98], [-0.98]])
    b.gradient = "wrong"
    b.forward([0])
    with pytest.raises(ValueError, match="gradient"):
        b.backprop(d)


def test_float32():
    rnn = RNN(V, 2, seed=0, dtype=np.float32)
    assert rnn.Whh.dtype == np.float32
    out, h = rnn.forward([0, 1, 2])
    assert out.dtype == np.float32
    rnn.backprop(np.array([0.3, -0.3]))
    assert rnn.Wxh.dtype == np.float32


@pytest.mark.parametrize("inputs,exc,match", [
    ([], ValueError, "empty"),
    ([0, V], ValueError, "out of range"),
    ([-1], ValueError, ">= 0"),
    (np.array([0.5, 1.0]), TypeError, "integers"),
    ([np.ones((V, 1))], ValueError, "not a one-hot"),
    ([np.zeros((V + 1, 1))], ValueError, "shape"),
    (5, TypeError, "list of one-hot"),
    ("good film", TypeError, r"got str \(encode the words first\)"),
    ([0.5, 1.0], TypeError, "word indices must be integers, got float 0.5"),
    ([0, np.eye(V)[:, :1]], ValueError, "inputs mix word indices with vectors"),
    ([0, [1, 2]], ValueError, "inputs mix word indices with vectors"),
])
def test_bad_inputs(inputs, exc, match):
    with pytest.raises(exc, match=match):
        RNN(V, 2, seed=0).forward(inputs)


def test_bad_weights_and_gradients():
    rnn = RNN(V, 2, seed=0)
    with pytest.raises(RuntimeError, match="forward"):
        rnn.backprop(np.zeros((2, 1)))
    rnn.forward([0])
    with pytest.raises(ValueError, match="shape"):
        rnn.backprop(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="NaN"):
        rnn.backprop(np.array([[np.nan], [0]]))
    for lr in (0, -1, np.inf, np.nan):
        with pytest.raises(ValueError, match="learn_rate"):
            rnn.backprop(np.zeros((2, 1)), learn_rate=lr)
    rnn.Whh[0, 0] = np.inf
    with pytest.raises(ValueError, match="Whh contains NaN"):
        rnn.forward([0])
    rnn.Whh = np.zeros((64, 64), dtype=np.float32)
    with pytest.raises(TypeError, match="dtype float32"):
        rnn.forward([0])
    rnn.Whh = np.zeros((5, 5))
    with pytest.raises(ValueError, match="shape"):
        rnn.forward([0])


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(input_size=0, output_size=2), ValueError, "input_size"),
    (dict(input_size=3, output_size=2, hidden_size=2.5), TypeError, "hidden_size"),
    (dict(input_size=3, output_size=2, gradient="true"), ValueError, "gradient"),
    (dict(input_size=3, output_size=2, clip=-1), ValueError, "clip"),
    (dict(input_size=3, output_size=2, dtype=np.int32), TypeError, "dtype"),
])
def test_bad_constructor_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        RNN(**kwargs)


@pytest.mark.parametrize("corpus,targets,order,exc,match", [
    ((np.array([0, 1, 2]), np.array([0, 1, 3])), [0, 1], None, None, None),
    ((np.array([0, 1, V]), np.array([0, 1, 3])), [0, 1], None, ValueError, "out of range"),
    ((np.array([0, -1, 2]), np.array([0, 1, 3])), [0, 1], None, ValueError, ">= 0"),
    ((np.array([0.0, 1.0]), np.array([0, 1, 2])), [0, 1], None, TypeError, "integers"),
    ((np.array([0, 1, 2]), np.array([0, 1, 1, 3])), [0, 1, 1], None, ValueError, "empty"),
    ((np.array([0, 1, 2]), np.array([0, 1, 2])), [0, 1], None, ValueError, "end at"),
    ((np.array([0, 1, 2]), np.array([0, 1, 3])), [0, 2], None, ValueError, "class indices"),
    ((np.array([0, 1, 2]), np.array([0, 1, 3])), [0], None, ValueError, "one per sentence"),
    ((np.array([0, 1, 2]), np.array([0, 1, 3])), [0, 1], [0, 2], ValueError, "order"),
    ((np.array([0, 1, 2]), np.array([0, 1, 3])), [0, 1], [0.5], TypeError, "order"),
])
def test_flat_corpus_checks(corpus, targets, order, exc, match):
    """Everything a kernel indexes with is checked in Python first (kernels do not bounds-check)."""
    rnn = RNN(V, 2, seed=0)
    before = rnn.Whh.copy()
    if exc is None:
        loss, acc = rnn.train_epoch(corpus, targets, order=order)
        assert np.isfinite(loss) and 0 <= acc <= 1
        return
    with pytest.raises(exc, match=match):
        rnn.train_epoch(corpus, targets, order=order)
    np.testing.assert_array_equal(rnn.Whh, before)  # nothing ran


def _vectors(ids, shape, dtype):
    out = []
    for i in ids:
        v = np.zeros(shape, dtype)
        v[i] = 1
        out.append(v)
    return out


@pytest.mark.parametrize("shape", [(V, 1), (V,)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.uint8])
def test_one_hot_forms_give_the_same_ids(shape, dtype):
    """The fast one-hot conversion (one concatenate + a kernel pass) for every real dtype."""
    ids = [4, 0, V - 1, 4, 7]
    rnn = RNN(V, 2, seed=3)
    y_ids, h_ids = rnn.forward(ids)
    y, h = rnn.forward(_vectors(ids, shape, dtype))
    np.testing.assert_array_equal(y, y_ids)
    np.testing.assert_array_equal(h, h_ids)
    y, h = rnn.forward([v.tolist() for v in _vectors(ids, shape, dtype)])  # general path
    np.testing.assert_array_equal(y, y_ids)


@pytest.mark.parametrize("edit,exc,match", [
    (lambda xs: xs[2].__setitem__(0, 1.0), ValueError, "input 2 is not a one-hot"),  # two 1s
    (lambda xs: xs[1].__setitem__(1, 0.0), ValueError, "input 1 is not a one-hot"),  # no 1
    (lambda xs: xs[0].__setitem__(5, np.nan), ValueError, "input 0 is not a one-hot"),
    (lambda xs: xs[3].__setitem__(slice(None), 2.0 * xs[3]), ValueError, "input 3 is not"),
    (lambda xs: xs.__setitem__(1, xs[1].ravel()), ValueError, "same shape"),
    (lambda xs: xs.__setitem__(slice(None), [x.astype(bool) for x in xs]), TypeError, "numeric"),
])
def test_bad_one_hot_inputs(edit, exc, match):
    xs = _vectors([1, 1, 2, 3], (V, 1), np.float64)
    edit(xs)
    rnn = RNN(V, 2, seed=0)
    with pytest.raises(exc, match=match):
        rnn.forward(xs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropin_all_finite_sees_every_entry(dtype):
    """The vectorised finiteness check, with a C-contiguous and a strided ``Wxh``."""
    from fastrnn.kernels.dropin import all_finite
    rng = np.random.default_rng(0)
    H = 13  # not a multiple of any vector width: the loops' remainders are checked too
    base = [rng.normal(size=s).astype(dtype) for s in ((H, H), (H, V), (2, H), (H,), (2,))]
    for strided in (False, True):
        arrs = list(base)
        if strided:
            arrs[1] = np.ascontiguousarray(base[1].T).T  # same values, Fortran order
        assert all_finite(*arrs)
        for k in range(5):
            for flat in (0, arrs[k].size // 2, arrs[k].size - 1):
                for bad in (np.nan, np.inf, -np.inf):
                    a = [x.copy(order="K") for x in arrs]
                    a[k][np.unravel_index(flat, a[k].shape)] = bad
                    assert not all_finite(*a), (strided, k, flat, bad)


def test_per_sample_checks_read_only_the_sentences_columns():
    """forward/backprop check what they read: a NaN in an unused ``Wxh`` column changes nothing
    (so the per-call cost does not grow with the vocabulary); in a used column it is refused."""
    big = 5000
    a, b = RNN(big, 2, seed=2), RNN(big, 2, seed=2)
    b.Wxh[:, 4321] = np.nan
    ids = [1, 7, 1, 42]
    for rnn in (a, b):
        rnn.forward(ids)
        rnn.backprop(np.array([[0.4], [-0.4]]))
    ya, _ = a.forward(ids)
    yb, _ = b.forward(ids)
    np.testing.assert_array_equal(ya, yb)
    assert np.isnan(b.Wxh[:, 4321]).all()
    np.testing.assert_array_equal(np.delete(a.Wxh, 4321, axis=1), np.delete(b.Wxh, 4321, axis=1))
    before = b.Whh.copy()
    with pytest.raises(ValueError, match="Wxh contains NaN"):
        b.forward([3, 4321])
    b.forward(ids)
    b.Wxh[0, 7] = np.inf  # between forward and backprop, in a column the sentence uses
    with pytest.raises(ValueError, match="Wxh contains NaN or inf"):
        b.backprop(np.array([[0.4], [-0.4]]))
    np.testing.assert_array_equal(b.Whh, before)
    with pytest.raises(ValueError, match="Wxh contains NaN"):
        b.train_epoch([ids], [0])  # the whole-corpus path checks every column


@pytest.mark.parametrize("gradient", ["tutorial", "exact"])
def test_whh_edits_between_calls_take_effect(gradient):
    """The kernels keep ``Whh.T`` between calls and compare ``Whh`` with a snapshot of its bits:
    an in-place edit (even 0.0 -> -0.0) before forward or between forward and backprop is
    used, exactly as a reassignment of the same values is."""
    a = RNN(V, 2, seed=5, gradient=gradient)
    b = RNN(V, 2, seed=5, gradient=gradient)
    d = np.array([[0.3], [-0.3]])
    for rnn in (a, b):
        rnn.forward([1, 2, 3])
        rnn.backprop(d)
    edited = a.Whh.copy()
    edited[3, 7] += 0.25
    a.Whh[3, 7] += 0.25  # in place: the same object
    b.Whh = edited.copy()  # reassigned
    for rnn in (a, b):
        rnn.forward([4, 5, 4])
    a.Whh[0, 1] = -0.0 if a.Whh[0, 1] == 0 else -a.Whh[0, 1]  # between forward and backprop
    b.Whh = b.Whh.copy()  # reassigned again: the in-place edit of a is the one under test
    b.Whh[0, 1] = a.Whh[0, 1]
    for rnn in (a, b):
        rnn.backprop(d)
    for k in ("Whh", "Wxh", "Why", "bh", "by"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    ya, ha = a.forward([0, 6])
    yb, hb = b.forward([0, 6])
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(ha, hb)
    c = RNN(V, 2, seed=5, gradient=gradient)  # a fresh RNN given the same weights agrees
    for k in ("Whh", "Wxh", "Why", "bh", "by"):
        setattr(c, k, getattr(a, k).copy())
    yc, hc = c.forward([0, 6])
    np.testing.assert_array_equal(yc, ya)
    np.testing.assert_array_equal(hc, ha)


def test_a_tuple_of_two_is_the_flat_pair_and_its_errors_say_so():
    """A tuple of two is the flat (tokens, offsets) pair, lists or arrays (as before); when it
    does not fit, the error says how it was read: two sentences go in a list."""
    a, b = RNN(6, 2, 4, seed=0), RNN(6, 2, 4, seed=0)
    np.testing.assert_array_equal(a.predict_proba(([1, 2, 3, 4], [0, 1, 4])),
                                  b.predict_proba([[1], [2, 3, 4]]))
    with pytest.raises(ValueError, match=r"read as the flat \(tokens, offsets\) pair; give "
                                         r"sentences as a list"):
        a.predict_proba(([4, 5], [0, 1, 3]))  # two sentences in a tuple


@pytest.mark.parametrize("name", ["Whh", "Wxh", "bh"])
def test_read_only_weights_are_refused_before_any_update(name):
    """A read-only weight (memory-mapped, broadcast, setflags(write=False)) is a ValueError
    naming it before anything changes; it was a Numba TypingError, or numpy's error after the
    other weights had been updated.  forward and predict_proba need no writable weights."""
    rnn = RNN(6, 2, 4, seed=0)
    ro = getattr(rnn, name).copy()
    ro.setflags(write=False)
    setattr(rnn, name, ro)
    rnn.forward([1, 2])
    rnn.predict_proba([[1, 2]])
    before = {n: getattr(rnn, n).copy() for n in ("Whh", "Wxh", "Why", "bh", "by")}
    for call in (lambda: rnn.backprop(np.ones((2, 1))), lambda: rnn.train_epoch([[1, 2]], [0])):
        with pytest.raises(ValueError, match=f"{name} is read-only"):
            call()
        for n, v in before.items():
            np.testing.assert_array_equal(getattr(rnn, n), v)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # numpy's about np.matrix
def test_a_numpy_matrix_weight_is_named():
    rnn = RNN(6, 2, 4, seed=0)
    rnn.bh = np.asmatrix(rnn.bh)
    with pytest.raises(TypeError, match="bh must be a numpy array, got numpy.matrix"):
        rnn.forward([1, 2])
