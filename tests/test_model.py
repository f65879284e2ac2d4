"""fastrnn.Model: fitting, prediction, determinism, backends, persistence, bad input."""

import json
import os
import warnings

import numpy as np
import pytest

import fastrnn
from fastrnn import Model, NotFittedError
from fastrnn.datasets import load_demo

FAST = dict(hidden_size=16, epochs=3, progress=False)
TUTORIAL_RECIPE = dict(pooling="last", optimizer="sgd", learning_rate=0.02, init="tutorial",
                       min_count=1, early_stopping=False, gradient="tutorial")


@pytest.fixture(scope="module")
def demo():
    return load_demo(n_train=600, n_test=200, seed=1)


@pytest.mark.slow
def test_defaults_learn_the_builtin_corpus():
    """The issue's bar, >= 99% test accuracy on the built-in corpus with defaults, by outcome
    over three seeds (the kernels' float sums follow the CPU's vector width, so a seed's
    trajectory differs between machines): each >= 98%, the mean >= 99%.  With a fixed
    patience of 5, seed 0 stopped on a plateau at epoch 15 on an AMD Zen 3 (79.6%)."""
    (tr, ytr), (te, yte) = load_demo()
    scores = [Model(seed=s, progress=False).fit(tr, ytr).score(te, yte) for s in range(3)]
    assert min(scores) >= 0.98 and np.mean(scores) >= 0.99, scores


def test_auto_patience_rule():
    """n_iter_no_change="auto": 5 until the best epoch is later, then that epoch, at most 10;
    an int is kept as it is."""
    from fastrnn._fit import patience
    assert [patience(None, b) for b in (None, 1, 5, 6, 9, 10, 11, 80)] == [
        5, 5, 5, 6, 9, 10, 10, 10]
    assert patience(2, 80) == 2 and patience(7, None) == 7


def test_auto_patience_waits_out_a_plateau(demo):
    """A fit whose best epoch is late stops later than a fixed 5 would, and keeps waiting only
    as long as the rule says: the epochs after the kept one are exactly its patience (or the
    fit hit ``epochs``)."""
    from fastrnn._fit import patience
    (tr, ytr), _ = demo
    for seed in range(3):
        m = Model(seed=seed, hidden_size=8, epochs=40, progress=False).fit(tr, ytr)
        after = m.n_epochs_ - m.best_epoch_
        assert after == patience(None, m.best_epoch_) or m.n_epochs_ == 40, (
            seed, m.best_epoch_, m.n_epochs_)
    # an explicit int is exact
    m = Model(seed=0, hidden_size=8, epochs=40, n_iter_no_change=2, progress=False).fit(tr, ytr)
    assert m.n_epochs_ - m.best_epoch_ == 2 or m.n_epochs_ == 40


def test_fit_predict_shapes_and_history(demo):
    (tr, ytr), (te, yte) = demo
    m = Model(seed=0, **FAST).fit(tr, ytr)
    assert m is not None and list(m.classes_) == [0, 1]
    p = m.predict_proba(te)
    assert p.shape == (len(te), 2) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert set(np.unique(m.predict(te))) <= {0, 1}
    assert 1 <= len(m.history_) <= 3
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"} <= set(m.history_[0])
    # plain Python numbers (val_accuracy was a numpy float64 among Python floats)
    assert {type(v) for h in m.history_ for v in h.values()} <= {int, float}
    ev = m.evaluate(te, yte)
    assert ev["accuracy"] == m.score(te, yte)
    assert ev["loss"] > 0


def test_string_labels_and_three_classes():
    texts = ["good", "great film", "bad", "awful", "okay", "fine i guess"] * 20
    labels = ["pos", "pos", "neg", "neg", "meh", "meh"] * 20
    m = Model(seed=0, early_stopping=False, epochs=30, hidden_size=8, min_count=1,
              learning_rate=0.1, progress=False).fit(texts, labels)
    assert list(m.classes_) == ["meh", "neg", "pos"]
    assert m.predict(["good", "awful", "okay"]).tolist() == ["pos", "neg", "meh"]
    assert m.predict_proba(["good"]).shape == (1, 3)


