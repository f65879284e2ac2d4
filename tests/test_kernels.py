"""Every kernel against the plain-numpy reference, and the exact gradient against finite differences.

Tolerances: ``conftest.TOLERANCES`` (one step: float64 1e-12 relative, float32 2e-5 relative and
2e-6 absolute; after hundreds of updates float32 1e-3 relative, 1e-4 absolute).  Hidden sizes
5 and 9 (not multiples of 4) exercise the leftover-row path of ``_whh_fused``.
"""

import numpy as np
import pytest

from fastrnn import _engine as E
from fastrnn import kernels as K
from fastrnn import reference as R

from conftest import DTYPES, DTYPE_IDS, TOL, TOLERANCES, assert_params_close, make_corpus, \
    make_params, ref_params, run_python

POOLINGS = list(E.POOLINGS)
GRADIENTS = list(E.GRADIENTS)
OPTIMIZERS = list(E.OPTIMIZERS)


def kernel_forward(P, sent, pooling):
    V, H, O = P.shape
    dt = P.dtype
    hs = np.zeros((len(sent) + 1, H), dt)
    pooled = np.zeros(H, dt)
    amax = np.zeros(H, np.int64)
    y = np.zeros(O, dt)
    K.forward(sent, P.WxhT, P.WhhT, P.bh, P.Why, P.by, E.POOLINGS.index(pooling), hs, pooled,
              amax, y)
    return hs, pooled, amax, y


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("V,H,O,T", [(18, 64, 2, 5), (1, 1, 2, 3), (7, 3, 5, 1), (30, 16, 3, 1000),
                                     (4, 8, 2, 12), (11, 5, 3, 9), (13, 9, 2, 7)],
                         ids=["tutorial", "V1-H1", "T1-5cls", "T1000", "repeats", "H5", "H9"])
def test_forward_matches_reference(dtype, pooling, V, H, O, T):
    P = make_params(V, H, O, dtype, scale=0.3)
    sent = np.random.default_rng(T).integers(0, V, T).astype(np.int32)
    hs, pooled, amax, y = kernel_forward(P, sent, pooling)
    rhs, rpooled, ramax, ry = R.forward(sent, P.WxhT, P.Whh, P.bh, P.Why, P.by, pooling)
    np.testing.assert_allclose(hs, rhs, err_msg="hs", **TOL[dtype])
    np.testing.assert_allclose(pooled, rpooled, err_msg="pooled", **TOL[dtype])
    np.testing.assert_allclose(y, ry, err_msg="y", **TOL[dtype])
    if pooling == "max" and dtype == np.float64:
        np.testing.assert_array_equal(amax, ramax)
    p = np.zeros(O, dtype)
    loss = K.softmax_loss(y, O - 1, p)
    rp, rloss = R.softmax_loss(ry, O - 1)
    np.testing.assert_allclose(p, rp, **TOL[dtype])
    assert loss == pytest.approx(rloss, **TOLERANCES["loss"][dtype])


def test_softmax_is_stable_for_huge_logits():
    y = np.array([1000.0, -1000.0, 999.0])
    p = np.zeros(3)
    loss = K.softmax_loss(y, 2, p)
    assert np.isfinite(p).all() and np.isfinite(loss)
    assert loss == pytest.approx(np.log1p(np.exp(-1.0) + np.exp(-2000.0)) + 1.0)


def kernel_backward(P, sent, label, pooling, gradient):
    V, H, O = P.shape
    dt = P.dtype
    hs, pooled, amax, y = kernel_forward(P, sent, pooling)
    p = np.zeros(O, dt)
    K.softmax_loss(y, label, p)
    dy = p.copy()
    dy[label] -= 1
    G = np.zeros((len(sent), H), dt)
    vecs = np.zeros((K.N_VECS, H), dt)
    grads = [np.zeros_like(a) for a in P.arrays()]
    K.backward(sent, hs, pooled, amax, P.Whh, P.WhhT, P.Why, dy, E.POOLINGS.index(pooling),
               E.GRADIENTS.index(gradient), G, vecs, *grads)
    return G, dict(zip(P.names, grads)), dy


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("gradient", GRADIENTS)
@pytest.mark.parametrize("V,H,O,T", [(18, 64, 2, 5), (1, 1, 2, 4), (9, 5, 4, 1), (6, 8, 2, 40),
                                     (11, 5, 3, 9), (13, 9, 2, 13)],
                         ids=["tutorial", "V1-H1", "T1-4cls", "T40-repeats", "H5", "H9"])
