"""Train many models at once: sweeps, seed ensembles, one model per dataset.

:func:`train_many` prepares every model exactly as :meth:`Model.fit` does
(:meth:`Model._prepare_fit`: same validation split, vocabulary, initial weights and per-epoch
sample orders from the model's own seed), then trains all still-running models one epoch at a
time with *one* parallel kernel call per epoch (:func:`fastrnn.kernels.many.train_epoch_many`,
``prange`` over models, each model running the single-model epoch kernel on its own buffers).
Validation and early stopping are booked per model by the same code as ``Model.fit``; a model
that stops leaves the batch.  A model's weights are therefore bit-identical to training it alone,
whatever the batch size or the number of threads.

With a Dask ``client`` the models are split into chunks that run the same batch code on the
workers (plain data in and out); with ``output_dir`` every finished model is streamed to disk
(``results.jsonl`` + ``<model_id>.npz``) and a re-run skips what is already there.

Threads
-------
``threads=`` sets :func:`numba.set_num_threads` for the call (the previous value is restored).
Numba runs ``prange`` loops on its *threading layer*: ``numba.threading_layer()`` names the one
in use (after the first parallel call).  ``omp`` (OpenMP) and ``tbb`` (Intel TBB, if installed)
are safe to use from several Python threads; ``workqueue`` (always available) is not thread-safe
for concurrent parallel calls from several threads of one process.  Choose with the environment
variable ``NUMBA_THREADING_LAYER=omp|tbb|workqueue`` (or ``safe``/``threadsafe``/``forksafe``)
set before the first parallel call; the default picks tbb, then omp, then workqueue.  With Dask,
use one worker process per core (``threads_per_worker=1``) and ``threads=1``, or fewer processes
with more Numba threads each; never more Numba threads in total than cores.
"""

import hashlib
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np

from . import _engine as E
from .model import Model, _PARAMS, _texts
from .vocab import Vocabulary

__all__ = ["train_many", "param_grid", "Ensemble", "average_proba", "TrainManyResult",
           "model_id", "dataset_fingerprint"]

RESULTS_FILE = "results.jsonl"
#: Parameters that cannot be sent to another process or written to ``results.jsonl``.
_LOCAL_ONLY = ("tokenizer",)


class TrainManyResult(NamedTuple):
    """What :func:`train_many` returns: ``models, results = train_many(...)``.

    ``models[i]`` is the fitted :class:`Model` of configuration ``i`` (``None`` if it failed);
    ``results[i]`` its row: ``id``, ``index``, ``dataset``, ``params``, ``status`` (``"ok"`` or
    ``"error"``), ``error``, ``epochs``, ``best_epoch``, ``loss``, ``accuracy`` (last epoch,
    training data), ``val_loss``, ``val_accuracy`` (last epoch), ``best_val_accuracy``,
    ``n_train``, ``time`` (seconds from preparation to finish; models of one batch overlap),
    ``history`` (per-epoch metrics) and ``cached`` (loaded from ``output_dir``).
    """
    models: list
    results: list


# ------------------------------------------------------------------------------------- inputs
def param_grid(grid):
    """Expand a grid into a list of parameter dicts (scikit-learn ``ParameterGrid`` order).

    ``grid`` is a dict mapping parameter names to lists of values (a scalar means one value), or
    a list of such dicts (their expansions are concatenated).  Keys are iterated in sorted order
    and the last key varies fastest, as in ``sklearn.model_selection.ParameterGrid``.
    """
    if isinstance(grid, dict):
        grid = [grid]
    if not isinstance(grid, (list, tuple)) or not grid:
        raise ValueError("the grid is empty: give a dict of parameter lists or a non-empty list "
                         "of such dicts")
    out = []
    for g, sub in enumerate(grid):
        if not isinstance(sub, dict):
            raise TypeError(f"grid[{g}] must be a dict of parameter lists, got "
                            f"{type(sub).__name__}")
        keys = sorted(sub)
        values = []
        for k in keys:
            v = sub[k]
            v = list(v) if isinstance(v, (list, tuple, range, np.ndarray)) else [v]
            if not v:
                raise ValueError(f"the grid is empty: parameter {k!r} has no values")
            values.append(v)
        for combo in itertools.product(*values):
            out.append(dict(zip(keys, combo)))
    return out


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    return value


