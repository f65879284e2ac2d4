"""The compile helper process (``fastrnn._precompile``): what it compiles is what a cold fit
then needs (so this process loads it instead of compiling it), results do not depend on it,
and it steps aside when it cannot help or fails.

The cold tests run a fresh interpreter on an empty ``NUMBA_CACHE_DIR`` (~8-10 s each on 2
cores): they are the check that ``kernels.rnn.callee_signatures`` and ``Trainer.compile_jobs``
name the argument types the kernels really use.
"""

import json
import os
import sys
import time

import numpy as np
import pytest
from numba.core import types

from conftest import run_python
from fastrnn import _compile, _precompile
from fastrnn.kernels import rnn as K

COLD_FIT = r"""
import json, sys
import numpy as np
import fastrnn
from fastrnn import _precompile
from fastrnn.kernels import rnn as K
recipe = json.loads(sys.argv[1])
t = ['good fun film', 'bad dull film', 'fun good', 'dull bad', 'a good one', 'a bad one'] * 4
y = [1, 0, 1, 0, 1, 0] * 4
m = fastrnn.Model(epochs=2, early_stopping=False, progress=False, seed=0, **recipe).fit(t, y)
p = m.predict_proba(t)
handed = {d.py_func.__name__: d for d, _ in _precompile._requested}
handed.setdefault("_whh_fused", K._whh_fused)   # reported also when no helper ran
handed.setdefault("update_rows", K.update_rows)
stats = {name: [sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())]
         for name, d in handed.items()}
weights = [float(np.asarray(a, np.float64).sum()) for a in (m.params_.Whh, m.params_.WxhT,
                                                           m.params_.Why, m.params_.U, p)]
print(json.dumps({"stats": stats, "weights": weights,
                  "helper": sorted(d.py_func.__name__ for d, _ in _precompile._requested)}))
"""

RECIPES = {
    "default-f32": {},
    "sgd-f64-tutorial": dict(optimizer="sgd", dtype="float64", gradient="tutorial",
                             pooling="last", learning_rate=0.05),
    "gru-f32": dict(cell="gru"),
    "lstm-f64-adam": dict(cell="lstm", dtype="float64", optimizer="adam", learning_rate=0.01),
}
#: what the helper is handed for each recipe's cold fit (on 24 sentences no epoch checks the
#: whole n-gram table, so ngram.all_finite is not among them)
HANDED = {
    "tanh": ["_whh_fused", "all_finite_arrays", "predict_proba_range", "update_rows"],
    "gru": ["_whh_fused", "all_finite_arrays", "gru_backward", "gru_step",
            "predict_proba_range_gru", "update_rows"],
    "lstm": ["_whh_fused", "all_finite_arrays", "lstm_backward", "lstm_step",
             "predict_proba_range_lstm", "update_rows"],
}


