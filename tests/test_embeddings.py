"""``Model(embeddings=...)``: pretrained word vectors as the input (kernels vs reference,
gradients, unseen words, persistence, bad input).  Small generated vectors only."""

import warnings

import numpy as np
import pytest

import fastrnn
from fastrnn import _engine as E
from fastrnn import reference_gated as RG
from fastrnn.kernels import gated as KG
from fastrnn.kernels import rnn as KR

WORDS = [f"w{i}" for i in range(30)]
#: vectors for most vocabulary words (w25..w29 have none) plus two words never in training
VEC_WORDS = WORDS[:25] + ["zz1", "zz2"]
E_DIM = 6
FAST = dict(hidden_size=8, epochs=3, early_stopping=False, progress=False, ngrams=0,
            min_count=1, seed=1, dtype="float64")


def corpus(n=90, seed=0):
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, rng.integers(1, 9))) for _ in range(n)]
    labels = [int(any(w in ("w1", "w2", "w3") for w in t.split())) for t in texts]
    return texts, labels


@pytest.fixture(scope="module")
def data():
    return corpus()


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(7)
    return VEC_WORDS, rng.standard_normal((len(VEC_WORDS), E_DIM))


def write_glove(path, words, M):
    path.write_text("".join(w + " " + " ".join(repr(float(x)) for x in row) + "\n"
                            for w, row in zip(words, M)), encoding="utf-8")
    return path


def assert_same(a, b, rtol, atol=1e-12):
    assert a.params_.names == b.params_.names
    for n in a.params_.names:
        np.testing.assert_allclose(a.params_[n], b.params_[n], rtol=rtol, atol=atol, err_msg=n)


# ---------------------------------------------------------------------------- kernels == reference
# each (cell, optimizer, dtype) compiles one embedding epoch kernel: every cell with every
# optimizer but the LSTM with Adagrad and SGD only (float64; float32 below for tanh); pooling,
# clipping, frozen/fine-tuned and the n-gram path are runtime branches of the same kernel
CASES = [
    ("tanh", "adagrad", "mean", True, 0, None),
    ("tanh", "adagrad", "max", False, 2, None),
    ("tanh", "sgd", "last", False, 0, None),
    ("tanh", "adam", "mean", False, 2, 0.5),
    ("gru", "adagrad", "mean", True, 2, None),
    ("gru", "adagrad", "max", False, 0, 0.5),
    ("lstm", "adagrad", "mean", False, 2, None),
    ("lstm", "adagrad", "last", True, 0, 0.5),
    ("gru", "sgd", "last", False, 0, None),
    ("gru", "adam", "mean", False, 2, None),
    ("lstm", "sgd", "max", True, 2, None),
]


@pytest.mark.parametrize("cell,optimizer,pooling,freeze,ngrams,clip_norm", CASES)
def test_kernels_equal_reference_after_three_epochs(data, vectors, cell, optimizer, pooling,
                                                    freeze, ngrams, clip_norm):
    texts, labels = data
    kw = dict(FAST, cell=cell, optimizer=optimizer, pooling=pooling, embeddings=vectors,
              freeze_embeddings=freeze, ngrams=ngrams, buckets=64, clip_norm=clip_norm,
              learning_rate=0.05 if optimizer != "sgd" else 0.1)
    a = fastrnn.Model(**kw).fit(texts, labels)
    b = fastrnn.Model(backend="numpy", **kw).fit(texts, labels)
    assert a.params_.names[:2] == ("Emb", "WpeT")
    G = 1 if cell == "tanh" else KG.N_GATES[KG.CELLS.index(cell)]
    assert a.params_.WpeT.shape == (E_DIM, G * 8)
    assert_same(a, b, rtol=1e-9)  # float64: <= 1e-9 relative after 3 epochs
    np.testing.assert_allclose(a.predict_proba(texts), b.predict_proba(texts), rtol=1e-9,
                               atol=1e-12)
    # the vectors: unchanged when frozen, trained (in the sentences' rows) when fine-tuned
    start = fastrnn.Model(**dict(kw, epochs=1, learning_rate=1e-12)).fit(texts, labels)
    moved = np.abs(a.params_.Emb - start.params_.Emb).max()
    assert (moved == 0) if freeze else (moved > 1e-4)


