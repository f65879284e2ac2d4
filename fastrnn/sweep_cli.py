"""``fastrnn sweep CONFIG --output-dir DIR``: train a grid of models, here or on a Dask cluster.

CONFIG is a JSON file::

    {
      "data": "train.csv",                 # or a list of files: every grid point on each
      "text": "text", "label": "label",    # columns (keys for JSON Lines); optional
      "validation": "valid.csv",           # optional; a list (one per data file) with a list
      "params": {"epochs": 20},            # optional: parameters shared by all models
      "grid": {"learning_rate": [0.01, 0.02], "seed": [0, 1, 2]}   # or a list of grids
    }

Relative paths are relative to the CONFIG file.  Results stream to ``DIR/results.jsonl`` and
``DIR/<model_id>.npz``; running the same sweep again trains only what is missing.
"""

import json
import os
from pathlib import Path

import click

from ._clitools import count, fail, load_data
from ._io import check_folder_writable, read_text
from .many import param_grid, train_many

_KEYS = ("data", "text", "label", "validation", "params", "grid")


def _read_config(path):
    try:
        content = read_text(path, what="config file")
    except (OSError, ValueError) as e:
        fail(e)
    try:
        cfg = json.loads(content)
    except ValueError as e:
        fail(f"{path} is not valid JSON: {e}")
    if not isinstance(cfg, dict):
        fail(f"{path}: the config must be a JSON object with keys {', '.join(_KEYS)}")
    unknown = sorted(set(cfg) - set(_KEYS))
    if unknown:
        fail(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; expected "
              f"{', '.join(_KEYS)}")
    for key in ("data", "grid"):
        if key not in cfg:
            fail(f"{path}: missing key {key!r}")
    return cfg


def _paths(value, base, what):
    single = isinstance(value, str)
    items = [value] if single else value
    if not isinstance(items, list) or not items or not all(isinstance(p, str) for p in items):
        fail(f"config {what!r} must be a file name or a non-empty list of file names")
    return single, [(base / p) if not Path(p).is_absolute() else Path(p) for p in items]


def _fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


@click.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--output-dir", required=True, type=click.Path(path_type=Path),
              help="Folder for results.jsonl and the models' .npz files (resumable).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Dask scheduler address; default: train in this process.")
@click.option("--threads", default=None, type=click.IntRange(-1),
              help="Training threads, one model per thread (per task on Dask workers); "
                   "-1: all cores.")
@click.option("--chunk-size", default=None, type=click.IntRange(1),
              help="Models per Dask task (default: about two tasks per worker).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: only on a terminal).")
def sweep(config, output_dir, scheduler, threads, chunk_size, progress):
    """Train every model of the grid in CONFIG, streaming results to --output-dir.

    \b
    CONFIG is a JSON file, paths relative to it:
      {"data": "train.csv",              (or a list of files)
       "text": "text", "label": "label", (column names; optional)
       "validation": "valid.csv",        (optional)
       "params": {"epochs": 20},         (shared by all models; optional)
       "grid": {"learning_rate": [0.05, 0.1], "seed": [0, 1, 2]}}

    Running the same sweep again trains only the models not yet in --output-dir.
    """
    if threads == 0:
        raise click.BadParameter("must be >= 1, or -1 for all cores", param_hint="--threads")
    try:
        check_folder_writable(output_dir, "--output-dir")
    except ValueError as e:
        fail(e)
    cfg = _read_config(config)
    base = config.resolve().parent
    text, label = cfg.get("text", "text"), cfg.get("label", "label")
    if not isinstance(text, str) or not isinstance(label, str):
        fail(f"{config}: 'text' and 'label' must be column names (strings)")
    _, data_paths = _paths(cfg["data"], base, "data")
    val_paths = None
    if cfg.get("validation") is not None:
        _, val_paths = _paths(cfg["validation"], base, "validation")
        if len(val_paths) != len(data_paths):
            fail(f"{config}: 'validation' needs one file per data file ({len(data_paths)})")
    shared = cfg.get("params", {})
    if not isinstance(shared, dict):
        fail(f"{config}: 'params' must be an object of Model parameters")
    try:
        grid = param_grid(cfg["grid"])
    except (TypeError, ValueError) as e:
        fail(f"{config}: {e}")
    points = [dict(shared, **g) for g in grid]
    keys = sorted(set().union(*grid))
    from .model import _PARAMS
    unknown = sorted({k for g in points for k in g} - set(_PARAMS))
    if unknown:  # before any file is read or written: a typo would fail every model
        fail(f"{config}: unknown Model parameter(s) {', '.join(map(repr, unknown))} in "
             f"'params'/'grid'; valid: {', '.join(_PARAMS)}")
    for g in points:  # a vectors file named in the config is relative to it, as the data
        if isinstance(g.get("embeddings"), str):
            if not g["embeddings"].strip():
                fail(f"{config}: 'embeddings' is an empty path: name a vectors file")
            if not Path(g["embeddings"]).is_absolute():
                g["embeddings"] = os.path.normpath(base / g["embeddings"])
            # here, not on a Dask cluster's workers, which may hold files this machine has not
            if scheduler is None and not Path(g["embeddings"]).is_file():
                fail(f"{config}: vectors file {g['embeddings']} (embeddings) does not exist or "
                     "is not a file")

    datasets = [load_data(p, text, label) for p in data_paths]
    vals = [load_data(p, text, label) for p in val_paths] if val_paths else None
    data, models, val = [], [], []
    for i, d in enumerate(datasets):
        for g in points:
            data.append(d)
            models.append(g)
            val.append(vals[i] if vals else None)

    client = None
    if scheduler is not None:
        try:
            from distributed import Client
        except ImportError:
            fail('--scheduler needs Dask: pip install "fastrnn[distributed]"')
        try:
            client = Client(scheduler, timeout=10)
        except (OSError, TimeoutError, ValueError) as e:
            fail(f"cannot connect to the Dask scheduler at {scheduler}: {e}")
    try:
        _, rows = train_many(data, models, validation_data=val if vals else None,
                             threads=threads, client=client, output_dir=output_dir,
                             errors="record", progress=progress, chunk_size=chunk_size)
    except (OSError, TypeError, ValueError) as e:
        fail(e)
    finally:
        if client is not None:
            client.close()

    click.echo(f"{'id':16}  {'status':6}  {'data':>4}  {'epochs':>6}  {'best':>4}  "
               f"{'val_acc':>7}  params")
    for r in rows:
        if len(data_paths) > 1:
            r = dict(r, dataset=r["index"] // len(points))
        click.echo(f"{r['id']:16}  {r['status']:6}  {r['dataset']:>4}  "
                   f"{_fmt(r.get('epochs'), 'd'):>6}  {_fmt(r.get('best_epoch'), 'd'):>4}  "
                   f"{_fmt(r.get('best_val_accuracy')):>7}  "
                   f"{json.dumps({k: r['params'].get(k) for k in keys if k in r['params']})}")
    failed = [r for r in rows if r["status"] != "ok"]
    cached = sum(bool(r.get("cached")) and r["status"] == "ok" for r in rows)
    click.echo(f"{count(len(rows), 'model')}: {len(rows) - cached - len(failed)} trained, {cached} "
               f"already in "
               f"{output_dir}, {len(failed)} failed")
    if failed:
        fail(f"{len(failed)} of {len(rows)} models failed (first: {failed[0]['error']}); "
              f"see {output_dir / 'results.jsonl'}")
