"""The benchmark runner: time every backend on every cell, check that they agree, record it all.

Question each cell answers: how many microseconds does one training sample (or one predicted
sentence) take in each backend, on the same model, weights and sample order, and how far is
that from the reference and from the machine's peak?

Method per cell and backend: ``warm`` (JIT compile, untimed), one warm-up repeat (untimed; its
Python/numpy allocations are traced with :mod:`tracemalloc` for the peak-memory figure), then
``repeats`` timed repeats, each from the same initial weights (``prepare`` untimed, ``run``
timed with ``time.perf_counter``, garbage collector off).  Figures: median and interquartile
range of the microseconds per sample over the repeats, samples/s, the speed-up against the numpy
reference of the same cell, and GFLOP/s counting the minimal FLOPs of
:mod:`fastrnn.bench.scenarios`.

Agreement: every backend's weight changes (final minus initial weights, training) or
probabilities (inference) are compared with the numpy reference's in the same dtype, as
``max |a - b| / max |b|`` per array.  Tolerance:
float64 ``1e-9`` (measured: ~1e-13 on every scenario); float32 ``1e-3`` (measured up to ~2e-4:
float32 rounding of small updates, summed over hundreds of steps); the same for the torch and jax
peers (measured ~3e-14 f64, ~2e-5 f32 on the tutorial).  A backend above tolerance is a
failure: its time is not reported.
"""

import gc
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from . import backends as B
from . import models
from . import scenarios as S
from .scenarios import TOL, rel_error, timing_stats  # noqa: F401 (shared with models.py)
from .machine import machine_info

SCHEMA = "fastrnn-bench/1"
CSV_FIELDS = ("scenario", "param", "value", "dtype", "backend", "status", "n", "V", "H", "O",
              "epochs", "threads", "samples_timed", "repeats", "median_us", "q1_us", "q3_us",
              "min_us", "max_us", "samples_per_s", "speedup", "flops_per_sample", "gflops",
              "pct_peak", "rel_err", "tol", "peak_traced_bytes", "accuracy", "s_per_epoch",
              "acc_min", "acc_max", "best_epoch", "fit_s", "us_per_token", "M", "vs_1_thread",
              "cost_vs_single", "bitwise", "bytes_per_model", "cold_s", "warm_s", "compile_s",
              "message")


class BenchError(ValueError):
    """Bad benchmark input; the CLI turns it into a one-line usage error."""


@dataclass
class Settings:
    repeats: int = 5
    warmup: int = 1
    reference: str = "dense"
    compile_times: bool = True
    cold_compile: bool = True
    threads: tuple = ()          # models scenario: numba thread counts (default 1 and all)
    fit_comparison: bool = False  # models scenario: train_many vs sequential Model.fit


@dataclass
class Run:
    """Everything one ``fastrnn-bench run`` measured (JSON-ready through :meth:`to_json`)."""
    machine: dict
    settings: dict
    results: list = field(default_factory=list)
    compile: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    started: str = ""
    seconds: float = 0.0
    real: dict = None  # the real scenario: data, seeds, speed bars (bench/real.py)

    def to_json(self):
        d = {"schema": SCHEMA, "started": self.started, "seconds": self.seconds,
             "command": sys.argv, "machine": self.machine, "settings": self.settings,
             "compile": self.compile, "notes": self.notes, "results": self.results,
             "max_rss_bytes": max_rss_bytes(), "code": code_version()}
        if self.real is not None:
            d["real"] = self.real
        return d

    @property
    def failures(self):
        return [r for r in self.results if r["status"] == "FAIL"]


