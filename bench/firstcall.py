"""The ``firstcall`` scenario: what a new user waits for on a first run, cold and warm.

Question: how long do the first calls take in a fresh process when Numba's cache is empty
(cold: every kernel compiled) and when it is full (warm: loaded from the cache), and how much of
that is compilation?

Method: every measurement runs in a fresh interpreter with ``NUMBA_CACHE_DIR`` set to a new
empty folder (cold) and then, in a second interpreter, to that same folder (warm); the pair is
repeated ``--repeats`` times (default 1), each pair with its own folder, and the median kept.
Steps (rows, ``value``):

``demo``
    Wall time of the ``fastrnn demo`` command (interpreter start, import, compile or cache
    load, training to early stopping, the log) on its default 4000/500-sentence corpus.
``import``
    ``import fastrnn`` (in the probe interpreter below).
``fit``
    A default ``Model(seed=0).fit`` on the demo corpus (``load_demo()``), early stopping on.
``train_many``
    Then, in the same process, ``train_many`` of 4 default models (seeds 0-3) on the same
    corpus: cold minus warm is what the call adds when its kernels are not cached.
``process``
    Wall time of that probe interpreter, start to exit.
``fit_gru``
    In another fresh interpreter (and cache folder), ``import fastrnn`` and a
    ``Model(seed=0, cell="gru").fit`` on the same corpus: the same process shape as ``fit``,
    so its cold time against ``fit``'s is what a GRU costs a first run (the row's
    ``vs_fit``: cold ``fit_gru`` / cold ``fit``, per pair in ``vs_fit_runs``; bar <= 1.25).
``predict_few``, ``predict_proba``
    In another fresh interpreter (and cache folder) that trains nothing (fit's early stopping
    runs the predict kernels on its validation split, so after a fit they are compiled): a
    saved default model is loaded, then the first ``predict_proba`` of 10 sentences (the serial
    kernel, below the engine's parallel threshold) and then of 500 (the parallel kernel, which
    calls the serial one) are timed.

``compile_s`` is ``cold_s - warm_s``: the compile time the step pays on an empty cache (noise
can make it slightly negative for a step that compiles nothing).  ``--quick``: no ``demo`` step,
a 300/300-sentence corpus, 2 epochs, one pair.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

STEPS = ("demo", "import", "fit", "train_many", "process", "fit_gru", "predict_few",
         "predict_proba")
FULL = dict(n_train=4000, n_test=500, few=10, epochs=None, models=4, demo=True)
QUICK = dict(n_train=300, n_test=300, few=10, epochs=2, models=4, demo=False)

_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import fastrnn
t1 = time.perf_counter()
from fastrnn.datasets import load_demo
cfg = json.loads(sys.argv[1])
(tr, ytr), (te, yte) = load_demo(n_train=cfg["n_train"], n_test=cfg["n_test"], seed=0)
kw = {} if cfg["epochs"] is None else {"epochs": cfg["epochs"]}
model = fastrnn.Model(seed=0, progress=False, **kw)
t2 = time.perf_counter()
model.fit(tr, ytr)
t3 = time.perf_counter()
fastrnn.train_many((tr, ytr), [dict(seed=i, progress=False, **kw) for i in range(cfg["models"])],
                   progress=False)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "fit": t3 - t2, "train_many": t4 - t3,
                  "dtype": str(model.dtype), "optimizer": model.optimizer,
                  "epochs_run": int(model.n_epochs_)}))
"""

# A first fit of another cell, alone in its process (import, then the fit: fit's shape above).
_CELL_PROBE = r"""
import json, sys, time
import fastrnn
from fastrnn.datasets import load_demo
cfg = json.loads(sys.argv[1])
(tr, ytr), (te, yte) = load_demo(n_train=cfg["n_train"], n_test=cfg["n_test"], seed=0)
kw = {} if cfg["epochs"] is None else {"epochs": cfg["epochs"]}
model = fastrnn.Model(seed=0, progress=False, cell=cfg["cell"], **kw)
t0 = time.perf_counter()
model.fit(tr, ytr)
t1 = time.perf_counter()
print(json.dumps({"fit": t1 - t0}))
"""

# The first predict_proba in a process that has trained nothing (fit's early stopping already
# runs the predict kernels on its validation split): a saved default model, loaded.
_PREDICT_PROBE = r"""
import json, sys, time
import fastrnn
from fastrnn.datasets import load_demo
cfg = json.loads(sys.argv[1])
model = fastrnn.Model.load(cfg["model"])
(_, _), (te, _) = load_demo(n_train=10, n_test=cfg["n_test"], seed=1)
t0 = time.perf_counter()
model.predict_proba(te[:cfg["few"]])
t1 = time.perf_counter()
model.predict_proba(te)
t2 = time.perf_counter()
print(json.dumps({"predict_few": t1 - t0, "predict_proba": t2 - t1}))
"""


class FirstCallError(RuntimeError):
    """A probe process failed; the message is its last stderr line."""


def _run(cmd, cache, timeout=900):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, FASTRNN_QUIET="1")
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise FirstCallError("%s failed: %s" % (" ".join(cmd[1:4]),
                                                (out.stderr.strip().splitlines() or ["?"])[-1]))
    return wall, out.stdout


def _saved_model(folder):
    """A default model (one epoch on a small corpus), trained here and saved in ``folder``."""
    from fastrnn import Model
    from fastrnn.datasets import load_demo
    (tr, ytr), _ = load_demo(n_train=200, n_test=10, seed=0)
    path = os.path.join(folder, "model.npz")
    Model(epochs=1, early_stopping=False, seed=0, progress=False).fit(tr, ytr).save(path)
    return path


