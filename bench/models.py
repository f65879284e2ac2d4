"""The ``models`` scenario: M tutorial-sized models trained at once the way ``train_many``
trains them (a thread pool, one model per task, each model's epochs all on one thread, each
epoch one call of the single-model nogil kernel), swept over M.

Question: how many model-samples per second does ``train_many``'s engine deliver for M models,
on 1 thread and on all cores, and what does one model cost in it compared with the
single-model whole-epoch kernel (``fastrnn.lowlevel.Trainer.epoch``) called from one thread in
the same run?

Workload per cell: one tutorial-sized corpus (58 sentences of ~4.3 words, V = 18, 2 classes,
from the cell's seed) shared by M models, H = 64, the runner's recipe (SGD 0.02, clip 1, exact
BPTT, last-state pooling); model ``m`` has its own initial weights (the tutorial's
``randn / 1000``) and its own per-epoch sample orders, both drawn from
``numpy.random.default_rng((seed, m))``.  Every model trains ``cell.epochs`` epochs per repeat.

Variants, timed interleaved within each repeat (so a busy neighbour hits all of them alike),
each restarting from the initial weights (reset untimed; timed with ``time.perf_counter``,
garbage collector off):

``single``
    ``Trainer.epoch`` once per model and epoch, from the calling thread (M x epochs kernel
    calls).  This is also the reference of the agreement check.
``batch`` (one row per thread count of ``--threads``, default 1 and all cores)
    ``train_many``'s engine: a ``concurrent.futures.ThreadPoolExecutor`` of ``t`` threads,
    one task per model running all of that model's epochs (the kernel releases the GIL).

Agreement: after every timed repeat of a batch variant, each of its M models' weight changes
are compared with the same model's after ``single`` (:data:`TOL`: float64 1e-12, float32 1e-6,
relative to the largest change; ``bitwise`` records exact equality, which the engine
guarantees: the same kernel on the same data).  ``single`` itself is checked on model 0
against the numpy reference (``fastrnn.reference``, lean) with the runner's tolerance.  A
variant that disagrees or raises is a FAIL row without a time.

Figures per row: wall seconds per epoch (all M models), µs per sample per model
(``median_us``: median over repeats of time / (M x n x epochs)), model-samples/s,
``vs_1_thread`` (batch: throughput / the 1-thread batch's) and ``cost_vs_single`` (this row's µs
per model-sample / the single-model kernel's: 1.0 = no overhead; below 1 with more threads).

``fit_comparison`` (not with ``--quick``): 64 models x 10 epochs through the public API,
``train_many(threads=all)`` against 64 sequential ``Model(**cfg).fit`` calls, all Python
overhead included (vocabulary, encoding, per-epoch bookkeeping); ``train_many``'s models are
checked bit for bit against the sequential fits.
"""

import gc
import math
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import backends as B
from . import scenarios as S

#: batch vs single-model kernel, relative to the largest weight change (the engine promises
#: bitwise equality; these leave room for nothing but a last-bit difference)
TOL = {"float64": 1e-12, "float32": 1e-6}
FIT_M = 64
FIT_EPOCHS = 10
#: Model arguments of the fit comparison: the runner's recipe through the public API
FIT_RECIPE = dict(hidden_size=S.BASE["H"], pooling="last", optimizer="sgd", learning_rate=0.02,
                  clip=1.0, gradient="exact", init="tutorial", min_count=1,
                  early_stopping=False, shuffle=True, progress=False)


def all_threads():
    from fastrnn.lowlevel import available_cores
    return available_cores()


def default_threads():
    return sorted({1, all_threads()})


class _Run:
    """One model's corpus and its per-epoch orders (``next_order``)."""

    def __init__(self, data, orders):
        self.tokens, self.offsets, self.labels = data.tokens, data.offsets, data.labels
        self.orders = orders
        self.e = 0

    def next_order(self):
        o = self.orders[self.e]
        self.e += 1
        return o


def model_inits(cell, data, M):
    """Initial float64 weights (``PARAM_NAMES`` order) and per-epoch orders of models 0..M-1."""
    from fastrnn.lowlevel import init_weights
    inits, orders = [], []
    for m in range(M):
        rng = np.random.default_rng((cell.seed, m))
        Whh, Wxh, Why = init_weights(cell.V, cell.H, cell.O, S.INIT, rng)
        inits.append((np.ascontiguousarray(Wxh.T), Whh, Why, np.zeros(cell.H),
                      np.zeros(cell.O)))
        orders.append([rng.permutation(cell.n).astype(np.int64) for _ in range(cell.epochs)])
    return inits, orders


