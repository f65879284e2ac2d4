"""``fastrnn-bench``: throughput of the Numba kernels against the numpy reference.

    fastrnn-bench run [SCENARIO ...] [--quick] [--json F] [--csv F] [--plot F.png]
    fastrnn-bench compare A.json B.json
    fastrnn-bench profile SCENARIO
    fastrnn-bench perf RUN.json ... [-o perf.md]
    fastrnn-bench list

Method, FLOP counts and how to regenerate the published numbers: ``bench/README.md``.
"""

import os
import sys
import time

import click

from fastrnn import __version__
from fastrnn.cli import fail, one_line_warnings

from . import backends as B
from . import runner as R
from . import scenarios as S

DTYPES = ("float64", "float32")


def _console():
    """A rich console as wide as the terminal; 160 columns when the output is not a terminal
    (files, pipes, CI logs) unless ``COLUMNS`` says otherwise."""
    from rich.console import Console
    c = Console()
    return c if c.is_terminal or os.environ.get("COLUMNS") else Console(width=160)


def _int_list(ctx, param, value):
    if value is None:
        return None
    out = []
    for part in value.replace(" ", "").split(","):
        if not part:
            continue
        try:
            v = int(float(part)) if "e" in part.lower() else int(part)
        except ValueError:
            raise click.BadParameter("%r is not an integer" % part) from None
        if v < 1:
            raise click.BadParameter("values must be >= 1, got %d" % v)
        out.append(v)
    if not out:
        raise click.BadParameter("give at least one value, e.g. 16,64,256")
    return out


def _split(values):
    out = []
    for v in values:
        out.extend(p for p in v.replace(" ", "").split(",") if p)
    return out


def _read_vectors(real, path, data_dir, samples):
    """``(path, WordVectors, seconds)`` for ``run real --embeddings``, read once before any
    training; a file load_vectors rejects: one line, exit 2."""
    _, xtr, _, xte, _ = real.load(data_dir, samples)
    try:
        wv, secs = real.read_vectors(path, list(xtr) + list(xte))
    except (OSError, ValueError, TypeError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise click.BadParameter("%s: %s" % (path, msg) if path not in msg else msg,
                                 param_hint="--embeddings") from None
    if not len(wv):
        raise click.BadParameter("%s has none of the data's %s words" % (path, wv.requested),
                                 param_hint="--embeddings")
    return path, wv, secs


def _backends(names, reference, console_note):
    objs = []
    for name in _split(names):
        if name not in B.BACKENDS:
            raise click.BadParameter("unknown backend %r; choose from %s"
                                     % (name, ", ".join(B.BACKENDS)), param_hint="--backend")
        be = B.make_backend(name, reference)
        ok, why = be.available()
        if not ok:
            console_note("backend %s skipped: %s" % (name, why))
            continue
        if any(o.name == be.name for o in objs):
            continue
        objs.append(be)
    if not objs:
        raise click.UsageError("no backend left to run")
    return objs


size_options = [
    click.option("--hidden", type=click.IntRange(min=1), help="H for the non-swept cells "
                 "(default 64)."),
    click.option("--vocab", type=click.IntRange(min=1), help="V for the non-swept cells (18)."),
    click.option("--length", type=click.IntRange(min=1), help="fixed sentence length "
                 "(default: random, mean 4.3)."),
    click.option("--samples", type=click.IntRange(min=1), help="sentences per cell (default: "
                 "58 for tutorial, set by a FLOP budget in sweeps, 5000 for threads)."),
    click.option("--epochs", type=click.IntRange(min=1), help="timed epochs per repeat "
                 "(tutorial 10, sweeps 3)."),
    click.option("--seed", type=int, default=0, show_default=True, help="RNG seed of the data "
                 "and initial weights."),
]


def with_sizes(f):
    for opt in reversed(size_options):
        f = opt(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fastrnn-bench")
@click.pass_context
def main(ctx):
    """Throughput profiler for fastrnn's kernels (per-sample SGD of a tanh RNN)."""
    ctx.with_resource(one_line_warnings())


@main.command("list")
def list_cmd():
    """List the scenarios and backends."""
    for name, sc in S.SCENARIOS.items():
        vals = sc.values()
        click.echo("%-9s %s [%s: %s]" % (name, sc.help, sc.param or "samples",
                                         ",".join(map(str, vals))))
    for name, text in (("cells", "tanh, GRU and LSTM per-sample SGD: numba vs the numpy "
                                 "reference vs torch [H: 32,64]"),
                       ("real", "fastrnn.Model recipes on --data DIR (or the built-in corpus) "
                                "with fastText and bag-of-words peers (when installed)"),
                       ("firstcall", "cold and warm first-call seconds in fresh processes: "
                                     "demo, import, fit, train_many, predict")):
        click.echo("%-9s %s" % (name, text))
    for name in B.BACKENDS:
        ok, why = B.make_backend(name).available()
        click.echo("backend %-6s %s" % (name, "available" if ok else "unavailable: " + why))


@main.command()
@click.argument("scenarios", nargs=-1)
@click.option("-b", "--backend", "backend_names", multiple=True, default=("numba", "numpy"),
              show_default=True, help="backends, repeatable or comma-separated: "
              + ", ".join(B.BACKENDS) + ".")
@click.option("--reference", type=click.Choice(["dense", "lean"]), default="dense",
              show_default=True, help="numpy backend: the tutorial's dense update or the lean "
              "sparse one.")
@click.option("--dtype", "dtypes", multiple=True, type=click.Choice(DTYPES + ("both",)),
              help="float64, float32 or both (default both; --quick: float64).")
@click.option("--values", callback=_int_list, help="override the swept values, e.g. "
              "16,64,256.")
@with_sizes
@click.option("--repeats", type=click.IntRange(min=1, max=10000), help="timed repeats per cell "
              "after one warm-up (default 5, --quick 3).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="write all results "
              "and the machine description as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="write one row per "
              "cell and backend as CSV.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="plot throughput "
              "and speed-up vs the swept parameter (needs matplotlib).")
@click.option("--force", is_flag=True, help="replace existing --json/--csv/--plot/--markdown "
              "files that are not fastrnn-bench outputs (its own earlier results are replaced "
              "without it).")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False),
              help="real scenario: a folder with train.tsv and test.tsv (label, text).")
