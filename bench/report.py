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


def _fit_table(title, columns, rows, width=None):
    """A rich table of ``rows`` (dicts by column name) that fits ``width`` characters.

    ``columns`` is ``[(name, justify, priority)]``; priority ``0`` columns are always shown,
    the others are dropped, lowest priority first, until the table's natural width fits (rich
    would otherwise squeeze every column and wrap each figure over several lines).  The
    caption names the hidden columns; every figure is in the --json and --csv outputs.
    ``rows`` items may carry a ``"_style"`` key.
    """
    from rich.console import Console
    from rich.measure import Measurement

    def build(cols, caption=None):
        t = Table(title=title, header_style="bold", caption=caption)
        for name, just, _ in cols:
            t.add_column(name, justify=just, overflow="fold")
        for r in rows:
            t.add_row(*[r.get(name, "") for name, _, _ in cols], style=r.get("_style"))
        return t

    cols = list(columns)
    if width is None:
        return build(cols)
    console = Console(width=max(width, 20), file=open(os.devnull, "w"))
    hidden = []
    while True:
        caption = ("hidden at %d columns: %s (all in --json/--csv; widen the terminal or set "
                   "COLUMNS)" % (width, ", ".join(hidden))) if hidden else None
        table = build(cols, caption)
        need = Measurement.get(console, console.options.update(width=10**4), table).maximum
        optional = [c for c in cols if c[2]]
        if need <= width or not optional:
            console.file.close()
            return table
        drop = min(optional, key=lambda c: c[2])
        cols.remove(drop)
        hidden.append(drop[0])


def results_table(run, width=None):
    columns = [("scenario", "left", 0), ("cell", "left", 0), ("dtype", "left", 0),
               ("backend", "left", 0), ("µs/sample", "right", 0), ("IQR", "right", 3),
               ("samples/s", "right", 4), ("speed-up", "right", 0), ("GFLOP/s", "right", 6),
               ("% peak", "right", 2), ("rel err", "right", 7), ("traced peak", "right", 1)]
    rows = []
    for r in run.results:
        if r["scenario"] in ("real", "models", "firstcall"):
            continue
        cell = "%s=%s" % (r["param"], r["value"]) if r["param"] else "n=%d" % r["n"]
        row = {"scenario": r["scenario"], "cell": cell, "dtype": r["dtype"],
               "backend": r["backend"], "rel err": _f(r["rel_err"], "%.1e")}
        if r["status"] != "ok":
            row.update({"µs/sample": "[bold red]FAIL[/]", "speed-up": r["message"][:60],
                        "_style": "red"})
        else:
            row.update({"µs/sample": _f(r["median_us"]),
                        "IQR": "%s–%s" % (_f(r["q1_us"]), _f(r["q3_us"])),
                        "samples/s": _f(r["samples_per_s"], "%.4g"),
                        "speed-up": _f(r["speedup"], "%.1fx"),
                        "GFLOP/s": _f(r["gflops"], "%.2f"), "% peak": _f(r["pct_peak"], "%.1f"),
                        "traced peak": _bytes(r["peak_traced_bytes"])})
        rows.append(row)
    return _fit_table("fastrnn-bench: microseconds per training sample (infer: per sentence)",
                      columns, rows, width)


def _threads_label(r):
    return "%d thread%s" % (r["threads"], "" if r["threads"] == 1 else "s")


def models_table(rows, width=None):
    columns = [("cell", "left", 0), ("dtype", "left", 0), ("variant", "left", 0),
               ("threads", "right", 0), ("s/epoch", "right", 2), ("µs/sample", "right", 0),
               ("IQR", "right", 3), ("samples/s", "right", 5), ("vs 1 thread", "right", 7),
               ("cost/single", "right", 6), ("GFLOP/s", "right", 4), ("agreement", "right", 0),
               ("mem/model", "right", 1)]
    out = []
    for r in rows:
        agree = ("-" if r.get("rel_err") is None else
                 "bitwise" if r.get("bitwise") else "%.1e" % r["rel_err"])
        row = {"cell": "%s=%s" % (r["param"], r["value"]), "dtype": r["dtype"],
               "variant": r["backend"], "threads": str(r["threads"]), "agreement": agree}
        if r["status"] != "ok":
            row.update({"µs/sample": "[bold red]FAIL[/]", "agreement": r["message"][:60],
                        "_style": "red"})
        else:
            row.update({"s/epoch": _f(r["s_per_epoch"]), "µs/sample": _f(r["median_us"]),
                        "IQR": "%s–%s" % (_f(r["q1_us"]), _f(r["q3_us"])),
                        "samples/s": _f(r["samples_per_s"], "%.4g"),
                        "vs 1 thread": _f(r.get("vs_1_thread"), "%.2fx"),
                        "cost/single": _f(r.get("cost_vs_single"), "%.2f"),
                        "GFLOP/s": _f(r["gflops"], "%.2f"),
                        "mem/model": _bytes(r.get("bytes_per_model"))})
        out.append(row)
    return _fit_table("models: M tutorial-sized models, one batch-kernel call per epoch (single: "
                      "Trainer.epoch per model); µs and samples per model-sample; cost/single: "
                      "µs relative to single", columns, out, width)