def test_float32_kernel_close_to_reference(data, vectors):
    texts, labels = data
    kw = dict(FAST, dtype="float32", embeddings=vectors, freeze_embeddings=False, ngrams=2,
              buckets=64)
    a = fastrnn.Model(**kw).fit(texts, labels)
    b = fastrnn.Model(backend="numpy", **kw).fit(texts, labels)
    assert a.params_.Emb.dtype == np.float32
    assert_same(a, b, rtol=1e-3, atol=1e-4)  # float32 after 3 epochs (conftest "epochs")
    np.testing.assert_allclose(a.predict_proba(texts), b.predict_proba(texts), atol=1e-4)


def test_embedding_model_differs_from_one_hot_and_learns(data, vectors):
    texts, labels = data
    emb = fastrnn.Model(**dict(FAST, epochs=30, embeddings=vectors)).fit(texts, labels)
    plain = fastrnn.Model(**dict(FAST, epochs=30)).fit(texts, labels)
    assert not np.allclose(emb.predict_proba(texts), plain.predict_proba(texts))
    assert emb.score(texts, labels) > 0.8


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("cell", ["tanh", "gru", "lstm"])
def test_loss_and_grad_matches_central_differences(cell, vectors):
    rng = np.random.default_rng(3)
    V, H, O = 9, 5, 3
    G = 1 if cell == "tanh" else RG.GATES[cell]
    p = {"Emb": rng.normal(0, 0.8, (V, E_DIM)), "WpeT": rng.normal(0, 0.4, (E_DIM, G * H)),
         "Whh": rng.normal(0, 0.3, (G * H, H)), "Why": rng.normal(0, 0.5, (O, H)),
         "by": rng.normal(0, 0.1, O)}
    if cell == "tanh":
        p["bh"] = rng.normal(0, 0.1, H)
    else:
        p["bih"] = rng.normal(0, 0.1, G * H)
        p["bhh"] = rng.normal(0, 0.1, G * H)
    tokens = np.array([3, 1, 3, 7, 0, 1], dtype=np.int32)  # repeated words, several rows
    loss, g = RG.loss_and_grad(p, tokens, 2, cell, "mean")
    assert set(g) == set(RG.param_names(cell, True))
    for name in ("WpeT", "Emb"):
        num = np.zeros_like(p[name])
        for idx in np.ndindex(p[name].shape):
            old = p[name][idx]
            h = 1e-6
            p[name][idx] = old + h
            up = RG.loss_and_grad(p, tokens, 2, cell, "mean")[0]
            p[name][idx] = old - h
            down = RG.loss_and_grad(p, tokens, 2, cell, "mean")[0]
            p[name][idx] = old
            num[idx] = (up - down) / (2 * h)
        err = np.abs(num - g[name]).max() / np.abs(num).max()
        assert err <= 1e-6, (name, err)
    assert np.all(g["Emb"][[2, 4, 5, 6, 8]] == 0)  # only the sentence's words' rows