def test_backward_matches_reference(dtype, pooling, gradient, V, H, O, T):
    P = make_params(V, H, O, dtype, scale=0.4)
    sent = np.random.default_rng(T + H).integers(0, V, T).astype(np.int32)
    label = O - 1
    G, grads, dy = kernel_backward(P, sent, label, pooling, gradient)
    hs, pooled, amax, y = R.forward(sent, P.WxhT, P.Whh, P.bh, P.Why, P.by, pooling)
    rG, rgrads = R.backward(sent, hs, pooled, amax, P.Whh, P.Why, dy, pooling, gradient)
    tol = TOL[dtype]
    np.testing.assert_allclose(G, rG, err_msg="G", **tol)
    np.testing.assert_allclose(grads["Whh"], rgrads["Whh"], err_msg="dWhh", **tol)
    np.testing.assert_allclose(grads["Why"], rgrads["Why"], err_msg="dWhy", **tol)
    np.testing.assert_allclose(grads["bh"], rgrads["bh"], err_msg="dbh", **tol)
    np.testing.assert_allclose(grads["by"], rgrads["by"], err_msg="dby", **tol)
    dX = np.zeros_like(P.WxhT)
    for w, g in rgrads["WxhT_rows"].items():
        dX[w] = g
    np.testing.assert_allclose(grads["WxhT"], dX, err_msg="dWxhT", **tol)
    untouched = np.setdiff1d(np.arange(V), sent)
    assert not grads["WxhT"][untouched].any()


def reference_loss(P, sent, label, pooling):
    *_, y = R.forward(sent, P.WxhT, P.Whh, P.bh, P.Why, P.by, pooling)
    return R.softmax_loss(y, label)[1]


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("T", [1, 2, 6])
def test_exact_gradient_matches_finite_differences(pooling, T):
    """Central differences in float64, h = 1e-6: error O(h^2) ~ 1e-12 relative to the scale."""
    V, H, O = 5, 4, 3
    P = make_params(V, H, O, np.float64, seed=T, scale=0.8)
    sent = np.random.default_rng(T).integers(0, V, T).astype(np.int32)
    label = 1
    _, grads, _ = kernel_backward(P, sent, label, pooling, "exact")
    h = 1e-6
    for name in P.names:
        A = getattr(P, name)
        num = np.zeros_like(A)
        for idx in np.ndindex(A.shape):
            old = A[idx]
            A[idx] = old + h
            P.sync_transpose()
            up = reference_loss(P, sent, label, pooling)
            A[idx] = old - h
            P.sync_transpose()
            down = reference_loss(P, sent, label, pooling)
            A[idx] = old
            P.sync_transpose()
            num[idx] = (up - down) / (2 * h)
        err = np.abs(grads[name] - num).max()
        assert err < 1e-8, f"d{name}: max |analytic - numeric| = {err:.3e}"


def test_tutorial_gradient_differs_from_the_true_one():
    """``gradient="tutorial"`` uses Whh where Whh.T belongs: wrong once T >= 2 (Whh not symmetric)."""
    P = make_params(5, 4, 2, np.float64, scale=0.8)
    sent = np.array([0, 1, 2], dtype=np.int32)
    _, exact, _ = kernel_backward(P, sent, 1, "last", "exact")
    _, tut, _ = kernel_backward(P, sent, 1, "last", "tutorial")
    np.testing.assert_allclose(exact["Why"], tut["Why"])  # the output layer is not affected
    assert np.abs(exact["Whh"] - tut["Whh"]).max() > 1e-6
    one = np.array([3], dtype=np.int32)  # a one-word sentence never uses the recurrence
    _, e1, _ = kernel_backward(P, one, 1, "last", "exact")
    _, t1, _ = kernel_backward(P, one, 1, "last", "tutorial")
    for name in P.names:
        np.testing.assert_array_equal(e1[name], t1[name])


