"""The linear n-gram path: the hash (a golden table), the flat arrays (against a per-sentence
loop), the gradient (central differences), and the kernels against the reference.

Tolerances: ``conftest.TOLERANCES`` ("step" for one update, "epochs" for three epochs: float64
1e-10 relative, float32 1e-3 relative and 1e-4 absolute); the finite-difference check allows
1e-6 relative (central differences, h = 1e-6, float64).
"""

from collections import Counter

import numpy as np
import pytest

from fastrnn import _engine as E
from fastrnn import ngrams as NG
from fastrnn import reference as R
from fastrnn.vocab import Vocabulary

from conftest import DTYPES, DTYPE_IDS, TOLERANCES, make_corpus, make_params, ref_params

M64 = (1 << 64) - 1


# --------------------------------------------------------------------------------------------
# the hash: fixed forever
# --------------------------------------------------------------------------------------------
def fnv1a_py(word):
    """Textbook 64-bit FNV-1a, one byte at a time (the independent oracle)."""
    h = 0xCBF29CE484222325
    for b in word.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


#: Published FNV-1a 64 test vectors, plus our own tokens; never change these values: saved
#: models' tables are indexed by them.
GOLDEN_FNV = {
    "": 0xCBF29CE484222325,
    "a": 0xAF63DC4C8601EC8C,
    "foobar": 0x85944171F73967E8,
}
#: A text whose n-gram buckets (orders 1 and 2, 2**21 buckets) are pinned below.
GOLDEN_TEXT = "Not a GOOD movie!"


def test_fnv1a_matches_the_published_vectors():
    got = NG.fnv1a_64(list(GOLDEN_FNV))
    assert [int(x) for x in got] == list(GOLDEN_FNV.values())


def test_fnv1a_matches_the_bytewise_oracle_on_mixed_lengths():
    words = ["", "x", "don't", "café", "東京", "हिन्दी", "a" * 300, "ab", "ba", "Москва"]
    got = NG.fnv1a_64(words)
    assert [int(x) for x in got] == [fnv1a_py(w) for w in words]


def test_golden_buckets_never_change():
    v = Vocabulary(min_count=5).fit(["unrelated text"])  # every word of GOLDEN_TEXT is rare
    g, counts, goffs, totals = NG.text_ngram_arrays(v, [GOLDEN_TEXT], 2, 1 << 21)
    words = ["not", "a", "good", "movie"]
    hs = [fnv1a_py(w) for w in words]
    want = [h % (1 << 21) for h in hs]
    want += [((hs[i] * 116049371 + hs[i + 1]) & M64) % (1 << 21) for i in range(3)]
    assert sorted(want) == g.tolist() and counts.tolist() == [1] * 7
    assert goffs.tolist() == [0, 7] and totals.tolist() == [7]
    # the values themselves, so that an edit to the oracle cannot move them either
    assert g.tolist() == [108764, 126092, 377615, 875159, 958282, 1843930, 1872152]


# --------------------------------------------------------------------------------------------
# the flat arrays
# --------------------------------------------------------------------------------------------
def arrays_by_loop(hashes, offsets, N, B):
    """Per sentence, per order: the obvious Counter version of ngram_arrays."""
    grams, counts, goffs, totals = [], [], [0], []
    for s in range(len(offsets) - 1):
        h = [int(x) for x in hashes[offsets[s]:offsets[s + 1]]]
        c = Counter()
        total = 0
        for k in range(1, N + 1):
            for i in range(len(h) - k + 1):
                x = h[i]
                for j in range(i + 1, i + k):
                    x = (x * 116049371 + h[j]) & M64
                c[x % B] += 1
                total += 1
        for b in sorted(c):
            grams.append(b)
            counts.append(c[b])
        goffs.append(len(grams))
        totals.append(total)
    return grams, counts, goffs, totals


