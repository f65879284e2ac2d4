"""``train_many(client=...)``: chunks of models on Dask workers, plain data in and out.

Each task trains its chunk with the local engine (:func:`fastrnn._many_pool.train_local`, a
thread pool of ``threads`` on the worker) and returns weights, vocabulary and history as plain
values; the client rebuilds the models.  A failure's ``kind`` (``"invalid"`` or
``"diverged"``) travels with it, so ``errors="raise"`` re-raises the right exception type.
"""

import math


from ._many_inputs import _Dataset, model_name, plain_history
from ._many_pool import check_threads, train_local
from .model import Model

_RAISES = {"diverged": FloatingPointError, "invalid": ValueError}


def _chunk_worker(items, datasets, threads):
    """Runs on a Dask worker: train ``items`` (``(index, id, params, dataset key)``) on
    ``datasets`` (key -> plain dict) and return plain results (no Model objects)."""
    jobs = []
    dsets = {k: _Dataset(k, d["texts"], d["labels"], d["validation"])
             for k, d in datasets.items()}
    for index, mid, params, dkey in items:
        model = Model(**params)
        jobs.append(((index, model_name(index, params)), model,
                     dsets[dkey]))
    out = []

    def done(key, model, info):
        res = {"index": key[0], "info": _plain_info(info)}
        if model is not None:  # what Model.save writes (the n-gram table's non-zero rows)
            res["meta"], res["arrays"] = model._fitted_state()
        out.append(res)

    # the worker's own core count bounds its pool (no warning: nobody would see it)
    train_local(jobs, threads=check_threads(threads, warn=False), progress=False,
                errors="record", on_done=done)
    return out


def _plain_info(info):
    return {"status": info["status"], "kind": info["kind"], "error": info["error"],
            "time": info["time"], "n_train": info["n_train"],
            "history": plain_history(info["history"])}


def _model_from_plain(params, res):
    model = Model._from_state(res["meta"], res["arrays"], f"model {res['index']}'s result",
                              params=params)
    model.history_ = res["info"]["history"]
    model.n_epochs_ = len(model.history_)
    model.fit_time_ = res["info"]["time"]
    return model


def run_dask(client, specs, threads, chunk_size, finish, bar, timeout, errors):
    """Submit ``specs`` in chunks; ``finish(spec, model or None, info)`` as results arrive."""
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
            info = res["info"]
            if info["status"] != "ok" and errors == "raise":
                for f in futures:
                    f.cancel()
                raise _RAISES.get(info["kind"], ValueError)(info["error"])
            if info["status"] == "ok":
                model = _model_from_plain(spec.plain, res)
            finish(spec, model, info)
            bar.advance(len(info["history"]) if model is not None else 1)