class Models:
    """M trainers (``fastrnn.lowlevel.Trainer``) and their runs; ``reset`` restores the start."""

    def __init__(self, cell, data, inits, orders):
        from fastrnn import lowlevel as E
        self.inits = inits
        self.runs = [_Run(data, o) for o in orders]
        self.trainers = [E.Trainer(E.Params(*w, dtype=cell.dtype), **B.RECIPE) for w in inits]

    def reset(self):
        for t, w, r in zip(self.trainers, self.inits, self.runs):
            P = t.params
            for a, v in zip(P.arrays(), w):
                a[...] = v
            P.sync_transpose()
            for s in t.state:
                s[...] = 0
            t.counters[...] = 0  # step count and row stamp ...
            t.mark[...] = 0      # ... with the stamps: as a fresh Trainer
            r.e = 0

    def weights(self, m):
        P = self.trainers[m].params
        return {k: getattr(P, k) for k in B.PARAM_NAMES}


class Single:
    """``Trainer.epoch`` per model and epoch."""
    name = "single"
    threads = 1

    def __init__(self, models, epochs):
        self.models, self.epochs = models, epochs

    def warm(self):
        r, t = self.models.runs[0], self.models.trainers[0]
        t.epoch(r.tokens, r.offsets, r.labels, r.orders[0])

    def prepare(self):
        self.models.reset()

    def run(self):
        runs, trainers = self.models.runs, self.models.trainers
        for e in range(self.epochs):
            for r, t in zip(runs, trainers):
                t.epoch(r.tokens, r.offsets, r.labels, r.orders[e])


class Batch:
    """``train_many``'s engine: ``threads`` pool threads, one task per model, each task all of
    its model's epochs."""
    name = "batch"

    def __init__(self, models, epochs, threads):
        self.models, self.epochs, self.threads = models, epochs, threads

    def warm(self):
        self.prepare()
        with ThreadPoolExecutor(self.threads) as pool:
            pool.submit(self._one, 0, 1).result()

    def prepare(self):
        self.models.reset()

    def _one(self, m, epochs):
        r, t = self.models.runs[m], self.models.trainers[m]
        for e in range(epochs):
            t.epoch(r.tokens, r.offsets, r.labels, r.orders[e])

    def run(self):
        with ThreadPoolExecutor(self.threads) as pool:
            for f in [pool.submit(self._one, m, self.epochs)
                      for m in range(len(self.models.trainers))]:
                f.result()


def _changes_error(got, ref, init):
    """``(max over arrays of max |dgot - dref| / max |dref|, bitwise equal)`` on the changes."""
    worst, same = 0.0, True
    for k, w0 in zip(B.PARAM_NAMES, init):
        a, b = got[k], ref[k]
        if a.shape != b.shape:
            return math.inf, False
        same = same and bool(np.array_equal(a, b))
        if not np.all(np.isfinite(a)):
            return math.inf, False
        da = a.astype(np.float64) - w0
        db = b.astype(np.float64) - w0
        scale = float(np.max(np.abs(db))) if db.size else 0.0
        err = float(np.max(np.abs(da - db))) if db.size else 0.0
        worst = max(worst, err / scale if scale > 0 else err)
    return worst, same


def _numpy_check(cell, data, models):
    """Relative error of model 0 after ``single`` against the lean numpy reference."""
    from fastrnn import reference as R
    dt = np.dtype(cell.dtype)
    w = [a.astype(dt) for a in models.inits[0]]
    P = dict(zip(R.PARAM_NAMES, w))
    st = R.init_optimizer_state(B.RECIPE["optimizer"], *P.values())
    step = 0
    for e in range(cell.epochs):
        _, _, step = R.train_epoch(data.tokens, data.offsets, data.labels,
                                   models.runs[0].orders[e], P, st, step=step, dense=False,
                                   **B.RECIPE)
    ref = {k: P[r].astype(np.float64) for k, r in zip(B.PARAM_NAMES, R.PARAM_NAMES)}
    got = {k: v.astype(np.float64) for k, v in models.weights(0).items()}
    return S.rel_error(got, ref, dict(zip(B.PARAM_NAMES, models.inits[0])))