@click.option("--seeds", type=click.IntRange(min=1, max=1000), help="real scenario: fits per "
              "recipe and peer, seeds 0..N-1 (default 3, --quick 1).")
@click.option("--peers/--no-peers", default=True, show_default=True, help="real scenario: also "
              "fit fastText and scikit-learn bag-of-words peers (skipped when not installed).")
@click.option("--markdown", "md_path", type=click.Path(dir_okay=False), help="real scenario: "
              "write the results table and speed bars as markdown.")
@click.option("--recipes", "recipes", help="real scenario: comma-separated fastrnn recipes "
              "(default all): default, accurate, old-default, tutorial; with --embeddings also "
              "default+vectors, accurate+vectors.")
@click.option("--embeddings", "embeddings", type=click.Path(exists=True, dir_okay=False,
                                                            readable=True),
              help="real scenario: word vectors (GloVe .txt, .vec, word2vec .bin, optionally "
              ".gz) read once with fastrnn.load_vectors for the data's words; adds the "
              "default+vectors and accurate+vectors recipes.")
@click.option("--param", "params", multiple=True, help="real scenario: NAME=VALUE, a "
              "fastrnn.Model parameter set on top of every recipe (repeatable), e.g. "
              "--param ngram_learning_rate=1.5: one candidate setting per run.")
@click.option("--kernels/--no-kernels", default=True, show_default=True, help="real scenario: "
              "also time the epoch kernels (the per-token speed rows and bars).")
@click.option("--threads", "threads", callback=_int_list, help="models scenario: numba thread "
              "counts of the batch kernel, e.g. 1,2 (default: 1 and all cores).")
@click.option("--fit/--no-fit", "fit", default=None, help="models scenario: also time 64 "
              "sequential Model.fit against one train_many call, 10 epochs (default: on; off "
              "with --quick).")
@click.option("--quick", is_flag=True, help="a few-second smoke run: tutorial, float64, small "
              "sweeps, no cold-compile subprocess.")
@click.option("--compile/--no-compile", "compile_times", default=True, show_default=True,
              help="measure numba compile time in subprocesses (cold: fresh NUMBA_CACHE_DIR; "
              "cached).")
