"""``fastrnn warmup``: compiles (or loads) the kernels Model() needs and says what it did."""

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from fastrnn.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_warmup_in_process_names_what_it_did():
    res = invoke("warmup", "--dtype", "float64", "--optimizer", "sgd")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("fastrnn warmup: kernel cache ")
    assert "sgd float64 training (Model.fit)" in lines[1]
    assert "float64 prediction (Model.predict_proba)" in lines[2]
    for line in lines[1:3]:
        assert line.split()[0] in ("compiled", "loaded", "already") and line.endswith(" s")
    # a second run in the same process compiles and loads nothing
    again = invoke("warmup", "--dtype", "float64", "--optimizer", "sgd")
    assert again.exit_code == 0, again.output
    assert all(ln.split()[:2] == ["already", "loaded"] for ln in again.output.splitlines()[1:3])
    assert "nothing to compile" in again.output


def test_warmup_bad_options():
    for args in (["--dtype", "float16"], ["--optimizer", "rmsprop"]):
        res = invoke("warmup", *args)
        assert res.exit_code == 2 and "Invalid value" in res.output
    assert "Traceback" not in res.output


@pytest.mark.slow  # two subprocesses, one compiling from scratch: 15-35 s on 2 busy cores
def test_warmup_cold_then_cached(tmp_path):
    """Fresh NUMBA_CACHE_DIR: the first run compiles the defaults (adagrad, float32), the
    second, in a new process, loads them from that cache and says so."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("FASTRNN_QUIET", None)
    cmd = [sys.executable, "-m", "fastrnn.cli", "warmup"]
    first, second = (subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
                     for _ in range(2))
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert f"kernel cache {tmp_path}" in first.stdout
    out1, out2 = first.stdout.splitlines(), second.stdout.splitlines()
    assert out1[1].split()[0] == "compiled" and "adagrad float32 training" in out1[1]
    # the fit's validation already compiles the predict kernel (one nogil range kernel)
    assert out1[2].split()[0] in ("compiled", "already") and "float32 prediction" in out1[2]
    assert "later runs load these kernels from the cache" in out1[3]
    assert out2[1].startswith("  loaded from cache")
    assert out2[2].lstrip().startswith(("loaded from cache", "already"))
    assert "nothing to compile" in out2[3]
    assert any(p.suffix == ".nbi" for p in tmp_path.rglob("*"))


def test_warmup_cell_option():
    res = invoke("warmup", "--dtype", "float64", "--optimizer", "sgd", "--cell", "gru")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "gru sgd float64 training (Model.fit)" in lines[1]
    assert "gru float64 prediction (Model.predict_proba)" in lines[2]
    from fastrnn.kernels import gated as KG
    assert KG.train_epoch_gru_sgd.signatures  # the GRU kernel, loaded or compiled
    res = invoke("warmup", "--cell", "rnn")
    assert res.exit_code == 2 and "Invalid value" in res.output and "--cell" in res.output
    assert "--cell [tanh|gru|lstm|all]" in invoke("warmup", "--help").output


def test_warmup_says_when_numba_cannot_use_numba_cache_dir(tmp_path):
    """A NUMBA_CACHE_DIR under a file cannot be made: Numba falls back to another folder
    without a word, and warmup used to print the unusable one as the kernel cache."""
    from conftest import run_python
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    out = run_python("from fastrnn import _compile as C; print(C.unused_cache_setting()); "
                     "print(C.cache_dir())", cache=blocker / "sub")
    unused, used = out.stdout.split()
    assert unused == str(blocker / "sub") and used != unused
    out = run_python("from fastrnn import _compile as C; print(C.unused_cache_setting()); "
                     "print(C.cache_dir())", cache=tmp_path / "ok")
    assert out.stdout.split() == ["None", str(tmp_path / "ok")]