def measure_pair(cfg):
    """One cold and one warm measurement of every step: ``{"cold": {step: s}, "warm": ...}``."""
    res = {"cold": {}, "warm": {}, "load_1min": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="fastrnn-firstcall-") as cache:
        for which in ("cold", "warm"):  # same folder: empty first, then filled by the cold run
            wall, stdout = _run([sys.executable, "-c", _PROBE, json.dumps(cfg)], cache)
            d = json.loads(stdout.strip().splitlines()[-1])
            res[which].update({k: d[k] for k in ("import", "fit", "train_many")},
                              process=wall)
            res["info"] = {k: d[k] for k in ("dtype", "optimizer", "epochs_run")}
    with tempfile.TemporaryDirectory(prefix="fastrnn-firstcall-gru-") as cache:
        gcfg = dict(cfg, cell="gru")
        for which in ("cold", "warm"):
            stdout = _run([sys.executable, "-c", _CELL_PROBE, json.dumps(gcfg)], cache)[1]
            res[which]["fit_gru"] = json.loads(stdout.strip().splitlines()[-1])["fit"]
    with tempfile.TemporaryDirectory(prefix="fastrnn-firstcall-predict-") as cache, \
            tempfile.TemporaryDirectory(prefix="fastrnn-firstcall-model-") as folder:
        pcfg = dict(cfg, model=_saved_model(folder))
        for which in ("cold", "warm"):
            stdout = _run([sys.executable, "-c", _PREDICT_PROBE, json.dumps(pcfg)], cache)[1]
            res[which].update(json.loads(stdout.strip().splitlines()[-1]))
    if cfg["demo"]:
        with tempfile.TemporaryDirectory(prefix="fastrnn-firstcall-demo-") as cache:
            for which in ("cold", "warm"):
                res[which]["demo"] = _run([sys.executable, "-m", "fastrnn.cli", "demo"],
                                          cache)[0]
    return res


def run_firstcall(quick=False, repeats=None, progress=None):
    """The scenario's rows (one per step; see the module docstring)."""
    cfg = dict(QUICK if quick else FULL)
    repeats = repeats or 1
    pairs = []
    for i in range(repeats):
        if progress:
            progress(0, "firstcall: cold and warm processes, pair %d of %d" % (i + 1, repeats))
        try:
            pairs.append(measure_pair(cfg))
        except (FirstCallError, subprocess.TimeoutExpired) as exc:
            return [{"scenario": "firstcall", "param": "step", "value": "all", "dtype": None,
                     "backend": "numba", "status": "FAIL", "n": cfg["n_train"],
                     "epochs": cfg["epochs"], "repeats": repeats, "cold_s": None,
                     "warm_s": None, "compile_s": None, "message": str(exc)}]
    info = pairs[0]["info"]
    rows = []
    for step in STEPS:
        if step not in pairs[0]["cold"]:
            continue
        cold = [p["cold"][step] for p in pairs]
        warm = [p["warm"][step] for p in pairs]
        c, w = statistics.median(cold), statistics.median(warm)
        rows.append({
            "scenario": "firstcall", "param": "step", "value": step, "dtype": info["dtype"],
            "backend": "numba", "status": "ok", "n": cfg["n_train"], "epochs": cfg["epochs"],
            "epochs_run": info["epochs_run"], "optimizer": info["optimizer"],
            "M": cfg["models"] if step == "train_many" else None, "repeats": repeats,
            "cold_s": c, "warm_s": w, "compile_s": c - w, "cold_runs": cold, "warm_runs": warm,
            "load_1min": [p["load_1min"] for p in pairs],
            "message": DESCRIPTIONS[step] % cfg})
        if step == "fit_gru" and "fit" in pairs[0]["cold"]:
            ratios = [p["cold"]["fit_gru"] / p["cold"]["fit"] for p in pairs]
            rows[-1].update(vs_fit=statistics.median(ratios), vs_fit_runs=ratios)
    return rows


DESCRIPTIONS = {
    "demo": "`fastrnn demo` wall time (its defaults)",
    "import": "import fastrnn",
    "fit": "Model(seed=0).fit on load_demo(%(n_train)d, %(n_test)d)",
    "train_many": "then train_many of %(models)d default models, same process",
    "process": "that probe process, start to exit",
    "fit_gru": "Model(seed=0, cell='gru').fit, alone in a fresh process (vs fit: cold ratio)",
    "predict_few": "first predict_proba (%(few)d sentences) of a loaded model",
    "predict_proba": "then predict_proba of %(n_test)d sentences (parallel)",
}


def table(rows):
    from rich.table import Table
    t = Table(title="firstcall: seconds in a fresh process, cold (empty NUMBA_CACHE_DIR) and "
              "warm (the same folder, filled); compile = cold - warm", header_style="bold")
    for col, just in (("step", "left"), ("what", "left"), ("dtype", "left"),
                      ("cold s", "right"), ("warm s", "right"), ("compile s", "right")):
        t.add_column(col, justify=just)
    for r in rows:
        if r["status"] != "ok":
            t.add_row(r["value"], "[bold red]FAIL[/] " + r["message"], "", "", "", "",
                      style="red")
            continue
        what = r["message"] + (": %.2fx" % r["vs_fit"] if r.get("vs_fit") else "")
        t.add_row(r["value"], what, r["dtype"], "%.2f" % r["cold_s"],
                  "%.2f" % r["warm_s"], "%.2f" % r["compile_s"])
    return t