def run(scenarios, backend_names, reference, dtypes, values, hidden, vocab, length, samples,
        epochs, seed, repeats, json_path, csv_path, force, data_dir, plot_path, seeds, peers,
        md_path, recipes, embeddings, params, kernels, threads, fit, quick, compile_times):
    """Time SCENARIOS (default: tutorial) on every backend and print a table.

    Scenarios: tutorial, hidden, length, vocab, infer, threads, cells (tanh, GRU and LSTM
    per-sample SGD: numba vs the numpy reference vs torch eager nn.RNN/GRU/LSTM, H in --values
    or --hidden, default 32,64; torch by default when installed; rows carry a cell field),
    models (M tutorial-sized models
    per batch-kernel call, swept over M, on --threads; numba only, checked against the
    single-model kernel), real (fastrnn.Model per recipe -- default, accurate, old-default,
    tutorial; --recipes picks, --embeddings PATH adds default+vectors and accurate+vectors --
    on --data DIR or the built-in corpus: test accuracy over --seeds, epochs, s/epoch and fit
    time, with fastText and scikit-learn peers, interleaved seed by seed; --samples keeps the
    first N training sentences, --epochs caps the epochs, --hidden sets H), firstcall (fresh processes on an
    empty and then a filled NUMBA_CACHE_DIR: `fastrnn demo`, import, a default Model.fit,
    train_many of 4 models, the first predict_proba; cold, warm and compile seconds; --repeats
    pairs, default 1; --quick: no demo, a small corpus).  Every backend trains the same
    model from the same weights on the same sample order; results that disagree with the numpy
    reference are reported as failures (exit code 1), not as times.
    """
    from rich.console import Console
    from rich.markup import escape
    from . import report
    console = _console()
    err = Console(stderr=True)
    notes = []

    def note(msg):
        notes.append(msg)
        err.print("note: " + escape(msg))

    from . import real
    known = (list(S.SCENARIOS) + ["cells"] + (["real"] if real.available() else [])
             + ["firstcall"])
    scenarios = list(scenarios) or ["tutorial"]
    asked = list(scenarios)
    for name in scenarios:
        if name not in known:
            raise click.BadParameter("unknown scenario %r; choose from %s"
                                     % (name, ", ".join(known)), param_hint="SCENARIO")
    do_real = "real" in scenarios
    do_first = "firstcall" in scenarios
    do_cells = "cells" in scenarios
    scenarios = [s for s in scenarios if s not in ("real", "firstcall", "cells")]
    if data_dir is not None and not do_real:
        raise click.BadParameter("--data is for the 'real' scenario", param_hint="--data")
    if threads is not None:
        if "models" not in scenarios:
            raise click.BadParameter("--threads is for the 'models' scenario (the 'threads' "
                                     "scenario sweeps --values)", param_hint="--threads")
        from .models import all_threads
        bad = [t for t in threads if t > all_threads()]
        if bad:
            raise click.BadParameter("threads=%d is out of range 1..%d (numba's thread count)"
                                     % (bad[0], all_threads()), param_hint="--threads")
        threads = sorted(set(threads))
    if fit and "models" not in scenarios:
        raise click.BadParameter("--fit is for the 'models' scenario", param_hint="--fit")
    if md_path is not None and not do_real:
        raise click.BadParameter("--markdown is for the 'real' scenario", param_hint="--markdown")
    if data_dir is not None:
        for f in ("train.tsv", "test.tsv"):
            if not os.path.isfile(os.path.join(data_dir, f)):
                raise click.BadParameter("%s has no %s" % (data_dir, f), param_hint="--data")
    for opt, val, default in (("--recipes", recipes, None), ("--embeddings", embeddings, None),
                              ("--kernels", kernels, True), ("--param", params, ())):
        if val != default and not do_real:
            raise click.BadParameter("%s is for the 'real' scenario" % opt, param_hint=opt)
    if values is not None and not do_cells and not any(S.SCENARIOS[n].param for n in scenarios):
        raise click.BadParameter("--values is for the swept scenarios (%s) and cells, not "
                                 "%s" % (", ".join(n for n, sc in S.SCENARIOS.items()
                                                              if sc.param),
                                                     ", ".join(asked)),
                                 param_hint="--values")
    if recipes is not None:
        if not _split([recipes]):
            raise click.BadParameter("names no recipe; choose from %s"
                                     % ", ".join(real.recipe_names(embeddings is not None)),
                                     param_hint="--recipes")
        try:
            recipes = real.check_recipes(_split([recipes]), embeddings is not None)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--recipes") from None
    model_params = {}
    for p in params:
        try:
            k, v = real.parse_param(p)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--param") from None
        model_params[k] = v
    for k, opt, val in (("epochs", "--epochs", epochs), ("hidden_size", "--hidden", hidden)):
        if k in model_params and val is not None:
            raise click.BadParameter("--param %s=... and %s both set it; give one"
                                     % (k, opt), param_hint="--param")
    if model_params:
        from fastrnn import Model
        try:  # a bad value is one line now, not a failed row after the other fits
            Model(**model_params)._validate()
        except (ValueError, TypeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--param") from None
    outputs = [(p, w) for p, w in ((json_path, "--json"), (csv_path, "--csv"),
                                   (plot_path, "--plot"), (md_path, "--markdown")) if p]
    seen = set()
    for p, what in outputs:
        try:
            full = R.check_replaceable(R.check_writable(p, what), what, force)
        except R.BenchError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint=what) from None
        if full in seen:
            raise click.UsageError("%s: the same file is given for two outputs" % p)
        seen.add(full)
    if plot_path:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise click.UsageError("--plot needs matplotlib: pip install 'fastrnn[plot]'") \
                from None
    dts = []
    for d in dtypes or (("float64",) if quick else ("both",)):
        for x in (DTYPES if d == "both" else (d,)):
            if x not in dts:
                dts.append(x)
    bes = _backends(backend_names, reference, note)
    opts = dict(hidden=hidden, vocab=vocab, length=length, samples=samples, seed=seed,
                reference=reference if any(isinstance(b, B.NumpyBackend) for b in bes)
                else "lean", epochs=epochs or (3 if quick else None))
    try:
        cells = R.build_cells(scenarios, dts, opts, values=values, quick=quick) if scenarios \
            else []
    except R.BenchError as exc:
        raise click.UsageError(str(exc)) from None
    real_backends = [b.name for b in bes if b.name in ("numba", "numpy")]
    settings = R.Settings(repeats=repeats or (3 if quick else 5), reference=reference,
                          compile_times=compile_times, cold_compile=not quick,
                          threads=tuple(threads or ()),
                          fit_comparison=("models" in scenarios and
                                          (fit if fit is not None else not quick)))
    if "models" in scenarios and not any(b.name == "numba" for b in bes):
        note("models scenario: numba kernels only (batch vs single-model kernel); -b ignored")
    if quick and compile_times and cells:
        notes.append("--quick: cold compile time not measured (run without --quick)")

    vectors = None
    if embeddings is not None:
        vectors = _read_vectors(real, embeddings, data_dir, samples)
    real_kw = dict(backends=real_backends, epochs=epochs, hidden=hidden,
                   seeds=seeds or (1 if quick else 3), quick=quick, samples=samples,
                   peers=peers, note=note, recipes=recipes, vectors=vectors, kernels=kernels,
                   params=model_params)

    from . import firstcall
    t0 = time.perf_counter()
    real_out = None
    if console.is_terminal:
        from rich.progress import Progress, BarColumn, TimeElapsedColumn, TextColumn
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
                "{task.completed}/{task.total} cells"), TimeElapsedColumn(),
                console=console, transient=True) as prog:
            task = prog.add_task("starting", total=len(cells))

            def progress(advance, desc):
                prog.update(task, advance=advance, description=desc)
            result = R.run_benchmark(cells, bes, settings, progress)
            if do_real:
                real_out = real.run_real(data_dir, dts, progress=progress, **real_kw)
            if do_first:
                first_rows = firstcall.run_firstcall(quick, repeats, progress)
    else:
        result = R.run_benchmark(cells, bes, settings)
        if do_real:
            real_out = real.run_real(data_dir, dts, **real_kw)
        if do_first:
            first_rows = firstcall.run_firstcall(quick, repeats)
    if do_first:
        result.results.extend(first_rows)
        result.seconds = time.perf_counter() - t0
    if do_cells:
        from . import cells as C
        cell_names = (C.BACKENDS if click.get_current_context().get_parameter_source(
            "backend_names").name == "DEFAULT" else _split(backend_names))
        result.results.extend(C.run_cells(
            dts, cell_names, repeats=repeats or (3 if quick else 5), note=note, quick=quick,
            hidden=hidden, values=values, samples=samples, length=length, vocab=vocab,
            epochs=epochs, seed=seed))
        result.seconds = time.perf_counter() - t0
    if real_out is not None:
        result.results.extend(real_out[0])
        result.real = real_out[1]
        result.seconds = time.perf_counter() - t0
    result.notes.extend(notes)
    report.print_run(result, console)
    extra = [n for n, on in (("real", do_real), ("firstcall", do_first), ("cells", do_cells))
             if on]
    console.print("[dim]%d cells%s in %.1f s[/]" % (len(cells), "".join(
        " and the %s scenario" % n for n in extra), time.perf_counter() - t0))
    if json_path:
        R.write_json(result, json_path)
    if csv_path:
        R.write_csv(result, csv_path)
    if plot_path:
        report.plot(result, plot_path)
    if md_path:
        R.write_atomic(md_path, lambda f: f.write(report.real_markdown(result)))
    for p in (json_path, csv_path, plot_path, md_path):
        if p:
            console.print("wrote %s" % p)
    if result.failures:
        err.print("[bold red]%d result(s) FAILED the agreement check or crashed[/]"
                  % len(result.failures))
        sys.exit(1)


