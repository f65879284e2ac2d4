"""The linear n-gram path in the GRU and LSTM cells: gradient (central differences), kernels
against ``reference_gated`` (per step and over 3 epochs, every optimizer, pooling, clip mode,
both dtypes), edge cases, predict, the engine's checks, and the no-table path bit for bit.

Tolerances: the finite-difference check allows 1e-6 relative to the largest entry of each
gradient (central differences, h = 1e-6, float64); kernels vs reference use ``test_gated``'s
``KTOL`` (float64 ``rtol=1e-9, atol=1e-12``; float32 ``rtol=atol=2e-4``: the gated kernels
compute sigmoid/tanh in float64 and round, numpy in float32), for the parameters, the table,
its optimizer state and the summed losses.
"""

import numpy as np
import pytest

from conftest import make_corpus

from fastrnn import _engine as E
from fastrnn import _gated_engine as GE
from fastrnn import ngrams as NG
from fastrnn import reference_gated as RG
from fastrnn.kernels import _cache, ngram
from fastrnn.kernels import gated as KG

GATED = ("gru", "lstm")
POOLINGS = ("last", "mean", "max")
OPTIMIZERS = ("sgd", "adagrad", "adam")
DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["f64", "f32"]
KTOL = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-4)}


def corpus_grams(offsets, N=2, B=11, seed=3):
    """Random token hashes for a corpus, as flat n-gram arrays (the kernels never see the ids)."""
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**62, offsets[-1], dtype=np.int64).astype(np.uint64)
    return NG.ngram_arrays(h, offsets, N, B)


def random_params(cell, V, H, O, B, seed=0):
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
    P["U"] = rng.normal(0, 0.7, (B, O))
    return P


# --------------------------------------------------------------------------------------------
# the gradient
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("T,B", [(1, 5), (4, 3), (7, 1)], ids=["T1", "T4", "T7-B1"])
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell", RG.CELLS)
def test_gradient_matches_finite_differences(cell, pooling, T, B):
    """Every parameter's gradient, U's included, against central differences (float64)."""
    V, H, O = 6, 3, 3
    P = random_params(cell, V, H, O, B, seed=T)
    rng = np.random.default_rng(T)
    sent = rng.integers(0, V, T)
    g, counts, goffs, totals = corpus_grams(np.array([0, T]), N=2, B=B, seed=T)
    ng = (g, counts, int(totals[0]))
    label = 1
    loss, grads = RG.loss_and_grad(P, sent, label, cell=cell, pooling=pooling, ngram=ng)
    assert set(grads) == set(RG.PARAM_NAMES[cell]) | {"U"}
    h = 1e-6
    for name, W in P.items():
        num = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            old = W[idx]
            W[idx] = old + h
            lp = RG.loss_and_grad(P, sent, label, cell=cell, pooling=pooling, ngram=ng)[0]
            W[idx] = old - h
            lm = RG.loss_and_grad(P, sent, label, cell=cell, pooling=pooling, ngram=ng)[0]
            W[idx] = old
            num[idx] = (lp - lm) / (2 * h)
        err = np.abs(num - grads[name]).max() / max(np.abs(num).max(), 1e-12)
        assert err <= 1e-6, (cell, pooling, name, err)
    assert not grads["U"][np.setdiff1d(np.arange(B), g)].any()
    # the table moves the loss: without its rows the loss differs
    plain = {k: v for k, v in P.items() if k != "U"}
    assert abs(RG.loss_and_grad(plain, sent, label, cell=cell, pooling=pooling)[0] - loss) > 1e-6


def test_loss_and_grad_ngram_errors():
    P = random_params("gru", 5, 2, 2, 4)
    plain = {k: v for k, v in P.items() if k != "U"}
    with pytest.raises(ValueError, match=r"params\['U'\]"):
        RG.loss_and_grad(plain, [1, 2], 0, cell="gru", ngram=([0], [1], 1))
    with pytest.raises(ValueError, match="out of range"):
        RG.loss_and_grad(P, [1, 2], 0, cell="gru", ngram=([4], [1], 1))