@pytest.mark.parametrize("N", [1, 2, 3])
@pytest.mark.parametrize("B", [1, 7, 1 << 21])
def test_flat_arrays_match_a_per_sentence_loop(N, B):
    rng = np.random.default_rng(N * 31 + B % 97)
    lens = rng.integers(0, 9, 40)  # with empty sentences and 1-word ones
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    # few distinct tokens: repeated n-grams inside a sentence
    vocab = rng.integers(0, 2**63, 6, dtype=np.int64).astype(np.uint64) * np.uint64(3)
    hashes = vocab[rng.integers(0, 6, offsets[-1])]
    got = NG.ngram_arrays(hashes, offsets, N, B)
    want = arrays_by_loop(hashes, offsets, N, B)
    for name, a, b in zip(("grams", "counts", "offsets", "totals"), got, want):
        assert a.dtype == np.int64, name
        assert a.tolist() == b, name


def test_one_word_sentence_has_no_bigram():
    g, counts, goffs, totals = NG.ngram_arrays(np.array([12345], np.uint64),
                                               np.array([0, 1]), 2, 100)
    assert g.tolist() == [45] and counts.tolist() == [1] and totals.tolist() == [1]


def test_one_bucket_collects_every_gram():
    h = np.arange(1, 6, dtype=np.uint64)
    g, counts, goffs, totals = NG.ngram_arrays(h, np.array([0, 2, 5]), 2, 1)
    assert g.tolist() == [0, 0] and counts.tolist() == [3, 5] and totals.tolist() == [3, 5]


def test_raw_tokens_keep_rare_words_apart():
    """Words under min_count are one unknown id for the RNN but their own n-grams here."""
    v = Vocabulary(min_count=2).fit(["good good film", "film"])
    ids, _ = v.encode(["superb film", "dreadful film"])
    assert ids[0] == ids[2]  # both rare words are the unknown word
    a = NG.text_ngram_arrays(v, ["superb film", "dreadful film"], 1, 1 << 21)
    grams, goffs = a[0], a[2]
    assert set(grams[goffs[0]:goffs[1]]) != set(grams[goffs[1]:goffs[2]])


def test_custom_tokenizer_and_empty_text():
    v = Vocabulary(tokenizer=str.split, min_count=1).fit(["A b"])
    g, counts, goffs, totals = NG.text_ngram_arrays(v, ["A b", "", "A"], 2, 1 << 20)
    assert totals.tolist() == [3, 0, 1] and goffs.tolist() == [0, 3, 3, 4]
    assert g[3] == fnv1a_py("A") % (1 << 20)  # a custom tokenizer's tokens, case kept


def test_disabled_path_gives_empty_arrays():
    v = Vocabulary(min_count=1).fit(["a b"])
    assert all(a.size == 0 for a in NG.text_ngram_arrays(v, ["a b"], 0, 10))


# --------------------------------------------------------------------------------------------
# the gradient
# --------------------------------------------------------------------------------------------
def corpus_grams(offsets, N=2, B=11, seed=3):
    """Random token hashes for a corpus (the kernels never see the tokens' ids here)."""
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**62, offsets[-1], dtype=np.int64).astype(np.uint64)
    return NG.ngram_arrays(h, offsets, N, B)


