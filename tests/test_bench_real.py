"""fastrnn-bench run real: recipes (default, accurate, old-default, tutorial, +vectors), the
peers beside them (fastText, scikit-learn), interleaved seed by seed; accuracy over seeds,
epochs, time per epoch and per fit, kernels; the speed and accuracy bars; --recipes,
--embeddings, --kernels and their bad input."""

import csv
import json
import os
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from fastrnn.bench import real
from fastrnn.bench.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args))


REAL_TINY = ["run", "real", "--quick", "--samples", "240", "--no-compile"]
MODEL_ROWS = {("default", "float64", "numba-Model"), ("default", "float32", "numba-Model"),
              ("accurate", "float32", "numba-Model"), ("old-default", "float32", "numba-Model"),
              ("tutorial", "float64", "numba-Model"),
              ("default (numpy backend)", "float64", "numpy-Model")}


def _have(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


def test_real_scenario_reports_accuracy_epochs_and_times(tmp_path):
    js, md, cs = tmp_path / "real.json", tmp_path / "real.md", tmp_path / "real.csv"
    res = invoke(*REAL_TINY, "--seeds", "2", "--dtype", "both", "--json", str(js),
                 "--markdown", str(md), "--csv", str(cs))
    assert res.exit_code == 0, res.output
    d = json.loads(js.read_text())
    assert d["real"]["data"] == "built-in" and d["real"]["n_train"] == 240
    assert d["real"]["seeds"] == [0, 1] and d["real"]["interleaved"] is True
    rows = d["results"]
    assert all(r["scenario"] == "real" and r["status"] == "ok" for r in rows)
    models = {(r["value"], r["dtype"], r["backend"]): r for r in rows if r["kind"] == "model"}
    assert set(models) == MODEL_ROWS
    for key, r in models.items():
        numpy = key[2] == "numpy-Model"
        assert r["seeds"] == ([0] if numpy else [0, 1])
        assert len(r["accuracies"]) == len(r["epochs_run"]) == len(r["fit_s_all"]) \
            == len(r["seeds"])
        assert 0 <= r["acc_min"] <= r["accuracy"] <= r["acc_max"] <= 1
        assert r["accuracy"] == pytest.approx(np.mean(r["accuracies"]))
        assert r["fit_s"] == pytest.approx(np.mean(r["fit_s_all"]))  # fit seconds: the mean
        assert r["epochs"] == pytest.approx(np.mean(r["epochs_run"]))
        # --quick caps the epochs at 2 (numpy: 1); early stopping keeps a best epoch <= run
        assert all(1 <= e <= (1 if numpy else 2) for e in r["epochs_run"])
        assert all(1 <= b <= e for b, e in zip(r["best_epochs"], r["epochs_run"]))
        assert 0 < min(r["s_per_epoch_all"]) <= min(r["fit_s_all"])
        assert r["H"] == (64 if key[0] == "tutorial" else 32)
        if key[0] != "tutorial":  # early stopping: the best epoch's validation accuracy
            assert len(r["val_accuracies"]) == len(r["seeds"])
            assert 0 <= r["val_accuracy"] <= 1
    assert models[("tutorial", "float64", "numba-Model")]["settings"]["optimizer"] == "sgd"
    acc = models[("accurate", "float32", "numba-Model")]["settings"]
    assert acc["preset"] == "accurate" and acc["cell"] == "gru"
    assert models[("old-default", "float32", "numba-Model")]["settings"]["ngrams"] == 0
    kernels = [r for r in rows if r["kind"] == "kernel"]
    assert {(r["value"], r["dtype"], r["backend"]) for r in kernels} == {
        ("default H=64", "float64", "numba-kernel"), ("tutorial H=64", "float64",
                                                      "numba-kernel"),
        ("default H=32", "float32", "numba-kernel"), ("tutorial H=32", "float32",
                                                      "numba-kernel"),
        ("default H=32", "float64", "numba-kernel"), ("default H=32", "float64",
                                                      "numpy-kernel")}
    for r in kernels:
        assert r["tokens"] > r["n"] > 0 and r["us_per_token"] > 0
        assert r["us_per_token"] == pytest.approx(r["s_per_epoch"] / r["tokens"] * 1e6)
    bars = {b["name"]: b for b in d["real"]["bars"]}
    for part in ("default / tutorial recipe, kernel epoch per token, H=64 float64",
                 "default / tutorial recipe, kernel epoch per token, H=32 float32",
                 "numba / numpy backend, training epoch", "numba / numpy backend, Model.fit",
                 "seconds per epoch, default recipe float64",
                 "seconds per epoch, default recipe float32"):
        assert any(name.startswith(part) for name in bars), part
    assert all(b["value"] > 0 for b in bars.values())
    abars = {b["name"]: b for b in d["real"]["accuracy_bars"]}
    old = abars["Model() - old-default (ngrams=0) test accuracy, built-in"]
    assert old["ok"] is None  # the +3 bar is for the unseen review sentences only
    f32 = lambda r: models[(r, "float32", "numba-Model")]  # noqa: E731
    assert old["value"] == pytest.approx(100 * (f32("default")["accuracy"]
                                                - f32("old-default")["accuracy"]))
    ratio = abars["accurate / Model() fit time, built-in"]["value"]
    assert ratio == pytest.approx(f32("accurate")["fit_s"] / f32("default")["fit_s"])
    peers = {r["value"]: r for r in rows if r["kind"] == "peer"}
    expect = ((["fastText", "fastText wordNgrams=2"] if _have("fasttext") else [])
              + (["NB uni+bigram", "LR uni+bigram"] if _have("sklearn") else []))
    assert sorted(peers) == sorted(expect)
    for r in peers.values():
        assert 0 <= r["acc_min"] <= r["accuracy"] <= 1 and r["fit_s"] > 0
        assert r["seeds"] == [0, 1]
    if _have("fasttext"):
        assert peers["fastText"]["epochs"] == 5  # fastText's default
        for fl in ("fastText", "fastText wordNgrams=2"):
            b = bars["Model().fit / %s train_supervised, total fit time" % fl]
            assert b["value"] == pytest.approx(f32("default")["fit_s"] / peers[fl]["fit_s"])
            assert b["bar"].startswith("<= 3") and "per-seed ratios" in b["how"]
            a = abars["Model() - %s test accuracy, built-in" % fl]
            assert a["ok"] == (a["value"] > 0)
    text = md.read_text()
    assert "| data | recipe | test acc mean (min) |" in text and "| speed bar |" in text
    assert "| accuracy (points) |" in text
    assert "fastrnn default f32" in text and "fastrnn tutorial f64" in text
    assert "fastrnn accurate f32" in text and "fastrnn old-default f32" in text
    with open(cs, newline="") as f:
        crow = list(csv.DictReader(f))
    assert len(crow) == len(rows) and {"accuracy", "acc_min", "fit_s", "s_per_epoch",
                                       "us_per_token", "best_epoch"} <= set(crow[0])
    assert "test acc mean" in res.output and "speed bars" in res.output
    assert "accuracy bars" in res.output


def test_real_scenario_skips_missing_peers_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fasttext", None)  # import fasttext -> ImportError
    monkeypatch.setitem(sys.modules, "sklearn", None)
    js = tmp_path / "real.json"
    res = invoke(*REAL_TINY, "-b", "numba", "--recipes", "default", "--json", str(js))
    assert res.exit_code == 0, res.output
    for peer in ("fastText", "scikit-learn"):
        line = "peer %s skipped: " % peer
        assert line in res.output
        assert sum(line in n for n in json.loads(js.read_text())["notes"]) == 1
    d = json.loads(js.read_text())
    assert not [r for r in d["results"] if r["kind"] == "peer"]
    assert {r["kind"] for r in d["results"]} == {"model", "kernel"}
    assert not any(r["backend"].startswith("numpy") for r in d["results"])
    assert "pip install 'fastrnn[peers]'" in res.output


def test_real_scenario_without_peers_flag():
    res = invoke(*REAL_TINY, "-b", "numba", "--no-peers", "--recipes", "default")
    assert res.exit_code == 0, res.output
    assert "skipped" not in res.output and "fastText" not in res.output


def test_recipes_and_no_kernels_select_the_rows(tmp_path):
    js = tmp_path / "real.json"
    res = invoke(*REAL_TINY, "--recipes", "old-default, default,old-default", "--no-peers",
                 "--no-kernels", "--param", "hidden_size=8", "--param", "clip=none",
                 "--json", str(js), "--markdown", str(tmp_path / "r.md"))
    assert res.exit_code == 0, res.output
    d = json.loads(js.read_text())
    got = [(r["kind"], r["value"], r["backend"]) for r in d["results"]]
    # the order given (repeats once), the numpy row follows the default recipe; no kernels
    assert got == [("model", "old-default", "numba-Model"), ("model", "default", "numba-Model"),
                   ("model", "default (numpy backend)", "numpy-Model")]
    assert d["real"]["recipes"] == ["old-default", "default", "default (numpy backend)"]
    assert d["results"][0]["settings"] == {"ngrams": 0, "epochs": 2, "hidden_size": 8,
                                           "clip": None, "backend": "numba"}
    assert [r["H"] for r in d["results"]] == [8, 8, 32]  # --param: not on the numpy row
    assert d["real"]["params"] == {"hidden_size": 8, "clip": None}
    assert "(--param): hidden_size=8, clip=None" in (tmp_path / "r.md").read_text()


@pytest.mark.parametrize("args, message", [
    (REAL_TINY + ["--recipes", "nosuch"], "unknown recipe 'nosuch'; choose from default, "
     "accurate, old-default, tutorial"),
    (REAL_TINY + ["--recipes", "default+vectors"], "the +vectors recipes need --embeddings"),
    (REAL_TINY + ["--embeddings", "/nonexistent/v.vec"], "does not exist"),
    (REAL_TINY + ["--embeddings", "/"], "is a directory"),
    (["run", "tutorial", "--recipes", "default"], "--recipes is for the 'real' scenario"),
    (["run", "tutorial", "--no-kernels"], "--kernels is for the 'real' scenario"),
    (["run", "tutorial", "--param", "clip=1"], "--param is for the 'real' scenario"),
    (REAL_TINY + ["--param", "hidden"], "'hidden' is not NAME=VALUE"),
    (REAL_TINY + ["--param", "nosuch=1"], "'nosuch' is not a Model parameter --param can set"),
    (REAL_TINY + ["--param", "seed=1"], "'seed' is not a Model parameter --param can set"),
    (REAL_TINY + ["--param", "ngram_learning_rate=-1"], "ngram_learning_rate must be > 0"),
    (REAL_TINY + ["--param", "cell=nosuch"], "cell"),
])
def test_bad_input(args, message):
    res = invoke(*args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output and "test acc mean" not in res.output


def _write_vec(path, words, dim=8, seed=0, bad=None):
    rng = np.random.default_rng(seed)
    lines = ["%d %d" % (len(words), dim)]
    for w in words:
        lines.append(w + " " + " ".join("%.5f" % x for x in rng.normal(0, 0.3, dim)))
    if bad is not None:
        lines[bad] = lines[bad].rsplit(" ", 1)[0] + " nan"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _demo_words(n=None):
    from fastrnn import datasets
    from fastrnn.vocab import default_tokenizer
    (xtr, _), (xte, _) = datasets.load_demo(seed=0)
    words = sorted({w for t in list(xtr) + list(xte) for w in default_tokenizer(t)})
    return words[:n] if n else words


def test_embeddings_bad_file_is_one_line_before_any_training(tmp_path, monkeypatch):
    fits = []
    monkeypatch.setattr(real, "fit_model", lambda *a, **k: fits.append(a))
    vec = _write_vec(tmp_path / "bad.vec", _demo_words(20), bad=5)  # line 6: a NaN
    res = invoke(*REAL_TINY, "--embeddings", str(vec))
    assert res.exit_code == 2, res.output
    err = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(err) == 1 and "bad.vec" in err[0] and "line 6" in err[0], res.output
    assert "Traceback" not in res.output and not fits
    none = _write_vec(tmp_path / "none.vec", ["zzzqqq", "xxyyzz"])
    res = invoke(*REAL_TINY, "--embeddings", str(none))
    assert res.exit_code == 2 and "has none of the data's" in res.output, res.output


def test_embeddings_unreadable_file(tmp_path, monkeypatch):
    vec = _write_vec(tmp_path / "v.vec", _demo_words(20))
    os.chmod(vec, 0)
    try:
        # root reads anything: the permission check (click's Path(readable=True) on
        # --embeddings, which is what gives the one-line error) is made to say no
        if os.access(vec, os.R_OK):
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if (
                os.fspath(p) == str(vec) and mode & os.R_OK) else real_access(p, mode, *a, **k))
        res = invoke(*REAL_TINY, "--embeddings", str(vec))
        assert res.exit_code == 2 and "is not readable" in res.output, res.output
    finally:
        os.chmod(vec, 0o600)


def test_read_vectors_asks_for_the_datas_tokens(tmp_path):
    words = _demo_words()
    vec = _write_vec(tmp_path / "v.vec", words[::2] + ["notinthedata"])
    wv, secs = real.read_vectors(str(vec), ["Not GOOD, at all!"] + [" ".join(words)])
    assert secs >= 0 and wv.dim == 8
    assert set(wv.words) == set(words[::2]) and "notinthedata" not in wv
    assert wv.requested == len(set(words) | {"not", "good", "at", "all"})


def test_embeddings_recipes_on_the_built_in_corpus(tmp_path):
    words = _demo_words()
    vec = _write_vec(tmp_path / "v.vec", words[: len(words) * 3 // 4])
    js, md = tmp_path / "real.json", tmp_path / "real.md"
    res = invoke(*REAL_TINY, "--embeddings", str(vec), "--recipes",
                 "default,default+vectors,accurate+vectors", "--no-peers", "--no-kernels",
                 "-b", "numba", "--json", str(js), "--markdown", str(md))
    assert res.exit_code == 0, res.output
    d = json.loads(js.read_text())
    models = {r["value"]: r for r in d["results"]}
    assert list(models) == ["default", "default+vectors", "accurate+vectors"]
    assert all(r["status"] == "ok" for r in models.values()), models
    assert models["accurate+vectors"]["settings"]["preset"] == "accurate"
    assert models["default+vectors"]["settings"]["preset"] == "fast"
    for r in ("default+vectors", "accurate+vectors"):
        assert "v.vec (%d words x 8)" % (len(words) * 3 // 4) in \
            models[r]["settings"]["embeddings"]
        assert 0 <= models[r]["acc_min"] <= models[r]["accuracy"] <= 1
    v = d["real"]["vectors"]
    assert v["dim"] == 8 and v["words"] == len(words) * 3 // 4
    assert v["missing"] == len(words) - v["words"]
    assert "Vectors: " in md.read_text() and "fastrnn accurate+vectors f32" in md.read_text()


# --------------------------------------------------------------------------------------------
# pieces: the interleaved order, the accuracy bars
# --------------------------------------------------------------------------------------------
class _Fake(real._Job):
    def __init__(self, name, log, fail_at=None, tolerant=False, seeds=(0, 1, 2)):
        super().__init__(real._base_row("model", name, name, "float32", "numba-Model", "d", 10,
                                        5), list(seeds))
        self.name, self.log, self.fail_at, self.tolerant = name, log, fail_at, tolerant

    def fit(self, seed):
        self.log.append((self.name, seed))
        if seed == self.fail_at:
            raise RuntimeError("boom %d" % seed)
        return {"seed": seed}


def test_run_jobs_interleaves_seed_by_seed_and_keeps_failures_per_row():
    log = []
    jobs = [_Fake("a", log), _Fake("b", log, fail_at=1), _Fake("c", log, fail_at=0,
                                                                  tolerant=True),
            _Fake("n", log, seeds=(0,))]
    rows = real.run_jobs(jobs, [0, 1, 2])
    assert log == [("a", 0), ("b", 0), ("c", 0), ("n", 0), ("a", 1), ("b", 1), ("c", 1),
                   ("a", 2), ("c", 2)]  # b stops at its failure, c skips seed 0, n: one seed
    assert [r["status"] for r in rows] == ["ok", "FAIL", "ok", "ok"]
    assert rows[1]["message"] == "RuntimeError: boom 1"
    assert jobs[2].ok_seeds == [1, 2] and jobs[2].errors == ["seed 0: RuntimeError: boom 0"]


def _row(kind, value, accs, fit=(1.0, 1.0, 1.0), backend=None):
    r = real._base_row(kind, value, value, "float32", backend or (
        "numba-Model" if kind == "model" else "fasttext"), "x", 100, 1000)
    r.update(accuracy=float(np.mean(accs)), acc_min=min(accs), accuracies=list(accs),
             seeds=[0, 1, 2], fit_s_all=list(fit), fit_s=float(np.mean(fit)), repeats=3)
    return r


def test_accuracy_bars_mr_and_the_unseen_reviews():
    rows = [_row("model", "default", [0.760, 0.755, 0.744]),
            _row("model", "accurate", [0.77, 0.76, 0.765], fit=(3.0, 3.0, 3.0)),
            _row("model", "old-default", [0.74, 0.73, 0.72]),
            _row("peer", "fastText", [0.75, 0.75, 0.75]),
            _row("peer", "fastText wordNgrams=2", [0.76, 0.76, 0.76])]
    bars = {b["name"]: b for b in real.accuracy_bars(rows, "mr")}
    d = bars["Model() test accuracy, mr"]
    assert d["value"] == pytest.approx(75.3) and d["bar"] == ">= 75.5 (each >= 74.5)"
    assert d["ok"] is False  # mean 75.3 < 75.5 (and seed 2's 74.4 < 74.5)
    assert bars["accurate test accuracy, mr"]["ok"] is True  # 76.5 >= 76.0
    assert bars["Model() - old-default (ngrams=0) test accuracy, mr"]["ok"] is None
    assert bars["Model() - fastText test accuracy, mr"]["value"] == pytest.approx(0.3)
    assert bars["Model() - fastText test accuracy, mr"]["ok"] is True
    assert bars["Model() - fastText wordNgrams=2 test accuracy, mr"]["ok"] is False
    assert bars["accurate / Model() fit time, mr"]["value"] == pytest.approx(3.0)
    rev = {b["name"]: b for b in real.accuracy_bars(rows, "reviews")}
    gain = rev["Model() - old-default (ngrams=0) test accuracy, reviews"]
    assert gain["value"] == pytest.approx(2.3) and gain["ok"] is False
    assert not any("test accuracy, reviews" in n and n.startswith(("Model() test", "accurate "))
                   for n in rev)  # no absolute bar on the review sentences
    rows[2] = _row("model", "old-default", [0.72, 0.72, 0.72])
    rev = {b["name"]: b for b in real.accuracy_bars(rows, "reviews")}
    assert rev["Model() - old-default (ngrams=0) test accuracy, reviews"]["ok"] is True
    sst = {b["name"]: b for b in real.accuracy_bars(rows[:1], "sst2")}
    assert sst["Model() test accuracy, sst2"]["bar"] == ">= 81.5 (each >= 80.5)"


def test_parse_param():
    assert real.parse_param("ngram_learning_rate=1.5") == ("ngram_learning_rate", 1.5)
    assert real.parse_param(" buckets = 2097152") == ("buckets", 2097152)
    assert real.parse_param("cell=gru") == ("cell", "gru")
    assert real.parse_param("early_stopping=False") == ("early_stopping", False)
    for bad in ("=1", "clip=", "x=1", "tokenizer=none"):
        with pytest.raises(ValueError):
            real.parse_param(bad)


def test_model_variants_and_recipes():
    v = real.model_variants(["float32", "float64"], ["numba", "numpy"], recipes=["default"])
    assert [(x[0], x[2]["dtype"], x[3]) for x in v] == [
        ("default", "float32", "numba"), ("default", "float64", "numba"),
        ("default (numpy backend)", "float64", "numpy")]
    assert [x[0] for x in real.model_variants(["float32"], ["numba"])] == list(real.RECIPES)
    with pytest.raises(ValueError, match="needs vectors"):
        real.model_variants(["float32"], ["numba"], recipes=["accurate+vectors"])
    with pytest.raises(ValueError, match="unknown recipe 'x'"):
        real.model_variants(["float32"], ["numba"], recipes=["x"])
    from fastrnn import Model
    m = real.make_model("accurate", dict(seed=1))
    assert m.get_params() == Model.preset("accurate", seed=1).get_params()
    assert real.make_model("old-default", dict(real.RECIPES["old-default"])).ngrams == 0
    assert real.make_model("default", {}).get_params() == Model().get_params()