@pytest.mark.parametrize("labels", [[1, "pos"] * 5, ("neg", 0.5) * 5,
                                    np.array([1, "pos"] * 5, dtype=object)])
def test_mixed_label_types_are_refused(labels):
    """numpy would turn [1, "pos"] into the strings "1" and "pos": refused by name instead."""
    with pytest.raises(TypeError, match=r"labels mix strings and other types \((float|int), "
                                        r"str\); use one kind of label"):
        Model(progress=False).fit(["good", "bad"] * 5, labels)
    m = Model(seed=0, early_stopping=False, epochs=2, hidden_size=8, min_count=1,
              progress=False).fit(["good", "bad"] * 5, [np.str_("p"), "n"] * 5)
    assert m.classes_.tolist() == ["n", "p"]  # numpy's str is a str


def test_bool_labels():
    m = Model(seed=0, early_stopping=False, epochs=20, hidden_size=8, min_count=1,
              learning_rate=0.1, progress=False).fit(["yes", "no"] * 10, [True, False] * 10)
    assert m.predict(["yes"]).tolist() == [True]


def test_same_seed_same_weights_bitwise(demo):
    (tr, ytr), _ = demo
    a = Model(seed=3, **FAST).fit(tr, ytr)
    b = Model(seed=3, **FAST).fit(tr, ytr)
    for name in a.params_.names:
        np.testing.assert_array_equal(getattr(a.params_, name), getattr(b.params_, name))
    c = Model(seed=4, **FAST).fit(tr, ytr)
    assert not np.array_equal(a.params_.Whh, c.params_.Whh)


@pytest.mark.parametrize("recipe,epochs", [(dict(), 1), (TUTORIAL_RECIPE, 3)],
                         ids=["default", "tutorial"])
def test_numpy_backend_matches_numba(demo, recipe, epochs):
    """Same data, seed and recipe through both backends: the same weights (float64).

    Compared over ~150-450 updates: with the default Adagrad rate of 0.1 training is chaotic,
    and ulp-level differences (the kernels' vectorised tanh vs numpy's) grow to 1e-5 after
    three epochs; one epoch stays at 1e-12.
    """
    (tr, ytr), (te, _) = demo
    kw = dict(FAST, seed=2, dtype="float64", **dict(dict(early_stopping=False), **recipe))
    kw["epochs"] = epochs
    a = Model(backend="numba", **kw).fit(tr[:150], ytr[:150])
    b = Model(backend="numpy", **kw).fit(tr[:150], ytr[:150])
    for name in a.params_.names:
        ref = getattr(b.params_, name)
        np.testing.assert_allclose(getattr(a.params_, name), ref, rtol=1e-9,
                                   atol=1e-10 * np.abs(ref).max(), err_msg=name)
    np.testing.assert_allclose(a.predict_proba(te), b.predict_proba(te), rtol=1e-9)


def test_early_stopping_keeps_best_epoch(demo):
    (tr, ytr), _ = demo
    m = Model(seed=0, hidden_size=16, epochs=12, n_iter_no_change=2, progress=False)
    m.fit(tr, ytr)
    best = min(h["val_loss"] for h in m.history_)
    assert m.history_[m.best_epoch_ - 1]["val_loss"] == best
    assert m.n_epochs_ <= 12


def test_validation_data_and_callback(demo):
    (tr, ytr), (te, yte) = demo
    seen = []
    m = Model(seed=0, **FAST).fit(tr, ytr, validation_data=(te, yte),
                                  callback=lambda h: seen.append(h) or len(seen) < 2)
    assert len(seen) == 2 == len(m.history_)
    assert seen[0]["val_accuracy"] == pytest.approx(m.history_[0]["val_accuracy"])