def _plain_params(params, where):
    """Parameters as JSON-safe values (raises naming ``where`` if one cannot be)."""
    out = {}
    for k, v in params.items():
        if k == "progress":
            continue
        if k in _LOCAL_ONLY and v is not None:
            raise ValueError(f"{where}: parameter {k}={v!r} is code and cannot be sent to a "
                             "worker or written to output_dir; use the default")
        if isinstance(v, np.random.Generator):
            raise ValueError(f"{where}: seed must be an int or None (not a Generator) with "
                             "client= or output_dir=")
        v = _jsonable(v)
        try:
            json.dumps(v)
        except TypeError:
            raise ValueError(f"{where}: parameter {k}={v!r} is not JSON-serialisable") from None
        out[k] = v
    return out


def _describe(params):
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"


def dataset_fingerprint(texts, labels):
    """A stable hex digest of a dataset (its texts and labels, in order)."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    y = np.asarray(labels)
    h.update(json.dumps([y.dtype.kind, [_jsonable(v) for v in y.tolist()]]).encode("utf-8"))
    return h.hexdigest()


def model_id(params, fingerprint):
    """The stable id of one model: a hash of its (JSON-safe) parameters and dataset."""
    blob = json.dumps({"params": params, "data": fingerprint}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class _Dataset:
    def __init__(self, index, texts, labels, validation):
        self.index = index
        self.texts = texts
        self.labels = labels
        self.validation = validation
        self._fp = None

    @property
    def fingerprint(self):
        if self._fp is None:
            fp = dataset_fingerprint(self.texts, self.labels)
            if self.validation is not None:
                fp = hashlib.sha256((fp + dataset_fingerprint(*self.validation)).encode()).hexdigest()
            self._fp = fp
        return self._fp

    def plain(self):
        return {"texts": self.texts, "labels": self.labels, "validation": self.validation}


class _Spec:
    """One model to train: index, parameters, dataset, and the user's Model instance if any."""

    def __init__(self, index, params, dataset, model=None):
        self.index = index
        self.params = params
        self.dataset = dataset
        self.model = model
        self.id = None
        self.error = None


def _as_dataset(i, data, what="data"):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"{what} must be a (texts, labels) pair")
    texts, labels = data
    texts = _texts(texts, f"{what} texts")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(texts):
        raise ValueError(f"{what}: labels must be 1-D with one label per text ({len(texts)}), "
                         f"got shape {labels.shape}")
    return texts, labels


def _is_pair(data):
    return (isinstance(data, tuple) and len(data) == 2
            and not isinstance(data[0], tuple) and not isinstance(data[1], tuple))


def _normalise(data, models, validation_data):
    """Turn the accepted input forms into datasets and specs (raises on malformed input)."""
    if models is None:
        raise ValueError("models is required: a list of Model or parameter dicts, a grid "
                         "(dict of lists), or one Model/dict per dataset")
    # the model configurations
    if isinstance(models, Model):
        configs = [models]
    elif isinstance(models, dict):
        is_grid = any(isinstance(v, (list, tuple, range, np.ndarray)) for v in models.values())
        configs = param_grid(models) if is_grid else [models]
    elif isinstance(models, (list, tuple)):
        configs = list(models)
    else:
        raise TypeError(f"models must be a Model, a dict or a list, got {type(models).__name__}")
    if not configs:
        raise ValueError("no models to train: the list (or grid) of models is empty")
    # the datasets
    if _is_pair(data):
        datasets = [_Dataset(0, *_as_dataset(0, data), None)]
        if validation_data is not None:
            datasets[0].validation = _as_dataset(0, validation_data, "validation_data")
        per_model = [0] * len(configs)
    elif isinstance(data, (list, tuple)):
        if not data:
            raise ValueError("data is an empty list of datasets")
        if validation_data is not None and (not isinstance(validation_data, (list, tuple))
                                            or len(validation_data) != len(data)):
            raise ValueError(f"validation_data must be a list with one (texts, labels) pair or "
                             f"None per dataset ({len(data)})")
        datasets, seen = [], {}
        for i, d in enumerate(data):
            v = None if validation_data is None else validation_data[i]
            # the same objects again (a grid over one dataset): one _Dataset, hashed once
            same = (id(d[0]), id(d[1]), id(v[0]) if v is not None else None,
                    id(v[1]) if v is not None else None) if isinstance(d, (tuple, list)) \
                and len(d) == 2 else None
            if same is not None and same in seen:
                datasets.append(seen[same])
                continue
            ds = _Dataset(i, *_as_dataset(i, d, f"data[{i}]"), None)
            if v is not None:
                ds.validation = _as_dataset(i, v, f"validation_data[{i}]")
            datasets.append(ds)
            if same is not None:
                seen[same] = ds
        if len(configs) == 1:
            one = configs[0]
            configs = [one if not isinstance(one, Model) else Model(**one.get_params())
                       for _ in datasets]
            if isinstance(one, Model):
                configs[0] = one
        if len(configs) != len(datasets):
            raise ValueError(f"got {len(datasets)} datasets but {len(configs)} models: give one "
                             "model per dataset, or a single model/dict for all")
        per_model = list(range(len(datasets)))
    else:
        raise TypeError("data must be a (texts, labels) pair or a list of such pairs")

    specs = []
    for i, (cfg, d) in enumerate(zip(configs, per_model)):
        if isinstance(cfg, Model):
            spec = _Spec(i, cfg.get_params(), datasets[d], cfg)
        elif isinstance(cfg, dict):
            spec = _Spec(i, dict(cfg), datasets[d])
        else:
            raise TypeError(f"model {i}: expected a Model or a dict of parameters, got "
                            f"{type(cfg).__name__}")
        specs.append(spec)
    return datasets, specs


