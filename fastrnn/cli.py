"""The ``fastrnn`` command line: demo, train, predict, evaluate, warmup.

User mistakes (missing files, unknown columns, one-class data, unreadable models) end with a
one-line message on stderr and a non-zero exit code, never a traceback.
"""

import json
import sys
import time
import warnings
from pathlib import Path

import click
import numpy as np
from click.core import ParameterSource

from . import __version__
from ._clitools import check_output, count, fail, load_data, load_model, one_line_warnings
from ._io import read_lines
from .datasets import load_demo
from ._fit import divergence
from .model import DivergenceWarning, Model, _few
from .sweep_cli import sweep

DTYPES = click.Choice(["float32", "float64"])
DEFAULTS = Model().get_params()  # one source of truth for the options' defaults
CELLS = ("tanh", "gru", "lstm")
PRESETS = tuple(Model.PRESETS)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fastrnn")
@click.pass_context
def main(ctx):
    """Train small recurrent text classifiers (tanh, GRU, LSTM; n-grams; word vectors) fast on
    the CPU (Numba kernels)."""
    ctx.with_resource(one_line_warnings())


main.add_command(sweep)


@main.command()
@click.option("--epochs", default=DEFAULTS["epochs"], show_default=True,
              type=click.IntRange(1, 10000), help="Maximum epochs (early stopping stops sooner).")
@click.option("--train-size", default=4000, show_default=True, type=click.IntRange(10, 10**6))
@click.option("--test-size", default=500, show_default=True, type=click.IntRange(10, 10**6))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0))
@click.option("--dtype", type=DTYPES, default=DEFAULTS["dtype"], show_default=True)
@click.option("--log-every", default=10, show_default=True, type=click.IntRange(1),
              help="Print the train/test log every N epochs.")
def demo(epochs, train_size, test_size, seed, dtype, log_every):
    """Train on the built-in generated sentiment corpus and print a tutorial-style log."""
    (tr, ytr), (te, yte) = load_demo(n_train=train_size, n_test=test_size, seed=seed)
    click.echo(f"built-in corpus: {len(tr)} training and {len(te)} test sentences")
    model = Model(epochs=epochs, seed=seed, dtype=dtype, progress=False)
    t0 = time.perf_counter()

    def log(m):
        if m["epoch"] % log_every and m["epoch"] != 1:
            return
        test = model.evaluate(te, yte)
        click.echo(f"--- Epoch {m['epoch']}")
        click.echo(f"Train:\tLoss {m['loss']:.3f} | Accuracy: {m['accuracy']:.3f}")
        click.echo(f"Test:\tLoss {test['loss']:.3f} | Accuracy: {test['accuracy']:.3f}")

    model.fit(tr, ytr, callback=log)
    elapsed = time.perf_counter() - t0
    final = model.evaluate(te, yte)
    click.echo(f"best epoch {model.best_epoch_} of {model.n_epochs_}: test accuracy "
               f"{final['accuracy']:.3f}, loss {final['loss']:.3f}; {elapsed:.2f} s in all")


def _common_train_options(f):
    f = click.option("--dtype", type=DTYPES, default=DEFAULTS["dtype"], show_default=True)(f)
    f = click.option("--early-stopping/--no-early-stopping", default=DEFAULTS["early_stopping"],
                     show_default=True, help="Stop when the validation loss stops improving "
                     "(on --validation, else on a held-out split of DATA); --no-early-stopping "
                     "trains all --epochs on all of DATA.")(f)
    f = click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
                     help="Random seed (the same seed, data and options give the same model).")(f)
    f = click.option("--learning-rate", type=float, default=DEFAULTS["learning_rate"],
                     show_default=True)(f)
    f = click.option("--hidden-size", type=click.IntRange(1, 65536),
                     default=DEFAULTS["hidden_size"], show_default=True)(f)
    f = click.option("--epochs", type=click.IntRange(1, 10000), default=DEFAULTS["epochs"],
                     show_default=True, help="Maximum epochs (early stopping stops sooner).")(f)
    return f


def _describe_preset(name):
    settings = Model.PRESETS[name]
    return name + (" (" + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")" if settings
                   else " (the defaults)")


