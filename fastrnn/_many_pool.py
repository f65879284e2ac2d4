"""``train_many``'s engine: one model per task on a thread pool, each model's whole fit on one
thread.

Every task runs the same code as :meth:`fastrnn.Model.fit` (:mod:`fastrnn._fit`: preparation,
the single-model nogil epoch kernel, validation, early stopping) from start to finish on one
pool thread.  The epoch kernel releases the GIL, so ``threads`` models train at the same time;
a model that stops early frees its thread for the next model at once.  Nothing is compiled
beyond what ``Model.fit`` compiles, and every model's weights are bit-identical to
``Model.fit`` alone, whatever the number of threads or the order the tasks finish in.

Validation inside the pool runs the predict kernel on the pool thread itself (the models are
already trained in parallel; the bits are those of the threaded predict path).
"""

import numbers
import os
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numpy as np

from . import _fit
from ._progress import Progress
from ._shared_corpus import SharedCorpus
from .vocab import shared_tokens

__all__ = ["available_cores", "check_threads", "train_local", "ThreadsWarning"]


class ThreadsWarning(UserWarning):
    """``threads`` asked for more threads than the machine has cores: clamped."""


def available_cores():
    """Cores this process may run on (its CPU affinity where the OS tells, else the count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_threads(threads, n_tasks=None, warn=True):
    """The pool size for ``threads``: ``None`` -> all cores (at most ``n_tasks``), ``-1`` -> all
    cores, a positive int -> itself, clamped to the core count with a :class:`ThreadsWarning`.

    Anything else (bool, float such as ``2.5``, str, ``0``, negative) raises TypeError or
    ValueError.
    """
    cores = available_cores()
    if threads is None:
        n = cores
    else:
        if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, numbers.Integral):
            raise TypeError(f"threads must be a positive integer (or -1 for all {cores} "
                            f"cores), got {type(threads).__name__} {threads!r}")
        n = int(threads)
        if n == -1:
            n = cores
        elif n < 1:
            raise ValueError(f"threads must be a positive integer (or -1 for all {cores} "
                             f"cores), got {n}")
        elif n > cores:
            if warn:
                warnings.warn(ThreadsWarning(
                    f"threads={n} is more than the {cores} cores this process can use: "
                    f"using {cores} threads (more would only take turns on the cores)"),
                    stacklevel=3)
            n = cores
    if n_tasks is not None:
        n = max(1, min(n, n_tasks))
    return n


def _error_info(error, kind, t0):
    return {"status": "error", "kind": kind, "error": str(error), "history": [],
            "time": time.perf_counter() - t0, "n_train": None}


class _SharedVectors:
    """One vectors file that two or more models of a ``train_many`` call use, read (with
    :func:`fastrnn.load_vectors`, whole) by the first model that needs it, once: the others
    wait for it and select their rows from memory (GloVe 6B 50d as text: ~2.4 s and 80 MB per
    read).  A read that fails fails every model that shares it, with the same error.  Frozen
    models with the same vocabulary also share one (read-only) table of the other words'
    vectors (:meth:`oov`; GloVe 6B 50d: 78 MB per model otherwise)."""

    def __init__(self, path, dtype):
        self.path, self.dtype = path, dtype
        self._lock = threading.Lock()
        self._vectors = self._error = None
        self._oov = {}

    def oov(self, words, build):
        """``build()``'s ``(Ext, ext_words)`` for the vocabulary ``words``, made once per
        distinct vocabulary (``Ext`` aligned as the engine keeps it, so it is not copied)."""
        from ._engine import aligned_copy
        key = tuple(words)
        with self._lock:
            if key not in self._oov:
                Ext, ext_words = build()
                self._oov[key] = (aligned_copy(Ext, self.dtype), ext_words)
            return self._oov[key]

    def get(self):
        from .vectors import load_vectors
        with self._lock:
            if self._vectors is None and self._error is None:
                try:
                    self._vectors = load_vectors(self.path, dtype=self.dtype)
                except Exception as e:  # noqa: BLE001 (every sharer re-raises it)
                    self._error = e
            if self._error is not None:
                raise self._error.with_traceback(None)
            return self._vectors


def _vector_memos(jobs):
    """``{id(model): _SharedVectors}`` for the models whose ``embeddings`` is a file path
    that another model of ``jobs`` also uses (same file, same dtype); a model alone with its
    file streams only the rows it needs, as ``Model.fit`` does."""
    users = {}
    for _, model, _ in jobs:
        src = getattr(model, "embeddings", None)
        if not isinstance(src, (str, os.PathLike)):
            continue
        try:
            key = (os.path.realpath(src), np.dtype(model.dtype).str)
        except (TypeError, ValueError):
            continue  # the model's own checks name the problem
        users.setdefault(key, []).append(model)
    memos = {}
    for (path, dt), models in users.items():
        if len(models) > 1:
            shared = _SharedVectors(path, np.dtype(dt))
            memos.update((id(m), shared) for m in models)
    return memos


def _fit_one(key, model, ds, bar, stop, corpora, vector_memos):
    """One model's whole fit, on the calling (pool) thread.

    Returns ``(model or None, info, exception or None)``; ``info["kind"]`` is ``"ok"``,
    ``"invalid"`` (bad configuration or data), ``"diverged"`` or ``"cancelled"``.
    """
    t0 = time.perf_counter()
    epochs = int(model.epochs)
    corpus = corpora.get(ds.index) if model.tokenizer is None else None
    vectors = vector_memos.get(id(model))
    try:
        if corpus is None:
            run = _fit.prepare(model, ds.texts, ds.labels, ds.validation, vectors=vectors)
        else:
            with shared_tokens(corpus.memo):
                run = _fit.prepare(model, ds.texts, ds.labels, ds.validation, vectors=vectors,
                                   corpus=corpus)
    except (TypeError, ValueError) as e:
        bar.advance(epochs)
        err = ValueError(f"{key[1]}: {e}")
        return None, _error_info(err, "invalid", t0), err
    run.serial = True  # this thread is one of the pool's: predict on it
    try:
        _fit.run(run, on_epoch=lambda m: bar.advance(1), stop=stop)
    except FloatingPointError as e:
        bar.advance(epochs - len(run.history))
        err = FloatingPointError(f"{key[1]}: {e}")
        return None, _error_info(err, "diverged", t0), err
    bar.advance(epochs - len(run.history))
    if stop.is_set():
        return None, _error_info("cancelled", "cancelled", t0), None
    run.apply(model)
    return model, {"status": "ok", "kind": "ok", "error": None, "history": run.history,
                   "time": model.fit_time_, "n_train": len(run.labels)}, None


def train_local(jobs, threads=None, progress=False, errors="raise", on_done=None):
    """Train ``jobs`` (list of ``(key, Model, _Dataset)``, ``key = (index, name)``) in this
    process on a pool of :func:`check_threads` threads.

    Calls ``on_done(key, model or None, info)`` on the calling thread for every job as it
    finishes, where ``info`` has ``status`` (``"ok"``/``"error"``), ``kind``, ``error``,
    ``history``, ``time`` and ``n_train``.  With ``errors="raise"`` the first failure is
    raised (``ValueError`` or ``FloatingPointError`` naming the model) once the running models
    have stopped; models not started yet are not trained.
    """
    if not jobs:
        return
    n = check_threads(threads, len(jobs))
    total = sum(int(m.epochs) for _, m, _ in jobs)
    stop = threading.Event()
    first_error = None
    # the biggest models first, so that a long model does not start last
    order = sorted(range(len(jobs)), key=lambda i: -_cost(jobs[i]))
    corpora = _shared_corpora(jobs)
    vector_memos = _vector_memos(jobs)
    with Progress(total, "models", progress) as bar, ThreadPoolExecutor(
            max_workers=n, thread_name_prefix="fastrnn-train") as pool:
        futures = {pool.submit(_fit_one, jobs[i][0], jobs[i][1], jobs[i][2], bar, stop,
                               corpora, vector_memos): i
                   for i in order}
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(finished, key=futures.get):
                    key = jobs[futures[fut]][0]
                    model, info, err = fut.result()
                    if info["kind"] == "cancelled":
                        continue
                    if err is not None and errors == "raise":
                        if first_error is None:
                            first_error = err
                            stop.set()
                            for f in pending:
                                f.cancel()
                        continue
                    if first_error is None and on_done is not None:
                        on_done(key, model, info)
        except BaseException:
            stop.set()
            for f in pending:
                f.cancel()
            raise
    if first_error is not None:
        raise first_error


def _shared_corpora(jobs):
    """``{dataset index: SharedCorpus}`` for the datasets two or more default-tokenizer models
    share: each is tokenized (``fastrnn.vocab.token_memo``) and coded
    (:class:`fastrnn._shared_corpus.SharedCorpus`) once here, and every model's vocabulary,
    token ids and n-gram arrays are gathered from it; they are the same arrays, so the weights
    are too.  Preparation holds the GIL, so this is what lets the models' epochs overlap on
    the pool: 2,000 MR sentences take 53.9 ms per model to prepare plainly, 19.3 ms with the
    token memo alone, 4.6 ms coded once (bench group ``many-prepare-mr``)."""
    users = {}
    for _, model, ds in jobs:
        if getattr(model, "tokenizer", None) is None:
            users.setdefault(ds.index, []).append(ds)
    corpora = {}
    for index, sets in users.items():
        if len(sets) < 2:
            continue
        ds = sets[0]
        if not _is_text_list(ds.texts):
            continue
        extra = ()
        if ds.validation is not None and _is_text_list(ds.validation[0]):
            extra = ds.validation[0]
        corpora[index] = SharedCorpus(ds.texts, extra)
    return corpora


def _is_text_list(texts):
    return isinstance(texts, (list, tuple)) and all(isinstance(t, str) for t in texts)


def _cost(job):
    """A rough cost of one job (texts x hidden size), to start the biggest first."""
    _, model, ds = job
    try:
        return len(ds.texts) * (int(model.hidden_size) + 8) ** 2 * int(model.epochs)
    except (TypeError, ValueError):
        return 0