def run_kernel_epochs(P, corpus, orders, **kw):
    tokens, offsets, labels = corpus
    tr = E.Trainer(P, **kw)
    out = [tr.epoch(tokens, offsets, labels, order) for order in orders]
    return out, tr


def run_reference_epochs(R_params, corpus, orders, **kw):
    tokens, offsets, labels = corpus
    state = R.init_optimizer_state(kw.get("optimizer", "sgd"), *R_params.values())
    step = 0
    out = []
    for order in orders:
        loss, correct, step = R.train_epoch(tokens, offsets, labels, order, R_params, state,
                                            step=step, **kw)
        out.append((loss, correct))
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("gradient", GRADIENTS)
@pytest.mark.parametrize("H", [8, 5, 9])
@pytest.mark.parametrize("extra", [dict(), dict(clip=None), dict(clip_norm=0.5),
                                   dict(weight_decay=1e-2, clip=0.3)],
                         ids=["clip1", "noclip", "clipnorm", "wd"])
def test_one_step_matches_reference(dtype, optimizer, pooling, gradient, H, extra):
    corpus = make_corpus(n=1, V=10, min_len=6, max_len=6, O=3)
    P = make_params(10, H, 3, dtype, scale=1.0)
    Rp = ref_params(P)
    kw = dict(lr=0.05, optimizer=optimizer, pooling=pooling, gradient=gradient, **extra)
    (kl,), _ = run_kernel_epochs(P, corpus, [np.array([0])], **kw)
    (rl,) = run_reference_epochs(Rp, corpus, [np.array([0])], **kw)
    assert kl[1] == rl[1]
    assert kl[0] == pytest.approx(rl[0], **TOLERANCES["loss"][dtype])
    assert_params_close(P, Rp, dtype, "after one step")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("gradient", GRADIENTS)
@pytest.mark.parametrize("H", [16, 5, 9])
def test_short_epochs_match_reference(dtype, optimizer, pooling, gradient, H):
    """Two epochs over 12 sentences of 1-14 words: every branch of the fused Whh update
    (the short-sentence SGD path, one to four leading steps, passes of four, leftover rows)."""
    corpus = make_corpus(n=12, V=15, min_len=1, max_len=14, O=3, seed=H)
    P = make_params(15, H, 3, dtype, scale=0.5)
    Rp = ref_params(P)
    rng = np.random.default_rng(H)
    orders = [rng.permutation(12) for _ in range(2)]
    kw = dict(lr=0.02, optimizer=optimizer, pooling=pooling, gradient=gradient,
              weight_decay=1e-3, clip_norm=2.0)
    kout, tr = run_kernel_epochs(P, corpus, orders, **kw)
    rout = run_reference_epochs(Rp, corpus, orders, **kw)
    for (kl, kc), (rl, rc) in zip(kout, rout):
        assert kc == rc
        assert kl == pytest.approx(rl, **TOLERANCES["loss"][dtype])
    assert_params_close(P, Rp, dtype, "after two epochs")
    np.testing.assert_array_equal(P.WhhT, P.Whh.T)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("gradient", GRADIENTS)
@pytest.mark.parametrize("recipe", [
    dict(optimizer="sgd", pooling="last", lr=0.02),
    dict(optimizer="adagrad", pooling="mean", lr=0.01, weight_decay=1e-2),
    dict(optimizer="adam", pooling="max", lr=1e-3, clip_norm=5.0),
], ids=["tutorial", "adagrad-mean-wd", "adam-max-norm"])
def test_epochs_match_reference(dtype, gradient, recipe):
    """Five epochs over 40 sentences (~1,000 updates) from the same weights and orders."""
    corpus = make_corpus(n=40, V=25, max_len=9, O=2, seed=3)
    P = make_params(25, 12, 2, dtype, scale=0.5)
    Rp = ref_params(P)
    rng = np.random.default_rng(0)
    orders = [rng.permutation(40) for _ in range(5)]
    kout, tr = run_kernel_epochs(P, corpus, orders, gradient=gradient, **recipe)
    rout = run_reference_epochs(Rp, corpus, orders, gradient=gradient, **recipe)
    for (kl, kc), (rl, rc) in zip(kout, rout):
        assert kc == rc
        assert kl == pytest.approx(rl, **TOLERANCES["loss"][dtype])
    # float32 rounding compounds over 1,000 updates
    assert_params_close(P, Rp, dtype, "after five epochs", kind="epochs")
    # the workspace invariants hold after the epoch
    assert not tr.gX.any()
    np.testing.assert_array_equal(P.WhhT, P.Whh.T)


