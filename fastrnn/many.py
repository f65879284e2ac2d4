"""Train many models at once: sweeps, seed ensembles, one model per dataset.

:func:`train_many` trains every model exactly as :meth:`Model.fit` does (the same code,
:mod:`fastrnn._fit`: validation split, vocabulary, initial weights and per-epoch sample orders
from the model's own seed), one model per task on a thread pool of ``threads``: each model's
whole fit (all epochs, validation, early stopping) runs on one thread with the single-model
nogil epoch kernel, so an early-stopped model frees its thread at once and nothing is compiled
beyond what ``Model.fit`` compiles.  A model's weights are bit-identical to training it alone,
whatever the batch size or the number of threads.

With a Dask ``client`` the models are split into chunks that run the same engine on the
workers (plain data in and out); with ``output_dir`` every finished model is streamed to disk
(``results.jsonl`` + ``<model_id>.npz``) and a re-run skips what is already there.

The parts: :mod:`fastrnn._many_inputs` (grids, datasets, ids), :mod:`fastrnn._many_pool` (the
thread-pool engine), :mod:`fastrnn._many_store` (``output_dir``), :mod:`fastrnn._many_dask`
(``client``) and :mod:`fastrnn.ensemble` (:class:`Ensemble`, :func:`average_proba`).
"""

from typing import NamedTuple

from ._fit import warn_if_diverged
from ._io import as_path, check_folder_writable
from ._validation import check_float, check_int
from ._many_dask import run_dask
from ._many_inputs import (_check_spec, _normalise, _plain_params, _shown,
                           dataset_fingerprint, model_id, model_name, param_grid,
                           plain_history)
from ._many_pool import ThreadsWarning, check_threads, train_local as _train_local
from ._many_store import RESULTS_FILE, _Store
from ._progress import enabled as progress_enabled, Progress
from .ensemble import Ensemble, average_proba

__all__ = ["train_many", "param_grid", "Ensemble", "average_proba", "TrainManyResult",
           "model_id", "dataset_fingerprint", "ThreadsWarning", "RESULTS_FILE"]


class TrainManyResult(NamedTuple):
    """What :func:`train_many` returns: ``models, results = train_many(...)``.

    ``models[i]`` is the fitted :class:`Model` of configuration ``i`` (``None`` if it failed);
    ``results[i]`` its row: ``id``, ``index``, ``dataset``, ``params``, ``status`` (``"ok"`` or
    ``"error"``), ``error``, ``epochs``, ``best_epoch``, ``loss``, ``accuracy`` (last epoch,
    training data), ``val_loss``, ``val_accuracy`` (last epoch), ``best_val_accuracy`` (the
    validation accuracy of ``best_epoch``, whose weights the model keeps),
    ``n_train``, ``time`` (seconds from preparation to finish; models on other threads
    overlap), ``history`` (per-epoch metrics) and ``cached`` (loaded from ``output_dir``).
    """
    models: list
    results: list


def _summary(model, history):
    row = {"epochs": len(history), "best_epoch": getattr(model, "best_epoch_", None)}
    last = history[-1] if history else {}
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        row[k] = None if last.get(k) is None else float(last[k])
    best = row["best_epoch"]  # the kept weights' epoch (chosen by validation loss)
    kept = history[best - 1] if best and best <= len(history) else {}
    acc = kept.get("val_accuracy")
    row["best_val_accuracy"] = None if acc is None else float(acc)
    return row