def _check_spec(spec):
    """Build (or check) the spec's Model; returns it, or raises ValueError naming the model."""
    where = f"model {spec.index} ({_describe(_shown(spec.params))})"
    try:
        unknown = [k for k in spec.params if k not in _PARAMS]
        if unknown:
            raise ValueError(f"unknown parameter{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(map(repr, unknown))}; valid parameters: "
                             f"{', '.join(_PARAMS)}")
        model = spec.model if spec.model is not None else Model(**spec.params)
        model._validate()
        if len(np.unique(spec.dataset.labels)) < 2:
            raise ValueError(f"dataset {spec.dataset.index} has only one class "
                             f"({np.unique(spec.dataset.labels)!r}); need at least two")
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None
    return model


def _shown(params):
    """The parameters worth showing: those that differ from Model's defaults."""
    default = Model().get_params()
    return {k: v for k, v in params.items()
            if k not in default or not _same(v, default[k])}


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return a is b


# ------------------------------------------------------------------------------------- engine
class _Group:
    """Models of one dtype trained together: their Trainer buffers, addressed by one table.

    The table (``addr``, ``dims``) points into arrays this object keeps referenced (the
    trainers' buffers and the per-model order arrays), so they stay alive and in place.
    """

    def __init__(self, runs, trainers):
        from .kernels import many as KM
        self.kernel = KM.train_epoch_many
        self.runs = runs
        self.trainers = trainers
        M = len(runs)
        self.orders = [np.empty(len(r.labels), dtype=np.int64) for r in runs]
        self.keep = []
        self.addr = np.zeros((M, KM.N_ARRAYS), dtype=np.int64)
        self.dims = np.zeros((M, KM.N_ARRAYS, 3), dtype=np.int64)
        dt = trainers[0].params.dtype
        kinds = {"i4": np.dtype(np.int32), "i8": np.dtype(np.int64), "f": dt}
        for m, (r, t, o) in enumerate(zip(runs, trainers, self.orders)):
            t._grow(int(np.diff(r.offsets).max()))
            P = t.params
            vals = dict(tokens=r.tokens, offsets=r.offsets, labels=r.labels, order=o,
                        WxhT=P.WxhT, Whh=P.Whh, WhhT=P.WhhT, Why=P.Why, bh=P.bh, by=P.by,
                        hp=t.hp)
            vals.update(zip(("Sx", "Shh", "Sy", "Sbh", "Sby"), t.state))
            for k, (name, ndim, kind) in enumerate(KM.ARRAYS):
                a = vals[name] if name in vals else getattr(t, name)
                if (a.dtype != kinds[kind] or a.ndim != ndim or not a.flags.c_contiguous
                        or not a.flags.writeable):
                    raise TypeError(f"internal: {name} of model {m} is {a.dtype}, {a.ndim}-D, "
                                    f"contiguous={a.flags.c_contiguous}")
                self.keep.append(a)
                self.addr[m, k] = a.ctypes.data
                self.dims[m, k, :ndim] = a.shape
        self.modes = np.array([[t.gradient, t.pooling, t.optimizer] for t in trainers],
                              dtype=np.int64)
        self.proto = np.zeros(1, dtype=dt)
        self.loss = np.zeros(M)
        self.correct = np.zeros(M, dtype=np.int64)
        self.finite = np.zeros(M, dtype=np.bool_)
        # cost of one epoch, to start the biggest models first
        self.cost = np.array([len(r.tokens) * (t.params.shape[1] + 8) ** 2
                              for r, t in zip(runs, trainers)], dtype=np.float64)

    def epoch(self, active):
        """One epoch for the models ``active`` (indices into ``runs``)."""
        for m in active:
            self.orders[m][...] = self.runs[m].next_order()
        act = np.array(sorted(active, key=lambda m: -self.cost[m]), dtype=np.int64)
        with numba.parallel_chunksize(1):
            self.kernel(act, self.addr, self.dims, self.modes, self.proto, self.loss,
                        self.correct, self.finite)


