"""GRU and LSTM cells: sigmoid, reference gradients, kernels vs reference, PyTorch equivalence.

Tolerances (measured, then given headroom):

* ``sigmoid_scalar``: <= 3 ulp in float64 against ``1 / (1 + exp(-x))`` in ``np.longdouble``
  (x87 extended precision; measured max 2.16 ulp) and <= 1 ulp in float32 (computed in
  float64 and rounded once; measured 0.5); exact at +-0, +-inf, NaN.
* ``reference_gated.loss_and_grad`` vs central finite differences (step 1e-6, float64): <= 1e-6
  relative to the largest gradient entry of each parameter (measured <= ~5e-9).
* kernels vs the numpy reference, after every step and after 3 epochs: float64 ``rtol=1e-9``
  (measured <= 8e-13 relative to ``|w| + 1e-3``); float32 ``rtol=atol=2e-4`` (measured
  <= 8.3e-5 relative to ``|w| + 1e-3`` after 3 epochs: the kernels compute
  sigmoid/tanh in float64 and round, numpy in float32, ~1 ulp per gate, grown by training).
* PyTorch (float64, optional): probabilities <= 1e-10 absolute, gradients <= 1e-10 relative.
"""

import re

import numpy as np
import pytest
from numba import njit

from conftest import make_corpus

from fastrnn import _gated_engine as GE
from fastrnn import reference_gated as RG
from fastrnn.kernels import gated as KG

GATED = ("gru", "lstm")
POOLINGS = ("last", "mean", "max")
OPTIMIZERS = ("sgd", "adagrad", "adam")
KTOL = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-4)}


# --------------------------------------------------------------------------------------------
# sigmoid
# --------------------------------------------------------------------------------------------
def kernel_sigmoid(x):
    a = np.array(x, copy=True).reshape(1, -1)
    KG.sigmoid_rows(a, 0, 1)
    return a.ravel()


def exact_sigmoid(x):
    xl = np.asarray(x, dtype=np.longdouble)
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-xl))


def ulps(got, want, dtype):
    """|got - want| in units of the last place of ``want`` rounded to ``dtype``."""
    w = want.astype(dtype)
    spacing = np.spacing(np.abs(w)).astype(np.longdouble)
    tiny = np.finfo(dtype).smallest_subnormal
    return np.abs(got.astype(np.longdouble) - want) / np.maximum(spacing, tiny)


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18,
                    reason="np.longdouble is not extended precision on this platform")
def test_sigmoid_ulp_float64():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 20000), rng.normal(0, 10, 20000),
                        rng.uniform(-745, 40, 20000), rng.uniform(-1e-6, 1e-6, 2000),
                        np.linspace(-750, 750, 20001), [1e-300, -1e-300, 5e-324, 36.0, 37.5]])
    err = ulps(kernel_sigmoid(x), exact_sigmoid(x), np.float64)
    assert err.max() <= 3, f"max {err.max():.2f} ulp at x = {x[np.argmax(err)]!r}"


def test_sigmoid_ulp_float32():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, 20000), rng.normal(0, 10, 20000),
                        np.linspace(-104, 90, 20001)]).astype(np.float32)
    got = kernel_sigmoid(x)
    assert got.dtype == np.float32
    err = ulps(got, exact_sigmoid(x.astype(np.float64)), np.float32)
    assert err.max() <= 1, f"max {err.max():.2f} ulp at x = {x[np.argmax(err)]!r}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_sigmoid_edges(dtype):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 800.0, -800.0], dtype=dtype)
    got = kernel_sigmoid(x)
    assert got[0] == 0.5 and got[1] == 0.5
    assert got[2] == 1.0 and got[3] == 0.0
    assert np.isnan(got[4])
    assert got[5] == 1.0 and got[6] == 0.0


def test_sigmoid_vectorises():
    # a fresh, uncached compilation: numba cannot show the assembly of cached code
    kernel = njit(error_model="numpy", nogil=True)(KG.sigmoid_rows.py_func)
    x = np.linspace(-5, 5, 64).reshape(1, -1)
    kernel(x, 0, 1)
    asm = "\n".join(kernel.inspect_asm().values())
    assert re.search(r"\bv?(mul|fmadd\w*|add)pd\b", asm), "no packed float64 arithmetic"
    assert not re.search(r"call\w*\s+\S*(exp|tanh)", asm), "a libm call left in the loop"