def train_many(data, models, *, validation_data=None, threads=None, client=None,
               output_dir=None, errors="raise", progress=None, chunk_size=None, timeout=None):
    """Train many models: a hyperparameter grid, a seed ensemble, or one model per dataset.

    Parameters
    ----------
    data : (texts, labels) or list of (texts, labels)
        One dataset for all models, or one dataset per model.
    models : list of Model or dict, dict, or Model
        The configurations: ``Model`` instances (fitted in place, as by ``fit``), dicts of
        ``Model`` parameters, or a grid ``{"learning_rate": [0.01, 0.02], "seed": [0, 1, 2]}``
        (any value that is a list is a grid axis; see :func:`param_grid`).  With a list of
        datasets, a single Model/dict applies to every dataset.
    validation_data : (texts, labels), list of those (or None), optional
        Scored every epoch instead of a held-out split (as in :meth:`Model.fit`).
    threads : int, optional
        Size of the thread pool that trains the models, one model per thread at a time
        (default: all cores, at most one thread per model; ``-1``: all cores).  A positive
        int above the number of cores this process may use is clamped to it with a
        :class:`ThreadsWarning`; ``0``, negatives, floats and bools raise.  With a client it
        is the pool size of each task on the workers (default 1, clamped to the worker's
        cores).  Numba's own thread count (``numba.set_num_threads``) is not changed.
    client : dask.distributed.Client, optional
        Run chunks of models on the cluster's workers (``pip install "fastrnn[distributed]"``).
    output_dir : path, optional
        Stream every finished model to ``output_dir``: a JSON line in ``results.jsonl``
        (appended, flushed, fsynced) and its weights as ``<id>.npz`` (atomic).  Models already
        there (same parameters and data, so the same id) are loaded instead of trained.
    errors : {"raise", "record"}
        ``"raise"``: a bad configuration (unknown parameter, bad value, one-class dataset) is
        reported before anything trains, naming the model; a diverging model raises.
        ``"record"``: the failing model's row has ``status="error"`` and the message, its model
        is ``None``, and the others train.
    progress : bool, optional
        A progress bar (model-epochs) on stderr; default: only on a terminal.
    chunk_size : int, optional
        Models per Dask task (default: about two tasks per worker).
    timeout : float, optional
        Seconds to wait for the Dask results.

    Returns
    -------
    TrainManyResult
        ``(models, results)``: fitted models (``None`` where training failed) and one result
        row per model, in the order of the configurations.

    A returned model that diverged (its loss finite but far above a uniform guess's, see
    :class:`fastrnn.DivergenceWarning`) warns once by name, on this thread, as
    :meth:`Model.fit` does; a model loaded from ``output_dir`` warns again.

    Every model is trained exactly as ``Model(**params).fit(texts, labels)`` would train it:
    the same seed gives bit-identical weights, alone or in a batch of any size, on any number
    of threads or workers.
    """
    if errors not in ("raise", "record"):
        raise ValueError(f"errors must be 'raise' or 'record', got {errors!r}")
    progress_enabled(progress)  # its type, before any work
    if output_dir is not None:
        output_dir = check_folder_writable(as_path(output_dir), "output_dir")
    if chunk_size is not None:
        check_int("chunk_size", chunk_size, 1)
    check_float("timeout", timeout, positive=True, allow_none=True)
    if client is not None and not callable(getattr(client, "submit", None)):
        raise TypeError(f"client must be a dask.distributed Client, got {type(client).__name__}"
                        + (" (connect first: distributed.Client(address))"
                           if isinstance(client, str) else ""))
    if client is not None and threads is not None:
        check_threads(threads, warn=False)  # type and sign here; clamped on the worker
    elif client is None:
        threads = check_threads(threads)
    datasets, specs = _normalise(data, models, validation_data)
    remote = client is not None or output_dir is not None
    checked = {}
    for s in specs:
        try:
            checked[s.index] = _check_spec(s)
            s.plain = _plain_params(checked[s.index].get_params(),
                                    f"model {s.index}") if remote else None
        except ValueError as e:
            if errors == "raise":
                raise
            s.error = str(e)
            s.plain = None
        if remote:
            base = s.plain if s.plain is not None else {k: repr(v) for k, v in s.params.items()}
            s.id = model_id(base, s.dataset.fingerprint)
        else:
            s.id = f"{s.index}"
    progress = progress_enabled(progress)

    store = _Store(output_dir) if output_dir is not None else None
    models_out = [None] * len(specs)
    rows = [None] * len(specs)

    def finish(spec, model, info):
        row = {"id": spec.id, "index": spec.index, "dataset": spec.dataset.index,
               "params": spec.plain if spec.plain is not None else _shown(spec.params),
               "status": info["status"], "error": info["error"], "n_train": info["n_train"],
               "time": info["time"]}
        if model is not None:
            row.update(_summary(model, info["history"]))
            if spec.model is not None and spec.model is not model:
                _copy_fitted(model, spec.model)
                model = spec.model
        else:
            row.update(_summary(None, []))
        row["history"] = plain_history(info["history"])
        row["cached"] = False
        if store is not None:
            store.write(row, model)
        models_out[spec.index] = model
        rows[spec.index] = row

    todo = []
    for s in specs:
        if store is not None:
            hit = store.done(s.id)
            if hit is not None:
                row, model = hit
                row = dict(row, index=s.index, dataset=s.dataset.index, cached=True)
                if model is not None and s.model is not None:
                    _copy_fitted(model, s.model)
                    model = s.model
                models_out[s.index], rows[s.index] = model, row
                continue
        if s.error is not None:
            finish(s, None, {"status": "error", "error": s.error, "history": [], "time": 0.0,
                             "n_train": None})
            continue
        todo.append(s)

    if todo:
        total = sum(int(checked[s.index].epochs) for s in todo)
        if client is not None:
            with Progress(total, "models", progress) as bar:
                run_dask(client, todo, 1 if threads is None else threads, chunk_size, finish,
                         bar, timeout, errors)
        else:
            by_index = {s.index: s for s in todo}
            jobs = []
            for s in todo:
                # a fresh Model per dict; the user's instance is fitted in place
                jobs.append(((s.index, model_name(s.index, s.params)),
                             checked[s.index], s.dataset))

            def done(key, model, info):
                finish(by_index[key[0]], model, info)

            _train_local(jobs, threads=threads, progress=progress, errors=errors,
                         on_done=done)
    for s in specs:  # here, not on a pool thread or a Dask worker: the user sees each, named
        if models_out[s.index] is not None:
            warn_if_diverged(models_out[s.index],
                             model_name(s.index, s.params), stacklevel=2)
    return TrainManyResult(models_out, rows)


def _copy_fitted(src, dst):
    for k in ("vocabulary_", "classes_", "params_", "best_epoch_", "history_", "n_epochs_",
              "fit_time_"):
        if hasattr(src, k):
            setattr(dst, k, getattr(src, k))