def ref_loss(Rp, sent, label, pooling, ngram):
    *_, y = R.forward(sent, Rp["WxhT"], Rp["Whh"], Rp["bh"], Rp["Why"], Rp["by"], pooling, ngram)
    return R.softmax_loss(y, label)[1]


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("T,B", [(1, 5), (4, 3), (7, 1)], ids=["T1", "T4", "T7-B1"])
def test_ngram_gradient_matches_finite_differences(pooling, T, B):
    """dL/dU rows and dL/dWhy (through the shared logits) against central differences."""
    V, H, O = 6, 4, 3
    P = make_params(V, H, O, np.float64, seed=T, scale=0.8)
    rng = np.random.default_rng(T)
    sent = rng.integers(0, V, T).astype(np.int32)
    offsets = np.array([0, T])
    grams = corpus_grams(offsets, N=2, B=B, seed=T)
    Rp = ref_params(P)
    Rp["U"] = rng.normal(0, 0.7, (B, O))
    label = 2
    ngram = R.sentence_ngrams(grams, 0, Rp["U"])
    hs, pooled, amax, y = R.forward(sent, Rp["WxhT"], Rp["Whh"], Rp["bh"], Rp["Why"], Rp["by"],
                                    pooling, ngram)
    p, _ = R.softmax_loss(y, label)
    dy = p.copy()
    dy[label] -= 1
    _, grads = R.backward(sent, hs, pooled, amax, Rp["Whh"], Rp["Why"], dy, pooling)
    dU = np.zeros_like(Rp["U"])
    for g, r in R.ngram_grad_rows(ngram, dy).items():
        dU[g] = r
    h = 1e-6
    for name, analytic in (("U", dU), ("Why", grads["Why"]), ("by", grads["by"])):
        W = Rp[name]
        num = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            old = W[idx]
            W[idx] = old + h
            lp = ref_loss(Rp, sent, label, pooling, R.sentence_ngrams(grams, 0, Rp["U"]))
            W[idx] = old - h
            lm = ref_loss(Rp, sent, label, pooling, R.sentence_ngrams(grams, 0, Rp["U"]))
            W[idx] = old
            num[idx] = (lp - lm) / (2 * h)
        err = np.abs(num - analytic).max() / max(np.abs(num).max(), 1e-12)
        assert err <= 1e-6, (name, err)
    untouched = np.setdiff1d(np.arange(B), grams[0])
    assert not dU[untouched].any()


# --------------------------------------------------------------------------------------------
# kernels against the reference
# --------------------------------------------------------------------------------------------
def run_both(dtype, optimizer, pooling, extra, orders, B=13, N=2, ngram_lr=0.7, corpus=None,
             gradient="exact", H=5):
    tokens, offsets, labels = corpus or make_corpus(n=12, V=10, min_len=1, max_len=7, O=3)
    grams = corpus_grams(offsets, N=N, B=B)
    U0 = np.random.default_rng(5).normal(0, 0.3, (B, 3))
    P = E.Params(*make_params(10, H, 3, dtype, scale=1.0).arrays(), dtype=dtype, U=U0)
    Rp = ref_params(P)
    Rp["U"] = P.U.copy()
    kw = dict(lr=0.05, optimizer=optimizer, pooling=pooling, gradient=gradient, **extra)
    tr = E.Trainer(P, ngram_lr=ngram_lr, **kw)
    got = [tr.epoch(tokens, offsets, labels, o, grams) for o in orders]
    state = R.init_optimizer_state(optimizer, *[Rp[n] for n in R.PARAM_NAMES], U=Rp["U"])
    step, want = 0, []
    for o in orders:
        loss, correct, step = R.train_epoch(tokens, offsets, labels, o, Rp, state, step=step,
                                            grams=grams, ngram_lr=ngram_lr, **kw)
        want.append((loss, correct))
    return P, tr, Rp, state, got, want


def check_close(P, tr, Rp, state, got, want, dtype, kind):
    tol = TOLERANCES[kind][dtype]
    for name in P.names + ("U",):
        np.testing.assert_allclose(getattr(P, name), Rp[name], err_msg=name, **tol)
    if tr.SU.shape[0]:
        np.testing.assert_allclose(tr.SU, state["U"], err_msg="SU", **tol)
    for (gl, gc), (wl, wc) in zip(got, want):
        assert gl == pytest.approx(wl, **TOLERANCES["loss"][dtype])
        if dtype == np.float64:
            assert gc == wc


