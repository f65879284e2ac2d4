"""The performance tables of the project README from saved runs (``fastrnn-bench run --json``).

    fastrnn-bench perf bench/results/tutorial.json bench/results/hidden.json \\
        bench/results/models.json -o bench/results/perf.md

Every figure is read from the JSON files (medians of each run); nothing is measured here.
(``python -m fastrnn.bench.perf RUN.json ...`` runs the same command.)
"""

import sys

from . import runner as R

COMMANDS = (
    "fastrnn-bench run tutorial --json bench/results/tutorial.json",
    "fastrnn-bench run hidden --plot bench/results/hidden.png --json bench/results/hidden.json",
    "fastrnn-bench run models --plot bench/results/models.png --json bench/results/models.json",
    "fastrnn-bench perf bench/results/tutorial.json bench/results/hidden.json "
    "bench/results/models.json -o bench/results/perf.md",
)


def _g(x, fmt="%.3g"):
    return "–" if x is None else fmt % x


def _ok(rows, **kw):
    return [r for r in rows if r["status"] == "ok" and all(r.get(k) == v for k, v in kw.items())]


def _one(rows, **kw):
    got = _ok(rows, **kw)
    return got[0] if got else None


def machine(d):
    m = d["machine"]
    load = "/".join("%.2f" % x for x in m["load_avg"]) if m.get("load_avg") else "?"
    code = d.get("code") or {}
    src = ("commit %s%s" % (code["commit"], " + uncommitted changes in " + ", ".join(
        code["dirty"]) if code.get("dirty") else "")) if code.get("commit") else "commit ?"
    return ("%s, %s logical cores, %.0f MHz, %s; Python %s, numpy %s, numba %s (threading layer "
            "%s); load average at the end %s (1/5/15 min); %s; %s"
            % (m.get("cpu_model"), m.get("logical_cores"), m.get("cpu_mhz") or 0, m.get("simd"),
               m.get("python"), m.get("numpy"), m.get("numba"), m.get("numba_threading_layer"),
               load, d.get("started", "")[:16], src))


def tutorial_table(d):
    rows = d["results"]
    out = ["| dtype | numba µs/sample | numpy (dense) µs/sample | speed-up | numba GFLOP/s "
           "(% of est. peak) | rel. err vs numpy |", "|---|---|---|---|---|---|"]
    for dt in ("float64", "float32"):
        nb = _one(rows, scenario="tutorial", dtype=dt, backend="numba")
        npy = next((r for r in _ok(rows, scenario="tutorial", dtype=dt)
                    if r["backend"].startswith("numpy")), None)
        if nb is None:
            continue
        out.append("| %s | %s | %s | %s | %s (%s %%) | %s |" % (
            dt, _g(nb["median_us"]), _g(npy and npy["median_us"]),
            _g(nb["speedup"], "%.1fx"), _g(nb["gflops"], "%.1f"), _g(nb["pct_peak"], "%.0f"),
            _g(nb["rel_err"], "%.0e")))
    return "\n".join(out)


def hidden_table(d):
    rows = d["results"]
    Hs = sorted({r["value"] for r in _ok(rows, scenario="hidden")})
    out = ["| H | " + " | ".join(str(h) for h in Hs) + " |", "|---" * (len(Hs) + 1) + "|"]
    for dt in ("float64", "float32"):
        for what, key, fmt in (("speed-up vs numpy dense", "speedup", "%.1fx"),
                               ("numba µs/sample", "median_us", "%.3g"),
                               ("numba GFLOP/s", "gflops", "%.1f")):
            cells = [_one(rows, scenario="hidden", dtype=dt, backend="numba", value=h)
                     for h in Hs]
            if not any(cells):
                continue
            out.append("| %s %s | " % (dt.replace("float", "f"), what)
                       + " | ".join(_g(c and c[key], fmt) for c in cells) + " |")
    return "\n".join(out)


NOISY = " †"


def _noisy(r, spread=1.15):
    """Repeats spread wide (q3 / q1 above ``spread``): a busy neighbour, not the kernel."""
    return bool(r and r.get("q1_us") and r["q3_us"] / r["q1_us"] > spread)


