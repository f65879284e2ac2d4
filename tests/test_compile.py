"""fastrnn._compile: the first-call "compiling ..." notice, its cache check and its cost.

Each notice test runs a fresh interpreter with its own ``NUMBA_CACHE_DIR`` (a cold cache), then
again on the same folder (warm): the line must appear once when Numba compiles and never when it
loads from the cache or reuses this process's overload.
"""

import logging
import os
import textwrap

import numpy as np
import pytest

from conftest import run_python
from fastrnn import _compile as C

TINY_KERNEL = """
from numba import njit

@njit(cache=True)
def scaled_sum(x, a):
    s = 0.0
    for v in x:
        s += a * v
    return s

@njit(cache=False)
def uncached(x):
    return x + 1
"""

SCRIPT = """
import logging, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import tinyk
from fastrnn import _compile as C
if sys.argv[2] == "logging":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="LOG %(name)s %(message)s")
x = np.arange(5.0)
for _ in range(3):  # three calls, one notice at most
    assert C.call(tinyk.scaled_sum, x, 2.0, what="tiny f64 kernel") == 20.0
C.call(tinyk.scaled_sum, x.astype(np.float32), np.float32(2), what="tiny f32 kernel")
print("ok")
"""


def run_script(tmp_path, cache, mode="stderr", **env_extra):
    (tmp_path / "tinyk.py").write_text(TINY_KERNEL)
    out = run_python(SCRIPT, tmp_path, mode, cache=cache, env=env_extra, timeout=300)
    assert out.stdout.splitlines()[-1] == "ok"
    return out


def test_notice_once_cold_and_silent_warm(tmp_path):
    cache = tmp_path / "cache"
    cold = run_script(tmp_path, cache)
    lines = [ln for ln in cold.stderr.splitlines() if ln.startswith("fastrnn:")]
    # one line per compiled label, each finished on the same line
    assert len(lines) == 2, cold.stderr
    assert lines[0].startswith("fastrnn: compiling the tiny f64 kernel (first run only; "
                               "`fastrnn warmup` compiles ahead)... done in ")
    assert lines[0].endswith(" s") and "tiny f32 kernel" in lines[1]
    warm = run_script(tmp_path, cache)
    assert "compiling" not in warm.stderr, warm.stderr


def test_notice_goes_through_logging_when_configured(tmp_path):
    out = run_script(tmp_path, tmp_path / "cache", mode="logging")
    assert "fastrnn: compiling" not in out.stderr  # not twice: logging took it
    logged = [ln for ln in out.stdout.splitlines() if ln.startswith("LOG fastrnn")]
    assert logged[0].startswith("LOG fastrnn compiling the tiny f64 kernel (first run only")
    assert logged[1].startswith("LOG fastrnn compiled the tiny f64 kernel in ")
    assert len(logged) == 4, out.stdout


def test_fastrnn_quiet_silences(tmp_path):
    out = run_script(tmp_path, tmp_path / "cache", FASTRNN_QUIET="1")
    assert "compiling" not in out.stderr, out.stderr


def test_will_compile_reads_overloads_and_disk_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    run_script(tmp_path, cache)  # fills the disk cache for float64 and float32 arrays
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    check = """
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import tinyk
from fastrnn import _compile as C
x = np.arange(5.0)
print(C.will_compile(tinyk.scaled_sum, (x, 2.0)),             # on disk: no compile
      C.will_compile(tinyk.scaled_sum, (x.astype(np.int16), 2.0)),  # new types: compile
      C.will_compile(tinyk.uncached, (1,)))                  # cache=False: compile
tinyk.uncached(1)
print(C.will_compile(tinyk.uncached, (1,)), C.will_compile(len, (x,)))
"""
    out = run_python(check, tmp_path, timeout=300)
    assert out.stdout.split() == ["False", "True", "True", "False", "False"]