def test_dense_reference_equals_sparse_update():
    """The tutorial's full (V, H) input update changes only the sentence's rows (clip(0) = 0)."""
    corpus = make_corpus(n=10, V=30, O=2)
    P = make_params(30, 6, 2)
    A, B = ref_params(P), ref_params(P)
    order = np.arange(10)
    run = dict(lr=0.02, gradient="tutorial")
    for params, dense in ((A, True), (B, False)):
        st = R.init_optimizer_state("sgd", *params.values())
        R.train_epoch(*corpus, order, params, st, dense=dense, **run)
    for key in A:
        np.testing.assert_array_equal(A[key], B[key])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_predict_proba_matches_reference(dtype, pooling):
    tokens, offsets, _ = make_corpus(n=57, V=20, max_len=15, O=3, seed=5)
    P = make_params(20, 10, 3, dtype)
    got = E.predict_proba(P, tokens, offsets, pooling)
    ref = R.predict_proba(tokens, offsets, P.WxhT, P.Whh, P.bh, P.Why, P.by, pooling)
    np.testing.assert_allclose(got, ref, **TOL[dtype])
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-6)


def test_predict_proba_equals_training_forward_bitwise():
    """Inference and the training forward do the same arithmetic in the same order."""
    tokens, offsets, _ = make_corpus(n=9, V=12, max_len=8, O=2)
    P = make_params(12, 64, 2)
    got = E.predict_proba(P, tokens, offsets, "mean")
    for s in range(9):
        *_, y = kernel_forward(P, tokens[offsets[s]:offsets[s + 1]], "mean")
        p = np.zeros(2)
        K.softmax_loss(y, 0, p)
        np.testing.assert_array_equal(got[s], p)


def test_one_compilation_per_dtype():
    """float32 and float64 each compile once per entry point (one per optimizer, see
    ``kernels.rnn.TRAIN_EPOCH_BY_OPTIMIZER``); modes and sizes are runtime arguments."""
    opts = ("sgd", "adam")
    for dtype in DTYPES:
        for opt in opts:
            for H, pooling, gradient in ((4, "last", "exact"), (9, "mean", "tutorial")):
                corpus = make_corpus(n=5, V=7)
                run_kernel_epochs(make_params(7, H, 2, dtype), corpus, [np.arange(5)],
                                  lr=0.01, pooling=pooling, optimizer=opt, gradient=gradient)
    for opt in opts:
        sigs = K.rnn.TRAIN_EPOCH_BY_OPTIMIZER[E.OPTIMIZERS.index(opt)].signatures
        assert len(sigs) == 2, (opt, sigs)
        assert {s[1][0].dtype.name for s in sigs} == {"float32", "float64"}  # weights[0]