def test_unknown_words_at_predict_time(demo):
    (tr, ytr), _ = demo
    m = Model(seed=0, **FAST).fit(tr, ytr)
    with pytest.warns(fastrnn.EmptyTextWarning, match="2 of 3 texts tokenise to no word"):
        p = m.predict_proba(["zzz qqq never seen", "", "!!!"])
    assert p.shape == (3, 2) and np.isfinite(p).all()
    np.testing.assert_array_equal(p[1], p[2])  # every empty text gets the same answer
    for score in (m.evaluate, m.score):  # scoring warns as predicting does, pointing here
        with pytest.warns(fastrnn.EmptyTextWarning, match="1 of 2 texts tokenise") as rec:
            score([tr[0], "!!!"], [ytr[0], ytr[1]])
        assert rec[0].filename == __file__
    for predict in (m.predict_proba, m.predict):
        with pytest.warns(fastrnn.EmptyTextWarning) as rec:
            predict(["", tr[0]])
        assert len(rec) == 1 and rec[0].filename == __file__


def test_empty_texts_warn_with_a_count_and_all_empty_is_refused(demo, recwarn):
    (tr, ytr), _ = demo
    texts = list(tr[:200]) + ["", "!!! ...", "\U0001F600\U0001F44D"]
    labels = list(ytr[:200]) + [0, 1, 0]
    with pytest.warns(fastrnn.EmptyTextWarning, match="3 of 203 texts tokenise to no word"):
        Model(seed=0, **FAST).fit(texts, labels)
    recwarn.clear()
    Model(seed=0, **FAST).fit(tr[:200], ytr[:200])  # no empty text: no warning
    assert not [w for w in recwarn if issubclass(w.category, fastrnn.EmptyTextWarning)]
    # an unknown word is not an empty text
    m = Model(seed=0, **FAST).fit(tr[:200], ytr[:200])
    m.predict_proba(["zzzqqq"])
    assert not [w for w in recwarn if issubclass(w.category, fastrnn.EmptyTextWarning)]
    with pytest.raises(ValueError, match="all 6 texts tokenise to no word"):
        Model(seed=0, early_stopping=False, **FAST).fit(["", "!", "?", "...", " ", "#"],
                                                       [0, 1, 0, 1, 0, 1])


def test_save_load_round_trip(tmp_path, demo):
    (tr, ytr), (te, _) = demo
    m = Model(seed=0, **FAST).fit(tr, ytr)
    path = m.save(tmp_path / "m.npz")
    m2 = Model.load(path)
    np.testing.assert_array_equal(m.predict_proba(te), m2.predict_proba(te))
    assert m2.get_params()["hidden_size"] == 16
    assert list(tmp_path.iterdir()) == [path]  # no temp file left