def _model_options(f):
    """``--cell``, ``--ngrams``, ``--buckets`` and ``--preset`` (Model.preset's recipes)."""
    f = click.option("--buckets", type=click.IntRange(1, 2**31 - 1), default=DEFAULTS["buckets"],
                     show_default=True, help="Rows of the n-gram table (with --ngrams > 0; "
                     "saved with the model, its non-zero rows).")(f)
    f = click.option("--ngrams", type=click.IntRange(0, 16), default=DEFAULTS["ngrams"],
                     show_default=True, help="Word n-gram orders 1..N of the linear n-gram path "
                     "beside the RNN; 0: the plain RNN.")(f)
    f = click.option("--cell", type=click.Choice(CELLS), default=DEFAULTS["cell"],
                     show_default=True, help="Recurrent cell: the tutorial's tanh RNN, or "
                     "PyTorch's GRU or LSTM (more accurate; a GRU epoch ~3x a tanh one).")(f)
    f = click.option("--preset", type=click.Choice(PRESETS), default=None,
                     help="A named recipe that sets the defaults of the other options: "
                     + "; ".join(_describe_preset(p) for p in PRESETS) + ". Options given "
                     "explicitly override it (e.g. --preset accurate --cell lstm).")(f)
    return f


def _given(ctx, name):
    """Whether option ``name`` was given on the command line (not its default)."""
    return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT,
                                                  ParameterSource.DEFAULT_MAP)


def _resolve_preset(ctx, preset, values, embeddings=False):
    """``values`` (option name -> value) with the preset's settings in place of every option
    the user did not give on the command line (the Model keyword arguments of ``train``);
    ``embeddings``: the preset's recipe for pretrained vectors (``Model.preset``'s rule)."""
    if preset is None:
        return dict(values)
    out = dict(values)
    for name, value in Model._preset_settings(preset, embeddings).items():
        # a preset setting with no option of its own applies as it is
        if name not in out or not _given(ctx, name):
            out[name] = value
    return out


@main.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Where to write the model (.npz); never an input, an existing file only "
              "with --force.")
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@click.option("--text-col", default="text", show_default=True, help="Text column / key.")
@click.option("--label-col", default="label", show_default=True, help="Label column / key.")
@click.option("--validation", type=click.Path(path_type=Path), default=None,
              help="Validation data (same format) for early stopping instead of a split.")
@click.option("--embeddings", type=click.Path(path_type=Path),
              default=None, help="Pretrained word vectors (GloVe .txt, word2vec/fastText .vec "
              "or .bin, optionally .gz) as the input layer; with --preset, the preset's recipe "
              "for vectors.")
@click.option("--freeze-embeddings/--fine-tune-embeddings", default=None,
              help="Keep the vectors fixed (the default; words first seen at prediction get "
              "their vectors, saved with the model) or train them too (with --embeddings).")
@_common_train_options
@_model_options
@click.pass_context
def train(ctx, data, output, force, text_col, label_col, validation, embeddings,
          freeze_embeddings, epochs, hidden_size, learning_rate, seed, early_stopping, dtype,
          preset, cell, ngrams, buckets):
    """Train a model on DATA (.tsv, .csv or .jsonl with a text and a label column).

    The saved model records its settings (cell, n-grams, buckets, ...): predict and evaluate
    need no options.
    """
    if freeze_embeddings is not None and embeddings is None:
        raise click.UsageError("--freeze-embeddings/--fine-tune-embeddings need --embeddings")
    if ngrams == 0 and _given(ctx, "buckets"):
        raise click.UsageError("--buckets sizes the n-gram table, which --ngrams 0 turns off")
    settings = _resolve_preset(ctx, preset, {
        "epochs": epochs, "hidden_size": hidden_size, "learning_rate": learning_rate,
        "early_stopping": early_stopping, "dtype": dtype, "cell": cell, "ngrams": ngrams,
        "buckets": buckets}, embeddings=embeddings is not None)
    if embeddings is not None:
        settings["embeddings"] = str(embeddings)
        if freeze_embeddings is not None:
            settings["freeze_embeddings"] = freeze_embeddings
    learning_rate = settings["learning_rate"]
    if learning_rate <= 0 or not np.isfinite(learning_rate):
        raise click.BadParameter("must be a positive number", param_hint="--learning-rate")
    check_output(output, inputs=(data, validation, embeddings), force=force)
    if embeddings is not None and not embeddings.is_file():  # before any work is done
        fail(f"{embeddings}: " + ("is a directory, not a vectors file" if embeddings.is_dir()
                                  else "not a regular file (a pipe, a device): the vectors "
                                  "reader needs a file" if embeddings.exists()
                                  else "no such file"))
    texts, labels = load_data(data, text_col, label_col)
    val = load_data(validation, text_col, label_col) if validation else None
    if val is not None:
        _check_known_classes(validation, val[1], labels, data)
    model = Model(seed=seed, **settings)
    try:
        with warnings.catch_warnings():  # refused below, in the CLI's words
            warnings.simplefilter("ignore", DivergenceWarning)
            model.fit(texts, labels, validation_data=val)
    except FloatingPointError as e:
        reason = str(e) if "diverged" in str(e) else f"training diverged: {e}"
        fail(f"{data}: {reason}; no model written")
    except (OSError, ValueError, TypeError) as e:
        # a vectors file's own errors name that file and line already
        where = "" if embeddings is not None and str(embeddings) in str(e) else f"{data}: "
        fail(f"{where}{_cli_hint(e)}")
    _check_converged(model, learning_rate)
    try:
        model.save(output, overwrite=True)  # check_output has refused what --force must allow
    except (OSError, ValueError) as e:
        msg = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        fail(msg if msg.startswith("cannot write") else f"cannot write {output}: {msg}")
    last = model.history_[model.best_epoch_ - 1]
    msg = f"trained a {model.cell} model on {count(len(texts), 'text')}, " \
          f"{count(len(model.classes_), 'class')}, {count(len(model.vocabulary_), 'word')}; " \
          f"epoch {model.best_epoch_} of {model.n_epochs_}"
    if "val_accuracy" in last:
        msg += f", validation accuracy {last['val_accuracy']:.3f}"
    click.echo(f"{msg}; {model.fit_time_:.2f} s; saved {output}")