def _epoch_with(kernel, P, corpus, orders, grams, **kw):
    """Run ``kernel`` (an epoch entry point) on a Trainer's arguments; returns the results, the
    trainer and its parameters."""
    tokens, offsets, labels = corpus
    tr = E.Trainer(P, **kw)
    tr._grow(int(np.diff(offsets).max()))
    out = [kernel(*tr.kernel_args(tokens, offsets, labels, o, grams)) for o in orders]
    return out, tr


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("H", [5, 32, 37])
@pytest.mark.parametrize("with_ngrams", [False, True], ids=["onehot", "ngrams"])
def test_default_recipe_kernel_equals_general_kernel_bitwise(dtype, H, with_ngrams):
    """``train_epoch_adagrad_default`` (modes compiled in, no clip_norm pass) gives the general
    Adagrad kernel's results bit for bit on the default recipe, with and without the n-gram
    path, weight decay included; so the reference tests of either cover both."""
    from fastrnn import ngrams as NG
    corpus = make_corpus(n=14, V=11, min_len=1, max_len=9, O=3, seed=4)
    offsets = corpus[1]
    B = 17
    grams = None
    U = None
    if with_ngrams:
        h = np.random.default_rng(3).integers(0, 2**62, offsets[-1]).astype(np.uint64)
        grams = NG.ngram_arrays(h, offsets, 2, B)
        U = np.random.default_rng(5).normal(0, 0.3, (B, 3))
    orders = [np.random.default_rng(e).permutation(14) for e in range(3)]
    kw = dict(lr=0.1, optimizer="adagrad", pooling="mean", gradient="exact", clip=0.5,
              weight_decay=1e-3)
    runs = []
    for kernel in (K.rnn.train_epoch_adagrad, K.rnn.train_epoch_adagrad_default):
        P = E.Params(*make_params(11, H, 3, dtype, scale=1.0).arrays(), dtype=dtype, U=U)
        out, tr = _epoch_with(kernel, P, corpus, orders, grams, **kw)
        runs.append((out, P, tr))
    (out_g, P_g, tr_g), (out_d, P_d, tr_d) = runs
    assert out_g == out_d
    for name in P_g.names + ("U", "WhhT"):
        np.testing.assert_array_equal(getattr(P_g, name), getattr(P_d, name), err_msg=name)
    for a, b in zip(tr_g.state + (tr_g.SU, tr_g.counters), tr_d.state + (tr_d.SU, tr_d.counters)):
        np.testing.assert_array_equal(a, b)


def test_epoch_kernel_picks_the_default_kernel_only_for_the_default_recipe():
    """The default recipe's kernel ignores ``modes`` and ``clip_norm``: any other setting must
    get the general kernel of its optimizer."""
    pick = K.rnn.epoch_kernel
    ex, tu = K.GRADIENT_EXACT, K.GRADIENT_TUTORIAL
    assert pick(K.OPT_ADAGRAD, ex, K.POOL_MEAN, 0.0) is K.rnn.train_epoch_adagrad_default
    assert pick(K.OPT_ADAGRAD, ex, K.POOL_MEAN, 0.5) is K.train_epoch_adagrad
    assert pick(K.OPT_ADAGRAD, tu, K.POOL_MEAN, 0.0) is K.train_epoch_adagrad
    for pooling in (K.POOL_LAST, K.POOL_MAX):
        assert pick(K.OPT_ADAGRAD, ex, pooling, 0.0) is K.train_epoch_adagrad
    assert pick(K.OPT_SGD, ex, K.POOL_MEAN, 0.0) is K.train_epoch_sgd
    assert pick(K.OPT_ADAM, ex, K.POOL_MEAN, 0.0) is K.train_epoch_adam
    assert pick(K.OPT_ADAGRAD, ex, K.POOL_MEAN, 0.0, embedded=True) \
        is K.rnn.train_epoch_emb_adagrad
    # through the Trainer: the settings it was made with decide
    corpus = make_corpus(n=3, V=6)
    for kw, want in ((dict(pooling="mean"), K.rnn.train_epoch_adagrad_default),
                     (dict(pooling="mean", clip_norm=1.0), K.train_epoch_adagrad),
                     (dict(pooling="max"), K.train_epoch_adagrad)):
        _, tr = run_kernel_epochs(make_params(6, 4, 2), corpus, [np.arange(3)], lr=0.1,
                                  optimizer="adagrad", **kw)
        assert tr._kernel is want, kw


def test_aligned_buffers():
    P = make_params(5, 7, 3)
    for a in P.arrays() + (P.WhhT,):
        assert a.ctypes.data % E.ALIGN == 0 and a.flags.c_contiguous