def test_load_rejects_bad_files(tmp_path, demo):
    (tr, ytr), _ = demo
    m = Model(seed=0, **FAST).fit(tr, ytr)
    good = m.save(tmp_path / "m.npz")
    data = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="trunc.npz"):
        Model.load(tmp_path / "trunc.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="text.npz"):
        Model.load(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastrnn model"):
        Model.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        Model.load(tmp_path / "missing.npz")
    import json
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["meta"]))
    meta["format_version"] = 99
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "v99.npz", **arrays)
    with pytest.raises(ValueError, match="version 99"):
        Model.load(tmp_path / "v99.npz")
    meta["format_version"] = 1
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    arrays["Whh"] = arrays["Whh"][:3]
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ValueError, match="shape.npz"):
        Model.load(tmp_path / "shape.npz")


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        Model().predict(["good"])


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(pooling="median"), ValueError, "pooling"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(init="orthogonal"), ValueError, "init"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
    (dict(validation_fraction=0), ValueError, "validation_fraction"),
    (dict(learning_rate=-1), ValueError, "learning_rate"),
    (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
    (dict(hidden_size=0), ValueError, "hidden_size"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(dtype="int8"), TypeError, "dtype"),
    (dict(backend="torch"), ValueError, "backend"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay"),
    (dict(n_iter_no_change=0), ValueError, "n_iter_no_change must be >= 1"),
    (dict(n_iter_no_change="Auto"), TypeError, 'n_iter_no_change must be an integer or "auto"'),
    (dict(n_iter_no_change=2.5), TypeError, 'n_iter_no_change must be an integer or "auto"'),
])
def test_bad_parameters_fail_before_training(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Model(**kwargs).fit(["good", "bad"] * 10, [1, 0] * 10)


def test_bad_data():
    with pytest.raises(ValueError, match=r"two classes, got only \[1\]$"):
        Model().fit(["a", "b", "c"], [1, 1, 1])
    with pytest.raises(ValueError, match=r"not seen in training: \['maybe'\]$"):
        Model().fit(["a", "b", "c", "d"], ["yes", "no", "yes", "no"],
                    validation_data=(["e"], ["maybe"]))
    with pytest.raises(ValueError, match="empty"):
        Model().fit([], [])
    with pytest.raises(TypeError, match="single string"):
        Model().fit("good", [1])
    with pytest.raises(ValueError, match="one label per text"):
        Model().fit(["a", "b"], [1])
    with pytest.raises(ValueError, match="leaves a class"):
        Model(validation_fraction=0.5).fit(["a", "b", "c"], [0, 1, 1])
    m = Model(early_stopping=False, epochs=1, progress=False).fit(["a", "b"], [0, 1])
    with pytest.raises(ValueError, match="not trained on"):
        m.evaluate(["a"], [7])


def test_sklearn_pipeline_and_grid_search(demo):
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import Pipeline
    (tr, ytr), _ = demo
    m = Model(seed=0, **FAST)
    c = clone(m)
    assert c.get_params() == m.get_params()
    scores = cross_val_score(Model(seed=0, **FAST), tr[:300], ytr[:300], cv=2)
    assert scores.shape == (2,)
    grid = GridSearchCV(Pipeline([("rnn", Model(seed=0, **FAST))]),
                        {"rnn__hidden_size": [4, 8]}, cv=2).fit(tr[:300], ytr[:300])
    assert grid.best_params_["rnn__hidden_size"] in (4, 8)


def test_public_api():
    assert {"Model", "RNN", "Vocabulary", "datasets", "reference"} <= set(fastrnn.__all__)
    assert isinstance(fastrnn.__version__, str)


def test_divergence_is_an_error_not_silent_nan():
    """An absurd rate without clipping overflows: a clear error, never NaN weights returned."""
    texts = ["good film", "bad film", "not good", "not bad"] * 10
    labels = [1, 0, 0, 1] * 10
    m = Model(learning_rate=1e38, clip=None, optimizer="sgd", early_stopping=False, epochs=5,
              min_count=1, dtype="float32", seed=0, progress=False)
    with pytest.raises(FloatingPointError, match="diverged"):
        m.fit(texts, labels)
    # a diverged first fit leaves the model unfitted
    assert not any(hasattr(m, a) for a in ("vocabulary_", "classes_", "params_", "history_",
                                           "best_epoch_", "n_epochs_", "fit_time_"))
    with pytest.raises(NotFittedError):
        m.predict(texts)


def test_failed_refit_keeps_the_previous_fitted_state(demo):
    """scikit-learn's behaviour: a refit that raises leaves the model as it was."""
    (tr, ytr), (te, yte) = demo
    m = Model(seed=0, **FAST).fit(tr[:300], ytr[:300])
    before = {a: getattr(m, a) for a in ("vocabulary_", "classes_", "params_", "history_",
                                         "best_epoch_", "n_epochs_", "fit_time_")}
    weights = {n: getattr(m.params_, n).copy() for n in m.params_.names}
    p = m.predict_proba(te)
    m.set_params(learning_rate=1e38, clip=None, optimizer="sgd", dtype="float32")
    with pytest.raises(FloatingPointError, match="diverged"):
        m.fit(tr[:300], ytr[:300])
    for a, v in before.items():
        assert getattr(m, a) is v, a
    for n, w in weights.items():
        np.testing.assert_array_equal(getattr(m.params_, n), w)
    m.set_params(learning_rate=0.1, clip=1.0, optimizer="adagrad")
    np.testing.assert_array_equal(m.predict_proba(te), p)
    # bad input and a raising callback: the same
    with pytest.raises(ValueError):
        m.fit(tr[:5], [1] * 5)
    assert m.params_ is before["params_"]

    seen = []

    def boom(metrics):
        seen.append(m.evaluate(te[:20], yte[:20]))  # the live model, inside the callback
        if metrics["epoch"] == 2:
            raise RuntimeError("stop")
    with pytest.raises(RuntimeError, match="stop"):
        m.fit(tr[:200], ytr[:200], callback=boom)
    assert len(seen) == 2 and seen[0] != seen[1]
    for a, v in before.items():
        assert getattr(m, a) is v, a
    fresh = Model(seed=0, **FAST)
    with pytest.raises(RuntimeError, match="stop"):
        fresh.fit(tr[:200], ytr[:200], callback=boom)
    assert not hasattr(fresh, "params_") and not hasattr(fresh, "vocabulary_")


def test_history_has_per_epoch_seconds(demo):
    (tr, ytr), _ = demo
    m = Model(seed=0, **FAST).fit(tr, ytr)
    assert all(h["epoch_s"] > 0 and h["time"] >= h["epoch_s"] for h in m.history_)


def test_library_imports_no_click():
    from conftest import run_python
    code = ("import sys, fastrnn; from fastrnn import Model; "
            "Model(epochs=1, progress=True, early_stopping=False, min_count=1)"
            ".fit(['a b', 'c d'], [0, 1]); print(sorted(m for m in sys.modules "
            "if m == 'click' or m.startswith('click.')))")
    out = run_python(code, timeout=300)
    assert out.stdout.strip() == "[]"
    assert "training" in out.stderr  # the rich bar was shown (progress=True)


def test_params_all_finite_sees_every_array():
    from fastrnn import _engine as E
    P = E.Params.initial(5, 4, 3, "xavier", np.random.default_rng(0))
    assert P.all_finite()
    for name in P.names:
        Q = P.copy()
        getattr(Q, name).flat[-1] = np.nan
        assert not Q.all_finite(), name
        Q = P.copy()
        getattr(Q, name).flat[0] = -np.inf
        assert not Q.all_finite(), name


@pytest.mark.parametrize("cell", ["tanh", "gru", "lstm"])
def test_all_finite_sees_every_array_of_every_cell_with_vectors(cell):
    """The divergence check reads every parameter of every cell, an embedding model's Emb
    and WpeT and the n-gram table (its given rows only) included."""
    from fastrnn import _engine as E
    eng = E.cell_engine(cell)
    P = eng.initial(4, 3, 2, "xavier", np.random.default_rng(0), np.float32, buckets=8)
    E.attach_embeddings(P, np.ones((6, 4), np.float32), P.WxhT)
    assert P.all_finite() and P.all_finite(np.array([1, 5], dtype=np.int64))
    for name in P.names + ("U",):
        for bad in (np.nan, -np.inf):
            Q = P.copy()
            getattr(Q, name).flat[-1] = bad
            assert not Q.all_finite(), (name, bad)
    Q = P.copy()
    Q.U[5, 0] = np.nan
    assert not Q.all_finite(np.array([1, 5], dtype=np.int64))
    assert Q.all_finite(np.array([1, 2], dtype=np.int64))  # an untouched row is not read


def test_a_finite_but_diverged_fit_warns():
    """A learning rate far too large can leave the loss finite but huge (no NaN to raise on):
    Model.fit warns with DivergenceWarning naming the loss and the rate; a healthy fit does
    not warn (the rule fastrnn train refuses on)."""
    import warnings
    texts = ["good fun film", "bad dull film", "fun good", "dull bad"] * 10
    labels = [1, 0, 1, 0] * 10
    kw = dict(seed=0, epochs=5, early_stopping=False, progress=False, min_count=1)
    with pytest.warns(fastrnn.DivergenceWarning, match=r"training diverged: the training loss "
                      r"of the kept epoch \(5\) is .*uniform guess.*learning_rate \(now 1e\+30\)"):
        m = fastrnn.Model(learning_rate=1e30, **kw).fit(texts, labels)
    assert fastrnn._fit.divergence(m) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastrnn.DivergenceWarning)
        ok = fastrnn.Model(**kw).fit(texts, labels)
    assert fastrnn._fit.divergence(ok) is None