def test_failed_call_is_reported_and_not_remembered(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FASTRNN_QUIET", raising=False)
    monkeypatch.setattr(C, "will_compile", lambda d, a: True)
    monkeypatch.setattr(C, "_to_logging", lambda: False)

    def boom(x):
        raise ValueError("bad input")
    with pytest.raises(ValueError, match="bad input"):
        C.call(boom, 1, what="failing kernel")
    assert (boom, "failing kernel") not in C._seen
    err = capsys.readouterr().err
    assert err.startswith("fastrnn: compiling the failing kernel") and " failed after " in err


def test_threads_first_call_together_one_notice(capsys, monkeypatch):
    import threading
    from numba import njit
    monkeypatch.delenv("FASTRNN_QUIET", raising=False)
    monkeypatch.setattr(C, "_to_logging", lambda: False)

    @njit
    def twice(a):
        return 2 * a
    x = np.arange(4.0)
    results = []
    start = threading.Barrier(3)

    def worker():
        start.wait()
        results.append(C.call(twice, x, what="threaded kernel").sum())
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [12.0] * 3
    err = capsys.readouterr().err
    assert err.count("compiling the threaded kernel") == 1 and err.count(" done in ") == 1


def test_logger_level_silences(capsys, monkeypatch):
    monkeypatch.delenv("FASTRNN_QUIET", raising=False)
    monkeypatch.setattr(C, "will_compile", lambda d, a: True)
    monkeypatch.setattr(C, "_to_logging", lambda: False)
    log = logging.getLogger("fastrnn")
    old = log.level
    log.setLevel(logging.WARNING)
    try:
        assert C.call(abs, -3, what="silenced kernel") == 3
    finally:
        log.setLevel(old)
    assert capsys.readouterr().err == ""


def test_cache_dir_and_kernel_counts(monkeypatch):
    """cache_dir() is the folder Numba really caches in: NUMBA_CACHE_DIR when the kernels'
    cache is under it, else where Numba fell back to (unused_cache_setting names the setting)."""
    import numba
    actual = C._actual_cache_path()
    assert actual and os.path.isabs(actual)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    assert C.cache_dir() == actual and C.unused_cache_setting() is None
    parent = os.path.dirname(actual)
    monkeypatch.setattr(numba.config, "CACHE_DIR", parent)
    assert C.cache_dir() == parent and C.unused_cache_setting() is None
    monkeypatch.setattr(numba.config, "CACHE_DIR", "/some/where")
    assert C.cache_dir() == actual and C.unused_cache_setting() == "/some/where"
    names = C.kernel_dispatchers()
    assert "rnn.predict_proba_range" in names and "rnn.train_epoch_adagrad" in names
    hits, misses = C.cache_counts()
    assert hits >= 0 and misses >= 0


def test_check_cost_when_compiled(benchmark, tmp_path, monkeypatch, capsys):
    """The per-call cost of the notice once a kernel is compiled: one set lookup (< 50 µs;
    measured ~0.3 µs over a bare call).  A benchmark: run with ``--benchmark-enable``."""
    from numba import njit

    @njit
    def ident(a):
        return a
    x = np.zeros(3)
    C.call(ident, x, what="ident kernel")  # compiles (in this process only: no cache)
    capsys.readouterr()

    def notice_only():
        with C.compiling(ident, (x,), "ident kernel"):
            pass
    benchmark(notice_only)
    assert capsys.readouterr().err == ""  # compiled: silent
    if benchmark.stats is not None and benchmark.stats.stats.mean is not None:
        assert benchmark.stats.stats.mean < 50e-6


@pytest.mark.slow
def test_real_epoch_kernel_notice_cold_then_warm(tmp_path):
    """The engine's own wiring: a cold fit names the epoch kernel it compiles, the first
    predict the predict kernel (each once: 10 predictions, one notice); a warm run is quiet.
    Without the compile helper (``fastrnn._precompile``), which would otherwise compile the
    predict kernel beside the epoch kernel (tests/test_precompile.py)."""
    script = textwrap.dedent("""
        import fastrnn
        texts = ["good fine great", "bad awful poor", "great good", "poor bad"] * 5
        m = fastrnn.Model(epochs=2, early_stopping=False, min_count=1).fit(texts, [1, 0, 1, 0] * 5)
        for _ in range(10):
            m.predict(texts)
        print("ok")
    """)
    outs = [run_python(script, cache=tmp_path / "cache", env={"FASTRNN_COMPILE_HELPER": "0"})
            for _ in range(2)]
    cold = [ln for ln in outs[0].stderr.splitlines() if "compiling" in ln]
    assert len(cold) == 2, outs[0].stderr
    assert "compiling the adagrad float32 epoch kernel (first run only" in cold[0]
    assert "compiling the float32 predict kernel (first run only" in cold[1]
    assert "compiling" not in outs[1].stderr