@pytest.mark.parametrize("threads", [1, 2])
def test_parallel_predict_equals_serial_bitwise(threads):
    """Batches from SERIAL_PREDICT_BELOW sentences up run ranges on the thread pool: same bits."""
    import numba
    n = E.SERIAL_PREDICT_BELOW + 57
    tokens, offsets, _ = make_corpus(n=n, V=20, max_len=12, O=3, seed=9)
    P = make_params(20, 10, 3, np.float64)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        got = E.predict_proba(P, tokens, offsets, "max")
    finally:
        numba.set_num_threads(before)
    serial = np.empty_like(got)
    K.rnn.predict_proba_range(tokens, offsets, P.WxhT, P.WhhT, P.bh, P.Why, P.by, P.U,
                              *E.check_grams(None, P, offsets), E.POOLINGS.index("max"),
                              serial, 0, n)
    np.testing.assert_array_equal(got, serial)
    ref = R.predict_proba(tokens, offsets, P.WxhT, P.Whh, P.bh, P.Why, P.by, "max")
    np.testing.assert_allclose(got, ref, **TOL[np.float64])


# --------------------------------------------------------------------------------------------
# the disk cache of kernels that embed rnn.py's code (kernels/_cache.py)
# --------------------------------------------------------------------------------------------
def _cached_dispatchers(module):
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher
    return [(name, d) for name, d in vars(module).items()
            if isinstance(d, Dispatcher) and d.py_func.__module__ == module.__name__
            and not isinstance(d._cache, NullCache)]


def test_every_cached_kernel_outside_rnn_is_keyed_on_rnn_source():
    """Fails when the dependent-cache hook is inactive (e.g. numba's internals changed)."""
    from fastrnn.bench import profile
    from fastrnn.kernels import _cache, dropin, gated
    for module in (dropin, gated, profile):
        found = _cached_dispatchers(module)
        assert found, module.__name__
        for name, d in found:
            assert _cache.is_dependency_cached(d, K.rnn), f"{module.__name__}.{name}"


def test_every_cached_kernel_saves_under_the_folder_lock():
    """No kernel keeps Numba's plain disk cache, whose saves two processes can interleave
    (the compile helper beside its fit, xdist or Dask workers): each has a LockedCache (or
    the DependentCache built on it)."""
    from fastrnn import _compile
    from fastrnn.kernels import _cache
    from numba.core.caching import FunctionCache
    cached = {name: d for name, d in _compile.kernel_dispatchers().items()
              if isinstance(d._cache, FunctionCache)}
    assert len(cached) > 30
    for name, d in cached.items():
        assert isinstance(d._cache, _cache._LockedCache), name