def _tiny_model():
    texts = ["good fun film", "bad dull film", "fun good", "dull bad"] * 5
    return fastrnn.Model(seed=0, epochs=2, early_stopping=False, progress=False,
                         min_count=1).fit(texts, [1, 0, 1, 0] * 5), texts


def test_save_replaces_only_files_that_say_they_are_fastrnn_models(tmp_path):
    """An .npz of the user's own with a ``meta`` array is not a model file: not replaced (it
    was, taken for one).  ``overwrite``/``oov_vectors`` are bools, checked."""
    m, _ = _tiny_model()
    own = tmp_path / "mine.npz"
    np.savez(own, meta=np.arange(3), data=np.ones(5))
    before = own.read_bytes()
    with pytest.raises(ValueError, match="exists and is not a fastrnn model file"):
        m.save(own)
    assert own.read_bytes() == before
    for kw in ({"overwrite": "no"}, {"oov_vectors": "no"}):
        with pytest.raises(TypeError, match=f"{next(iter(kw))} must be True or False"):
            m.save(tmp_path / "new.npz", **kw)
    assert not (tmp_path / "new.npz").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_save_and_load_refuse_a_pipe_and_write_through_a_link(tmp_path):
    """A named pipe is neither read (is_zipfile blocked on it) nor replaced, overwrite or not;
    a symbolic link is written through (its target updated, the link kept); a long legal file
    name saves (the temporary name used to pass the length limit); no temporary file is left."""
    m, texts = _tiny_model()
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a pipe, not a regular file"):
        fastrnn.Model.load(fifo)
    for kw in ({}, {"overwrite": True}):
        with pytest.raises(ValueError, match="is a pipe, not a regular file"):
            m.save(fifo, **kw)
    real = tmp_path / "real.npz"
    m.save(real)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    m2 = fastrnn.Model(seed=1, epochs=1, early_stopping=False, progress=False,
                       min_count=1).fit(texts, [1, 0, 1, 0] * 5)
    m2.save(link)
    assert link.is_symlink()
    assert np.array_equal(fastrnn.Model.load(real).params_.Whh, m2.params_.Whh)
    long_name = tmp_path / ("b" * 250 + ".npz")
    m.save(long_name)
    assert fastrnn.Model.load(long_name).predict(texts).tolist() == m.predict(texts).tolist()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def _edited(tmp_path, edit):
    m, _ = _tiny_model()
    good = tmp_path / "good.npz"
    m.save(good)
    with np.load(good) as z:
        data = {k: z[k] for k in z.files}
    meta = json.loads(bytes(data["meta"]).decode())
    edit(meta, data)
    data["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **data)
    return bad


@pytest.mark.parametrize("edit, match", [
    (lambda meta, d: d.pop("Whh"), "it has no 'Whh'"),
    (lambda meta, d: d.__setitem__("Why", np.float32(1)), "'Why' has 0 dimensions"),
    (lambda meta, d: d.__setitem__("by", d["by"].astype(str)), "'by' holds <U"),
    (lambda meta, d: d.__setitem__("bh", d["bh"].astype(np.complex64)), "'bh' holds complex"),
    (lambda meta, d: meta.__setitem__("classes", [1, 1]), r"classes \[1, 1\] are not distinct"),
])
def test_load_names_what_is_wrong_in_an_edited_file(tmp_path, edit, match):
    """Edited files that got past the checks (an IndexError, strings read as numbers, a
    complex warning, duplicate classes predicting one class) are one ValueError naming it."""
    bad = _edited(tmp_path, edit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=match):
            fastrnn.Model.load(bad)


def test_save_never_replaces_a_file_that_is_not_a_model(tmp_path):
    """Model.save replaces an older model file, but not the user's data (or any other file)
    unless overwrite=True; a folder is refused by name."""
    texts = ["good fun film", "bad dull film", "fun good", "dull bad"] * 5
    labels = [1, 0, 1, 0] * 5
    m = fastrnn.Model(seed=0, epochs=2, early_stopping=False, progress=False,
                      min_count=1).fit(texts, labels)
    data = tmp_path / "train.tsv"
    data.write_text("label\ttext\n1\tgood fun\n")
    before = data.read_bytes()
    with pytest.raises(ValueError, match=r"train\.tsv exists and is not a fastrnn model file: "
                                         r"not overwritten \(pass overwrite=True"):
        m.save(data)
    assert data.read_bytes() == before
    with pytest.raises(ValueError, match="is a directory"):
        m.save(tmp_path)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        m.save(42)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        fastrnn.Model.load(42)
    model_file = tmp_path / "m.npz"
    m.save(model_file)
    m.save(model_file)  # an older model is replaced
    m.save(data, overwrite=True)
    assert fastrnn.Model.load(data).predict(texts).tolist() == m.predict(texts).tolist()


def test_labels_that_look_like_texts_are_refused_by_name():
    """Texts given as labels (columns swapped): most classes hold one text, so nothing can be
    learned; the error says so instead of a split or n-gram table complaint.  Three classes
    with repeats still train."""
    texts = [f"review number {i} was fine" for i in range(40)]
    with pytest.raises(ValueError, match=r"40 classes for 40 texts, 40 of them with a single "
                                         r"text .*look like texts or ids; check which column"):
        fastrnn.Model(progress=False).fit([str(i % 2) for i in range(40)], texts)
    m = fastrnn.Model(seed=0, epochs=2, progress=False, min_count=1)
    m.fit(texts, [i % 3 for i in range(40)])
    assert m.classes_.tolist() == [0, 1, 2]


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(validation_data=([], [])), ValueError, r"validation_data holds no texts: give at "
                                                 r"least one, or None"),
    (dict(validation_data=["good", "bad", "fun"]), ValueError,
     r"validation_data must be a \(texts, labels\) pair, got a list of 3"),
    (dict(validation_data={"texts": []}), ValueError,
     r"validation_data must be a \(texts, labels\) pair, got dict"),
    (dict(callback=3), TypeError, r"callback must be callable .*, got int"),
    (dict(progress="no"), TypeError, r"progress must be True or False or None, got 'no'"),
])
def test_bad_fit_arguments_are_refused_before_training(kwargs, exc, match, monkeypatch):
    """Before, empty validation data trained on NaN scores, a non-pair failed on unpacking and
    a bad callback only after the first epoch."""
    monkeypatch.setattr(fastrnn._fit, "run", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(exc, match=match):
        Model(progress=False).fit(["good fun", "bad dull"] * 5, [1, 0] * 5, **kwargs)


@pytest.mark.parametrize("name, value, match", [
    ("shuffle", "False", r"shuffle must be True or False, got 'False'"),
    ("shuffle", None, r"shuffle must be True or False, got None"),
    ("progress", -1, r"progress must be True or False or None, got -1"),
    ("dtype", None, r"dtype must be float32 or float64, got None"),
])
def test_flags_and_dtype_are_checked(name, value, match):
    with pytest.raises(TypeError, match=match):
        Model(**{name: value}).fit(["good fun", "bad dull"] * 5, [1, 0] * 5)
    # numpy's bools and the integers 0/1 are bools (files saved with shuffle=1 load)
    assert Model(shuffle=np.bool_(False), progress=None)._validate()
    assert Model(shuffle=1, progress=0, early_stopping=np.int64(1))._validate()
    with pytest.raises(TypeError, match="shuffle must be True or False, got 2"):
        Model(shuffle=2)._validate()