def code_version():
    """``{"commit": HEAD, "dirty": [modified tracked files]}`` of the source tree, if in git."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                              capture_output=True, text=True, timeout=10)
        st = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                            capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return {"commit": head.stdout.strip(),
            "dirty": [line[3:] for line in st.stdout.splitlines() if line.strip()]}


def max_rss_bytes():
    """Peak resident set size of this process (``resource.getrusage``; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --------------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------------
def build_cells(names, dtypes, opts, values=None, quick=False):
    """The cells of the named scenarios; raises :class:`BenchError` on a bad name or size."""
    cells = []
    for name in names:
        sc = S.SCENARIOS.get(name)
        if sc is None:
            raise BenchError("unknown scenario %r; choose from %s"
                             % (name, ", ".join(S.SCENARIOS)))
        vals = sc.values(values, quick)
        for v in vals:
            if v < sc.lo or (sc.hi is not None and v > sc.hi):
                raise BenchError("%s: %s=%d is out of range %d..%s"
                                 % (name, sc.param or "samples", v, sc.lo, sc.hi))
        for dt in dtypes:
            for v in vals:
                cells.append(sc.cell(v, dt, opts))
    for c in cells:
        for attr, lo in (("n", 1), ("V", 1), ("H", 1), ("epochs", 1)):
            if getattr(c, attr) < lo:
                raise BenchError("%s: %s must be >= %d, got %d" % (c.key, attr, lo,
                                                                  getattr(c, attr)))
        need = S.estimate_bytes(c)
        if need > S.MAX_BYTES:
            raise BenchError("%s needs about %.1f GiB (n=%d, V=%d, H=%d, T=%s), more than the "
                             "%d GiB limit" % (c.key, need / 2**30, c.n, c.V, c.H,
                                               c.length or "~4", S.MAX_BYTES // 2**30))
    return cells


# --------------------------------------------------------------------------------------------
# timing one backend on one cell
# --------------------------------------------------------------------------------------------
def _set_threads(cell):
    if cell.threads:
        import numba
        numba.set_num_threads(cell.threads)


def timed_runs(backend, cell, data, repeats, clock=time.perf_counter):
    """``(times in s, last state)`` of ``repeats`` runs, each on a fresh ``prepare`` and timed
    by ``clock`` with the garbage collector off."""
    times = []
    st = None
    for _ in range(repeats):
        st = backend.prepare(cell, data)
        gc.collect()
        gc.disable()
        try:
            t0 = clock()
            backend.run(st)
            t1 = clock()
        finally:
            gc.enable()
        times.append(t1 - t0)
    return times, st


def time_backend(backend, cell, data, repeats, warmup=1, trace=True, clock=time.perf_counter):
    """``(times in s, result, peak traced bytes)`` of ``repeats`` runs timed by ``clock``
    after ``warmup`` (``trace``: the first warm-up under tracemalloc, else the peak is None)."""
    _set_threads(cell)
    t0 = time.perf_counter()
    backend.warm(cell, data)
    backend.warm_s = time.perf_counter() - t0
    peak = None
    for w in range(warmup):
        if trace and w == 0:
            tracemalloc.start()
        st = backend.prepare(cell, data)
        backend.run(st)
        if trace and w == 0:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        del st
    times, st = timed_runs(backend, cell, data, repeats, clock)
    return times, backend.result(st), peak


def _row(cell, backend, times, samples, flops, peak_gflops, rel, tol, peak_bytes, status,
         message="", warm_s=None):
    row = {"scenario": cell.scenario, "param": cell.param, "value": cell.value,
           "dtype": cell.dtype, "backend": backend, "status": status, "n": cell.n,
           "V": cell.V, "H": cell.H, "O": cell.O, "epochs": cell.epochs,
           "threads": cell.threads, "samples_timed": samples, "repeats": len(times),
           "median_us": None, "q1_us": None, "q3_us": None, "min_us": None, "max_us": None,
           "samples_per_s": None, "speedup": None, "flops_per_sample": flops, "gflops": None,
           "pct_peak": None, "rel_err": rel, "tol": tol, "peak_traced_bytes": peak_bytes,
           "message": message, "warm_s": warm_s}
    if status == "ok" and times:
        row.update(timing_stats(times, samples, flops))
        if peak_gflops:
            row["pct_peak"] = 100.0 * row["gflops"] / peak_gflops
    return row


def run_cell(cell, backends, settings, machine, data=None):
    """Rows (one per backend) for one cell.  The first numpy backend is the oracle; when none is
    selected, the lean reference runs once, untimed, to check the others."""
    data = data if data is not None else S.make_data(cell)
    flops = S.cell_flops(cell, data)
    samples = cell.n * (cell.epochs if cell.kind == "train" else 1)
    peak = machine.get("peak_gflops_per_core", {}).get(cell.dtype)
    if peak and cell.kind == "infer":
        import numba
        peak *= numba.get_num_threads() if not cell.threads else cell.threads
    measured = []
    oracle = None
    for be in backends:
        try:
            times, res, pk = time_backend(be, cell, data, settings.repeats, settings.warmup)
        except Exception as exc:  # a backend that crashes is a failure of that cell
            measured.append((be, [], None, None, "%s: %s" % (type(exc).__name__, exc)))
            continue
        measured.append((be, times, res, pk, ""))
        if oracle is None and isinstance(be, B.NumpyBackend):
            oracle = res
    if oracle is None:
        ref = B.NumpyBackend(dense=False)
        st = ref.prepare(cell, data)
        ref.run(st)
        oracle = ref.result(st)
    rows = []
    tol = TOL[cell.dtype]
    for be, times, res, pk, msg in measured:
        label = be.name + ("-" + be.note if be.note and cell.kind == "train" else "")
        if res is None:
            rows.append(_row(cell, label, times, samples, flops, peak, None, tol, pk,
                             "FAIL", msg))
            continue
        rel = rel_error(res, oracle, data.init if cell.kind == "train" else None)
        if rel <= tol:
            rows.append(_row(cell, label, times, samples, flops, peak, rel, tol, pk, "ok",
                             warm_s=getattr(be, "warm_s", None)))
            if getattr(be, "compile_s", None) is not None:  # jax: jit compile of this cell
                rows[-1]["compile_s"] = be.compile_s
        else:
            rows.append(_row(cell, label, times, samples, flops, peak, rel, tol, pk, "FAIL",
                             "results differ from the numpy reference: rel err %.3g > %.0e"
                             % (rel, tol)))
    ref_us = next((r["median_us"] for r in rows
                   if r["backend"].startswith("numpy") and r["status"] == "ok"), None)
    for r in rows:
        if ref_us and r["median_us"]:
            r["speedup"] = ref_us / r["median_us"]
    return rows


# --------------------------------------------------------------------------------------------
# compile time
# --------------------------------------------------------------------------------------------
_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from fastrnn.bench import backends as B, scenarios as S
t1 = time.perf_counter()
kind, dtype = sys.argv[1], sys.argv[2]
cell = S.Cell("probe", "", 0, dtype, kind, 4, 18, 16, 2, epochs=1)
data = S.make_data(cell)
be = B.NumbaBackend()
st = be.prepare(cell, data)
t2 = time.perf_counter(); be.run(st); t3 = time.perf_counter()
st = be.prepare(cell, data)
t4 = time.perf_counter(); be.run(st); t5 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t3 - t2, "second_call_s": t5 - t4}))
"""


def compile_time(kind, dtype, cold):
    """Seconds to compile (``cold``: a fresh ``NUMBA_CACHE_DIR``) or load from the cache the
    kernels of ``kind`` in ``dtype``, in a subprocess: first call minus second call."""
    env = dict(os.environ)
    tmp = None
    if cold:
        tmp = tempfile.TemporaryDirectory(prefix="fastrnn-bench-cache-")
        env["NUMBA_CACHE_DIR"] = tmp.name
    try:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _PROBE, kind, dtype], env=env,
                             capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - t0
    finally:
        if tmp is not None:
            tmp.cleanup()
    if out.returncode != 0:
        return {"kind": kind, "dtype": dtype, "cache": "cold" if cold else "cached",
                "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return {"kind": kind, "dtype": dtype, "cache": "cold" if cold else "cached",
            "compile_s": d["first_call_s"] - d["second_call_s"], "import_s": d["import_s"],
            "process_s": wall}


# --------------------------------------------------------------------------------------------
# the whole run
# --------------------------------------------------------------------------------------------
def run_benchmark(cells, backends, settings=None, progress=None):
    """Measure ``cells`` on ``backends`` (Backend instances); returns a :class:`Run`.

    ``progress(advance_by, description)`` is called as cells finish, if given.
    """
    settings = settings or Settings()
    t0 = time.perf_counter()
    run = Run(machine={}, settings=dict(settings.__dict__),
              started=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    if settings.compile_times and any(isinstance(b, B.NumbaBackend) for b in backends):
        seen = sorted({(c.kind, c.dtype) for c in cells if c.kind != "many"})
        for kind, dt in seen:
            if progress:
                progress(0, "compile %s %s" % (kind, dt))
            if settings.cold_compile:
                run.compile.append(compile_time(kind, dt, cold=True))
    for i, cell in enumerate(cells):
        if progress:
            progress(0, cell.key)
        if cell.kind == "many":
            run.results.extend(models.run_cell(cell, settings, machine_info()))
        else:
            run.results.extend(run_cell(cell, backends, settings, machine_info()))
        if progress:
            progress(1, cell.key)
    if settings.fit_comparison and any(c.kind == "many" for c in cells):
        if progress:
            progress(0, "models: train_many vs Model.fit")
        run.results.extend(models.fit_comparison(settings, seed=cells[0].seed))
    numba_rows = [r for r in run.results if r["backend"] == "numba" and r.get("warm_s")]
    for dt in sorted({c.dtype for c in cells if c.kind == "many"}):
        first = next((r["warm_s"] for r in run.results if r["dtype"] == dt
                      and r["backend"] == "batch" and r.get("warm_s")), None)
        if first is not None:
            run.compile.append({"kind": "many", "dtype": dt, "cache": "this process",
                                "compile_s": first, "import_s": None,
                                "note": "first batch-kernel call of the run: compile or cache "
                                        "load"})
    for kind, dt in sorted({(c.kind, c.dtype) for c in cells if c.kind != "many"}):
        first = next((r["warm_s"] for r in numba_rows
                      if r["dtype"] == dt and (r["scenario"] in ("infer", "threads"))
                      == (kind == "infer")), None)
        if first is not None:
            run.compile.append({"kind": kind, "dtype": dt, "cache": "this process",
                                "compile_s": first, "import_s": None,
                                "note": "first warm-up call in this run: compile or cache load"})
    for kind, dt in sorted({(c.kind, c.dtype) for c in cells if c.kind != "many"}):
        peer = [r for r in run.results if r.get("compile_s") is not None and r["dtype"] == dt
                and (r["scenario"] in ("infer", "threads")) == (kind == "infer")]
        for name in sorted({r["backend"] for r in peer}):
            cs = [r["compile_s"] for r in peer if r["backend"] == name]
            run.compile.append({"backend": name, "kind": kind, "dtype": dt,
                                "cache": "this process", "compile_s": cs[0], "import_s": None,
                                "compile_s_max": max(cs), "cells": len(cs),
                                "note": "first jitted call minus second call (trace + XLA "
                                        "compile), first cell of the run; recompiled for "
                                        "every cell shape"})
    if settings.compile_times and settings.cold_compile and any(
            isinstance(b, B.NumbaBackend) for b in backends):
        # the cache is warm now: this process compiled (or loaded) every kernel it used
        for kind, dt in sorted({(c.kind, c.dtype) for c in cells if c.kind != "many"}):
            run.compile.append(compile_time(kind, dt, cold=False))
    import numba
    run.machine = machine_info()
    run.machine["numba_threads_at_end"] = numba.get_num_threads()
    run.seconds = time.perf_counter() - t0
    return run


# --------------------------------------------------------------------------------------------
# output files: checked before the run, written atomically
# --------------------------------------------------------------------------------------------
def check_writable(path, what):
    """Raise :class:`BenchError` unless ``path`` can be created or replaced."""
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    if os.path.isdir(path):
        raise BenchError("%s: %s is a directory" % (what, path))
    if not os.path.isdir(parent):
        raise BenchError("%s: folder %s does not exist" % (what, parent))
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(path)
                                                    and not os.access(path, os.W_OK)):
        raise BenchError("%s: cannot write %s (permission denied)" % (what, path))
    return path


#: The first line of ``run --markdown`` (:func:`report.real_markdown`) and of ``perf -o``
#: (:func:`perf.render`): written there, recognised by :func:`check_replaceable`.
MARKDOWN_MARK = "<!-- fastrnn-bench run:"
PERF_TITLE = "# fastrnn performance (generated by `fastrnn-bench perf`)"

#: How fastrnn-bench's own outputs begin, by kind (what ``check_replaceable`` lets a run replace
#: without ``--force``); a plot is recognised by matplotlib's signature.
_OWN_MARKS = {
    "--json": lambda head: b'"schema"' in head and SCHEMA.encode() in head,
    "--csv": lambda head: head.startswith(",".join(CSV_FIELDS[:6]).encode()),
    "--plot": lambda head: b"atplotlib" in head,
    "--markdown": lambda head: head.startswith(MARKDOWN_MARK.encode()),
    "--output": lambda head: head.startswith(PERF_TITLE.encode()),
}


def check_replaceable(path, what, force=False):
    """Raise :class:`BenchError` when ``path`` exists and is not a fastrnn-bench output of the
    kind ``what`` (an option name), unless ``force``: a run replaces its own earlier results,
    never a user's file."""
    if force or not os.path.isfile(path) or os.path.getsize(path) == 0:  # nothing to lose
        return path
    try:
        with open(path, "rb") as f:  # a PDF names its producer near its end: read a plot whole
            head = f.read(1 << 24 if what == "--plot" else 4096)
    except OSError as exc:
        raise BenchError("%s: cannot read %s (%s)" % (what, path, exc.strerror or exc)) from None
    if not _OWN_MARKS[what](head):
        raise BenchError("%s: %s exists and is not a fastrnn-bench %s file: not overwritten "
                         "(--force replaces it)" % (what, path, what.lstrip("-")))
    return path