# --------------------------------------------------------------------------------------------
# reference gradients vs finite differences
# --------------------------------------------------------------------------------------------
def random_params(cell, V, H, O, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    if cell == "tanh":
        P = dict(WxhT=rng.normal(0, 0.5, (V, H)), Whh=rng.normal(0, 0.4, (H, H)),
                 Why=rng.normal(0, 0.5, (O, H)), bh=rng.normal(0, 0.1, H),
                 by=rng.normal(0, 0.1, O))
    else:
        GH = RG.GATES[cell] * H
        P = dict(WxhT=rng.normal(0, 0.5, (V, GH)), Whh=rng.normal(0, 0.4, (GH, H)),
                 bih=rng.normal(0, 0.2, GH), bhh=rng.normal(0, 0.2, GH),
                 Why=rng.normal(0, 0.5, (O, H)), by=rng.normal(0, 0.1, O))
    return {k: v.astype(dtype) for k, v in P.items()}


SENTENCES = {"one-word": [3], "repeated": [2, 2, 5, 2, 2], "general": [1, 4, 0, 6, 3, 3, 5]}


@pytest.mark.parametrize("sentence", list(SENTENCES))
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell", RG.CELLS)
def test_loss_and_grad_finite_differences(cell, pooling, sentence):
    V, H, O = 7, 4, 3
    P = random_params(cell, V, H, O, seed=len(sentence))
    tokens = np.array(SENTENCES[sentence])
    label = 2
    loss, grads = RG.loss_and_grad(P, tokens, label, cell=cell, pooling=pooling)
    assert set(grads) == set(RG.PARAM_NAMES[cell])
    eps = 1e-6
    for name, a in P.items():
        assert grads[name].shape == a.shape
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            lp = RG.loss_and_grad(P, tokens, label, cell=cell, pooling=pooling)[0]
            a[idx] = old - eps
            lm = RG.loss_and_grad(P, tokens, label, cell=cell, pooling=pooling)[0]
            a[idx] = old
            num[idx] = (lp - lm) / (2 * eps)
        scale = max(np.abs(num).max(), 1e-8)
        err = np.abs(num - grads[name]).max() / scale
        assert err <= 1e-6, f"{cell} {pooling} {sentence} d{name}: {err:.2e} relative"


def test_loss_and_grad_bad_input():
    P = random_params("gru", 5, 3, 2)
    with pytest.raises(ValueError, match="cell"):
        RG.loss_and_grad(P, [1], 0, cell="rnn")
    with pytest.raises(ValueError, match="pooling"):
        RG.loss_and_grad(P, [1], 0, cell="gru", pooling="sum")
    with pytest.raises(ValueError, match="lack"):
        RG.loss_and_grad(P, [1], 0, cell="tanh")
    with pytest.raises(ValueError, match="tokens"):
        RG.loss_and_grad(P, [], 0, cell="gru")


# --------------------------------------------------------------------------------------------
# kernels vs reference
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_backward_matvec_helpers(dtype):
    """``matTvec_rows`` (float64's ``Whh.T @ g`` as dots over ``WhhT`` rows, reassociated) and
    ``matvec_add`` over ``Whh`` rows (float32's) both add ``Whh.T @ g``: <= 1e-13 (f64) /
    1e-5 (f32) relative to ``|Whh.T| @ |g|`` (the rounding scale of any summation order)."""
    rng = np.random.default_rng(3)
    for H, G in ((1, 3), (5, 4), (7, 3), (32, 4)):
        Whh = rng.standard_normal((G * H, H)).astype(dtype)
        WhhT = np.ascontiguousarray(Whh.T)
        g = rng.standard_normal((3, G * H)).astype(dtype)
        want = 0.5 + Whh.T.astype(np.float64) @ g[1].astype(np.float64)
        scale = 1 + np.abs(Whh.T).astype(np.float64) @ np.abs(g[1]).astype(np.float64)
        tol = 1e-13 if dtype == np.float64 else 1e-5
        for fn, M in ((KG.matTvec_rows, WhhT), (KG.matvec_add, Whh)):
            out = np.full((2, G * H), 0.5, dtype=dtype)
            fn(out, 1, M, g, 1)
            assert np.all(np.abs(out[1, :H] - want) <= tol * scale), (fn, H, G)
            assert np.all(out[0] == 0.5) and np.all(out[1, H:] == 0.5)


# --------------------------------------------------------------------------------------------
#: (pooling, clip, clip_norm, weight_decay, H, V): every pooling, both clip modes (biting),
#: H in {1, 5, 9, 32}, a small and a large vocabulary.
CONFIGS = [
    ("last", 0.05, None, 0.0, 1, 6),
    ("mean", 1.0, 0.3, 1e-2, 5, 500),
    ("max", 0.02, None, 1e-3, 9, 11),
    ("mean", None, 0.5, 0.0, 32, 3000),
    ("last", 0.1, 2.0, 1e-2, 32, 40),
]


def config_id(c):
    return "%s-clip%s-norm%s-wd%s-H%d-V%d" % c


def make_pair(cell, optimizer, dtype, pooling, clip, clip_norm, wd, H, V, O=3, seed=0):
    rng = np.random.default_rng(seed)
    P = GE.GatedParams.initial(V, H, O, cell, init="pytorch", rng=rng, dtype=dtype)
    P.WxhT[...] *= 3  # larger inputs: every gate term matters
    kw = dict(lr=0.05 if optimizer == "sgd" else 0.02, clip=clip, clip_norm=clip_norm,
              weight_decay=wd, optimizer=optimizer, pooling=pooling)
    tr = GE.GatedTrainer(P, **kw)
    R = P.as_dict()
    S = RG.init_optimizer_state(optimizer, R, cell)
    return tr, R, S, kw


def assert_same(P, R, dtype, what):
    for name in P.names:
        np.testing.assert_allclose(getattr(P, name), R[name], err_msg=f"{what} {name}",
                                   **KTOL[dtype])
    np.testing.assert_array_equal(P.WhhT, P.Whh.T, err_msg=f"{what} WhhT")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("cell", GATED)
def test_kernel_matches_reference(cell, optimizer, dtype):
    for conf in CONFIGS:
        pooling, clip, clip_norm, wd, H, V = conf
        what = f"{cell} {optimizer} {np.dtype(dtype).name} {config_id(conf)}"
        tokens, offsets, labels = make_corpus(n=12, V=V, min_len=1, max_len=9, O=3, seed=H)
        tokens[offsets[3]:offsets[4]] = tokens[offsets[3]]  # a sentence of one repeated word
        tr, R, S, kw = make_pair(cell, optimizer, dtype, *conf)
        # per step: one sample per kernel call
        step = 0
        for s in range(4):
            order = np.array([s], dtype=np.int64)
            loss, correct = tr.epoch(tokens, offsets, labels, order)
            rl, rc, step = RG.train_epoch(tokens, offsets, labels, order, R, S, cell, step=step,
                                          **kw)
            np.testing.assert_allclose(loss, rl, err_msg=f"{what} step {s} loss", **KTOL[dtype])
            assert correct == rc
            assert_same(tr.params, R, dtype, f"{what} step {s}")
        # then 3 epochs over a shuffled order
        rng = np.random.default_rng(5)
        for e in range(3):
            order = rng.permutation(len(labels)).astype(np.int64)
            loss, correct = tr.epoch(tokens, offsets, labels, order)
            rl, rc, step = RG.train_epoch(tokens, offsets, labels, order, R, S, cell, step=step,
                                          **kw)
            np.testing.assert_allclose(loss, rl, err_msg=f"{what} epoch {e} loss", **KTOL[dtype])
        assert_same(tr.params, R, dtype, f"{what} after 3 epochs")
        for name, st in zip(tr.params.names, tr.state):
            np.testing.assert_allclose(st, S[name], err_msg=f"{what} state {name}",
                                       **KTOL[dtype])
        assert not tr.gX.any(), "the input-gradient buffer must be left all-zero"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cell", GATED)
def test_predict_proba_matches_reference(cell, dtype):
    V, H, O = 50, 9, 3
    P = GE.GatedParams.initial(V, H, O, cell, init="pytorch", rng=np.random.default_rng(2),
                               dtype=dtype)
    R = P.as_dict()
    for n in (7, 300):  # the serial range kernel and the parallel one
        tokens, offsets, _ = make_corpus(n=n, V=V, min_len=1, max_len=12, O=O, seed=n)
        for pooling in POOLINGS:
            got = GE.gated_predict_proba(P, tokens, offsets, pooling)
            want = RG.predict_proba(tokens, offsets, R, cell, pooling)
            np.testing.assert_allclose(got, want, err_msg=f"{cell} {pooling} n={n}",
                                       **KTOL[dtype])
            if n == 300:
                serial = np.empty_like(got)
                KG.PREDICT[P.code](tokens, offsets, P.kernel_tuple(), P.U, *GE.check_grams(
                    None, P, offsets), POOLINGS.index(pooling), serial, 0, n)
                np.testing.assert_array_equal(got, serial)


def test_predict_matches_training_forward():
    """The epoch's forward and predict_proba do the same arithmetic: the first sample's loss is
    -log of its predicted probability, to the last bit."""
    V, H, O = 20, 5, 2
    for cell in GATED:
        P = GE.GatedParams.initial(V, H, O, cell, rng=np.random.default_rng(0))
        tokens, offsets, labels = make_corpus(n=3, V=V, O=O)
        p = GE.gated_predict_proba(P, tokens, offsets, "mean")
        tr = GE.GatedTrainer(P, lr=0.1, pooling="mean")
        loss, _ = tr.epoch(tokens, offsets, labels, np.array([0], dtype=np.int64))
        assert abs(loss + np.log(p[0, labels[0]])) <= 1e-15


# --------------------------------------------------------------------------------------------
# the Python layer
# --------------------------------------------------------------------------------------------
def test_engine_errors():
    with pytest.raises(ValueError, match="cell"):
        GE.GatedParams.initial(5, 3, 2, "rnn")
    with pytest.raises(ValueError, match="tanh"):
        GE.GatedParams.initial(5, 3, 2, "tanh")
    with pytest.raises(ValueError, match="init"):
        GE.GatedParams.initial(5, 3, 2, "gru", init="tutorial")
    with pytest.raises(TypeError, match="dtype"):
        GE.GatedParams.initial(5, 3, 2, "gru", dtype=np.int32)
    P = GE.GatedParams.initial(5, 3, 2, "gru")
    with pytest.raises(ValueError, match="gradient='tutorial'.*tanh"):
        GE.GatedTrainer(P, lr=0.1, gradient="tutorial")
    with pytest.raises(ValueError, match="optimizer"):
        GE.GatedTrainer(P, lr=0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="pooling"):
        GE.GatedTrainer(P, lr=0.1, pooling="sum")
    with pytest.raises(ValueError, match="inconsistent"):
        GE.GatedParams(np.zeros((5, 9)), np.zeros((9, 3)), np.zeros(9), np.zeros(8),
                       np.zeros((2, 3)), np.zeros(2), cell="gru")
    with pytest.raises(ValueError, match="inconsistent"):  # 9 = 3 * 3 is not 4 * H
        GE.GatedParams(np.zeros((5, 9)), np.zeros((9, 3)), np.zeros(9), np.zeros(9),
                       np.zeros((2, 3)), np.zeros(2), cell="lstm")


def test_initial_shapes_and_alignment():
    for cell, G in (("gru", 3), ("lstm", 4)):
        for init in GE.GATED_INITS:
            P = GE.GatedParams.initial(11, 6, 3, cell, init=init, rng=np.random.default_rng(0),
                                       dtype=np.float32)
            assert P.shape == (11, 6, 3) and P.dtype == np.float32
            assert P.WxhT.shape == (11, G * 6) and P.Whh.shape == (G * 6, 6)
            for a in P.arrays() + (P.WhhT,):
                assert a.flags.c_contiguous and a.ctypes.data % 64 == 0
            bound = 1 / np.sqrt(6) if init == "pytorch" else np.sqrt(6 / 12)
            assert np.abs(P.Whh).max() <= bound


@pytest.mark.parametrize("cell", GATED)
def test_divergence_raises(cell):
    P = GE.GatedParams.initial(6, 3, 2, cell, rng=np.random.default_rng(0))
    P.Why[0, 0] = np.nan
    tokens, offsets, labels = make_corpus(n=3, V=6, O=2)
    tr = GE.GatedTrainer(P, lr=0.1)
    with pytest.raises(FloatingPointError, match="diverged"):
        tr.epoch(tokens, offsets, labels, np.arange(3, dtype=np.int64))


# --------------------------------------------------------------------------------------------
# PyTorch (optional)
# --------------------------------------------------------------------------------------------
def torch_model(torch, params, cell, V, H, O):
    rnn = (torch.nn.GRU if cell == "gru" else torch.nn.LSTM)(
        input_size=V, hidden_size=H, batch_first=True).double()
    fc = torch.nn.Linear(H, O).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(params["WxhT"].T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(params["Whh"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(params["bih"]))
        rnn.bias_hh_l0.copy_(torch.from_numpy(params["bhh"]))
        fc.weight.copy_(torch.from_numpy(params["Why"]))
        fc.bias.copy_(torch.from_numpy(params["by"]))
    return rnn, fc


def torch_logits(torch, rnn, fc, tokens, V, pooling):
    x = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(tokens, dtype=np.int64)),
                                    V).double()[None]
    out = rnn(x)[0][0]  # (T, H)
    pooled = {"last": lambda: out[-1], "mean": lambda: out.mean(0),
              "max": lambda: out.max(0).values}[pooling]()
    return fc(pooled)


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell", GATED)
def test_torch_probabilities_and_gradients(cell, pooling):
    torch = pytest.importorskip("torch")
    V, H, O = 40, 8, 3
    P = GE.GatedParams.initial(V, H, O, cell, init="pytorch", rng=np.random.default_rng(4))
    R = P.as_dict()
    rnn, fc = torch_model(torch, R, cell, V, H, O)
    lengths = [1, 2, 7, 50, 200]
    rng = np.random.default_rng(0)
    sents = [rng.integers(0, V, T).astype(np.int32) for T in lengths]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    tokens = np.concatenate(sents)
    got = GE.gated_predict_proba(P, tokens, offsets, pooling)
    for s, sent in enumerate(sents):
        y = torch_logits(torch, rnn, fc, sent, V, pooling)
        want = torch.softmax(y, 0).detach().numpy()
        np.testing.assert_allclose(got[s], want, rtol=0, atol=1e-10,
                                   err_msg=f"{cell} {pooling} T={lengths[s]}")
        label = s % O
        loss_t = torch.nn.functional.cross_entropy(y[None], torch.tensor([label]))
        for prm in list(rnn.parameters()) + list(fc.parameters()):
            prm.grad = None
        loss_t.backward()
        loss, grads = RG.loss_and_grad(R, sent, label, cell=cell, pooling=pooling)
        assert abs(loss - loss_t.item()) <= 1e-12 * max(1.0, abs(loss))
        pairs = {"WxhT": rnn.weight_ih_l0.grad.numpy().T, "Whh": rnn.weight_hh_l0.grad.numpy(),
                 "bih": rnn.bias_ih_l0.grad.numpy(), "bhh": rnn.bias_hh_l0.grad.numpy(),
                 "Why": fc.weight.grad.numpy(), "by": fc.bias.grad.numpy()}
        for name, tg in pairs.items():
            scale = max(np.abs(tg).max(), 1e-30)
            err = np.abs(grads[name] - tg).max() / scale
            assert err <= 1e-10, f"{cell} {pooling} T={lengths[s]} d{name}: {err:.1e}"


@pytest.mark.parametrize("cell", ("tanh",) + GATED)
def test_the_reference_leaves_blas_invalid_flags_to_its_own_checks(cell):
    """OpenBLAS's float32 matrix-vector kernels can set FE_INVALID on finite data, and numpy
    then warns "invalid value encountered in matmul" at random (the fresh-clone CI saw it in
    float32 GRU runs): the reference's forward/backward ignore that flag. A real NaN still
    comes out (here inf * 0 in the first step's product), for the finiteness checks to find."""
    import warnings
    from fastrnn import reference as R
    H, V, O, G = 4, 3, 2, {"tanh": 1, "gru": 3, "lstm": 4}[cell]
    rng = np.random.default_rng(0)
    Whh = np.full((G * H, H), np.inf, np.float32)
    WxhT = rng.standard_normal((V, G * H)).astype(np.float32)
    Why, by = rng.standard_normal((O, H)).astype(np.float32), np.zeros(O, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        if cell == "tanh":
            y = R.forward(np.array([0, 1]), WxhT, Whh, np.zeros(H, np.float32), Why, by)[-1]
        else:
            params = dict(zip(RG.PARAM_NAMES[cell], (WxhT, Whh, np.zeros(G * H, np.float32),
                                                     np.zeros(G * H, np.float32), Why, by)))
            y = RG.forward(np.array([0, 1]), params, cell)[-1]
    assert not np.isfinite(y).all()