def _cli_hint(error):
    """The library's advice in the CLI's words (its options, not Model arguments)."""
    return (str(error).replace("another validation_fraction", "a --validation file")
            .replace("early_stopping=False", "--no-early-stopping"))


def _check_converged(model, learning_rate):
    problem = divergence(model)
    if problem is not None:
        fail(f"{problem}; lower --learning-rate (now {learning_rate:g}); no model written")


def _check_known_classes(path, labels, known, known_path):
    """Refuse labels of ``path`` that ``known`` (the labels of ``known_path``) never has."""
    unknown = sorted(set(np.unique(labels).tolist()) - set(np.unique(known).tolist()))
    if unknown:
        fail(f"{path}: labels not in the training data {known_path}: "
             f"{_few(np.array(unknown))}; it has {_few(np.unique(known))}")


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.argument("text", nargs=-1)
@click.option("--file", "file_", type=click.Path(dir_okay=True, allow_dash=True, path_type=Path),
              default=None, help="Read texts from this UTF-8 file: the --text-col column of a "
              ".tsv/.csv/.jsonl file with a header (as train reads it), else one text per line "
              "('-' for stdin).")
@click.option("--text-col", default="text", show_default=True,
              help="The text column of a .tsv/.csv/.jsonl --file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_context
def predict(ctx, model_path, text, file_, text_col, as_json):
    """Predict labels for TEXT arguments or the texts of --file.

    Prints one line per text: label, probability, the text (its tabs and line breaks as \\t,
    \\n, \\r); --json prints the text as it is.
    """
    from .datasets import is_table, load_texts
    table = file_ is not None and str(file_) != "-" and is_table(file_)
    if not table and ctx.get_parameter_source("text_col") is not ParameterSource.DEFAULT:
        raise click.UsageError("--text-col applies to a .tsv/.csv/.jsonl --file; "
                               + ("no --file is given" if file_ is None else
                                  f"{file_} is read one text per line"))
    model = load_model(model_path)
    texts = list(text)
    if file_ is not None:
        try:
            lines = load_texts(file_, text_col) if table else read_lines(file_)
        except (OSError, ValueError) as e:
            fail(e)
        if not lines:
            fail(f"{'standard input' if str(file_) == '-' else file_} has no texts "
                 "(it is empty)")
        texts += lines
    if not texts:
        raise click.UsageError("give at least one TEXT or --file")
    proba = model.predict_proba(texts)
    best = np.argmax(proba, axis=1)
    for t, i, p in zip(texts, best, proba):
        label = model.classes_[i].item()
        if as_json:
            click.echo(json.dumps({"text": t, "label": label, "probability": float(p[i]),
                                   "probabilities": {str(c): float(q) for c, q in
                                                     zip(model.classes_.tolist(), p)}}))
        else:  # one line per text, whatever the text holds
            click.echo(f"{label}\t{p[i]:.3f}\t{t.translate(_ONE_LINE)}")


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--text-col", default="text", show_default=True)
@click.option("--label-col", default="label", show_default=True)
def evaluate(model_path, data, text_col, label_col):
    """Loss and accuracy of MODEL on labelled DATA."""
    model = load_model(model_path)
    texts, labels = load_data(data, text_col, label_col)
    try:
        r = model.evaluate(texts, labels)
    except (ValueError, TypeError) as e:
        fail(f"{data}: {e}")
    click.echo(f"{count(len(texts), 'text')}: loss {r['loss']:.4f}, accuracy {r['accuracy']:.4f}")


#: predict's plain output: a text's tabs and line breaks escaped, so that a line is a text
_ONE_LINE = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})

