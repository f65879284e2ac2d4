"""fastrnn-bench: the CLI (run, compare, profile, list), its bad-input errors, its output files,
and the runner's agreement check (a wrong backend must be reported as a failure)."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from fastrnn.bench import backends as B
from fastrnn.bench import runner as R
from fastrnn.bench.cli import main

TINY = ["--samples", "6", "--epochs", "2", "--repeats", "2", "--no-compile"]


def invoke(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    js, cs = d / "a.json", d / "a.csv"
    res = invoke("run", "--quick", *TINY, "--json", str(js), "--csv", str(cs))
    assert res.exit_code == 0, res.output
    return js, cs, res.output


def test_help_subprocess():
    out = subprocess.run(["fastrnn-bench", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0
    for cmd in ("run", "compare", "profile", "list"):
        assert cmd in out.stdout


def test_quick_run_subprocess_writes_json_and_csv(tmp_path):
    js, cs = tmp_path / "r.json", tmp_path / "r.csv"
    out = subprocess.run(["fastrnn-bench", "run", "--quick", *TINY, "--json", str(js),
                          "--csv", str(cs)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "numba" in out.stdout and "numpy" in out.stdout
    d = json.loads(js.read_text())
    assert d["schema"] == R.SCHEMA
    for key in ("cpu_model", "logical_cores", "numpy", "numba", "numba_threading_layer",
                "blas_env", "peak_gflops_per_core"):
        assert key in d["machine"]
    rows = d["results"]
    assert {r["backend"] for r in rows} == {"numba", "numpy-dense"}
    for r in rows:
        assert r["status"] == "ok"
        assert r["scenario"] == "tutorial" and r["dtype"] == "float64"
        assert r["n"] == 6 and r["epochs"] == 2 and r["samples_timed"] == 12
        assert 0 < r["q1_us"] <= r["median_us"] <= r["q3_us"]
        assert r["samples_per_s"] == pytest.approx(1e6 / r["median_us"])
        assert r["rel_err"] <= 1e-9 and r["gflops"] > 0 and r["flops_per_sample"] > 1e4
    ref = next(r for r in rows if r["backend"].startswith("numpy"))
    assert ref["speedup"] == pytest.approx(1.0)
    with open(cs, newline="") as f:
        crow = list(csv.DictReader(f))
    assert len(crow) == 2 and set(crow[0]) == set(R.CSV_FIELDS)
    assert float(crow[0]["median_us"]) == pytest.approx(rows[0]["median_us"])


def test_run_other_scenarios_and_plot(tmp_path):
    png = tmp_path / "p.png"
    res = invoke("run", "hidden", "length", "vocab", "infer", "threads", "--quick",
                 "--values", "1,2", "--samples", "4", "--epochs", "1", "--repeats", "1",
                 "--no-compile", "--dtype", "both", "--plot", str(png))
    assert res.exit_code == 0, res.output
    assert png.stat().st_size > 1000
    assert "float32" in res.output and "threads=2" in res.output


def test_compare(saved_run, tmp_path):
    js, _, _ = saved_run
    d = json.loads(js.read_text())
    for r in d["results"]:
        if r["backend"] == "numba":
            r["median_us"] *= 2
    b = tmp_path / "b.json"
    b.write_text(json.dumps(d))
    res = invoke("compare", str(js), str(b))
    assert res.exit_code == 0, res.output
    lines = [l for l in res.output.splitlines() if "tutorial" in l]
    assert "numba" in lines[0] and "2.000" in lines[0]  # the regression comes first
    assert "1.000" in lines[1]
    assert invoke("compare", str(js), str(b), "--fail-above", "1.5").exit_code == 1


def test_profile():
    res = invoke("profile", "tutorial", "--samples", "8", "--repeats", "1")
    assert res.exit_code == 0, res.output
    for phase in ("forward", "backward", "update", "whole-epoch kernel", "Python overhead"):
        assert phase in res.output


def test_list():
    res = invoke("list")
    assert res.exit_code == 0 and "tutorial" in res.output and "backend numba" in res.output
    from fastrnn.bench import scenarios as S
    names = [line.split()[0] for line in res.output.splitlines() if line.split()]
    assert set(S.SCENARIOS) | {"cells", "real", "firstcall"} <= set(names)  # every run name


@pytest.mark.parametrize("args, message", [
    (["run", "nosuch"], "unknown scenario 'nosuch'"),
    (["run", "-b", "cuda"], "unknown backend 'cuda'"),
    (["run", "hidden", "--values", "0"], "values must be >= 1"),
    (["run", "hidden", "--values", "-5"], "values must be >= 1"),
    (["run", "hidden", "--values", "x"], "'x' is not an integer"),
    (["run", "--hidden", "0"], "0 is not in the range x>=1"),
    (["run", "--samples", "-1"], "-1 is not in the range x>=1"),
    (["run", "hidden", "--values", "1000000"], "out of range"),
    (["run", "vocab", "--values", "1000000000", "--hidden", "512"], "GiB limit"),
    (["run", "threads", "--values", "999"], "out of range"),
    (["run", "--json", "/nonexistent-dir/r.json"], "does not exist"),
    (["run", "--csv", "/"], "is a directory"),
    (["run", "real", "--data", "/"], "has no train.tsv"),
    (["run", "tutorial", "--data", "/"], "--data is for the 'real' scenario"),
    (["run", "real", "--data", "/nonexistent-dir"], "does not exist"),
    (["run", "tutorial", "--markdown", "x.md"], "--markdown is for the 'real' scenario"),
    (["run", "real", "--seeds", "0"], "0 is not in the range"),
    (["profile", "nosuch"], "unknown scenario"),
    (["profile", "infer"], "needs a training scenario"),
    (["profile", "length", "--value", "100000000"], "out of range"),
    (["run", "--length", "900000", "--samples", "100000"], "GiB limit"),
    (["run", "models", "--values", "0"], "values must be >= 1"),
    (["run", "models", "--values", "-3"], "values must be >= 1"),
    (["run", "models", "--values", "4,-1"], "values must be >= 1"),
    (["run", "models", "--values", "1e9"], "out of range"),
    (["run", "models", "--values", "100000"], "GiB limit"),
    (["run", "models", "--threads", "0"], "values must be >= 1"),
    (["run", "models", "--threads", "999"], "out of range"),
    (["run", "tutorial", "--threads", "1"], "--threads is for the 'models' scenario"),
    (["run", "tutorial", "--fit"], "--fit is for the 'models' scenario"),
    (["run", "tutorial", "--values", "16"], "--values is for the swept scenarios"),
    (["run", "real", "--recipes", ""], "names no recipe; choose from default"),
    (["run", "real", "--recipes", " , "], "names no recipe"),
    (["run", "real", "--param", "epochs=3", "--epochs", "1"],
     "--param epochs=... and --epochs both set it"),
])
def test_bad_input(args, message, tmp_path):
    res = invoke(*args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_unwritable_output_checked_before_running(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        res = invoke("run", "--quick", *TINY, "--json", str(ro / "r.json"))
        assert res.exit_code == 2 and "permission denied" in res.output
        assert "µs/sample" not in res.output  # nothing ran
    finally:
        os.chmod(ro, 0o700)


def test_outputs_replace_earlier_results_but_not_a_users_file(saved_run, tmp_path):
    """A run replaces its own earlier --json/--csv (the README's regenerate commands); any
    other existing file is refused before anything runs, unless --force."""
    js, cs, _ = saved_run
    mine_js, mine_cs = tmp_path / "r.json", tmp_path / "r.csv"
    earlier = dict(R.load_json(js), started="an earlier run")
    mine_js.write_text(json.dumps(earlier))
    mine_cs.write_bytes(cs.read_bytes() + b"an earlier row\n")
    res = invoke("run", "--quick", *TINY, "--json", str(mine_js), "--csv", str(mine_cs))
    assert res.exit_code == 0, res.output
    assert R.load_json(mine_js)["started"] != "an earlier run"
    assert b"an earlier row" not in mine_cs.read_bytes()
    for opt, name in (("--json", "notes.json"), ("--csv", "data.csv"), ("--plot", "pic.png"),
                      ("--markdown", "doc.md")):
        user = tmp_path / name
        user.write_text('{"keep": "me"}\n')
        args = ("real", "--quick", "--no-peers", "--no-kernels") if opt == "--markdown" else \
            ("--quick", *TINY)
        res = invoke("run", *args, opt, str(user))
        assert res.exit_code == 2 and "exists and is not a fastrnn-bench" in res.output \
            and "--force replaces it" in res.output, res.output
        assert user.read_text() == '{"keep": "me"}\n' and "µs/sample" not in res.output
    empty = tmp_path / "empty.json"  # e.g. from mktemp: nothing to lose
    empty.write_bytes(b"")
    assert R.check_replaceable(str(empty), "--json") == str(empty)
    user = tmp_path / "notes.json"
    res = invoke("run", "--quick", *TINY, "--json", str(user), "--force")
    assert res.exit_code == 0 and R.load_json(user)["schema"] == R.SCHEMA
    res = invoke("perf", str(js), "-o", str(tmp_path / "doc.md"))
    assert res.exit_code == 1 and "doc.md exists and is not a fastrnn-bench output file: not " \
        "overwritten" in res.output, res.output
    assert (tmp_path / "doc.md").read_text() == '{"keep": "me"}\n'


def test_permission_denied_message(tmp_path, monkeypatch):
    monkeypatch.setattr(R.os, "access", lambda path, mode: False)
    res = invoke("run", "--quick", *TINY, "--csv", str(tmp_path / "r.csv"))
    assert res.exit_code == 2 and "permission denied" in res.output
    assert os.listdir(tmp_path) == []


def test_compare_bad_files(saved_run, tmp_path):
    js, cs, _ = saved_run
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for args, msg in (([str(js), str(tmp_path / "missing.json")], "No such file"),
                      ([str(js), str(bad)], "not JSON"),
                      ([str(js), str(cs)], "not JSON")):
        res = invoke("compare", *args)
        assert res.exit_code == 2 and msg in res.output, res.output


class WrongNumba(B.NumbaBackend):
    """The kernels with a deliberate bug: the learning rate is 1 % too high."""
    name = "wrong"

    def prepare(self, cell, data):
        st = super().prepare(cell, data)
        st["trainer"].hp[0] *= 1.01
        return st


def _cells(**kw):
    opts = dict(samples=6, epochs=2, reference="dense", seed=0, **kw)
    return R.build_cells(["tutorial"], ["float64", "float32"], opts)


def test_wrong_backend_fails_agreement_check():
    run = R.run_benchmark(_cells(), [B.NumbaBackend(), WrongNumba(), B.NumpyBackend()],
                          R.Settings(repeats=1, compile_times=False))
    by = {(r["backend"], r["dtype"]): r for r in run.results}
    for dt in ("float64", "float32"):
        assert by[("numba", dt)]["status"] == "ok"
        bad = by[("wrong", dt)]
        assert bad["status"] == "FAIL" and bad["median_us"] is None and bad["speedup"] is None
        assert bad["rel_err"] > R.TOL[dt] and "differ" in bad["message"]
    assert len(run.failures) == 2


def test_wrong_backend_without_numpy_selected_still_checked():
    run = R.run_benchmark(_cells()[:1], [WrongNumba()], R.Settings(repeats=1,
                                                                    compile_times=False))
    assert run.results[0]["status"] == "FAIL"


def test_crashing_backend_is_a_failure():
    class Crash(B.NumbaBackend):
        name = "crash"

        def run(self, st):
            raise RuntimeError("boom")
    run = R.run_benchmark(_cells()[:1], [Crash(), B.NumpyBackend()],
                          R.Settings(repeats=1, compile_times=False))
    assert run.results[0]["status"] == "FAIL" and "boom" in run.results[0]["message"]


@pytest.mark.parametrize("name", ["torch", "jax"])
def test_peer_backend_agrees_with_the_reference_and_is_timed(name):
    pytest.importorskip(name)
    be = B.make_backend(name)
    assert be.available() == (True, "")
    cells = _cells() + R.build_cells(["infer"], ["float64"], dict(reference="dense", seed=0),
                                     values=[7])
    run = R.run_benchmark(cells, [be, B.NumpyBackend()],
                          R.Settings(repeats=1, compile_times=False))
    rows = [r for r in run.results if r["backend"] == name]
    assert [(r["scenario"], r["dtype"]) for r in rows] == [
        ("tutorial", "float64"), ("tutorial", "float32"), ("infer", "float64")]
    for r in rows:
        assert r["status"] == "ok", r["message"]
        assert r["rel_err"] <= R.TOL[r["dtype"]] and r["median_us"] > 0 and r["speedup"] > 0
    assert rows[0]["rel_err"] < 1e-12  # float64: the same arithmetic up to summation order
    if name == "jax":  # the jit compile is reported like numba's
        comp = [c for c in run.compile if c.get("backend") == "jax"]
        assert {(c["kind"], c["dtype"]) for c in comp} == {
            ("train", "float64"), ("train", "float32"), ("infer", "float64")}
        assert all(c["compile_s"] >= 0 for c in comp)


@pytest.mark.parametrize("name", ["torch", "jax"])
def test_missing_peer_is_skipped_with_a_one_line_note(name, monkeypatch):
    monkeypatch.setitem(sys.modules, name, None)  # "import torch" now raises ImportError
    assert B.make_backend(name).available() == (
        False, "%s is not installed (pip install fastrnn[peers])" % name)
    res = invoke("run", *TINY, "-b", "numba,%s" % name)
    assert res.exit_code == 0, res.output
    notes = [line for line in res.output.splitlines() if "skipped" in line]
    assert set(notes) == {"note: backend %s skipped: %s is not installed (pip install "
                          "fastrnn[peers])" % (name, name)}, res.output  # stderr and summary
    assert not any(r.startswith("│") and " %s " % name in r for r in res.output.splitlines())


def test_failure_exit_code_and_no_partial_file(tmp_path, monkeypatch):
    js = tmp_path / "r.json"
    monkeypatch.setattr(B, "make_backend",
                        lambda name, reference="dense": WrongNumba() if name == "numba"
                        else B.NumpyBackend())
    res = invoke("run", "--quick", *TINY, "--json", str(js))
    assert res.exit_code == 1 and "FAIL" in res.output
    d = json.loads(js.read_text())  # a complete file recording the failure
    assert any(r["status"] == "FAIL" for r in d["results"])


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")

    def boom(f):
        f.write("partial")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        R.write_atomic(target, boom)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.json"]


def test_no_file_left_behind_on_bad_input(tmp_path):
    js = tmp_path / "r.json"
    res = invoke("run", "nosuch", "--json", str(js), "--csv", str(tmp_path / "r.csv"))
    assert res.exit_code == 2
    assert os.listdir(tmp_path) == []


class _Counted(np.ndarray):
    """An array that counts the floating-point operations numpy performs on it."""
    flops = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        raw = [np.asarray(x) if isinstance(x, _Counted) else x for x in inputs]
        if "out" in kw:
            kw["out"] = tuple(np.asarray(o) if isinstance(o, _Counted) else o
                              for o in kw["out"])
        res = getattr(ufunc, method)(*raw, **kw)
        n = np.size(res)
        if method == "reduce":
            n = np.size(raw[0]) - n          # a reduction of k values: k - 1 operations
        elif ufunc is np.matmul:
            n = 2 * raw[0].shape[-1] * n     # multiply-add per output element
        elif ufunc is np.tanh:
            n = 0                            # counted apart by the formula
        elif ufunc.__name__ == "clip":
            n *= 2                           # a min and a max
        _Counted.flops += n
        return res.view(_Counted) if isinstance(res, np.ndarray) else res


def _reference_flops(monkeypatch, T, U, H, O, V=12):
    """FLOPs the numpy reference actually executes for one SGD sample (sparse update)."""
    import types
    from fastrnn import reference as REF
    shim = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    for name in ("zeros", "zeros_like", "empty"):
        setattr(shim, name, (lambda f: lambda *a, **k: f(*a, **k).view(_Counted))(getattr(np,
                                                                                         name)))

    def outer(a, b):  # np.outer drops subclasses: count its H x H multiplies here
        r = np.outer(a, b)
        _Counted.flops += r.size
        return r.view(_Counted)
    shim.outer = outer
    monkeypatch.setattr(REF, "np", shim)
    rng = np.random.default_rng(0)
    tokens = np.array(list(range(U)) + list(rng.integers(0, U, T - U)), dtype=np.int64)
    P = {"WxhT": rng.normal(size=(V, H)), "Whh": rng.normal(size=(H, H)) / H,
         "Why": rng.normal(size=(O, H)), "bh": np.zeros(H), "by": np.zeros(O)}
    P = {k: v.view(_Counted) for k, v in P.items()}
    S = REF.init_optimizer_state("sgd", P["WxhT"], P["Whh"], P["Why"], P["bh"], P["by"])
    _Counted.flops = 0
    REF.train_epoch(tokens, np.array([0, T]), np.array([1]), np.array([0]), P, S, lr=0.1)
    return _Counted.flops


@pytest.mark.parametrize("T,U,O", [(1, 1, 2), (4, 3, 2), (9, 5, 3)])
def test_flop_formula_against_operations_counted_in_the_reference(monkeypatch, T, U, O):
    """flops_train's H^2 term equals the reference's executed H^2 work minus its known waste.

    Both counts are exact quadratics in H (T, U, O fixed), so three H give the coefficients.
    The reference runs three H x H passes the minimal algorithm skips: Whh @ h_0 with h_0 = 0,
    dWhh += outer(g_1, h_0) = 0, and ``d + 0 * W`` (weight decay 0): 6 H^2 in all.
    """
    from fastrnn.bench.scenarios import flops_train
    Hs = (8, 16, 24)
    ref = [_reference_flops(monkeypatch, T, U, H, O) for H in Hs]
    formula = [float(flops_train(T, U, H, O)) for H in Hs]

    def h2(f):  # second difference of a quadratic at spacing 8: 2 * 64 * a
        return (f[2] - 2 * f[1] + f[0]) / (2 * 8 ** 2)
    assert h2(ref) - 6 == h2(formula) == 6 * (T - 1) + 4
    # the whole count: the reference does more than the minimal algorithm, by less than 40 %
    assert 1.0 < _reference_flops(monkeypatch, 4, 4, 64, 2) / flops_train(4, 4, 64, 2) < 1.4


# --------------------------------------------------------------------------------------------
# the models scenario: M models per batch-kernel call, checked against the single-model kernel
# --------------------------------------------------------------------------------------------
MODELS_TINY = ["run", "models", "--quick", "--values", "1,3", "--samples", "6", "--epochs", "2",
               "--repeats", "2", "--no-compile"]


def test_models_scenario_fields_json_csv_plot(tmp_path):
    import numba
    from fastrnn.bench import models as MB
    js, cs, png = tmp_path / "m.json", tmp_path / "m.csv", tmp_path / "m.png"
    res = invoke(*MODELS_TINY, "--dtype", "both", "--json", str(js), "--csv", str(cs),
                 "--plot", str(png))
    assert res.exit_code == 0, res.output
    assert png.stat().st_size > 1000
    assert "models: M tutorial-sized models" in res.output
    rows = json.loads(js.read_text())["results"]
    threads = sorted({1, numba.config.NUMBA_NUM_THREADS})
    want = {(M, dt, "single", 1) for M in (1, 3) for dt in ("float64", "float32")} | {
        (M, dt, "batch", t) for M in (1, 3) for dt in ("float64", "float32") for t in threads}
    assert {(r["value"], r["dtype"], r["backend"], r["threads"]) for r in rows} == want
    for r in rows:
        assert r["status"] == "ok" and r["scenario"] == "models" and r["param"] == "M"
        assert r["M"] == r["value"] and r["n"] == 6 and r["epochs"] == 2 and r["H"] == 64
        assert r["samples_timed"] == r["M"] * 6 * 2 and r["repeats"] == 2
        assert 0 < r["q1_us"] <= r["median_us"] <= r["q3_us"]
        assert r["samples_per_s"] == pytest.approx(1e6 / r["median_us"])
        assert r["s_per_epoch"] == pytest.approx(r["median_us"] * r["samples_timed"] * 1e-6
                                                 / r["epochs"], rel=0.5)
        assert r["cost_vs_single"] > 0 and r["bytes_per_model"] > 10000
        if r["backend"] == "batch":
            assert r["bitwise"] is True and r["rel_err"] == 0.0
            assert r["tol"] == MB.TOL[r["dtype"]] and r["vs_1_thread"] > 0
            if r["threads"] == 1:
                assert r["vs_1_thread"] == 1.0
        else:
            assert r["cost_vs_single"] == 1.0 and r["rel_err"] <= R.TOL[r["dtype"]]
    with open(cs, newline="") as f:
        crow = list(csv.DictReader(f))
    assert len(crow) == len(rows) and {"M", "vs_1_thread", "cost_vs_single",
                                       "s_per_epoch"} <= set(crow[0])
    res = invoke("perf", str(js))
    assert res.exit_code == 0, res.output
    assert "| M | 1 | 3 |" in res.output and "batch kernel 1 thread" in res.output


def test_models_threads_option_restores_numba_threads():
    import numba
    before = numba.get_num_threads()
    res = invoke(*MODELS_TINY[:4], "1", "--samples", "4", "--epochs", "1", "--repeats", "1",
                 "--no-compile", "--threads", "1")
    assert res.exit_code == 0, res.output
    assert numba.get_num_threads() == before
    assert "batch" in res.output and "single" in res.output


def _wrong_batch(monkeypatch):
    """Inject a wrong result: the batch's last model trains with a 1 % higher learning rate."""
    from fastrnn.bench import models as MB
    prepare = MB.Batch.prepare

    def wrong(self):
        prepare(self)
        self.models.trainers[-1].hp[0] = 0.02 * 1.01
    monkeypatch.setattr(MB.Batch, "prepare", wrong)


def test_models_wrong_batch_fails_agreement_check(monkeypatch, tmp_path):
    _wrong_batch(monkeypatch)
    js = tmp_path / "m.json"
    res = invoke(*MODELS_TINY, "--json", str(js))
    assert res.exit_code == 1 and "FAIL" in res.output
    rows = json.loads(js.read_text())["results"]  # a complete file recording the failure
    for r in rows:
        if r["backend"] == "batch":
            assert r["status"] == "FAIL" and r["median_us"] is None
            assert r["rel_err"] > 1e-6 and "differ" in r["message"] and r["bitwise"] is False
        else:
            assert r["status"] == "ok" and r["median_us"] > 0


def test_models_wrong_single_fails_numpy_check(monkeypatch):
    from fastrnn.bench import models as MB
    prepare = MB.Single.prepare

    def wrong(self):
        prepare(self)
        self.models.trainers[0].hp[0] = 0.02 * 1.01
    monkeypatch.setattr(MB.Single, "prepare", wrong)
    cells = R.build_cells(["models"], ["float64"], dict(samples=5, epochs=2, seed=0),
                          values=[2])
    run = R.run_benchmark(cells, [B.NumbaBackend()], R.Settings(repeats=1, compile_times=False))
    assert run.results and all(r["status"] == "FAIL" for r in run.results)
    assert "numpy reference" in run.results[0]["message"]


def test_models_fit_comparison_rows():
    from fastrnn.bench import models as MB
    rows = MB.fit_comparison(R.Settings(repeats=1, warmup=0), M=3, epochs=1)
    assert [r["backend"] for r in rows] == ["Model.fit x3", "train_many"]
    for r in rows:
        assert r["status"] == "ok" and r["param"] == "fit" and r["bitwise"] is True
        assert r["samples_timed"] == 3 * 58 and r["median_us"] > 0
    assert rows[1]["cost_vs_single"] == pytest.approx(rows[1]["median_us"]
                                                      / rows[0]["median_us"])


def test_models_memory_estimate_covers_a_model():
    from fastrnn.bench import scenarios as S
    cell = S.SCENARIOS["models"].cell(1000, "float64", {})
    per = S.model_bytes(cell)
    assert 2 * 138e3 < per < 4 * 138e3  # two Trainers of ~138 KiB measured, plus the rest
    assert S.estimate_bytes(cell) > 1000 * per


# --------------------------------------------------------------------------------------------
# version, perf subcommand, tables that fit the terminal (issue 10)
# --------------------------------------------------------------------------------------------
def test_version():
    from fastrnn import __version__
    res = invoke("--version")
    assert res.exit_code == 0 and res.output.strip() == "fastrnn-bench, version " + __version__


def test_perf_subcommand_writes_markdown_atomically(saved_run, tmp_path):
    js, cs, _ = saved_run
    out = tmp_path / "perf.md"
    res = invoke("perf", str(js), "-o", str(out))
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert text.startswith("# fastrnn performance (generated by `fastrnn-bench perf`)")
    assert "## Tutorial workload" in text and "| float64 |" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perf.md"]
    before = js.read_bytes()
    for args, msg in ((["perf", str(js), "-o", str(js)], "one of the input runs"),
                      (["perf", str(cs)], "not JSON"),
                      (["perf", str(tmp_path / "missing.json")], "missing.json"),
                      (["perf"], "Missing argument")):
        res = invoke(*args)
        assert res.exit_code in (1, 2) and msg in res.output, res.output
        assert "Traceback" not in res.output
    assert js.read_bytes() == before


def test_module_perf_entry_point(saved_run):
    js, _, _ = saved_run
    r = subprocess.run([sys.executable, "-m", "fastrnn.bench.perf", str(js)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "## Tutorial workload" in r.stdout


@pytest.mark.parametrize("width", [80, 100])
def test_results_table_fits_the_terminal(saved_run, width):
    from rich.console import Console
    from fastrnn.bench import report
    js, _, _ = saved_run

    class Run:
        results = R.load_json(js)["results"]
    console = Console(width=width, record=True, file=open(os.devnull, "w"))
    console.print(report.results_table(Run, width))
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= width
    text = "\n".join(lines)
    for col in ("µs/sample", "speed-up", "backend", "numba"):
        assert col in text
    assert "hidden at %d columns: traced peak" % width in " ".join(text.split())
    # every figure of a row stays on one line: no column squeezed until it wraps
    rows = [ln for ln in lines if "tutorial" in ln and "numba" in ln]
    assert rows and all(ln.count("│") >= 7 for ln in rows)


def test_wide_output_keeps_every_column(saved_run):
    _, _, output = saved_run  # CliRunner: not a terminal, 160 columns
    assert "traced peak" in output and "hidden at" not in output


def test_run_honours_columns(tmp_path):
    res = CliRunner().invoke(main, ["run", "--quick", *TINY], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert max(map(len, res.output.splitlines())) <= 80
    assert "hidden at 80 columns" in res.output


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_a_plot_of_its_own_is_replaceable_in_every_format(tmp_path, fmt):
    """A PDF names matplotlib near its end: the whole plot is read, not its first bytes."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = tmp_path / f"p.{fmt}"
    fig = plt.figure()
    fig.gca().plot([1, 2])
    fig.savefig(path)
    plt.close(fig)
    assert R.check_replaceable(str(path), "--plot") == str(path)
    path.write_bytes(b"%PDF-1.4 a user's document\n")
    with pytest.raises(R.BenchError, match=r"exists and is not a fastrnn-bench plot file"):
        R.check_replaceable(str(path), "--plot")
