"""Terminal tables (rich) and the plot (matplotlib, imported only when a plot is asked for)."""

import math
import os

from rich.console import Console
from rich.markup import escape
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
    if any(r["scenario"] != "real" for r in run.results) or not run.results:
        console.print(results_table(run))
    if run.compile:
        console.print(compile_table(run))
    console.print("[dim]machine: %s[/]" % machine_line(run.machine))
    console.print("[dim]traced peak: tracemalloc peak of Python and numpy allocations during "
                  "prepare + one warm-up run; process max RSS %s (getrusage)[/]"
                  % _bytes(run.to_json()["max_rss_bytes"]))
    real = [r for r in run.results if r["scenario"] == "real"]
    if real:
        console.print(real_table(real, run.real or {}))
        if (run.real or {}).get("bars"):
            console.print(bars_table(run.real["bars"]))
    for note in run.notes:
        console.print("note: " + escape(note))


def real_table(rows, info):
    from .real import label
    t = Table(title="real: %s (%s train / %s test sentences), fastrnn.Model per recipe and "
              "peers; accuracy over seeds %s" % (info.get("data", "?"), info.get("n_train", "?"),
                                                  info.get("n_test", "?"), info.get("seeds")),
              header_style="bold")
    for col, just in (("kind", "left"), ("recipe", "left"), ("backend", "left"),
                      ("test acc mean", "right"), ("min", "right"), ("max", "right"),
                      ("epochs", "right"), ("best", "right"), ("s/epoch", "right"),
                      ("fit s", "right"), ("µs/token", "right")):
        t.add_column(col, justify=just)
    for r in rows:
        name = label(r) if r["kind"] != "kernel" else "%s %s" % (r["value"], r["dtype"])
        if r["status"] != "ok":
            t.add_row(r["kind"], name, r["backend"], "[bold red]FAIL[/]", "", "", "", "", "",
                      "", r["message"][:60], style="red")
            continue
        t.add_row(r["kind"], name, r["backend"], _f(r["accuracy"], "%.4f"),
                  _f(r["acc_min"], "%.4f"), _f(r["acc_max"], "%.4f"), _f(r["epochs"], "%.3g"),
                  _f(r["best_epoch"], "%.3g"),
                  _f(r["s_per_epoch"] if r["epochs"] else None, "%.3g"),
                  _f(r["fit_s"], "%.3g"), _f(r["us_per_token"], "%.3g"))
    return t


def bars_table(bars):
    t = Table(title="speed bars (ratios of figures from this run)", header_style="bold")
    for col in ("bar", "value", "target", "met", "how"):
        t.add_column(col)
    for b in bars:
        t.add_row(b["name"], "%.3g" % b["value"], b["bar"] or "-",
                  "-" if b["ok"] is None else ("yes" if b["ok"] else "[bold red]no[/]"),
                  b["how"])
    return t


def real_markdown(run):
    """The real scenario's results and speed bars as markdown (``run --markdown``)."""
    from .real import markdown, markdown_bars
    info = run.real or {}
    rows = [r for r in run.results if r["scenario"] == "real"]
    m = run.machine
    out = ["<!-- fastrnn-bench run: %s -->" % " ".join(["fastrnn-bench"] + run.to_json()[
        "command"][1:]),
           "Data: %s, %s training / %s test sentences; seeds %s; %s; %s; BLAS threads %s."
           % (info.get("data"), info.get("n_train"), info.get("n_test"), info.get("seeds"),
              run.started[:10], "%s, %s cores, numpy %s, numba %s, %s"
              % (m.get("cpu_model"), m.get("logical_cores"), m.get("numpy"), m.get("numba"),
                 ", ".join("%s %s" % kv for kv in (info.get("versions") or {}).items() if kv[1])),
              info.get("blas_threads") or "default"),
           "", markdown(rows, info), "", markdown_bars(info.get("bars", [])), ""]
    return "\n".join(out)


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