def _cold_fit(tmp_path, recipe, helper="1"):
    out = run_python(COLD_FIT, json.dumps(recipe), cache=tmp_path / "cache",
                     env={"FASTRNN_COMPILE_HELPER": helper, "FASTRNN_QUIET": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not _precompile.enabled(), reason="the helper needs two usable cores")
@pytest.mark.parametrize("name", list(RECIPES))
def test_cold_fit_loads_what_the_helper_compiled(tmp_path, name):
    """On an empty cache, the fit's process compiles none of the helper's kernels: each is
    loaded from the cache (a hit, no miss), so the types the helper was given are the ones
    the kernels call them with; and the weights and probabilities are those of this process's
    own (cached) kernels."""
    got = _cold_fit(tmp_path, RECIPES[name])
    assert got["helper"] == HANDED[RECIPES[name].get("cell", "tanh")]
    for kernel in got["helper"]:
        hits, misses = got["stats"][kernel]
        assert misses == 0 and hits >= 1, (kernel, got["stats"])
    import fastrnn
    t = ['good fun film', 'bad dull film', 'fun good', 'dull bad', 'a good one', 'a bad one'] * 4
    y = [1, 0, 1, 0, 1, 0] * 4
    m = fastrnn.Model(epochs=2, early_stopping=False, progress=False, seed=0,
                      **RECIPES[name]).fit(t, y)
    p = m.predict_proba(t)
    mine = [float(np.asarray(a, np.float64).sum())
            for a in (m.params_.Whh, m.params_.WxhT, m.params_.Why, m.params_.U, p)]
    assert got["weights"] == mine


def test_switched_off_the_fit_compiles_them_itself(tmp_path):
    """``FASTRNN_COMPILE_HELPER=0``: no helper; the process compiles the callees (misses)."""
    got = _cold_fit(tmp_path, {}, helper="0")
    assert got["helper"] == []
    assert got["stats"]["_whh_fused"][1] == 1 and got["stats"]["update_rows"][1] == 1


# ------------------------------------------------------------------------- when it may run
@pytest.mark.parametrize("value,expect", [("0", False), ("no", False), ("1", True), ("", True)])
def test_switch(monkeypatch, value, expect):
    monkeypatch.setenv("FASTRNN_COMPILE_HELPER", value)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert _precompile.enabled() is expect


def test_one_core_starts_no_helper(monkeypatch):
    monkeypatch.delenv("FASTRNN_COMPILE_HELPER", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert not _precompile.enabled()
    assert _precompile.start([(K.update_rows, K.callee_signatures(np.float32, 1)[0][1])]) \
        is None


def test_nothing_to_do_starts_no_helper(monkeypatch):
    """Kernels without a disk cache, or types this process already has, are not handed out."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("FASTRNN_COMPILE_HELPER", raising=False)
    from numba import njit

    @njit
    def uncached(x):
        return x
    assert _precompile.start([(uncached, (types.int64,))]) is None
    a1 = types.Array(types.float64, 1, "C")
    K.softmax_loss.compile((a1, types.int64, a1))       # now in this process (and on disk)
    assert _precompile.start([(K.softmax_loss, (a1, types.int64, a1))]) is None


# ------------------------------------------------------------------ the protocol, no compile
def test_callee_signatures_follow_dtype_and_optimizer():
    for dt, f in [(np.float32, types.float32), (np.float64, types.float64)]:
        for opt in (K.OPT_SGD, K.OPT_ADAGRAD, K.OPT_ADAM):
            (u, usig), (w, wsig) = K.callee_signatures(dt, opt)
            assert u is K.update_rows and w is K._whh_fused
            assert usig[5] == types.literal(opt) and wsig[6] == types.literal(opt)
            assert usig[0] == types.Array(f, 2, "C") and wsig[7] == f
            assert len(usig) == u.py_func.__code__.co_argcount
            assert len(wsig) == w.py_func.__code__.co_argcount


class _FakeCache:
    """Stands in for a dispatcher's disk cache: records when load_overload was asked."""

    _cache_file = object()
    _enabled = True

    def __init__(self):
        self.asked = []

    def load_overload(self, sig, target_context):
        self.asked.append((sig, time.perf_counter()))
        return None


class _FakeDispatcher:
    def __init__(self):
        self._cache = _FakeCache()

    def py_func(self):
        """Only its module and name travel to the helper."""


def _helper_with(monkeypatch, script, jobs):
    """A Helper whose process runs ``script`` (Python source) instead of the real helper."""
    import subprocess
    real = subprocess.Popen

    def popen(argv, **kw):
        return real([sys.executable, "-c", script], **kw)
    monkeypatch.setattr(_precompile.subprocess, "Popen", popen)
    return _precompile.Helper(jobs)


def test_a_compile_waits_for_the_helpers_job_then_loads(monkeypatch):
    d = _FakeDispatcher()
    helper = _helper_with(monkeypatch, "import sys, time; sys.stdin.buffer.read(); print('ready', flush=True); "
                          "time.sleep(0.5); print('done 0', flush=True)", [(d, ("sig",))])
    assert "load_overload" in vars(d._cache)          # hooked while the helper runs
    t0 = time.perf_counter()
    assert d._cache.load_overload(("sig",), None) is None
    waited = d._cache.asked[0][1] - t0
    assert waited > 0.3                               # it waited for "done 0"
    helper.proc.wait(10)
    helper._reader.join(10)
    assert "load_overload" not in vars(d._cache)      # unhooked when the helper ended
    assert helper.failed == {}


def test_a_helper_that_fails_or_dies_ends_the_wait(monkeypatch):
    d1, d2 = _FakeDispatcher(), _FakeDispatcher()
    helper = _helper_with(monkeypatch, "import sys; sys.stdin.buffer.read(); print('ready', flush=True); "
                          "print('fail 0 TypingError: no', flush=True); sys.exit(3)",
                          [(d1, ("a",)), (d2, ("b",))])
    t0 = time.perf_counter()
    d2._cache.load_overload(("b",), None)             # job 1 never reported: the exit ends it
    assert time.perf_counter() - t0 < 10
    helper._reader.join(10)
    assert helper.failed == {0: "TypingError: no"}
    assert all(ev.is_set() for ev in helper.done)
    assert "load_overload" not in vars(d1._cache) and "load_overload" not in vars(d2._cache)


def test_the_wait_has_a_limit(monkeypatch):
    d = _FakeDispatcher()
    monkeypatch.setattr(_precompile, "WAIT_LIMIT", 0.3)
    helper = _helper_with(monkeypatch, "import sys, time; sys.stdin.buffer.read(); "
                          "print('ready', flush=True); time.sleep(5)", [(d, ("sig",))])
    t0 = time.perf_counter()
    d._cache.load_overload(("sig",), None)
    assert time.perf_counter() - t0 < 2
    helper.proc.kill()
    helper._reader.join(10)


def test_a_helper_that_never_says_ready_is_stopped(monkeypatch):
    """Not a Python that runs the helper (a frozen app as sys.executable, say): the first wait
    gives up after READY_LIMIT, the process is killed, the hooks go."""
    d = _FakeDispatcher()
    monkeypatch.setattr(_precompile, "READY_LIMIT", 0.5)
    helper = _helper_with(monkeypatch, "import time; time.sleep(30)", [(d, ("sig",))])
    t0 = time.perf_counter()
    d._cache.load_overload(("sig",), None)
    assert time.perf_counter() - t0 < 5
    helper._reader.join(10)
    assert helper.proc.returncode is not None            # killed, reaped
    assert "load_overload" not in vars(d._cache) and _precompile._active is None


def test_one_helper_at_a_time(monkeypatch):
    """While a helper runs, another first call starts none (no hooks on hooks, no two helpers
    saving at once); once it has ended, one may start again."""
    d = _FakeDispatcher()
    helper = _helper_with(monkeypatch, "import sys, time; sys.stdin.buffer.read(); "
                          "print('ready', flush=True); time.sleep(1)", [(d, ("sig",))])
    assert _precompile._active is helper
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("FASTRNN_COMPILE_HELPER", raising=False)
    sig = K.callee_signatures(np.float32, K.OPT_ADAM)[0][1]
    assert _precompile.start([(K.update_rows, sig)]) is None
    helper._reader.join(10)
    assert _precompile._active is None


def test_a_failing_job_list_costs_the_helper_not_the_call(monkeypatch):
    monkeypatch.setattr(_compile, "will_compile", lambda kernel, args: True)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("FASTRNN_COMPILE_HELPER", raising=False)

    def broken():
        raise IndexError("a bug in compile_jobs")
    assert _precompile.before_call(K.softmax_loss, (), "a label never used", broken) is None


def _run_main(jobs, tmp_path):
    import pickle
    import subprocess
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", "from fastrnn._precompile import main; main()"],
                         input=pickle.dumps(jobs), capture_output=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode().splitlines()


def test_helper_main_reports_each_job(tmp_path):
    """The helper itself: ``ready``, then ``done``/``fail`` per job, in order, on its stdout;
    a job whose kernel would cache in another folder than the caller's is not compiled."""
    sig = (types.Array(types.float64, 1, "C"), types.int64, types.Array(types.float64, 1, "C"))
    assert _run_main([], tmp_path) == ["ready"]
    import subprocess
    folder = subprocess.run(
        [sys.executable, "-c", "from fastrnn._precompile import _cache_path; "
         "from fastrnn.kernels import rnn; print(_cache_path(rnn.softmax_loss))"],
        capture_output=True, text=True, env=dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path)),
        check=True).stdout.strip()
    jobs = [("fastrnn.kernels.rnn", "softmax_loss", sig, folder),
            ("fastrnn.kernels.rnn", "softmax_loss", (types.unicode_type,) * 3, folder),
            ("fastrnn.kernels.rnn", "matvec_rows", sig, "/somewhere/else")]
    lines = _run_main(jobs, tmp_path)
    assert lines[0] == "ready" and lines[1] == "done 0" and lines[2].startswith("fail 1 ")
    assert lines[3].startswith("fail 2 the helper caches in ")
    cached = sorted(p.name for p in tmp_path.rglob("*.nbi"))
    assert any("softmax_loss" in n for n in cached) and not any("matvec_rows" in n
                                                                 for n in cached)
