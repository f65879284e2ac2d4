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
    (["profile", "nosuch"], "unknown scenario"),
    (["profile", "infer"], "needs a training scenario"),
    (["profile", "length", "--value", "100000000"], "out of range"),
    (["run", "--length", "900000", "--samples", "100000"], "GiB limit"),
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


def test_flop_formula_matches_the_tutorial_count():
    from fastrnn.bench.scenarios import flops_train
    # PERFORMANCE.md: ~102 k FLOPs per tutorial sample (T = 4.345, U ~ T, H = 64, O = 2)
    assert flops_train(4.345, 4.345, 64, 2) == pytest.approx(102e3, rel=0.02)
    assert flops_train(1, 1, 8, 2) == 4 * 64 + 6 * 8 + 4 * 8 + 9 * 16 + 4 * 8 + 20