_DIVERGED = ("training diverged: the loss or the weights became NaN or infinite; lower the "
             "learning rate or enable clipping")


class _Bar:
    def __init__(self, total, enabled):
        self.bar = None
        if enabled and total > 0:
            import click
            self.bar = click.progressbar(length=total, label="models", file=sys.stderr,
                                         show_pos=True)
            self.bar.__enter__()

    def update(self, n):
        if self.bar is not None and n > 0:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _summary(model, history):
    row = {"epochs": len(history), "best_epoch": getattr(model, "best_epoch_", None)}
    last = history[-1] if history else {}
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        row[k] = None if last.get(k) is None else float(last[k])
    vals = [m["val_accuracy"] for m in history if "val_accuracy" in m]
    row["best_val_accuracy"] = float(max(vals)) if vals else None
    return row


def _train_local(jobs, threads=None, progress=False, errors="raise", on_done=None):
    """Train ``jobs`` (list of ``(key, Model, _Dataset)``) in this process.

    Calls ``on_done(key, model or None, info)`` for every job as it finishes, where ``info`` has
    ``status``, ``error``, ``history``, ``time`` and ``n_train``.  With ``errors="raise"`` the
    first failure is raised (as ``ValueError``/``FloatingPointError`` naming the model).
    """
    old = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(_threads(threads))
    total = sum(int(m.epochs) if isinstance(m.epochs, (int, np.integer)) else 0
                for _, m, _ in jobs)
    bar = _Bar(total, progress)
    try:
        _run_jobs(jobs, errors, on_done, bar)
    finally:
        bar.close()
        numba.set_num_threads(old)


def _threads(threads):
    n = int(threads)
    cap = numba.config.NUMBA_NUM_THREADS
    if n == -1 or n > cap:
        return cap
    if n < 1:
        raise ValueError(f"threads must be >= 1 (or -1 for all {cap}), got {threads}")
    return n


def _fail(key, model, error, errors, on_done, t0, bar, epochs_left):
    bar.update(epochs_left)
    if errors == "raise":
        raise error
    if on_done is not None:
        on_done(key, None, {"status": "error", "error": str(error), "history": [],
                            "time": time.perf_counter() - t0, "n_train": None})


def _run_jobs(jobs, errors, on_done, bar):
    runs, trainers, keys, seq = [], [], [], []
    t0 = time.perf_counter()
    for key, model, ds in jobs:
        try:
            run = model._prepare_fit(ds.texts, ds.labels, ds.validation)
            epoch = model._trainer(run.params, run.settings)
        except (TypeError, ValueError) as e:
            err = ValueError(f"{key[1]}: {e}")
            _fail(key, model, err, errors, on_done, t0, bar, int(model.epochs))
            continue
        tr = getattr(epoch, "__self__", None)
        if isinstance(tr, E.Trainer):
            runs.append(run)
            trainers.append(tr)
            keys.append(key)
        else:  # another backend (numpy reference): trained on its own, after the batch
            seq.append((key, run, epoch))

    def book(key, run, loss, correct, ok):
        """Record one epoch; returns True when the model has finished (or failed)."""
        if not ok:
            _fail(key, run.model, FloatingPointError(f"{key[1]}: {_DIVERGED}"), errors,
                  on_done, run.t0, bar, run.settings["epochs"] - len(run.history))
            return True
        run.record(loss, int(correct))
        bar.update(1)
        if run.done:
            bar.update(run.settings["epochs"] - len(run.history))
            model = run.finish()
            if on_done is not None:
                on_done(key, model, {"status": "ok", "error": None, "history": run.history,
                                     "time": model.fit_time_, "n_train": len(run.labels)})
            return True
        return False

    groups = {}
    for i, tr in enumerate(trainers):
        groups.setdefault(tr.params.dtype.str, []).append(i)
    batches = []
    for idx in groups.values():
        g = _Group([runs[i] for i in idx], [trainers[i] for i in idx])
        batches.append((g, [keys[i] for i in idx], list(range(len(idx)))))
    while batches:
        left = []
        for g, gkeys, active in batches:
            g.epoch(active)
            still = [m for m in active
                     if not book(gkeys[m], g.runs[m], g.loss[m], g.correct[m], g.finite[m])]
            if still:
                left.append((g, gkeys, still))
        batches = left
    for key, run, epoch in seq:
        while True:
            try:
                loss, correct = epoch(run.tokens, run.offsets, run.labels, run.next_order())
            except FloatingPointError:
                book(key, run, math.nan, 0, False)
                break
            if book(key, run, loss, correct, True):
                break