def _row(cell, name, threads, times, M, flops, peak, status, message="", rel=None, tol=None,
         bitwise=None, traced=None, warm_s=None):
    samples = M * cell.n * cell.epochs
    row = {"scenario": cell.scenario, "param": cell.param, "value": cell.value,
           "dtype": cell.dtype, "backend": name, "status": status, "kind": "many", "M": M,
           "n": cell.n, "V": cell.V, "H": cell.H, "O": cell.O, "epochs": cell.epochs,
           "threads": threads, "samples_timed": samples, "repeats": len(times),
           "median_us": None, "q1_us": None, "q3_us": None, "min_us": None, "max_us": None,
           "samples_per_s": None, "s_per_epoch": None, "speedup": None,
           "vs_1_thread": None, "cost_vs_single": None, "flops_per_sample": flops,
           "gflops": None, "pct_peak": None, "rel_err": rel, "tol": tol, "bitwise": bitwise,
           "peak_traced_bytes": traced, "bytes_per_model": traced and traced // M,
           "message": message, "warm_s": warm_s}
    if status == "ok" and times:
        row.update(S.timing_stats(times, samples, flops),
                   s_per_epoch=float(np.median(times)) / cell.epochs)
        if peak:
            row["pct_peak"] = 100.0 * row["gflops"] / (peak * threads)
    return row


def run_cell(cell, settings, machine, data=None):
    """Rows for one ``models`` cell: ``single`` and one ``batch`` row per thread count."""
    import numba
    M = cell.value
    data = data if data is not None else S.make_data(cell)
    flops = S.cell_flops(cell, data)
    peak = machine.get("peak_gflops_per_core", {}).get(cell.dtype)
    threads = list(settings.threads or default_threads())
    old = numba.get_num_threads()
    times = {}
    fail = {}
    errs = {}
    warm = {}
    try:
        inits, orders = model_inits(cell, data, M)
        tracemalloc.start()
        ref_models = Models(cell, data, inits, orders)
        traced = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        bat_models = Models(cell, data, inits, orders)
        single = Single(ref_models, cell.epochs)
        variants = [single] + [Batch(bat_models, cell.epochs, t) for t in threads]
        keys = [(v.name, v.threads) for v in variants]
        for v, k in zip(variants, keys):
            t0 = time.perf_counter()
            v.warm()
            warm[k] = time.perf_counter() - t0
            times[k], errs[k] = [], (0.0, True)
        for rep in range(settings.warmup + settings.repeats):
            for v, k in zip(variants, keys):
                if k in fail:
                    continue
                v.prepare()
                gc.collect()
                gc.disable()
                try:
                    t0 = time.perf_counter()
                    v.run()
                    t1 = time.perf_counter()
                except Exception as exc:
                    fail[k] = "%s: %s" % (type(exc).__name__, exc)
                    continue
                finally:
                    gc.enable()
                if rep >= settings.warmup:
                    times[k].append(t1 - t0)
                if v is single:
                    if rep == 0:
                        rel = _numpy_check(cell, data, ref_models)
                        errs[k] = (rel, None)
                        if not rel <= settings_tol(cell):
                            fail[k] = ("single-model kernel differs from the numpy reference "
                                       "(model 0): rel err %.3g > %.0e"
                                       % (rel, settings_tol(cell)))
                    continue
                worst, same = errs[k]
                for m in range(M):
                    e, s = _changes_error(bat_models.weights(m), ref_models.weights(m),
                                          inits[m])
                    if not e <= worst:
                        worst = e
                    same = same and s
                errs[k] = (worst, same)
                if not worst <= TOL[cell.dtype]:
                    fail[k] = ("batch weights differ from the single-model kernel's: rel err "
                               "%.3g > %.0e" % (worst, TOL[cell.dtype]))
    except Exception as exc:  # a crash while building or warming fails the whole cell
        msg = "%s: %s" % (type(exc).__name__, exc)
        keys = [("single", 1)] + [("batch", t) for t in threads]
        return [_row(cell, n, t, [], M, flops, peak, "FAIL", msg) for n, t in keys]
    finally:
        numba.set_num_threads(old)
    rows = []
    for v, k in zip(variants, keys):
        rel, same = errs.get(k, (None, None))
        tol = settings_tol(cell) if v is single else TOL[cell.dtype]
        if k not in fail and v is not single and ("single", 1) in fail:
            fail[k] = "not checked: " + fail[("single", 1)]
        if k in fail:
            rows.append(_row(cell, v.name, v.threads, [], M, flops, peak, "FAIL", fail[k],
                             rel=rel, tol=tol, bitwise=same, traced=traced))
        else:
            rows.append(_row(cell, v.name, v.threads, times[k], M, flops, peak, "ok", rel=rel,
                             tol=tol, bitwise=same, traced=traced, warm_s=warm.get(k)))
    single_us = rows[0]["median_us"]
    one = next((r["median_us"] for r in rows[1:] if r["threads"] == 1 and r["median_us"]), None)
    for r in rows:
        if r["median_us"]:
            if single_us:
                r["cost_vs_single"] = r["median_us"] / single_us
            if r["backend"] == "batch" and one:
                r["vs_1_thread"] = one / r["median_us"]
    return rows


def settings_tol(cell):
    return S.TOL[cell.dtype]