# --------------------------------------------------------------------------------------------
# kernels against the reference
# --------------------------------------------------------------------------------------------
#: (pooling, clip, clip_norm, weight_decay): every pooling, no clip / elementwise / global norm
#: (biting), weight decay.  (With weight_decay=1e-2 and clip 0.05 one float32 LSTM input
#: entry had ``dW + wd * W`` cancel to ~0, where Adagrad's first step ``lr * x / |x|`` turns
#: float32 rounding into a 1e-3 difference: a conditioning accident, not the n-gram path.)
CONFIGS = [
    ("last", 1.0, None, 0.0),
    ("mean", None, None, 0.0),
    ("max", 0.05, None, 1e-3),
    ("mean", 1.0, 0.3, 1e-2),
    ("last", None, 0.5, 0.0),
]


def make_pair(cell, optimizer, dtype, pooling, clip, clip_norm, wd, V=10, H=5, O=3, B=13,
              ngram_lr=0.7, seed=0):
    rng = np.random.default_rng(seed)
    P = GE.GatedParams.initial(V, H, O, cell, init="pytorch", rng=rng, dtype=dtype)
    P.WxhT[...] *= 3  # larger inputs: every gate term matters
    P.U = GE.aligned_copy(rng.normal(0, 0.3, (B, O)), dtype)  # non-zero: every term matters
    kw = dict(lr=0.05 if optimizer == "sgd" else 0.02, clip=clip, clip_norm=clip_norm,
              weight_decay=wd, optimizer=optimizer, pooling=pooling)
    tr = GE.GatedTrainer(P, ngram_lr=ngram_lr, **kw)
    R = P.as_dict()
    S = RG.init_optimizer_state(optimizer, R, cell)
    return tr, R, S, dict(kw, ngram_lr=ngram_lr)


def assert_same(tr, R, S, dtype, what, state=True):
    P = tr.params
    for name in P.names + ("U",):
        np.testing.assert_allclose(getattr(P, name), R[name], err_msg=f"{what} {name}",
                                   **KTOL[dtype])
    np.testing.assert_array_equal(P.WhhT, P.Whh.T, err_msg=f"{what} WhhT")
    if state:
        np.testing.assert_allclose(tr.SU, S["U"], err_msg=f"{what} SU", **KTOL[dtype])
        for name, st in zip(P.names, tr.state):
            np.testing.assert_allclose(st, S[name], err_msg=f"{what} state {name}",
                                       **KTOL[dtype])


def run_both(tr, R, S, kw, cell, dtype, corpus, grams, orders, what, step=0):
    tokens, offsets, labels = corpus
    for k, order in enumerate(orders):
        order = np.asarray(order, dtype=np.int64)
        loss, correct = tr.epoch(tokens, offsets, labels, order, grams)
        rl, rc, step = RG.train_epoch(tokens, offsets, labels, order, R, S, cell, step=step,
                                      grams=grams, **kw)
        np.testing.assert_allclose(loss, rl, err_msg=f"{what} call {k} loss", **KTOL[dtype])
        if dtype == np.float64:
            assert correct == rc, f"{what} call {k}"
    return step


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("cell", GATED)
def test_kernel_matches_reference(cell, optimizer, dtype):
    """Per step (one sample per kernel call) and then over 3 shuffled epochs, every config."""
    corpus = make_corpus(n=12, V=10, min_len=1, max_len=8, O=3, seed=1)
    grams = corpus_grams(corpus[1], N=2, B=13)
    for conf in CONFIGS:
        what = f"{cell} {optimizer} {np.dtype(dtype).name} {conf}"
        tr, R, S, kw = make_pair(cell, optimizer, dtype, *conf)
        U0 = tr.params.U.copy()
        step = 0
        for s in range(4):
            step = run_both(tr, R, S, kw, cell, dtype, corpus, grams, [[s]], f"{what} step {s}",
                            step)
            assert_same(tr, R, S, dtype, f"{what} step {s}")
        rng = np.random.default_rng(5)
        orders = [rng.permutation(12) for _ in range(3)]
        run_both(tr, R, S, kw, cell, dtype, corpus, grams, orders, f"{what} epochs", step)
        assert_same(tr, R, S, dtype, f"{what} after 3 epochs")
        assert not tr.gX.any()
        assert (tr.params.U != U0).any(), "the table was not trained"


