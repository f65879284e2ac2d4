"""The ``real`` scenario: accuracy and time per epoch of :class:`fastrnn.Model` per recipe.

Question: what does a user get on real text, per recipe, with the public API?  Each recipe is
fitted for a fixed number of epochs (early stopping off, so every recipe runs the same number)
on the training set of ``--data DIR`` (``train.tsv`` and ``test.tsv`` with ``label`` and
``text`` columns, e.g. ``../shared/data/mr``) or, without ``--data``, on the built-in generated
corpus (:func:`fastrnn.datasets.load_demo`, 2000 / 500 sentences).  Reported: seconds per epoch
(``fit`` time, including encoding, divided by the epochs), microseconds per training sample, and
test accuracy (``Model.score``).  Backends: Model's ``backend="numba"`` and, if asked for,
``backend="numpy"`` (the reference; very slow on real data: use ``--epochs 1``).
"""

import os
import time


def available():
    try:
        from fastrnn import Model  # noqa: F401
    except ImportError:
        return False
    return True


#: name -> Model keyword arguments (``epochs`` and ``dtype`` are added per run).
RECIPES = {
    "default": dict(early_stopping=False, seed=0, progress=False),
    "tutorial": dict(pooling="last", optimizer="sgd", learning_rate=0.02, init="tutorial",
                     weight_decay=0.0, min_count=1, early_stopping=False, gradient="tutorial",
                     seed=0, progress=False),
}


def load(data_dir):
    from fastrnn import datasets
    if data_dir is None:
        (xtr, ytr), (xte, yte) = datasets.load_demo(2000, 500, seed=0)
        return "built-in demo corpus", xtr, ytr, xte, yte
    xtr, ytr = datasets.load_tsv(os.path.join(data_dir, "train.tsv"))
    xte, yte = datasets.load_tsv(os.path.join(data_dir, "test.tsv"))
    return data_dir, xtr, ytr, xte, yte


def run_real(data_dir, dtypes, backends=("numba",), epochs=5, hidden=None, progress=None):
    """Result rows (the runner's schema plus ``accuracy`` and ``s_per_epoch``)."""
    from fastrnn import Model
    source, xtr, ytr, xte, yte = load(data_dir)
    rows = []
    for dt in dtypes:
        for be in backends:
            for name, kw in RECIPES.items():
                if progress:
                    progress(0, "real %s %s %s" % (name, dt, be))
                kw = dict(kw, epochs=epochs, dtype=dt, backend=be)
                if hidden:
                    kw["hidden_size"] = hidden
                m = Model(**kw)
                t0 = time.perf_counter()
                m.fit(xtr, ytr)
                fit_s = time.perf_counter() - t0
                acc = float(m.score(xte, yte))
                us = fit_s / (epochs * len(xtr)) * 1e6
                rows.append({
                    "scenario": "real", "param": "recipe", "value": name, "dtype": dt,
                    "backend": "%s-Model" % be, "status": "ok", "n": len(xtr), "V": None,
                    "H": kw.get("hidden_size", 64), "O": None, "epochs": epochs, "threads": 0,
                    "samples_timed": epochs * len(xtr), "repeats": 1, "median_us": us,
                    "q1_us": None, "q3_us": None, "min_us": us, "max_us": us,
                    "samples_per_s": 1e6 / us, "speedup": None, "flops_per_sample": None,
                    "gflops": None, "pct_peak": None, "rel_err": None, "tol": None,
                    "peak_traced_bytes": None, "accuracy": acc, "s_per_epoch": fit_s / epochs,
                    "message": "%s; fit incl. encoding and first-call compile" % source})
                if progress:
                    progress(0, "real %s done" % name)
    return rows