def compile_table(run):
    jax = any(c.get("backend") == "jax" for c in run.compile)
    t = Table(title="compile time (numba cold/cached: a subprocess, first call minus second "
              "call; numba this process: first call of the run%s)"
              % ("; jax: first jitted call minus second, first cell" if jax else ""),
              header_style="bold")
    for col in ("backend", "kernels", "dtype", "cache", "seconds", "import s"):
        t.add_column(col)
    for c in run.compile:
        t.add_row(c.get("backend", "numba"), c["kind"], c["dtype"], c["cache"],
                  _f(c.get("compile_s"), "%.2f") if "error" not in c else "error: " + c["error"],
                  _f(c.get("import_s"), "%.2f"))
    return t


def machine_line(m):
    return ("%s, %s logical cores (%s usable), %.0f MHz, %s; numpy %s, numba %s, threading "
            "layer %s, %s threads; est. peak %.1f GFLOP/s per core f64; load %s; env %s"
            % (m.get("cpu_model"), m.get("logical_cores"), m.get("usable_cores"),
               m.get("cpu_mhz") or float("nan"), m.get("simd"), m.get("numpy"), m.get("numba"),
               m.get("numba_threading_layer"), m.get("numba_threads"),
               m.get("peak_gflops_per_core", {}).get("float64", float("nan")),
               "/".join("%.2f" % x for x in m["load_avg"]) if m.get("load_avg") else "?",
               m.get("blas_env") or "{}"))


def print_run(run, console=None):
    console = console or Console()
    if any(r["scenario"] not in ("real", "models", "firstcall") for r in run.results) \
            or not run.results:
        console.print(results_table(run, console.width))
    many = [r for r in run.results if r["scenario"] == "models"]
    if many:
        console.print(models_table(many, console.width))
    if run.compile:
        console.print(compile_table(run))
    console.print("[dim]machine: %s[/]" % machine_line(run.machine))
    console.print("[dim]traced peak: tracemalloc peak of Python and numpy allocations during "
                  "prepare + one warm-up run; process max RSS %s (getrusage)[/]"
                  % _bytes(run.to_json()["max_rss_bytes"]))
    first = [r for r in run.results if r["scenario"] == "firstcall"]
    if first:
        from .firstcall import table
        console.print(table(first))
    real = [r for r in run.results if r["scenario"] == "real"]
    if real:
        console.print(real_table(real, run.real or {}))
        if (run.real or {}).get("bars"):
            console.print(bars_table(run.real["bars"]))
        if (run.real or {}).get("accuracy_bars"):
            console.print(bars_table(run.real["accuracy_bars"], "accuracy bars and comparisons "
                                     "(percentage points; this run)"))
    for note in run.notes:
        console.print("note: " + escape(note))


def real_table(rows, info):
    from .real import label
    t = Table(title="real: %s (%s train / %s test sentences), fastrnn.Model per recipe and "
              "peers, interleaved seed by seed; accuracy over seeds %s; fit s: mean" % (info.get("data", "?"), info.get("n_train", "?"),
                                                  info.get("n_test", "?"), info.get("seeds")),
              header_style="bold")
    for col, just in (("kind", "left"), ("recipe", "left"), ("backend", "left"),
                      ("test acc mean", "right"), ("min", "right"), ("max", "right"),
                      ("epochs", "right"), ("best", "right"), ("s/epoch", "right"),
                      ("fit s", "right"), ("µs/token", "right"), ("val acc", "right")):
        t.add_column(col, justify=just)
    for r in rows:
        name = label(r) if r["kind"] != "kernel" else "%s %s" % (r["value"], r["dtype"])
        if r["status"] != "ok":
            t.add_row(r["kind"], name, r["backend"], "[bold red]FAIL[/]", "", "", "", "", "",
                      "", r["message"][:60], "", style="red")
            continue
        t.add_row(r["kind"], name, r["backend"], _f(r["accuracy"], "%.4f"),
                  _f(r["acc_min"], "%.4f"), _f(r["acc_max"], "%.4f"), _f(r["epochs"], "%.3g"),
                  _f(r["best_epoch"], "%.3g"),
                  _f(r["s_per_epoch"] if r["epochs"] else None, "%.3g"),
                  _f(r["fit_s"], "%.3g"), _f(r["us_per_token"], "%.3g"),
                  _f(r.get("val_accuracy"), "%.4f"))
    return t