def test_project_rows_matches_numpy():
    rng = np.random.default_rng(0)
    Emb = rng.normal(size=(7, 13))
    WpeT = rng.normal(size=(13, 10))
    X = np.empty((7, 10))
    KR.project_rows(WpeT, Emb, X)
    np.testing.assert_allclose(X, Emb @ WpeT, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- unseen words
def test_frozen_vectors_serve_words_first_seen_at_prediction(data, vectors, tmp_path):
    texts, labels = data
    frozen = fastrnn.Model(**dict(FAST, embeddings=vectors)).fit(texts, labels)
    tuned = fastrnn.Model(**dict(FAST, embeddings=vectors, freeze_embeddings=False)).fit(
        texts, labels)
    assert frozen.params_.ext_words == ["zz1", "zz2"] and frozen.params_.Ext.shape == (2, E_DIM)
    assert tuned.params_.Ext.shape == (0, E_DIM)
    probe = ["w4 zz1", "w4 qqq", "w4 zz2"]
    pf = frozen.predict_proba(probe)
    assert not np.allclose(pf[0], pf[1]) and not np.allclose(pf[0], pf[2])
    pt = tuned.predict_proba(probe)
    np.testing.assert_array_equal(pt[0], pt[1])  # fine-tuned: both unknown words
    ref = fastrnn.Model(**dict(FAST, embeddings=vectors, backend="numpy")).fit(texts, labels)
    np.testing.assert_allclose(ref.predict_proba(probe), pf, rtol=1e-9, atol=1e-12)
    # and after a save/load round trip, without the vectors
    frozen.save(tmp_path / "f.npz")
    back = fastrnn.Model.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(back.predict_proba(probe), pf)


def test_lowercase_vectors_are_looked_up_lowercased(data):
    texts, labels = data
    # a tokenizer that keeps case, and lower-case vectors: "W1" finds "w1"'s vector
    upper = [t.upper() for t in texts]
    rng = np.random.default_rng(1)
    M = rng.normal(size=(len(WORDS), 4))
    m = fastrnn.Model(**dict(FAST, embeddings=(WORDS, M), tokenizer=str.split)).fit(
        upper, labels)
    assert m.params_.emb_lowercase
    i = m.vocabulary_.index("W1")
    np.testing.assert_allclose(m.params_.Emb[i], M[1])


def test_a_wordvectors_subset_keeps_its_sources_case_rule(data, tmp_path):
    """The lowercase rule is the source's: a case-sensitive file read for lower-case words
    only stays case-sensitive as a WordVectors (it used to be decided again on the rows kept,
    and then "W1" took "w1"'s vector); the WordVectors' source names the file."""
    texts, labels = data
    upper = [t.upper() for t in texts]
    rng = np.random.default_rng(2)
    words = ["Zz"] + WORDS
    src = write_glove(tmp_path / "cased.txt", words, rng.normal(size=(len(words), 4)))
    wv = fastrnn.load_vectors(src, words=WORDS, dtype=np.float64)
    assert wv.lowercase is False and set(wv.words) == set(WORDS)
    again = fastrnn.load_vectors(wv, words=WORDS[:3])
    assert again.lowercase is False and again.source == str(src)
    assert again.words == WORDS[:3] and again.vectors.dtype == np.float32
    with pytest.raises(ValueError, match="cover none of the"):  # "W1" is not looked up as "w1"
        fastrnn.Model(**dict(FAST, embeddings=wv, tokenizer=str.split)).fit(upper, labels)
    m = fastrnn.Model(**dict(FAST, embeddings=wv, tokenizer=str.split)).fit(texts, labels)
    assert m.params_.emb_lowercase is False
    i = m.vocabulary_.index("w1")
    np.testing.assert_array_equal(m.params_.Emb[i], wv["w1"])


# ---------------------------------------------------------------------------- persistence, API
@pytest.mark.parametrize("cell,freeze", [("tanh", False), ("gru", True)])
def test_save_load_round_trip(data, vectors, tmp_path, cell, freeze):
    texts, labels = data
    m = fastrnn.Model(**dict(FAST, cell=cell, embeddings=vectors, freeze_embeddings=freeze,
                             ngrams=2, buckets=64)).fit(texts, labels)
    path = m.save(tmp_path / "m.npz") or tmp_path / "m.npz"
    back = fastrnn.Model.load(path)
    assert back.params_.names == m.params_.names
    assert back.embeddings is None and back.freeze_embeddings == freeze
    probe = texts[:10] + ["zz1 w3", "nothing known"]
    np.testing.assert_array_equal(back.predict_proba(probe), m.predict_proba(probe))


def test_save_keeps_a_path_and_load_reattaches_vectors(data, vectors, tmp_path):
    texts, labels = data
    src = write_glove(tmp_path / "v.txt", *vectors)
    m = fastrnn.Model(**dict(FAST, embeddings=src)).fit(texts, labels)
    m.save(tmp_path / "m.npz", oov_vectors=False)
    with pytest.warns(fastrnn.MissingVectorsWarning,
                      match=r"m\.npz was saved without the vectors of the words outside its "
                      r"vocabulary \(oov_vectors=False\).*Model\.load\(path, embeddings=") as rec:
        small = fastrnn.Model.load(tmp_path / "m.npz")
    assert rec[0].filename == __file__
    assert small.embeddings == str(src) and small.params_.Ext.shape[0] == 0
    probe = ["w4 zz1"]
    assert not np.allclose(small.predict_proba(probe), m.predict_proba(probe))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # given the vectors again: no warning
        full = fastrnn.Model.load(tmp_path / "m.npz", embeddings=src)
        fastrnn.Model.load(m.save(tmp_path / "all.npz") or tmp_path / "all.npz")
    np.testing.assert_array_equal(full.predict_proba(probe), m.predict_proba(probe))
    # vectors of the vocabulary's words only: nothing left out, nothing to warn about
    vocab_words = [w for w in VEC_WORDS if w in m.vocabulary_]
    only = write_glove(tmp_path / "only.txt", vocab_words,
                       np.ones((len(vocab_words), E_DIM)))
    m2 = fastrnn.Model(**dict(FAST, embeddings=only)).fit(texts, labels)
    assert m2.params_.Ext.shape[0] == 0
    m2.save(tmp_path / "m2.npz", oov_vectors=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastrnn.Model.load(tmp_path / "m2.npz")
    wide = write_glove(tmp_path / "w.txt", VEC_WORDS, np.ones((len(VEC_WORDS), E_DIM + 1)))
    with pytest.raises(ValueError, match=r"w\.txt.*7.*6|width"):
        fastrnn.Model.load(tmp_path / "m.npz", embeddings=wide)


def test_get_params_clone_and_repr(data, vectors):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    texts, labels = data
    m = fastrnn.Model(**dict(FAST, embeddings=vectors, freeze_embeddings=False))
    p = m.get_params()
    assert p["embeddings"] is vectors and p["freeze_embeddings"] is False
    c = clone(m)
    assert c.freeze_embeddings is False and c.embeddings[0] == vectors[0]
    a = m.fit(texts, labels)
    b = c.fit(texts, labels)
    assert_same(a, b, rtol=0, atol=0)
    assert "freeze_embeddings=False" in repr(m)
    assert "embeddings=<(words, matrix) of shape (27, 6)>" in repr(m) and "w10" not in repr(m)
    assert sklearn


def test_accurate_preset_with_embeddings(vectors):
    m = fastrnn.Model.preset("accurate", embeddings=vectors, seed=2)
    assert (m.cell, m.freeze_embeddings, m.embeddings, m.seed) == ("gru", False, vectors, 2)
    assert fastrnn.Model.preset("accurate", embeddings=vectors,
                                freeze_embeddings=True).freeze_embeddings is True
    assert fastrnn.Model.preset("accurate").freeze_embeddings is True  # no vectors: unchanged
    assert fastrnn.Model.preset("fast", embeddings=vectors).get_params() == fastrnn.Model(
        embeddings=vectors).get_params()


def test_torch_export_refuses_embedding_models(data, vectors):
    texts, labels = data
    m = fastrnn.Model(**dict(FAST, embeddings=vectors)).fit(texts, labels)
    with pytest.raises(ValueError, match="embeddings"):
        m.to_torch_state_dict()


def test_train_many_with_embedding_models(data, vectors):
    texts, labels = data
    models = [fastrnn.Model(**dict(FAST, embeddings=vectors, seed=s)) for s in (0, 1)]
    fastrnn.train_many((texts, labels), models, threads=2, progress=False)
    alone = fastrnn.Model(**dict(FAST, embeddings=vectors, seed=1)).fit(texts, labels)
    assert_same(models[1], alone, rtol=0, atol=0)


def test_train_many_reads_a_shared_vectors_file_once(data, vectors, tmp_path, monkeypatch):
    """Models of one train_many call that share a vectors file read it once (frozen and
    fine-tuned alike; frozen ones with one vocabulary also share one table of the other
    words' vectors), and each equals its Model.fit bit for bit; a model alone with its file
    streams its rows as Model.fit does; a bad shared file fails each of its models."""
    import fastrnn.vectors as fv
    texts, labels = data
    src = write_glove(tmp_path / "v.txt", *vectors)
    other = write_glove(tmp_path / "w.txt", *vectors)
    reads = []
    real = fv.load_vectors

    def counting(source, *a, **k):
        reads.append((str(source), k.get("words") is not None))
        return real(source, *a, **k)

    monkeypatch.setattr(fv, "load_vectors", counting)
    specs = [dict(embeddings=src, seed=0), dict(embeddings=src, seed=1, freeze_embeddings=False),
             dict(embeddings=str(tmp_path / "." / "v.txt"), seed=2),
             dict(embeddings=other, seed=3, freeze_embeddings=False),
             dict(embeddings=src, seed=0, hidden_size=5),
             dict(embeddings=src, seed=4, min_count=12)]
    models = [fastrnn.Model(**dict(FAST, **k)) for k in specs]
    fastrnn.train_many((texts, labels), models, threads=2, progress=False)
    assert sorted(reads) == [(str(src), False), (str(other), True)]
    # frozen models with the same vocabulary (here: no validation split, min_count=1) share
    # the other words' vectors; another vocabulary has its own
    assert models[4].params_.Ext is models[0].params_.Ext is models[2].params_.Ext
    assert models[5].params_.Ext is not models[0].params_.Ext
    assert len(models[5].vocabulary_) < len(models[0].vocabulary_)
    monkeypatch.setattr(fv, "load_vectors", real)
    for k, m in zip(specs, models):
        assert_same(m, fastrnn.Model(**dict(FAST, **k)).fit(texts, labels), rtol=0, atol=0)

    bad = tmp_path / "bad.txt"
    bad.write_text("w0 1 2 3\nw1 1 2\n")
    models = [fastrnn.Model(**dict(FAST, embeddings=bad, seed=s)) for s in (0, 1)]
    out = fastrnn.train_many((texts, labels), models, threads=2, progress=False,
                             errors="record")
    assert out.models == [None, None]
    assert [r["status"] for r in out.results] == ["error", "error"], out.results
    assert all("bad.txt" in r["error"] and "line 2" in r["error"] for r in out.results)


def test_wordvectors_object_and_file_give_the_same_model(data, vectors, tmp_path):
    texts, labels = data
    src = write_glove(tmp_path / "v.txt", *vectors)
    a = fastrnn.Model(**dict(FAST, embeddings=src)).fit(texts, labels)
    b = fastrnn.Model(**dict(FAST, embeddings=fastrnn.load_vectors(src, dtype=np.float64))).fit(
        texts, labels)
    c = fastrnn.Model(**dict(FAST, embeddings=vectors)).fit(texts, labels)
    assert_same(a, b, rtol=0, atol=0)
    assert_same(a, c, rtol=1e-15)  # the text file holds repr() of the same float64 values


def test_one_hot_models_do_not_compile_the_embedding_path(tmp_path):
    from conftest import run_python
    code = (
        "import fastrnn\n"
        "from fastrnn.kernels import rnn as K\n"
        "t = ['good fun film', 'bad dull film', 'fun good', 'dull bad'] * 5\n"
        "y = [1, 0, 1, 0] * 5\n"
        "fastrnn.Model(epochs=1, early_stopping=False, progress=False).fit(t, y).predict(t)\n"
        "emb = [k for k in K.TRAIN_EPOCH_EMB_BY_OPTIMIZER + (K.project_rows,) if k.signatures]\n"
        "print(len(emb), len(K.train_epoch_adagrad_default.signatures),\n"
        "      len(K.train_epoch_adagrad.signatures))\n")
    out = run_python(code)
    assert out.stdout.split() == ["0", "1", "0"]  # only the default recipe's kernel


# ---------------------------------------------------------------------------- bad input
BAD_FILES = [
    ("w0 1 2 3\nw1 1 2\n", r"bad\.txt.*line 2"),
    ("2 3\nw0 1 2 3\n", r"bad\.txt"),            # header says 2 rows, the file has 1
    (b"w0 1 2\n\xff\xfe 1 2\n", r"bad\.txt.*UTF-8"),
    ("w0 1 nan\nw1 1 2\n", r"bad\.txt.*line 1"),
    ("w0 1 2\nw0 3 4\n", r"bad\.txt.*line 2"),
]


@pytest.mark.parametrize("content,match", BAD_FILES)
def test_bad_vector_files_surface_through_fit(data, tmp_path, content, match):
    texts, labels = data
    path = tmp_path / "bad.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    m = fastrnn.Model(**dict(FAST, embeddings=path))
    with pytest.raises(ValueError, match=match):
        m.fit(texts, labels)
    assert not hasattr(m, "params_")  # nothing trained on half-read vectors


def test_bad_arguments(data, vectors):
    texts, labels = data
    with pytest.raises(TypeError, match="embeddings must be"):
        fastrnn.Model(**dict(FAST, embeddings=42)).fit(texts, labels)
    with pytest.raises(TypeError, match="freeze_embeddings must be True or False"):
        fastrnn.Model(**dict(FAST, embeddings=vectors, freeze_embeddings="yes")).fit(texts,
                                                                                   labels)
    with pytest.raises(ValueError, match="cover none of the"):
        fastrnn.Model(**dict(FAST, embeddings=(["xx", "yy"], np.ones((2, 3))))).fit(texts,
                                                                                  labels)
    with pytest.raises(FileNotFoundError):
        fastrnn.Model(**dict(FAST, embeddings="/nonexistent/vectors.txt")).fit(texts, labels)


def test_refit_keeps_previous_weights_when_the_vectors_are_bad(data, vectors, tmp_path):
    texts, labels = data
    m = fastrnn.Model(**dict(FAST, embeddings=vectors)).fit(texts, labels)
    before = m.params_.WpeT.copy()
    bad = tmp_path / "bad.txt"
    bad.write_text("w0 1 2\nw1 1\n", encoding="utf-8")
    m.set_params(embeddings=bad)
    with pytest.raises(ValueError, match="line 2"):
        m.fit(texts, labels)
    np.testing.assert_array_equal(m.params_.WpeT, before)


def test_engine_rejects_inconsistent_embedding_arrays():
    P = E.Params(np.zeros((3, 4)), np.zeros((4, 4)), np.zeros((2, 4)), np.zeros(4), np.zeros(2))
    with pytest.raises(ValueError, match="WpeT"):
        E.attach_embeddings(P, np.zeros((3, 5)), np.zeros((6, 4)))


def test_train_many_on_dask_keeps_the_unseen_words_vectors(data, vectors, tmp_path):
    # a frozen model's vectors of words outside the vocabulary travel back from the worker
    distributed = pytest.importorskip("dask.distributed")
    texts, labels = data
    path = write_glove(tmp_path / "v.txt", *vectors)
    params = dict(FAST, embeddings=str(path), freeze_embeddings=True)
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        res = fastrnn.train_many((texts, labels), [params], client=client, chunk_size=1)
    got, alone = res.models[0], fastrnn.Model(**params).fit(texts, labels)
    assert got.params_.Ext.shape[0] == alone.params_.Ext.shape[0] > 0
    assert got.params_.ext_words == alone.params_.ext_words
    unseen = ["zz1 w1", "zz2 zz1"]  # words only the vectors know
    np.testing.assert_array_equal(got.predict_proba(unseen), alone.predict_proba(unseen))


def test_in_memory_vectors_with_output_dir_is_a_short_clear_error(data, vectors, tmp_path):
    texts, labels = data
    words, M = vectors
    big = (words * 200, np.tile(M, (200, 1)))  # a long table: the message must not print it
    with pytest.raises(ValueError, match="embeddings=.*file path") as e:
        fastrnn.train_many((texts, labels), [dict(FAST, embeddings=big)], output_dir=tmp_path)
    assert len(str(e.value)) < 400


@pytest.mark.parametrize("cell", ["tanh", "gru"])
def test_early_stopping_with_ngrams_keeps_the_best_epoch(data, vectors, cell):
    # the defaults' shape (n-gram path + early stopping): the best-epoch snapshot of an
    # embedding model holds Emb/WpeT and the n-gram rows, and equals the reference's
    texts, labels = data
    kw = dict(FAST, cell=cell, embeddings=vectors, freeze_embeddings=False, ngrams=2,
              buckets=256, early_stopping=True, epochs=6, n_iter_no_change=2,
              validation_fraction=0.2)
    a = fastrnn.Model(**kw).fit(texts, labels)
    b = fastrnn.Model(backend="numpy", **kw).fit(texts, labels)
    assert a.best_epoch_ == b.best_epoch_
    assert_same(a, b, rtol=1e-9)
    np.testing.assert_allclose(a.params_.U, b.params_.U, rtol=1e-9, atol=1e-12)
