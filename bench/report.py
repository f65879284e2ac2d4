"""Terminal tables (rich) and the plot (matplotlib, imported only when a plot is asked for)."""

import math
import os

from rich.console import Console
from rich.table import Table


def _f(x, fmt="%.3g"):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt % x


def _bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def results_table(run):
    t = Table(title="fastrnn-bench: microseconds per training sample (infer: per sentence)",
              header_style="bold")
    for col, just in (("scenario", "left"), ("cell", "left"), ("dtype", "left"),
                      ("backend", "left"), ("µs/sample", "right"), ("IQR", "right"),
                      ("samples/s", "right"), ("speed-up", "right"), ("GFLOP/s", "right"),
                      ("% peak", "right"), ("rel err", "right"), ("traced peak", "right")):
        t.add_column(col, justify=just)
    for r in run.results:
        if r["scenario"] == "real":
            continue
        cell = "%s=%s" % (r["param"], r["value"]) if r["param"] else "n=%d" % r["n"]
        if r["status"] != "ok":
            t.add_row(r["scenario"], cell, r["dtype"], r["backend"],
                      "[bold red]FAIL[/]", "", "", "", "", "", _f(r["rel_err"], "%.1e"),
                      r["message"][:60], style="red")
            continue
        t.add_row(r["scenario"], cell, r["dtype"], r["backend"], _f(r["median_us"]),
                  "%s–%s" % (_f(r["q1_us"]), _f(r["q3_us"])), _f(r["samples_per_s"], "%.4g"),
                  _f(r["speedup"], "%.1fx"), _f(r["gflops"], "%.2f"), _f(r["pct_peak"], "%.1f"),
                  _f(r["rel_err"], "%.1e"), _bytes(r["peak_traced_bytes"]))
    return t


def compile_table(run):
    t = Table(title="numba compile time (cold/cached: a subprocess, first call minus second "
              "call; this process: first call of the run)",
              header_style="bold")
    for col in ("kernels", "dtype", "cache", "seconds", "import s"):
        t.add_column(col)
    for c in run.compile:
        t.add_row(c["kind"], c["dtype"], c["cache"],
                  _f(c.get("compile_s"), "%.2f") if "error" not in c else "error: " + c["error"],
                  _f(c.get("import_s"), "%.2f"))
    return t


def machine_line(m):
    return ("%s, %s logical cores (%s usable), %.0f MHz, %s; numpy %s, numba %s, threading "
            "layer %s, %s threads; est. peak %.1f GFLOP/s per core f64; env %s"
            % (m.get("cpu_model"), m.get("logical_cores"), m.get("usable_cores"),
               m.get("cpu_mhz") or float("nan"), m.get("simd"), m.get("numpy"), m.get("numba"),
               m.get("numba_threading_layer"), m.get("numba_threads"),
               m.get("peak_gflops_per_core", {}).get("float64", float("nan")),
               m.get("blas_env") or "{}"))


def print_run(run, console=None):
    console = console or Console()
    console.print(results_table(run))
    if run.compile:
        console.print(compile_table(run))
    console.print("[dim]machine: %s[/]" % machine_line(run.machine))
    console.print("[dim]traced peak: tracemalloc peak of Python and numpy allocations during "
                  "prepare + one warm-up run; process max RSS %s (getrusage)[/]"
                  % _bytes(run.to_json()["max_rss_bytes"]))
    real = [r for r in run.results if r["scenario"] == "real"]
    if real:
        t = Table(title="real: fastrnn.Model per recipe (fixed epochs, no early stopping)",
                  header_style="bold")
        for col in ("recipe", "dtype", "backend", "epochs", "s/epoch", "µs/sample",
                    "test accuracy", "data"):
            t.add_column(col)
        for r in real:
            t.add_row(r["value"], r["dtype"], r["backend"], str(r["epochs"]),
                      _f(r["s_per_epoch"], "%.3f"), _f(r["median_us"]),
                      _f(r["accuracy"], "%.4f"), r["message"].split(";")[0])
        console.print(t)
    for note in run.notes:
        console.print("note: " + note)


def compare_table(rows, a_name, b_name):
    t = Table(title="B / A time ratio per cell (> 1: B is slower), regressions first",
              header_style="bold")
    for col in ("scenario", "cell", "dtype", "backend", "A µs", "B µs", "B/A", "note"):
        t.add_column(col)
    for r in rows:
        ratio = r["ratio"]
        style = "red" if ratio and ratio > 1.1 else ("green" if ratio and ratio < 0.9 else None)
        t.add_row(r["scenario"], "%s=%s" % (r["param"] or "n", r["value"]), r["dtype"],
                  r["backend"], _f(r["a_us"]), _f(r["b_us"]), _f(ratio, "%.3f"), r["note"],
                  style=style)
    t.caption = "A = %s, B = %s" % (a_name, b_name)
    return t


def plot(run, path):
    """Throughput (and speed-up over the reference) against the swept parameter, per scenario."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'fastrnn[plot]' "
                           "(or pip install matplotlib)") from None
    rows = [r for r in run.results if r["status"] == "ok" and not isinstance(r["value"], str)]
    scen = []
    for r in rows:
        if r["scenario"] not in scen:
            scen.append(r["scenario"])
    if not scen:
        scen = ["(no results)"]
    fig, axes = plt.subplots(2, len(scen), figsize=(4.2 * len(scen), 6.5), squeeze=False)
    for j, s in enumerate(scen):
        sub = [r for r in rows if r["scenario"] == s]
        series = {}
        for r in sub:
            series.setdefault((r["backend"], r["dtype"]), []).append(r)
        for (be, dt), rs in sorted(series.items()):
            x = [r["value"] for r in rs]
            mark = "o-" if be.startswith("numba") else "s--"
            axes[0, j].plot(x, [r["samples_per_s"] for r in rs], mark, label="%s %s" % (be, dt))
            if not be.startswith("numpy"):
                axes[1, j].plot(x, [r["speedup"] or float("nan") for r in rs], mark,
                                label="%s %s" % (be, dt))
        param = sub[0]["param"] if sub else ""
        for i in range(2):
            ax = axes[i, j]
            xs = [r["value"] for r in sub]
            if xs and min(xs) > 0 and max(xs) / min(xs) >= 10:
                ax.set_xscale("log")
            ax.set_xlabel(param or "samples")
            ax.grid(True, which="both", alpha=0.3)
        axes[0, j].set_yscale("log")
        axes[0, j].set_title(s)
        axes[0, j].set_ylabel("samples (or sentences) / s")
        axes[1, j].set_ylabel("speed-up vs numpy reference")
        axes[0, j].legend(fontsize=7)
    fig.suptitle("fastrnn-bench on %s" % run.machine.get("cpu_model", "?"), fontsize=10)
    fig.tight_layout()
    from .runner import write_atomic
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    write_atomic(path, lambda f: fig.savefig(f, format=fmt, dpi=110), binary=True)
    plt.close(fig)
