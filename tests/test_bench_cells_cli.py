"""``fastrnn-bench run cells``: rows for every cell with a ``cell`` field, the agreement check
that refuses to time a backend whose weights disagree, torch optional."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fastrnn.bench import cells as C
from fastrnn.bench import runner as R
from fastrnn.bench.cli import main

QUICK = ["run", "cells", "--quick", "--repeats", "1", "--no-compile"]


def invoke(*args):
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps stderr apart
    return runner.invoke(main, list(args))


@pytest.fixture
def no_torch(monkeypatch):
    monkeypatch.setattr(C.TorchCells, "available",
                        classmethod(lambda cls: (False, "torch is not installed")))


def test_quick_run_rows_per_cell(tmp_path, no_torch):
    js = tmp_path / "cells.json"
    res = invoke(*QUICK, "--json", str(js))
    assert res.exit_code == 0, res.output + res.stderr
    assert "torch rows skipped" in res.stderr
    d = json.loads(js.read_text())
    rows = [r for r in d["results"] if r["scenario"] == "cells"]
    assert sorted({r["cell"] for r in rows}) == ["gru", "lstm", "tanh"]
    for cell in C.CELLS:
        mine = [r for r in rows if r["cell"] == cell]
        assert {r["backend"] for r in mine} == {"numba", "numpy"}
        for r in mine:
            assert r["status"] == "ok", r
            assert r["dtype"] == "float64" and r["H"] == 8 and r["length"] == 6
            assert r["median_us"] > 0 and r["rel_err"] <= R.TOL["float64"]
            assert r["precheck_rel_err"] is not None
            assert r["precheck_rel_err"] <= R.TOL["float64"] or r["backend"] == "numpy"
            assert r["value"] == "%s H=8" % cell and r["clock"] == "cpu"
    numba = [r for r in rows if r["backend"] == "numba"]
    assert all(r["speedup"] > 0 for r in numba)
    assert d["notes"] and any("torch rows skipped" in n for n in d["notes"])


def test_disagreeing_weights_are_not_timed(tmp_path, monkeypatch, no_torch):
    """A numba backend whose update is off by 1e-3 of the step: FAIL, no time, exit 1."""
    real_run = C.NumbaCells.run

    def faulty(self, st):
        before = st["trainer"].params.Whh.copy()
        real_run(self, st)
        st["trainer"].params.Whh[...] += 1e-3 * (st["trainer"].params.Whh - before)
    monkeypatch.setattr(C.NumbaCells, "run", faulty)
    timed = []
    real_time = C.time_backend_cpu

    def spy(be, *a, **k):
        timed.append(be.name)
        return real_time(be, *a, **k)
    monkeypatch.setattr(C, "time_backend_cpu", spy)
    js = tmp_path / "cells.json"
    res = invoke(*QUICK, "-b", "numba", "--json", str(js))
    assert res.exit_code == 1
    assert "FAILED" in res.stderr
    rows = json.loads(js.read_text())["results"]
    bad = [r for r in rows if r["backend"] == "numba"]
    assert len(bad) == 3
    for r in bad:
        assert r["status"] == "FAIL" and r["median_us"] is None and r["speedup"] is None
        assert "not timed" in r["message"] and r["precheck_rel_err"] > R.TOL["float64"]
    assert "numba" not in timed and timed.count("numpy") == 3


def test_final_weights_checked_too(monkeypatch):
    """A backend that passes the short pre-check but ends wrong is a failure as well."""
    real_result = C.NumbaCells.result

    def late(self, st):
        out = real_result(self, st)
        if len(st["data"].labels) > C.CHECK_SAMPLES:
            out["Why"] = out["Why"] + 1.0
        return out
    monkeypatch.setattr(C.NumbaCells, "result", late)
    cell = C.make_cell("gru", 4, "float64", n=C.CHECK_SAMPLES + 2, length=3, V=10, epochs=1)
    rows = C.run_cell(cell, [C.NumpyCells(), C.NumbaCells()], repeats=1)
    numba = next(r for r in rows if r["backend"] == "numba")
    assert numba["status"] == "FAIL" and "differ" in numba["message"]
    assert numba["precheck_rel_err"] <= R.TOL["float64"]
    assert next(r for r in rows if r["backend"] == "numpy")["status"] == "ok"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_agrees(dtype):
    pytest.importorskip("torch")
    rows = C.run_cells([dtype], ("numba", "torch"), repeats=1, quick=True, note=None,
                       cells=C.CELLS)
    assert {(r["cell"], r["backend"]) for r in rows} == {
        (c, b) for c in C.CELLS for b in ("numba", "numpy", "torch-eager")}
    for r in rows:
        assert r["status"] == "ok", r
        assert r["rel_err"] <= R.TOL[dtype]
    assert all(r["vs_torch"] > 0 for r in rows if r["backend"] == "numba")


def test_data_and_flops():
    cell = C.make_cell("lstm", 5, "float32", n=7, length=4, V=30, epochs=2)
    d = C.make_data(cell)
    assert d.tokens.shape == (28,) and d.tokens.max() < 30 and len(d.orders) == 2
    assert d.init["WxhT"].shape == (30, 20) and d.init["Whh"].shape == (20, 5)
    assert np.abs(d.init["Whh"]).max() <= 1 / np.sqrt(5)
    assert C.flops_per_sample("gru", 10, 32, 2, 100) > C.flops_per_sample("tanh", 10, 32, 2, 100)