EDGES = ["one-bucket", "one-word", "trigrams", "no-grams-in-some"]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", EDGES)
@pytest.mark.parametrize("cell", GATED)
def test_edge_cases_match_reference(cell, case, dtype):
    B, N = 13, 2
    corpus = make_corpus(n=12, V=10, min_len=1, max_len=7, O=3, seed=2)
    if case == "one-bucket":
        B = 1  # every n-gram of every sentence collides
    elif case == "one-word":
        corpus = make_corpus(n=12, V=10, min_len=1, max_len=1, O=3, seed=2)  # no bigrams
    elif case == "trigrams":
        N = 3
    grams = corpus_grams(corpus[1], N=N, B=B)
    if case == "no-grams-in-some":  # sentences 0, 5, 6 keep no n-gram (totals 0)
        g, c, go, t = grams
        keep = np.ones(len(g), dtype=bool)
        for s in (0, 5, 6):
            keep[go[s]:go[s + 1]] = False
        t = t.copy()
        t[[0, 5, 6]] = 0
        go = np.concatenate([[0], np.cumsum(np.diff(go) * np.isin(np.arange(12), [0, 5, 6],
                                                                   invert=True))])
        grams = (g[keep], c[keep], go, t)
    if case == "one-word":
        assert (grams[3] == 1).all()
    tr, R, S, kw = make_pair(cell, "adagrad", dtype, "mean", 1.0, 1.0, 1e-3, B=B)
    orders = [np.arange(12), np.arange(12)[::-1]]
    run_both(tr, R, S, kw, cell, dtype, corpus, grams, orders, f"{cell} {case}")
    assert_same(tr, R, S, dtype, f"{cell} {case}")