# ------------------------------------------------------------------------------------- output
class _Store:
    """``output_dir``: results.jsonl (one line per finished model) and ``<id>.npz`` weights."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / RESULTS_FILE
        self.rows = {}
        if self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError:  # a line cut short by a crash: that model reruns
                        continue
                    if isinstance(row, dict) and "id" in row:
                        self.rows[row["id"]] = row

    def done(self, mid):
        """The stored row and model of a finished model, or None."""
        row = self.rows.get(mid)
        if row is None:
            return None
        if row.get("status") != "ok":
            return row, None
        npz = self.folder / f"{mid}.npz"
        if not npz.is_file():
            return None
        try:
            model = Model.load(npz)
        except (OSError, ValueError):
            return None
        model.history_ = row.get("history", [])
        model.n_epochs_ = row.get("epochs")
        model.fit_time_ = row.get("time")
        return row, model

    def write(self, row, model):
        if model is not None:
            model.save(self.folder / f"{row['id']}.npz")
        line = json.dumps(row, default=_jsonable) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.rows[row["id"]] = row


# ------------------------------------------------------------------------------------- dask
def _chunk_worker(items, datasets, threads):
    """Runs on a Dask worker: train ``items`` (``(index, id, params, dataset key)``) on
    ``datasets`` (key -> plain dict) and return plain results (no Model objects)."""
    jobs = []
    dsets = {k: _Dataset(k, d["texts"], d["labels"], d["validation"])
             for k, d in datasets.items()}
    for index, mid, params, dkey in items:
        model = Model(**params)
        jobs.append(((index, f"model {index} ({_describe(_shown(params))})"), model,
                     dsets[dkey]))
    out = []

    def done(key, model, info):
        res = {"index": key[0], "info": _plain_info(info)}
        if model is not None:
            res["weights"] = {n: getattr(model.params_, n) for n in E.Params.names}
            res["vocabulary"] = model.vocabulary_.to_dict()
            res["classes"] = model.classes_.tolist()
            res["classes_dtype"] = model.classes_.dtype.str
            res["best_epoch"] = model.best_epoch_
        out.append(res)

    _train_local(jobs, threads=threads, progress=False, errors="record", on_done=done)
    return out


def _plain_info(info):
    return {"status": info["status"], "error": info["error"], "time": info["time"],
            "n_train": info["n_train"],
            "history": [{k: _jsonable(v) for k, v in m.items()} for m in info["history"]]}


def _model_from_plain(params, res):
    model = Model(**params)
    model.vocabulary_ = Vocabulary.from_dict(res["vocabulary"])
    model.classes_ = np.array(res["classes"], dtype=np.dtype(res["classes_dtype"]))
    model.params_ = E.Params(*(res["weights"][n] for n in E.Params.names), dtype=model.dtype)
    model.best_epoch_ = res["best_epoch"]
    model.history_ = res["info"]["history"]
    model.n_epochs_ = len(model.history_)
    model.fit_time_ = res["info"]["time"]
    return model


def _run_dask(client, specs, threads, chunk_size, finish, bar, timeout, errors):
    from distributed import as_completed
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    if chunk_size is None:
        chunk_size = max(1, math.ceil(len(specs) / (2 * n_workers)))
    dkeys = {}
    for s in specs:
        dkeys.setdefault(s.dataset.fingerprint, s.dataset)
    scattered = {fp: client.scatter(ds.plain(), broadcast=False, hash=True)
                 for fp, ds in dkeys.items()}
    by_index = {s.index: s for s in specs}
    futures = []
    for c in range(0, len(specs), chunk_size):
        chunk = specs[c:c + chunk_size]
        items = [(s.index, s.id, s.plain, s.dataset.fingerprint) for s in chunk]
        need = {s.dataset.fingerprint: scattered[s.dataset.fingerprint] for s in chunk}
        futures.append(client.submit(_chunk_worker, items, need, threads, pure=False))
    for fut in as_completed(futures, timeout=timeout):
        for res in fut.result():
            spec = by_index[res["index"]]
            model = None
            if res["info"]["status"] != "ok" and errors == "raise":
                for f in futures:
                    f.cancel()
                raise (FloatingPointError if "diverged" in res["info"]["error"]
                       else ValueError)(res["info"]["error"])
            if res["info"]["status"] == "ok":
                model = _model_from_plain(spec.plain, res)
            finish(spec, model, res["info"])
            bar.update(len(res["info"]["history"]) if model is not None else 1)


# ------------------------------------------------------------------------------------- public
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
        Numba threads for this call (``-1``: all); restored afterwards.  See the module notes
        on threading layers (``numba.threading_layer()``, ``NUMBA_THREADING_LAYER``).  With a
        client it is the Numba thread count of each task on the workers (default 1).
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

    Every model is trained exactly as ``Model(**params).fit(texts, labels)`` would train it:
    the same seed gives bit-identical weights, alone or in a batch of any size, on any number
    of threads or workers.
    """
    if errors not in ("raise", "record"):
        raise ValueError(f"errors must be 'raise' or 'record', got {errors!r}")
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
    if progress is None:
        progress = sys.stderr.isatty()

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
        row["history"] = [{k: _jsonable(v) for k, v in m.items()} for m in info["history"]]
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
            bar = _Bar(total, progress)
            try:
                _run_dask(client, todo, 1 if threads is None else threads, chunk_size, finish,
                          bar, timeout, errors)
            finally:
                bar.close()
        else:
            by_index = {s.index: s for s in todo}
            jobs = []
            for s in todo:
                # a fresh Model per dict; the user's instance is fitted in place
                jobs.append(((s.index, f"model {s.index} ({_describe(_shown(s.params))})"),
                             checked[s.index], s.dataset))

            def done(key, model, info):
                finish(by_index[key[0]], model, info)

            _train_local(jobs, threads=threads, progress=progress, errors=errors,
                         on_done=done)
    return TrainManyResult(models_out, rows)