def bars_table(bars, title="speed bars (ratios of figures from this run)"):
    t = Table(title=title, header_style="bold")
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
    from .runner import MARKDOWN_MARK
    command = " ".join(["fastrnn-bench"] + run.to_json()["command"][1:])
    out = ["%s %s -->" % (MARKDOWN_MARK, command),
           "Data: %s, %s training / %s test sentences; seeds %s; %s; %s; BLAS threads %s."
           % (info.get("data"), info.get("n_train"), info.get("n_test"), info.get("seeds"),
              run.started[:10], "%s, %s cores, numpy %s, numba %s, %s"
              % (m.get("cpu_model"), m.get("logical_cores"), m.get("numpy"), m.get("numba"),
                 ", ".join("%s %s" % kv for kv in (info.get("versions") or {}).items() if kv[1])),
              info.get("blas_threads") or "default"),
           "", markdown(rows, info), "", markdown_bars(info.get("bars", []))]
    if info.get("accuracy_bars"):
        out += ["", markdown_bars(info["accuracy_bars"], "accuracy (points)")]
    if info.get("params"):
        out += ["", "Model parameters set on every recipe (--param): %s"
                % ", ".join("%s=%r" % kv for kv in info["params"].items())]
    v = info.get("vectors")
    if v:
        out += ["", "Vectors: %s, %d of %s words asked found (%d missing), dim %d, read in %.2f s"
                % (v["path"], v["words"], v["asked"], v["missing"], v["dim"], v["read_s"])]
    out.append("")
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


def _log_x(ax, xs):
    """A base-2 log x axis (when the sweep spans a decade or more) labelled at the swept values
    themselves, in plain numbers (matplotlib's default minor labels overprint each other)."""
    xs = sorted({x for x in xs if x and x > 0})
    if not xs or max(xs) / min(xs) < 10:
        return
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(xs))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))


def _plot_models(top, bottom, rows):
    """Model-samples/s vs M (log-log) per thread count, single-model kernel dashed; below,
    throughput relative to the single-model kernel."""
    rows = [r for r in rows if r["param"] == "M"]
    series = {}
    for r in rows:
        series.setdefault((r["backend"], r["threads"], r["dtype"]), []).append(r)
    dts = sorted({r["dtype"] for r in rows})
    colors = {}
    for (be, th, dt), rs in sorted(series.items(), key=lambda kv: (kv[0][2], kv[0][0] != "batch",
                                                                  kv[0][1])):
        rs = sorted(rs, key=lambda r: r["value"])
        x = [r["value"] for r in rs]
        tag = (" " + dt.replace("float", "f")) if len(dts) > 1 else ""
        line = "-" if dt == "float64" else ":"
        if be == "batch":
            label = "batch kernel, %s%s" % (_threads_label(rs[0]), tag)
            color = colors.setdefault(th, ("C0", "C3", "C2", "C1", "C4")[len(colors) % 5])
            style = dict(marker="o", linestyle=line, color=color)
        else:
            label = "Trainer.epoch per model%s" % tag
            style = dict(marker="s", linestyle=line, color="gray", markersize=4, zorder=3)
        top.plot(x, [r["samples_per_s"] for r in rs], label=label, **style)
        bottom.plot(x, [1.0 / r["cost_vs_single"] if r.get("cost_vs_single") else float("nan")
                        for r in rs], label=label, **style)
    xs = [r["value"] for r in rows]
    for ax in (top, bottom):
        _log_x(ax, xs)
        ax.set_xlabel("M (models per batch-kernel call)")
        ax.grid(True, which="both", alpha=0.3)
    ys = [r["samples_per_s"] for r in rows if r.get("samples_per_s")]
    if ys and max(ys) / min(ys) >= 10:
        top.set_yscale("log")
    else:
        from matplotlib.ticker import FuncFormatter
        top.set_ylim(bottom=0)
        top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "%gk" % (v / 1e3) if v else "0"))
    top.set_title("models (tutorial size: n=%s, V=%s, H=%s, %s epochs)"
                  % ((rows[0]["n"], rows[0]["V"], rows[0]["H"], rows[0]["epochs"]) if rows
                     else ("?",) * 4), fontsize=9)
    top.set_ylabel("model-samples / s")
    bottom.set_ylabel("throughput / Trainer.epoch's")
    bottom.axhline(1.0, color="black", linewidth=0.8)
    # below the x label: no data point can hide under it
    top.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))


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
    fig, axes = plt.subplots(2, len(scen), figsize=(max(6.0, 4.6 * len(scen)), 7.0), squeeze=False)
    for j, s in enumerate(scen):
        sub = [r for r in rows if r["scenario"] == s]
        if s == "models":
            _plot_models(axes[0, j], axes[1, j], sub)
            continue
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
            _log_x(ax, [r["value"] for r in sub])
            ax.set_xlabel(param or "samples")
            ax.grid(True, which="both", alpha=0.3)
        axes[0, j].set_yscale("log")
        axes[0, j].set_title(s)
        axes[0, j].set_ylabel("sentences / s" if sub and sub[0].get("kind", "train") == "infer"
                              or s in ("infer", "threads") else "training samples / s")
        refs = sorted({r["backend"] for r in sub if r["backend"].startswith("numpy")})
        axes[1, j].set_ylabel("speed-up vs %s" % (" / ".join(refs) or "numpy reference"))
        axes[0, j].legend(fontsize=7)
    fig.suptitle("fastrnn-bench on %s" % run.machine.get("cpu_model", "?"), fontsize=10)
    fig.tight_layout()
    from .runner import write_atomic
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    write_atomic(path, lambda f: fig.savefig(f, format=fmt, dpi=110), binary=True)
    plt.close(fig)