# --------------------------------------------------------------------------------------------
# train_many vs sequential Model.fit
# --------------------------------------------------------------------------------------------
def _texts(cell, data):
    words = ["w%d" % i for i in range(cell.V)]
    texts = [" ".join(words[w] for w in data.tokens[a:b])
             for a, b in zip(data.offsets[:-1], data.offsets[1:])]
    return texts, data.labels


def fit_comparison(settings, M=FIT_M, epochs=FIT_EPOCHS, seed=0, threads=None):
    """Rows ``Model.fit xM`` (sequential) and ``train_many`` (``threads``, default all) for M
    models of the tutorial's size, ``epochs`` epochs each, seeds 0..M-1 (float64)."""
    from fastrnn import Model, train_many
    threads = threads or all_threads()
    cell = S.Cell("models", "fit", M, "float64", "many", S.BASE["n"], S.BASE["V"], S.BASE["H"],
                  S.BASE["O"], epochs=epochs, seed=seed)
    data = S.make_data(cell)
    texts, labels = _texts(cell, data)
    flops = S.cell_flops(cell, data)
    configs = [dict(FIT_RECIPE, seed=s, epochs=epochs, dtype="float64") for s in range(M)]

    def seq():
        return [Model(**c).fit(texts, labels) for c in configs]

    def many():
        return train_many((texts, labels), configs, threads=threads, progress=False).models

    names = (("Model.fit x%d" % M, 1, seq), ("train_many", threads, many))
    times = {n: [] for n, _, _ in names}
    out = {}
    try:
        Model(**dict(configs[0], epochs=1)).fit(texts[:4], labels[:4])  # compile, untimed
        train_many((texts[:4], labels[:4]), [dict(configs[0], epochs=1)], threads=threads,
                   progress=False)
        for rep in range(settings.warmup + settings.repeats):
            for n, _, f in names:
                gc.collect()
                t0 = time.perf_counter()
                out[n] = f()
                if rep >= settings.warmup:
                    times[n].append(time.perf_counter() - t0)
    except Exception as exc:
        msg = "%s: %s" % (type(exc).__name__, exc)
        return [_row(cell, n, t, [], M, flops, None, "FAIL", msg) for n, t, _ in names]
    a, b = out[names[0][0]], out[names[1][0]]
    same = all(np.array_equal(getattr(x.params_, k), getattr(y.params_, k))
               for x, y in zip(a, b) for k in x.params_.names)
    rows = [_row(cell, names[0][0], 1, times[names[0][0]], M, flops, None, "ok", rel=0.0,
                 tol=0.0, bitwise=True)]
    if same:
        rows.append(_row(cell, "train_many", threads, times["train_many"], M, flops, None, "ok",
                         rel=0.0, tol=0.0, bitwise=True))
        rows[1]["cost_vs_single"] = rows[1]["median_us"] / rows[0]["median_us"]
    else:
        rows.append(_row(cell, "train_many", threads, [], M, flops, None, "FAIL",
                         "train_many's weights differ from the sequential Model.fit's",
                         bitwise=False))
    rows[0]["cost_vs_single"] = 1.0
    return rows


def early_stopping_comparison(texts, labels, M=16, threads=2, repeats=3):
    """Issue 13's warm bar: ``train_many`` of ``M`` default models (early stopping on, seeds
    0..M-1) on ``threads`` threads against ``M`` sequential ``Model.fit`` calls, interleaved
    over ``repeats`` (after one untimed warm call each).  Returns a dict: the times, their
    ratio of medians, the epochs trained and whether every model is bit-identical.

        from fastrnn.bench.models import early_stopping_comparison
        from fastrnn.datasets import load_tsv
        early_stopping_comparison(*load_tsv("data/tutorial/train.tsv"))
    """
    from fastrnn import Model, train_many
    configs = [dict(seed=s, progress=False) for s in range(M)]
    Model(**configs[0]).fit(texts, labels)
    train_many((texts, labels), configs[:threads], threads=threads)
    seq_s, many_s = [], []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        seq = [Model(**c).fit(texts, labels) for c in configs]
        seq_s.append(time.perf_counter() - t0)
        gc.collect()
        t0 = time.perf_counter()
        many = train_many((texts, labels), configs, threads=threads).models
        many_s.append(time.perf_counter() - t0)
    same = all(np.array_equal(getattr(a.params_, n), getattr(b.params_, n))
               for a, b in zip(seq, many) for n in a.params_.names)
    return {"M": M, "threads": threads, "n": len(texts), "sequential_s": seq_s,
            "train_many_s": many_s, "ratio": float(np.median(seq_s) / np.median(many_s)),
            "epochs": [m.n_epochs_ for m in seq], "bitwise": same}