@main.command()
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option("--fail-above", type=click.FloatRange(min=1.0), help="exit 1 if a cell is this "
              "many times slower in B (e.g. 1.10).")
def compare(a, b, fail_above):
    """Per-cell time ratios B/A of two saved runs (--json files), regressions first."""
    from . import report
    try:
        da, db = R.load_json(a), R.load_json(b)
    except R.BenchError as exc:
        raise click.UsageError(str(exc)) from None
    rows = R.compare(da, db)
    console = _console()
    console.print(report.compare_table(rows, a, b))
    for d, name in ((da, "A"), (db, "B")):
        console.print("[dim]%s: %s[/]" % (name, report.machine_line(d.get("machine", {}))))
    if fail_above and any(r["ratio"] and r["ratio"] > fail_above for r in rows):
        sys.exit(1)


@main.command()
@click.argument("scenario")
@click.option("--value", type=click.IntRange(min=1), help="the swept parameter's value "
              "(default: tutorial size).")
@click.option("--dtype", type=click.Choice(DTYPES), default="float64", show_default=True)
@with_sizes
@click.option("--repeats", type=click.IntRange(min=1, max=10000), default=5, show_default=True)
def profile(scenario, value, dtype, hidden, vocab, length, samples, epochs, seed, repeats):
    """Where the time of a training sample goes: forward, backward, update, Python overhead."""
    from rich.table import Table
    from .machine import machine_info
    from .profile import profile as run_profile
    sc = S.SCENARIOS.get(scenario)
    if sc is None:
        raise click.BadParameter("unknown scenario %r; choose from %s"
                                 % (scenario, ", ".join(S.SCENARIOS)), param_hint="SCENARIO")
    if sc.kind != "train":
        raise click.BadParameter("%r measures inference; profile needs a training scenario (%s)"
                                 % (scenario, ", ".join(n for n, s in S.SCENARIOS.items()
                                                        if s.kind == "train")),
                                 param_hint="SCENARIO")
    opts = dict(hidden=hidden, vocab=vocab, length=length, samples=samples, seed=seed,
                reference="dense", epochs=1)
    base = {"hidden": S.BASE["H"], "vocab": S.BASE["V"], "length": 10, "tutorial": 58}
    v = value or base[scenario]
    try:
        cell = R.build_cells([scenario], [dtype], opts, values=[v])[0]
    except R.BenchError as exc:
        raise click.UsageError(str(exc)) from None
    cell.epochs = 1
    machine = machine_info()
    rows, info = run_profile(cell, repeats, machine)
    t = Table(title="profile %s (%s, n=%d, V=%d, H=%d, %s): µs per training sample"
              % (scenario, dtype, cell.n, cell.V, cell.H,
                 "T=%d" % cell.length if cell.length else "T~4.3"), header_style="bold")
    t.add_column("phase")
    t.add_column("µs/sample", justify="right")
    t.add_column("how")
    for name, us, how in rows:
        t.add_row(name, "%.0f" % us if name == "tanh evaluations" else "%.2f" % us, how)
    _console().print(t)


@main.command("perf")
@click.argument("runs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="write the markdown here (atomically) instead of to stdout.")
@click.option("--force", is_flag=True, help="replace an existing --output file that is not "
              "an earlier `fastrnn-bench perf` output.")
def perf_cmd(runs, output, force):
    """The README's performance tables (markdown) from saved runs (run --json files).

    Every figure is read from the RUNS files (the first run holding a scenario wins); nothing is
    measured.  Regenerate with, from the repository root:

    \b
      fastrnn-bench perf bench/results/tutorial.json bench/results/hidden.json \\
          bench/results/models.json -o bench/results/perf.md
    """
    from fastrnn.lowlevel import atomic_write
    from .perf import render
    if output is not None and any(os.path.exists(output) and os.path.samefile(output, r)
                                  for r in runs):
        fail("%s is one of the input runs; choose another --output" % output)
    if output is not None:
        try:
            R.check_replaceable(output, "--output", force)
        except R.BenchError as exc:
            fail(exc)
    try:
        text = render(runs)
    except R.BenchError as exc:
        fail(exc)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        atomic_write(output, lambda f: f.write(text), mode="w")
    except OSError as exc:
        fail("cannot write %s: %s" % (output, exc.strerror or exc))
    click.echo("wrote %s" % output, err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