CLIPS = [dict(), dict(clip=None), dict(clip_norm=0.5), dict(weight_decay=1e-2, clip=0.3)]
CLIP_IDS = ["clip1", "noclip", "clipnorm", "wd"]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "adam"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("extra", CLIPS, ids=CLIP_IDS)
def test_one_step_matches_reference(dtype, optimizer, pooling, extra):
    res = run_both(dtype, optimizer, pooling, extra, [np.array([3])])
    check_close(*res, dtype, "step")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "adam"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("extra", CLIPS, ids=CLIP_IDS)
def test_three_epochs_match_reference(dtype, optimizer, pooling, extra):
    rng = np.random.default_rng(1)
    orders = [rng.permutation(12) for _ in range(3)]
    res = run_both(dtype, optimizer, pooling, extra, orders)
    check_close(*res, dtype, "epochs")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", ["one-bucket", "one-word-bigrams", "trigrams", "tutorial"])
def test_edge_cases_match_reference(dtype, case):
    orders = [np.arange(12), np.arange(12)[::-1].copy()]
    kw = dict(B=13, N=2, corpus=None, gradient="exact")
    if case == "one-bucket":
        kw["B"] = 1  # every n-gram of every sentence collides
    elif case == "one-word-bigrams":
        kw["corpus"] = make_corpus(n=12, V=10, min_len=1, max_len=1, O=3)
    elif case == "trigrams":
        kw["N"] = 3
    else:
        kw["gradient"] = "tutorial"
    res = run_both(dtype, "adagrad", "mean", dict(clip_norm=1.0), orders, **kw)
    check_close(*res, dtype, "epochs")