def models_table(d):
    rows = d["results"]
    Ms = sorted({r["value"] for r in _ok(rows, scenario="models", param="M")})
    ths = sorted({r["threads"] for r in _ok(rows, scenario="models", param="M",
                                            backend="batch")})
    out = ["| M | " + " | ".join(str(m) for m in Ms) + " |", "|---" * (len(Ms) + 1) + "|"]
    for dt in ("float64", "float32"):
        short = dt.replace("float", "f")
        lines = [("%s Trainer.epoch per model, k model-samples/s" % short, "single", 1,
                  "samples_per_s", 1e-3, "%.0f")]
        for t in ths:
            lines.append(("%s batch kernel %d thread%s, k model-samples/s"
                          % (short, t, "" if t == 1 else "s"), "batch", t, "samples_per_s",
                          1e-3, "%.0f"))
        for t in ths:
            if t > 1:
                lines.append(("%s batch %d threads / 1 thread" % (short, t), "batch", t,
                              "vs_1_thread", 1, "%.2fx"))
        lines.append(("%s batch 1 thread, cost per model vs Trainer.epoch" % short, "batch", 1,
                      "cost_vs_single", 1, "%.2f"))
        for label, be, t, key, scale, fmt in lines:
            cells = [_one(rows, scenario="models", param="M", dtype=dt, backend=be, threads=t,
                          value=m) for m in Ms]
            if not any(cells):
                continue
            out.append("| %s | " % label + " | ".join(
                _g(c[key] * scale if c and c.get(key) is not None else None, fmt)
                + (NOISY if _noisy(c) or (key == "vs_1_thread" and _noisy(_one(
                    rows, scenario="models", param="M", dtype=dt, backend="batch", threads=1,
                    value=c["value"]))) else "") if c else "–"
                for c in cells) + " |")
    out += ["", "Per model-sample. Trainer.epoch: one single-model whole-epoch kernel call per "
            "model and epoch from Python (its per-call checks cost ~8 µs, ~3-5 % of a "
            "tutorial epoch); cost < 1 means the batch kernel is cheaper per model. Every batch "
            "row's weights were checked bitwise against Trainer.epoch's. The 2-thread rows need "
            "the second core free: when another process runs on it, each parallel call waits "
            "for the descheduled worker (the load average above says how busy the machine "
            "was). †: the repeats' interquartile range spans more than 15 % (q3/q1 > 1.15): "
            "that cell was disturbed (a cell disturbed in every repeat is not flagged: compare "
            "the 2-thread row with 2x the 1-thread row; min_us in the JSON is its best "
            "repeat)."]
    fits = _ok(rows, scenario="models", param="fit")
    if len(fits) == 2:
        a, b = fits
        out += ["", "%d models x %d epochs through the public API (float64): %d sequential "
                "`Model.fit` %.3g s per epoch of all models, one `train_many(threads=%d)` %.3g s: "
                "**%.2fx** (both bitwise equal)."
                % (a["M"], a["epochs"], a["M"], a["s_per_epoch"], b["threads"], b["s_per_epoch"],
                   a["median_us"] / b["median_us"])]
    return "\n".join(out)


def render(paths):
    """The markdown of the performance tables from the runs saved at ``paths``.

    Raises ``runner.BenchError`` for a file that is missing or not a saved run.
    """
    runs = [R.load_json(p) for p in paths]
    by = {}
    for p, d in zip(paths, runs):
        for r in d["results"]:
            by.setdefault(r["scenario"], (p, d))
    parts = [R.PERF_TITLE, "",
             "Commands, from the repository root:", "", "```"] + list(COMMANDS) + ["```", ""]
    for name, title, fn in (("tutorial", "Tutorial workload (58 sentences, ~4.3 words, V=18, "
                             "H=64), 10 epochs per repeat, median of 5", tutorial_table),
                            ("hidden", "Hidden-size sweep (3 epochs per repeat, median of 5)",
                             hidden_table),
                            ("models", "Many models: M tutorial-sized models per batch-kernel "
                             "call (3 epochs per repeat, median of 5)", models_table)):
        if name not in by:
            continue
        p, d = by[name]
        parts += ["## %s" % title, "", "`%s` — machine: %s" % (p, machine(d)), "", fn(d), ""]
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    from .cli import main
    main(["perf", *sys.argv[1:]], prog_name="python -m fastrnn.bench.perf")