def _copy_fitted(src, dst):
    for k in ("vocabulary_", "classes_", "params_", "best_epoch_", "history_", "n_epochs_",
              "fit_time_"):
        if hasattr(src, k):
            setattr(dst, k, getattr(src, k))


# ------------------------------------------------------------------------------------- ensemble
class Ensemble:
    """Average the class probabilities of fitted models that share the same classes.

    ``Ensemble(models).predict_proba(texts)`` is the mean of ``m.predict_proba(texts)`` (in
    float64); ``predict`` takes its argmax; ``score`` is the accuracy.  ``None`` entries (failed
    models from :func:`train_many`) are refused: filter them out first.
    """

    def __init__(self, models):
        models = list(models)
        if not models:
            raise ValueError("an Ensemble needs at least one fitted model")
        for i, m in enumerate(models):
            if not isinstance(m, Model):
                raise TypeError(f"models[{i}] is {type(m).__name__}, not a fitted Model")
            m._check_fitted()
        c0 = models[0].classes_
        for i, m in enumerate(models[1:], 1):
            if m.classes_.shape != c0.shape or not np.array_equal(m.classes_, c0):
                raise ValueError(f"models[{i}] has classes {m.classes_!r}, but models[0] has "
                                 f"{c0!r}: an ensemble needs identical classes")
        self.models = models
        self.classes_ = c0

    def predict_proba(self, texts):
        """Mean class probabilities, shape ``(n, n_classes)``, float64."""
        texts = _texts(texts)
        acc = np.zeros((len(texts), len(self.classes_)), dtype=np.float64)
        for m in self.models:
            acc += m.predict_proba(texts)
        return acc / len(self.models)

    def predict(self, texts):
        return self.classes_[np.argmax(self.predict_proba(texts), axis=1)]

    def score(self, texts, labels):
        return float(np.mean(self.predict(texts) == np.asarray(labels)))


def average_proba(models, texts):
    """``Ensemble(models).predict_proba(texts)``."""
    return Ensemble(models).predict_proba(texts)