OPTIMIZERS = ("sgd", "adagrad", "adam")
#: Sentences of the warm-up corpus: a few dozen to fit, more than the engine's serial-predict
#: threshold (256) to predict, so that both predict paths (serial and parallel) are compiled.
WARMUP_FIT, WARMUP_PREDICT = 60, 600


def _timed_kernels(step):
    """Run ``step()``; ``(seconds, how)`` with ``how`` one of "compiled", "loaded from cache",
    "already loaded" from the kernels' compile and cache-hit counters."""
    from ._compile import cache_counts
    hits0, misses0 = cache_counts()
    t0 = time.perf_counter()
    step()
    seconds = time.perf_counter() - t0
    hits, misses = cache_counts()
    how = ("compiled" if misses > misses0 else "loaded from cache" if hits > hits0
           else "already loaded")
    return seconds, how


def _warm_line(how, what, seconds):
    click.echo(f"  {how:<17}  {what:<40} {seconds:7.2f} s")


@main.command()
@click.option("--dtype", "dtypes", type=click.Choice(["float32", "float64", "all"]),
              default=DEFAULTS["dtype"], show_default=True, help="Kernels of this dtype.")
@click.option("--optimizer", "optimizers", type=click.Choice(list(OPTIMIZERS) + ["all"]),
              default=DEFAULTS["optimizer"], show_default=True,
              help="Training kernels of this optimizer.")
@click.option("--cell", "cells", type=click.Choice(list(CELLS) + ["all"]),
              default=DEFAULTS["cell"], show_default=True,
              help="Kernels of this recurrent cell (only the cells a program uses compile).")
def warmup(dtypes, optimizers, cells):
    """Compile (or load from the cache) the kernels your programs will use, ahead of time.

    By default the kernels of Model(): training with its default optimizer and dtype, and
    predict_proba.  Runs Model.fit and Model.predict_proba on a few generated sentences;
    compiled kernels go to Numba's on-disk cache, so later processes load them in about a
    second instead of compiling for 10-20 s.  The cache is per NUMBA_CACHE_DIR: a program run
    with another one compiles again.
    """
    from ._compile import cache_dir, unused_cache_setting
    from .datasets import make_corpus
    dts = ("float32", "float64") if dtypes == "all" else (dtypes,)
    opts = OPTIMIZERS if optimizers == "all" else (optimizers,)
    cell_list = CELLS if cells == "all" else (cells,)
    texts, labels = make_corpus(WARMUP_PREDICT, seed=0)
    fit_texts, fit_labels = texts[:WARMUP_FIT], labels[:WARMUP_FIT]
    unused = unused_cache_setting()
    if unused is not None:
        click.echo(f"warning: NUMBA_CACHE_DIR={unused} cannot be used (not a folder that can be "
                   f"made and written): Numba caches in {cache_dir()} instead", err=True)
    click.echo(f"fastrnn warmup: kernel cache {cache_dir()}")
    t_all = time.perf_counter()
    compiled = 0
    for cell in cell_list:
        for dt in dts:
            model = None
            for opt in opts:
                model = Model(epochs=2, optimizer=opt, dtype=dt, seed=0, progress=False,
                              min_count=1, cell=cell)
                # early stopping on (the default) also runs the validation predict path
                seconds, how = _timed_kernels(lambda: model.fit(fit_texts, fit_labels))
                compiled += how == "compiled"
                _warm_line(how, f"{cell} {opt} {dt} training (Model.fit)", seconds)
            seconds, how = _timed_kernels(lambda: model.predict_proba(texts))
            compiled += how == "compiled"
            _warm_line(how, f"{cell} {dt} prediction (Model.predict_proba)", seconds)
    total = time.perf_counter() - t_all
    if compiled:
        click.echo(f"done in {total:.1f} s; later runs load these kernels from the cache")
    else:
        click.echo(f"done in {total:.1f} s; nothing to compile: every kernel was cached already")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