def test_ngram_rate_is_its_own():
    """The table moves at ngram_lr, the other weights at lr (same gradients)."""
    a = run_both(np.float64, "sgd", "last", dict(clip=None), [np.array([0])], ngram_lr=0.05)
    b = run_both(np.float64, "sgd", "last", dict(clip=None), [np.array([0])], ngram_lr=0.5)
    U0 = np.random.default_rng(5).normal(0, 0.3, (13, 3))
    np.testing.assert_allclose(b[0].U - U0, 10 * (a[0].U - U0), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(a[0].Why, b[0].Why)
    assert (a[0].U != U0).sum() > 0


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_predict_matches_reference_serial_and_parallel(dtype):
    n = E.SERIAL_PREDICT_BELOW + 40
    tokens, offsets, _ = make_corpus(n=n, V=10, max_len=9, O=3, seed=4)
    grams = corpus_grams(offsets, B=17)
    P = make_params(10, 6, 3, dtype)
    P = E.Params(*P.arrays(), dtype=dtype, U=np.random.default_rng(2).normal(0, 1, (17, 3)))
    got = E.predict_proba(P, tokens, offsets, "mean", grams)
    g, counts, goffs, totals = grams
    m = goffs[50]
    small = E.predict_proba(P, tokens, offsets[:51], "mean",
                            (g[:m], counts[:m], goffs[:51], totals[:50]))
    np.testing.assert_array_equal(got[:50], small)
    ref = R.predict_proba(tokens, offsets, P.WxhT, P.Whh, P.bh, P.Why, P.by, "mean", P.U, grams)
    np.testing.assert_allclose(got, ref, **TOLERANCES["step"][dtype])
    plain = E.predict_proba(E.Params(*P.arrays()), tokens, offsets, "mean")
    assert np.abs(got - plain).max() > 1e-3  # the table matters


def test_zero_table_changes_nothing():
    """A zero table (as at init) gives the plain model's probabilities, bit for bit."""
    tokens, offsets, _ = make_corpus(n=30, V=10, O=3, seed=6)
    P = make_params(10, 6, 3)
    Z = E.Params(*P.arrays(), U=np.zeros((9, 3)))
    np.testing.assert_array_equal(
        E.predict_proba(Z, tokens, offsets, "last", corpus_grams(offsets, B=9)),
        E.predict_proba(P, tokens, offsets, "last"))


def test_engine_checks_the_gram_arrays():
    tokens, offsets, labels = make_corpus(n=4, V=10, O=3)
    P = E.Params(*make_params(10, 5, 3).arrays(), U=np.zeros((4, 3)))
    tr = E.Trainer(P, lr=0.1)
    with pytest.raises(ValueError, match="n-gram arrays"):
        tr.epoch(tokens, offsets, labels, np.arange(4))
    g = corpus_grams(offsets, B=9)  # buckets past the table's 4 rows
    with pytest.raises(ValueError, match="out of range"):
        tr.epoch(tokens, offsets, labels, np.arange(4), g)
    with pytest.raises(ValueError, match="do not match"):
        E.predict_proba(P, tokens, offsets[:3], "last", corpus_grams(offsets, B=4))
    with pytest.raises(ValueError, match=r"\(buckets, 3\)"):
        E.Params(*make_params(10, 5, 3).arrays(), U=np.zeros((4, 2)))


def test_divergence_check_reads_the_distinct_rows_of_many_repeated_buckets():
    """Many bucket occurrences in few distinct rows (a small vocabulary's n-grams, as the
    built-in corpus's): the per-epoch check reads those rows, not the whole table, and still
    catches a non-finite value there; with many distinct rows it checks the whole table."""
    n = 400
    tokens, offsets, labels = make_corpus(n=n, V=10, O=3, seed=2)
    B = 1 << 12
    few = np.random.default_rng(0).integers(0, 2**62, 6, dtype=np.int64).astype(np.uint64)
    h = np.random.default_rng(1).choice(few, offsets[-1])
    grams = NG.ngram_arrays(h, offsets, 2, B)
    P = E.Params(*make_params(10, 5, 3).arrays(), U=np.zeros((B, 3)))
    occurrences = E.check_grams(grams, P, offsets)[0]
    assert 64 * occurrences.shape[0] >= B  # too many to read one by one
    rows = E.touched_rows(P, occurrences)
    np.testing.assert_array_equal(rows, np.unique(occurrences))
    assert rows.dtype == np.int64 and 64 * rows.shape[0] < B
    P.U[np.setdiff1d(np.arange(B), rows)[0], 1] = np.nan  # no epoch writes or reads it
    tr = E.Trainer(P, lr=0.1)
    tr.epoch(tokens, offsets, labels, np.arange(n), grams)  # not a divergence
    P.U[rows[-1], 2] = np.inf
    with pytest.raises(FloatingPointError, match="diverged"):
        tr.epoch(tokens, offsets, labels, np.arange(n), grams)
    many = NG.ngram_arrays(np.random.default_rng(3).integers(0, 2**62, offsets[-1]).astype(
        np.uint64), offsets, 2, 1 << 8)
    P8 = E.Params(*make_params(10, 5, 3).arrays(), U=np.zeros((1 << 8, 3)))
    assert E.touched_rows(P8, E.check_grams(many, P8, offsets)[0]) is None


# --------------------------------------------------------------------------------------------
# Model(ngrams=...)
# --------------------------------------------------------------------------------------------
def texts_and_labels(n=120, seed=0):
    """Short random sentences; the label is whether "good" occurs (and not "not good")."""
    rng = np.random.default_rng(seed)
    words = ["the", "film", "was", "good", "not", "plot", "dull", "a", "very", "rare%d"]
    texts, labels = [], []
    for i in range(n):
        ws = [words[j] if j != 9 else words[9] % i for j in rng.integers(0, 10, rng.integers(1, 8))]
        t = " ".join(ws)
        texts.append(t)
        labels.append(int("good" in t and "not good" not in t))
    return texts, np.array(labels)


def test_model_rejects_bad_ngram_settings():
    from fastrnn import Model
    x, y = texts_and_labels(30)
    cases = [(dict(ngrams=-1), ValueError, "ngrams must be >= 0"),
             (dict(ngrams=1.5), TypeError, "ngrams must be an integer"),
             (dict(ngrams=True), TypeError, "ngrams must be an integer"),
             (dict(ngrams=2, buckets=0), ValueError, "buckets must be >= 1"),
             (dict(ngrams=2, buckets=2.0), TypeError, "buckets must be an integer"),
             (dict(ngrams=2, buckets="x"), TypeError, "buckets must be an integer"),
             (dict(ngrams=2, ngram_learning_rate=0), ValueError, "ngram_learning_rate must be > 0"),
             (dict(ngrams=2, buckets=2**31 - 1), ValueError, "buckets .* is too large")]
    for kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            Model(epochs=1, **kw).fit(x, y)


def test_ngrams0_is_the_plain_model():
    """``ngrams=0``: no table, ``buckets``/``ngram_learning_rate`` ignored (the same bits), and
    the weights are those of the reference's plain model (no n-gram arrays at all)."""
    from fastrnn import Model
    x, y = texts_and_labels()
    a = Model(seed=3, epochs=4, ngrams=0, dtype="float64").fit(x, y)
    b = Model(seed=3, epochs=4, ngrams=0, buckets=7, ngram_learning_rate=2.0,
              dtype="float64").fit(x, y)
    assert a.params_.buckets == b.params_.buckets == 0
    for name in a.params_.names:
        np.testing.assert_array_equal(getattr(a.params_, name), getattr(b.params_, name))
    assert {"ngrams", "buckets", "ngram_learning_rate"} <= set(a.get_params())
    plain = Model(seed=3, epochs=4, ngrams=0, dtype="float64", backend="numpy").fit(x, y)
    assert plain.params_.buckets == 0 and a.n_epochs_ == plain.n_epochs_
    for name in a.params_.names:
        np.testing.assert_allclose(getattr(a.params_, name), getattr(plain.params_, name),
                                   rtol=1e-9, atol=1e-12)  # 4 epochs of chaotic drift


@pytest.fixture(scope="module")
def fitted():
    from fastrnn import Model
    x, y = texts_and_labels()
    m = Model(seed=1, epochs=6, ngrams=2, buckets=1 << 10, ngram_learning_rate=0.5,
              dtype="float64").fit(x, y)
    return m, x, y


def test_model_trains_the_table_and_predicts_with_it(fitted):
    m, x, y = fitted
    assert m.params_.U.shape == (1 << 10, 2) and np.count_nonzero(m.params_.U) > 0
    p = m.predict_proba(x)
    g = NG.text_ngram_arrays(m.vocabulary_, x, 2, 1 << 10)
    tokens, offsets = m.vocabulary_.encode(x)
    P = m.params_
    want = R.predict_proba(tokens, offsets, P.WxhT, P.Whh, P.bh, P.Why, P.by, m.pooling, P.U, g)
    np.testing.assert_allclose(p, want, **TOLERANCES["step"][np.float64])
    m.set_params(buckets=99)
    try:
        with pytest.raises(ValueError, match="do not match the fitted n-gram table"):
            m.predict(x)
    finally:
        m.set_params(buckets=1 << 10)


def test_numpy_backend_trains_the_same_path(fitted):
    from fastrnn import Model
    m, x, y = fitted
    r = Model(**dict(m.get_params(), backend="numpy")).fit(x, y)
    assert r.n_epochs_ == m.n_epochs_
    np.testing.assert_allclose(r.params_.U, m.params_.U, **TOLERANCES["epochs"][np.float64])
    np.testing.assert_allclose(r.predict_proba(x), m.predict_proba(x),
                               **TOLERANCES["epochs"][np.float64])


def test_train_many_gives_the_same_bits(fitted):
    from fastrnn import train_many
    m, x, y = fitted
    models, _ = train_many((x, y), [m.get_params(), dict(m.get_params(), ngrams=0)], threads=2)
    np.testing.assert_array_equal(models[0].params_.U, m.params_.U)
    np.testing.assert_array_equal(models[0].predict_proba(x), m.predict_proba(x))
    assert models[1].params_.buckets == 0


def test_save_load_roundtrip_and_bad_tables(fitted, tmp_path):
    import json
    from fastrnn import Model
    m, x, y = fitted
    f = tmp_path / "m.npz"
    m.save(f)
    back = Model.load(f)
    np.testing.assert_array_equal(back.params_.U, m.params_.U)
    np.testing.assert_array_equal(back.predict_proba(x), m.predict_proba(x))
    with np.load(f) as z:
        data = {k: z[k] for k in z.files}
    assert data["U_rows"].size == np.count_nonzero(np.any(m.params_.U != 0, axis=1))
    for name, change in [("out of range", lambda d: d["U_rows"].__setitem__(-1, 1 << 10)),
                         ("missing", lambda d: (d.pop("U_rows"), d.pop("U_values")))]:
        d = {k: v.copy() for k, v in data.items()}
        change(d)
        bad = tmp_path / f"bad-{name.replace(' ', '-')}.npz"
        np.savez(bad, **d)
        with pytest.raises(ValueError, match=str(bad.name) + ".*(n-gram table)"):
            Model.load(bad)
    # a file written before the n-gram path (no such parameters, no table) still loads
    plain = Model(seed=0, epochs=2, ngrams=0).fit(x, y)
    plain.save(f)
    with np.load(f) as z:
        d = {k: z[k] for k in z.files}
    meta = json.loads(bytes(d["meta"]).decode())
    for k in ("ngrams", "buckets", "ngram_learning_rate"):
        del meta["params"][k]
    d["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    old = tmp_path / "old.npz"
    np.savez(old, **d)
    back = Model.load(old)
    assert back.ngrams == 0 and back.params_.buckets == 0
    np.testing.assert_array_equal(back.predict_proba(x), plain.predict_proba(x))


def test_epoch_and_predict_kernels_are_keyed_on_the_ngram_source():
    from fastrnn.kernels import _cache, dropin, ngram, rnn
    for d in rnn.TRAIN_EPOCH_BY_OPTIMIZER + (rnn.train_epoch_adagrad_default,
                                              rnn.predict_proba_range):
        assert _cache.is_dependency_cached(d, ngram), d
    # kernels keyed on rnn.py embed its n-gram code too: keyed on ngram.py as well
    assert _cache.is_dependency_cached(dropin.dropin_backprop, ngram)


@pytest.mark.parametrize("tokenizer", [None, str.split], ids=["default", "custom"])
def test_joint_encode_equals_encode_plus_arrays(tokenizer):
    """ngrams.encode tokenizes once: the same ids as Vocabulary.encode, the same n-grams."""
    x, _ = texts_and_labels(80, seed=4)
    x = x + ["", "!!!", "<unk> zzqx", "Café  déjà-vu"]
    v = Vocabulary(tokenizer=tokenizer, min_count=2).fit(x)
    tokens, offsets, grams = NG.encode(v, x, 3, 1 << 12)
    want_t, want_o = v.encode(x)
    np.testing.assert_array_equal(tokens, want_t)
    np.testing.assert_array_equal(offsets, want_o)
    for a, b in zip(grams, NG.text_ngram_arrays(v, x, 3, 1 << 12)):
        np.testing.assert_array_equal(a, b)
    assert NG.encode(v, x, 0, 10)[2] is None


def test_dask_worker_results_carry_the_table(fitted):
    """What a Dask worker sends back rebuilds the model with its n-gram table (no cluster:
    the worker function and the rebuild, called directly)."""
    from fastrnn import _many_dask as D
    m, x, y = fitted
    params = m.get_params()
    out = D._chunk_worker([(0, 0, params, "d")],
                          {"d": {"texts": x, "labels": y, "validation": None}}, 1)
    back = D._model_from_plain(params, out[0])
    np.testing.assert_array_equal(back.params_.U, m.params_.U)
    np.testing.assert_array_equal(back.predict_proba(x), m.predict_proba(x))
