"""fastrnn-bench run firstcall: cold/warm first-call times in fresh processes.

The real measurement compiles every kernel from scratch (15 s to minutes on 2 busy cores), so
it is marked ``slow``; the fast tests check the row assembly, the table, the JSON/CSV outputs
and the registration with a stand-in measurement.
"""

import csv
import json

import pytest
from click.testing import CliRunner

from fastrnn.bench import firstcall as F
from fastrnn.bench import runner as R
from fastrnn.bench.cli import main

FIELDS = ("scenario", "param", "value", "dtype", "backend", "status", "n", "epochs", "M",
          "repeats", "cold_s", "warm_s", "compile_s", "cold_runs", "warm_runs", "load_1min",
          "message", "optimizer", "epochs_run")


def fake_pair(cfg):
    steps = [s for s in F.STEPS if s != "demo" or cfg["demo"]]
    fake_pair.calls += 1
    k = fake_pair.calls
    return {"cold": {s: 10.0 + k for s in steps}, "warm": {s: 1.0 * k for s in steps},
            "load_1min": 0.5, "info": {"dtype": "float32", "optimizer": "adagrad",
                                       "epochs_run": 2}}


@pytest.fixture
def fake(monkeypatch):
    fake_pair.calls = 0
    monkeypatch.setattr(F, "measure_pair", fake_pair)


def test_rows_medians_and_fields(fake):
    rows = F.run_firstcall(quick=False, repeats=3)
    assert [r["value"] for r in rows] == list(F.STEPS)
    for r in rows:
        assert set(FIELDS) <= set(r) and r["status"] == "ok"
        assert r["cold_runs"] == [11.0, 12.0, 13.0] and r["warm_runs"] == [1.0, 2.0, 3.0]
        assert (r["cold_s"], r["warm_s"], r["compile_s"]) == (12.0, 2.0, 10.0)
    assert next(r for r in rows if r["value"] == "train_many")["M"] == 4
    gru = next(r for r in rows if r["value"] == "fit_gru")
    assert gru["vs_fit"] == 1.0 and gru["vs_fit_runs"] == [1.0, 1.0, 1.0]
    quick = F.run_firstcall(quick=True)
    assert "demo" not in [r["value"] for r in quick] and quick[0]["n"] == F.QUICK["n_train"]


def test_failed_probe_is_a_fail_row(monkeypatch):
    def boom(cfg):
        raise F.FirstCallError("probe failed: ImportError: nope")
    monkeypatch.setattr(F, "measure_pair", boom)
    rows = F.run_firstcall(quick=True)
    assert len(rows) == 1 and rows[0]["status"] == "FAIL" and "nope" in rows[0]["message"]


def test_cli_registration_table_json_csv(fake, tmp_path):
    js, cs = tmp_path / "f.json", tmp_path / "f.csv"
    res = CliRunner().invoke(main, ["run", "firstcall", "--quick", "--json", str(js),
                                    "--csv", str(cs)])
    assert res.exit_code == 0, res.output
    assert "firstcall: seconds in a fresh process" in res.output
    assert "train_many" in res.output and "cold compile time not measured" not in res.output
    d = json.loads(js.read_text())
    assert d["schema"] == R.SCHEMA and "cpu_model" in d["machine"] and "load_avg" in d["machine"]
    assert [r["value"] for r in d["results"]] == [s for s in F.STEPS if s != "demo"]
    with open(cs, newline="") as f:
        crow = list(csv.DictReader(f))
    assert float(crow[0]["cold_s"]) == 11.0 and float(crow[0]["compile_s"]) == 10.0


@pytest.mark.slow
def test_quick_run_real_processes(tmp_path):
    """A real --quick run: fresh interpreters, empty then filled cache."""
    js = tmp_path / "fc.json"
    res = CliRunner().invoke(main, ["run", "firstcall", "--quick", "--json", str(js)])
    assert res.exit_code == 0, res.output
    rows = {r["value"]: r for r in json.loads(js.read_text())["results"]}
    assert set(rows) == {"import", "fit", "train_many", "process", "fit_gru", "predict_proba",
                         "predict_few"}
    for name, r in rows.items():
        assert set(FIELDS) <= set(r) and r["status"] == "ok"
        assert r["cold_s"] > 0 and r["warm_s"] > 0
    # compile when cold (predict_proba of 500 sentences after predict_few compiles nothing:
    # both run the one nogil range kernel, on the thread pool or not)
    for name in ("fit", "process", "fit_gru", "predict_few"):
        assert rows[name]["cold_s"] >= rows[name]["warm_s"], rows[name]
    assert rows["fit_gru"]["vs_fit"] == rows["fit_gru"]["cold_s"] / rows["fit"]["cold_s"]
    assert rows["fit"]["dtype"] == "float32" and rows["fit"]["optimizer"] == "adagrad"