def test_dependency_edit_recompiles_the_cached_caller(tmp_path):
    """An edit to the callee's file changes the caller's cache key: the cached caller is not
    served stale, and an unchanged source is still a cache hit."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "dep.py").write_text("from numba import njit\n\n@njit\ndef g():\n    return 1\n")
    (src / "user.py").write_text(
        "from numba import njit\nfrom fastrnn.kernels._cache import depends_on\nimport dep\n\n"
        "@depends_on(dep)\n@njit(cache=True)\ndef f():\n    return dep.g()\n")
    code = ("import user; v = user.f(); "
            "print(v, sum(user.f.stats.cache_hits.values()))")

    def run():
        return run_python(code, cache=tmp_path / "cache", env={"PYTHONPATH": str(src)},
                          cwd=tmp_path).stdout.split()

    assert run() == ["1", "0"]  # compiled and saved
    assert run() == ["1", "1"]  # loaded from the disk cache
    (src / "dep.py").write_text("from numba import njit\n\n@njit\ndef g():\n    return 2\n")
    assert run() == ["2", "0"]  # the dependency changed: recompiled, not stale


def test_dependent_cache_saves_one_at_a_time(tmp_path):
    """A save into a kernel's cache folder waits for the folder's lock (numba's index is read,
    given a new data file name and written back: two processes at once could claim the same
    file), so a save made while another process holds the lock lands after it lets go."""
    fcntl = pytest.importorskip("fcntl")
    import os
    import threading
    import time
    from numba import njit
    from fastrnn.kernels import _cache

    def plus_one_locked(x):
        return x + 1
    d = _cache.depends_on(K.rnn)(njit(cache=True)(plus_one_locked))
    folder = d._cache.cache_path
    os.makedirs(folder, exist_ok=True)

    def entries():
        return [f for f in os.listdir(folder) if "plus_one_locked" in f]
    for f in entries():  # a previous run's entry would be loaded, not saved
        os.remove(os.path.join(folder, f))
    with open(os.path.join(folder, _cache.LOCK_FILE), "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another process's save in progress
        t = threading.Thread(target=d, args=(1.0,), daemon=True)
        t.start()
        deadline = time.monotonic() + 120
        while not d.signatures and time.monotonic() < deadline:  # compiled: now it saves
            time.sleep(0.01)
        time.sleep(0.5)
        assert d.signatures and t.is_alive(), "the save did not wait for the lock"
        released = time.time()
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    t.join(timeout=60)
    assert not t.is_alive()
    index = [f for f in entries() if f.endswith(".nbi")]
    try:
        assert index and os.path.getmtime(os.path.join(folder, index[0])) >= released - 0.01
        assert d(2.0) == 3.0
    finally:
        for f in entries():
            os.remove(os.path.join(folder, f))


def test_cache_hook_failure_is_loud(monkeypatch):
    """Without the hook the kernel's disk cache is switched off, with a warning."""
    from numba import njit
    from numba.core.caching import NullCache
    from fastrnn.kernels import _cache
    monkeypatch.setattr(_cache, "_DependentCache", None)
    monkeypatch.setattr(_cache, "_HOOK_ERROR", AttributeError("no _index_key"))

    def f():
        return 1
    d = njit(cache=True)(f)
    with pytest.warns(_cache.CacheHookWarning, match="no _index_key"):
        _cache.depends_on(K.rnn)(d)
    assert isinstance(d._cache, NullCache)
    assert not _cache.is_dependency_cached(d, K.rnn)
    with pytest.raises(TypeError, match="dispatcher"):
        _cache.depends_on(K.rnn)(f)


def test_divergence_raises_training_diverged():
    """A huge learning rate without clipping overflows: a typed error, weights flagged."""
    corpus = make_corpus(n=10, V=8, O=2)
    tr = E.Trainer(make_params(8, 6, 2, scale=50.0), lr=1e300, clip=None)
    with pytest.raises(E.TrainingDiverged, match="diverged") as info:
        for _ in range(3):
            tr.epoch(*corpus, np.arange(10))
    assert isinstance(info.value, FloatingPointError)
    assert not tr.params.all_finite()


def test_kernel_args_follow_the_bundle_table():
    """Trainer.kernel_args fills the bundles of kernels.rnn.EPOCH_BUNDLES, field for field."""
    P = make_params(7, 5, 2)
    tr = E.Trainer(P, lr=0.1, optimizer="adam", pooling="max", gradient="tutorial")
    tokens, offsets, labels = make_corpus(n=3, V=7)
    order = np.arange(3)
    args = tr.kernel_args(tokens, offsets, labels, order)
    assert len(args) == len(K.EPOCH_BUNDLES)
    named = {"tokens": tokens, "offsets": offsets, "labels": labels, "order": order,
             "counters": tr.counters, "gradient": 1, "pooling": 2, "optimizer": 2,
             **{n: getattr(P, n) for n in ("WxhT", "Whh", "WhhT", "Why", "bh", "by")},
             **dict(zip(("Sx", "Shh", "Sy", "Sbh", "Sby"), tr.state)),
             **dict(zip(("U", "grams", "gram_counts", "gram_offsets", "gram_totals"),
                        (P.U,) + E.check_grams(None, P, offsets)))}
    for (bundle, fields), value in zip(K.EPOCH_BUNDLES, args):
        if fields is None:
            assert value is tr.hp, bundle
            continue
        assert type(value) is tuple and len(value) == len(fields), bundle
        for field, v in zip(fields, value):
            want = named.get(field, getattr(tr, field, None))
            assert (v == want) if isinstance(want, int) else (v is want), (bundle, field)