@pytest.mark.parametrize("cell", GATED)
def test_ngram_rate_is_its_own(cell):
    """The table moves at ngram_lr, the other weights at lr (same gradients, SGD)."""
    corpus = make_corpus(n=4, V=10, O=3, seed=3)
    grams = corpus_grams(corpus[1], B=7)
    got = []
    for nlr in (0.05, 0.5):
        tr, *_ = make_pair(cell, "sgd", np.float64, "last", None, None, 0.0, B=7, ngram_lr=nlr)
        U0 = tr.params.U.copy()
        tr.epoch(*corpus, np.array([0]), grams)
        got.append((tr.params.U - U0, tr.params.Why.copy()))
    np.testing.assert_allclose(got[1][0], 10 * got[0][0], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(got[0][1], got[1][1])
    assert (got[0][0] != 0).any()


# --------------------------------------------------------------------------------------------
# without a table: today's results
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cell", GATED)
def test_sentences_without_grams_give_the_plain_bits(cell, dtype):
    """A table whose sentences carry no n-grams (every helper live, nothing to add) trains and
    predicts bit for bit like the empty bundle (no table): the path adds nothing when idle."""
    tokens, offsets, labels = make_corpus(n=20, V=10, O=3, seed=4)
    n = len(labels)
    empty = tuple(np.zeros(k, dtype=np.int64) for k in (0, 0)) + (
        np.zeros(n + 1, dtype=np.int64), np.zeros(n, dtype=np.int64))
    res = []
    for B in (0, 5):
        P = GE.GatedParams.initial(10, 6, 3, cell, rng=np.random.default_rng(0), dtype=dtype,
                                   buckets=B)
        tr = GE.GatedTrainer(P, lr=0.05, optimizer="adam", pooling="mean", clip_norm=0.5,
                             weight_decay=1e-3)
        r = np.random.default_rng(1)
        losses = [tr.epoch(tokens, offsets, labels, r.permutation(n), empty if B else None)
                  for _ in range(2)]
        proba = GE.gated_predict_proba(P, tokens, offsets, "mean", empty if B else None)
        res.append((losses, P.arrays(), proba, P.U))
    (l0, a0, p0, _), (l1, a1, p1, U1) = res
    assert l0 == l1
    for x, y in zip(a0, a1):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(p0, p1)
    assert not U1.any()


@pytest.mark.parametrize("cell", GATED)
def test_zero_table_predicts_the_plain_bits(cell):
    """A zero table (as at init) gives the plain model's probabilities, bit for bit."""
    tokens, offsets, _ = make_corpus(n=30, V=10, O=3, seed=6)
    P = GE.GatedParams.initial(10, 6, 3, cell, rng=np.random.default_rng(0))
    Z = GE.GatedParams(*P.arrays(), cell=cell, U=np.zeros((9, 3)))
    np.testing.assert_array_equal(
        GE.gated_predict_proba(Z, tokens, offsets, "last", corpus_grams(offsets, B=9)),
        GE.gated_predict_proba(P, tokens, offsets, "last"))


# --------------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cell", GATED)
def test_predict_matches_reference_serial_and_parallel(cell, dtype):
    n = E.SERIAL_PREDICT_BELOW + 40  # the threaded path
    tokens, offsets, _ = make_corpus(n=n, V=10, max_len=9, O=3, seed=4)
    grams = corpus_grams(offsets, B=17)
    P = GE.GatedParams.initial(10, 6, 3, cell, init="pytorch", rng=np.random.default_rng(2),
                               dtype=dtype)
    P.U = GE.aligned_copy(np.random.default_rng(3).normal(0, 1, (17, 3)), dtype)
    for pooling in POOLINGS:
        got = GE.gated_predict_proba(P, tokens, offsets, pooling, grams)
        g, counts, goffs, totals = grams
        m = goffs[50]
        small = GE.gated_predict_proba(P, tokens, offsets[:51], pooling,
                                       (g[:m], counts[:m], goffs[:51], totals[:50]))
        np.testing.assert_array_equal(got[:50], small)  # calling thread == thread-pool ranges
        want = RG.predict_proba(tokens, offsets, P.as_dict(), cell, pooling, grams)
        np.testing.assert_allclose(got, want, err_msg=pooling, **KTOL[dtype])
        plain = GE.gated_predict_proba(GE.GatedParams(*P.arrays(), cell=cell), tokens, offsets,
                                       pooling)
        assert np.abs(got - plain).max() > 1e-3  # the table matters


@pytest.mark.parametrize("cell", GATED)
def test_predict_matches_training_forward(cell):
    """The epoch's forward and predict do the same arithmetic, the table included: the first
    sample's loss is -log of its predicted probability, to the last bit."""
    tokens, offsets, labels = make_corpus(n=3, V=20, O=2)
    grams = corpus_grams(offsets, B=5)
    P = GE.GatedParams.initial(20, 5, 2, cell, rng=np.random.default_rng(0), buckets=5)
    P.U[...] = np.random.default_rng(1).normal(0, 1, P.U.shape)
    p = GE.gated_predict_proba(P, tokens, offsets, "max", grams)
    tr = GE.GatedTrainer(P, lr=0.1, pooling="max")
    loss, _ = tr.epoch(tokens, offsets, labels, np.array([0]), grams)
    assert abs(loss + np.log(p[0, labels[0]])) <= 1e-15


# --------------------------------------------------------------------------------------------
# the Python layer
# --------------------------------------------------------------------------------------------
def test_engine_checks_the_table_and_the_gram_arrays():
    tokens, offsets, labels = make_corpus(n=4, V=10, O=3)
    P = GE.GatedParams.initial(10, 5, 3, "gru", rng=np.random.default_rng(0), buckets=4)
    tr = GE.GatedTrainer(P, lr=0.1)
    with pytest.raises(ValueError, match="n-gram arrays"):
        tr.epoch(tokens, offsets, labels, np.arange(4))
    with pytest.raises(ValueError, match="out of range"):
        tr.epoch(tokens, offsets, labels, np.arange(4), corpus_grams(offsets, B=9))
    with pytest.raises(ValueError, match="do not match"):
        GE.gated_predict_proba(P, tokens, offsets[:3], "last", corpus_grams(offsets, B=4))
    with pytest.raises(ValueError, match="n-gram arrays"):
        GE.gated_predict_proba(P, tokens, offsets, "last")
    with pytest.raises(ValueError, match=r"\(buckets, 3\)"):
        GE.GatedParams(*P.arrays(), cell="gru", U=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="buckets"):
        GE.GatedParams.initial(10, 5, 3, "gru", buckets=-1)
    assert not tr.params.U.any()  # nothing was trained by a refused call


def test_initial_buckets_draws_nothing_and_copies_carry_the_table():
    for cell in GATED:
        a = GE.GatedParams.initial(10, 4, 3, cell, rng=np.random.default_rng(7))
        b = GE.GatedParams.initial(10, 4, 3, cell, rng=np.random.default_rng(7), buckets=6,
                                   dtype=np.float32)
        assert a.buckets == 0 and a.U.shape == (0, 3) and "U" not in a.as_dict()
        assert b.U.shape == (6, 3) and b.U.dtype == np.float32 and not b.U.any()
        assert b.U.ctypes.data % 64 == 0
        for x, y in zip(a.arrays(), b.arrays()):
            np.testing.assert_array_equal(x.astype(np.float32), y)
        b.U[2, 1] = 3.0
        c = b.copy()
        assert c.buckets == 6 and c.U[2, 1] == 3.0 and c.U is not b.U
        assert b.as_dict()["U"][2, 1] == 3.0


@pytest.mark.parametrize("cell", GATED)
def test_a_diverged_table_raises(cell):
    tokens, offsets, labels = make_corpus(n=4, V=10, O=3)
    P = GE.GatedParams.initial(10, 5, 3, cell, rng=np.random.default_rng(0), buckets=4)
    P.U[0, 0] = np.inf
    tr = GE.GatedTrainer(P, lr=0.1)
    with pytest.raises(FloatingPointError, match="diverged"):
        tr.epoch(tokens, offsets, labels, np.arange(4), corpus_grams(offsets, B=4))


@pytest.mark.parametrize("cell", GATED)
def test_divergence_check_reads_only_the_corpus_rows_of_a_large_table(cell):
    """With a table much larger than the corpus's buckets, the per-epoch check reads just the
    rows the epochs update (a full 2**20-row scan cost a tutorial GRU epoch's time), which
    still catches a non-finite value there; a full check sees the whole table."""
    tokens, offsets, labels = make_corpus(n=4, V=10, O=3)
    B = 1 << 12
    P = GE.GatedParams.initial(10, 5, 3, cell, rng=np.random.default_rng(0), buckets=B)
    grams = corpus_grams(offsets, B=B)
    rows = E.touched_rows(P, E.check_grams(grams, P, offsets)[0])
    assert rows is not None and 64 * rows.shape[0] < B
    untouched = np.setdiff1d(np.arange(B), rows)[0]
    P.U[untouched, 1] = np.nan  # no epoch writes or reads it
    assert P.all_finite(rows) and not P.all_finite()
    tr = GE.GatedTrainer(P, lr=0.1)
    tr.epoch(tokens, offsets, labels, np.arange(4), grams)  # not a divergence
    P.U[rows[0], 2] = np.inf
    with pytest.raises(FloatingPointError, match="diverged"):
        tr.epoch(tokens, offsets, labels, np.arange(4), grams)


def test_gated_kernels_are_keyed_on_the_ngram_source():
    """The epoch and predict kernels embed kernels.ngram's inline helpers (and rnn's code):
    their disk cache must notice an edit to either file."""
    from fastrnn.kernels import rnn
    kernels = [k for row in KG.TRAIN_EPOCH for k in row] + list(KG.PREDICT)
    for d in kernels:
        assert _cache.is_dependency_cached(d, ngram, rnn), d