def write_atomic(path, write, binary=False):
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it (the package's
    one atomic writer, :func:`fastrnn.lowlevel.atomic_write`: umask permissions, nothing half
    written)."""
    from fastrnn.lowlevel import atomic_write
    atomic_write(os.path.abspath(os.fspath(path)), write, "wb" if binary else "w")


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


def write_json(run, path):
    data = _jsonable(run.to_json())
    write_atomic(path, lambda f: json.dump(data, f, indent=1))


def write_csv(run, path):
    import csv

    def w(f):
        wr = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        wr.writeheader()
        for r in run.results:
            wr.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_FIELDS})
    write_atomic(path, w)


def load_json(path):
    """A saved run's dict; raises :class:`BenchError` if it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except OSError as exc:
        raise BenchError("%s: %s" % (path, exc.strerror or exc)) from None
    except ValueError as exc:
        raise BenchError("%s: not JSON (%s)" % (path, exc)) from None
    if not isinstance(d, dict) or d.get("schema") != SCHEMA or not isinstance(d.get("results"),
                                                                               list):
        raise BenchError("%s: not a fastrnn-bench result file (schema %s)" % (path, SCHEMA))
    return d


def cell_key(r):
    return (r["scenario"], r["param"], r["value"], r["dtype"], r["backend"], r.get("threads", 0))


def compare(a, b):
    """Per-cell ``B / A`` ratios of median microseconds, regressions (largest ratio) first.

    Rows: dicts with the key fields, ``a_us``, ``b_us``, ``ratio`` (None when a side failed or
    is missing).
    """
    ia = {cell_key(r): r for r in a["results"]}
    ib = {cell_key(r): r for r in b["results"]}
    rows = []
    for k in list(ia) + [k for k in ib if k not in ia]:
        ra, rb = ia.get(k), ib.get(k)
        au = ra and ra.get("median_us")
        bu = rb and rb.get("median_us")
        rows.append({"scenario": k[0], "param": k[1], "value": k[2], "dtype": k[3],
                     "backend": k[4], "a_us": au, "b_us": bu,
                     "ratio": (bu / au) if (au and bu) else None,
                     "note": ("only in A" if rb is None else "only in B" if ra is None else
                              "failed" if not (au and bu) else "")})
    rows.sort(key=lambda r: (r["ratio"] is None, -(r["ratio"] or 0)))
    return rows
