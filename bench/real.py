"""The ``real`` scenario: test accuracy and training time of :class:`fastrnn.Model`, with peers.

Question: what does a user get on real text from each recipe, how long does it take, and how
does that compare with fastText and a scikit-learn bag of words on the same splits?

Data: ``--data DIR`` (``train.tsv`` and ``test.tsv``, ``label<TAB>text`` with a header, e.g. the
MR or SST-2 folders) or, without it, the built-in generated corpus
(:func:`fastrnn.datasets.load_demo`: 4000 training and 500 test sentences).  Everything trains on
``train.tsv`` (fastrnn's early stopping holds out its own stratified 10 % of it) and is scored on
``test.tsv``.

Rows (``kind``):

``model``
    :class:`fastrnn.Model` per recipe and seed (``--seeds N``): the ``default`` recipe (the
    constructor's defaults, early stopping on validation loss) in float32 and float64, the
    ``tutorial`` recipe (:data:`RECIPES`, float64, 10 epochs), and the ``numpy`` backend of the
    default recipe in float64 capped at 2 epochs (one seed; only its speed is of interest).
    Before the timed fits, each row fits once on a small slice, untimed (numba compilation and
    first calls).  Reported: test accuracy mean / min / max over the seeds, epochs run and best
    epoch, seconds per epoch (the model's own training clock: the epoch kernel plus the
    per-epoch validation scoring, divided by the epochs run; median over seeds) and fit seconds
    (wall time of ``fit``: vocabulary, encoding, epochs, early stopping; median over seeds).
``peer``
    fastText ``train_supervised`` with its default settings and ``thread=1`` (unigrams, and
    ``wordNgrams=2``), each fit in a fresh subprocess (the wheel can fail or return a
    near-chance model when it trains twice in one process); fit seconds = the
    ``train_supervised`` call (reading the file included, interpreter start excluded).
    scikit-learn: binary uni+bigram ``CountVectorizer`` + ``MultinomialNB`` and
    + ``LogisticRegression`` (``max_iter=1000``), fit seconds = ``pipeline.fit`` after one
    untimed warm-up fit on a slice, with BLAS and OpenMP at one thread (threadpoolctl; with two
    OpenBLAS threads on the shared 2-core machine the LogisticRegression fit on MR took 2-8 s
    instead of 0.6 s).  A peer that is not installed is skipped with a note.  The whole run
    keeps BLAS at one thread (every contender trains on one thread; fastrnn's parallel
    ``predict_proba`` keeps numba's threads).
``kernel``
    The per-token cost of one training epoch of the epoch kernel alone (``Trainer.epoch``: no
    validation, no Python per sample), default recipe vs the tutorial recipe at the same hidden
    size and dtype (H=64 float64, the tutorial's shape; H=32 float32, the defaults), on the
    whole training set, one untimed epoch then ``repeats`` epochs of each recipe interleaved
    (median); and the numpy reference's epoch of the default recipe (H=32 float64) against the
    kernel's.  The speed bars (:func:`speed_bars`) are ratios of figures from one run.
"""

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

#: name -> Model keyword arguments (``seed`` and ``progress`` are added per fit).
RECIPES = {
    "default": dict(),
    "tutorial": dict(hidden_size=64, pooling="last", optimizer="sgd", learning_rate=0.02,
                     init="tutorial", min_count=1, early_stopping=False, gradient="tutorial",
                     dtype="float64", epochs=10),
}
#: Epochs of the numpy-backend row (the reference is ~100x slower; only its speed is reported).
NUMPY_EPOCHS = 2
#: Peers: label -> (package, settings).
FASTTEXT = {"fastText": {}, "fastText wordNgrams=2": {"wordNgrams": 2}}
SKLEARN = ("NB uni+bigram", "LR uni+bigram")
PEER_HINT = "pip install 'fastrnn[peers]'"
#: Speed bars (issue 7).
BARS = {"recipe": 1.5, "numpy": 5.0, "fasttext": 5.0, "fasttext_aim": 2.0}


def available():
    try:
        from fastrnn import Model  # noqa: F401
    except ImportError:
        return False
    return True


def _import(name):
    """Import a peer's module; ``None`` if it is not installed (tests patch ``sys.modules``)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def load(data_dir, samples=None):
    """``(description, train texts, train labels, test texts, test labels)``."""
    from fastrnn import datasets
    if data_dir is None:
        (xtr, ytr), (xte, yte) = datasets.load_demo(seed=0)
        name = "built-in"
    else:
        xtr, ytr = datasets.load_tsv(os.path.join(data_dir, "train.tsv"))
        xte, yte = datasets.load_tsv(os.path.join(data_dir, "test.tsv"))
        name = os.path.basename(os.path.normpath(data_dir)) or data_dir
    if samples:
        xtr, ytr = xtr[:samples], ytr[:samples]
    return name, list(xtr), np.asarray(ytr), list(xte), np.asarray(yte)


def _base_row(kind, label, recipe, dtype, backend, data, n, n_test):
    """A row in the runner's schema (``fastrnn.bench.runner.CSV_FIELDS``) plus real's fields."""
    return {"scenario": "real", "param": kind, "value": label, "dtype": dtype,
            "backend": backend, "status": "ok", "kind": kind, "recipe": recipe, "data": data,
            "n": n, "n_test": n_test, "V": None, "H": None, "O": None, "epochs": None,
            "threads": 1, "samples_timed": None, "repeats": None, "median_us": None,
            "q1_us": None, "q3_us": None, "min_us": None, "max_us": None,
            "samples_per_s": None, "speedup": None, "flops_per_sample": None, "gflops": None,
            "pct_peak": None, "rel_err": None, "tol": None, "peak_traced_bytes": None,
            "accuracy": None, "acc_min": None, "acc_max": None, "accuracies": [],
            "seeds": [], "epochs_run": [], "best_epoch": None, "best_epochs": [],
            "s_per_epoch": None, "fit_s": None, "fit_s_all": [], "tokens": None,
            "us_per_token": None, "message": ""}


def _fill_fits(row, fits, n_trained):
    """Aggregate per-seed fits ``{acc, fit_s, epochs, best, train_s}`` into ``row``."""
    accs = [f["acc"] for f in fits]
    row["accuracies"] = accs
    row["accuracy"] = float(np.mean(accs))
    row["acc_min"], row["acc_max"] = float(min(accs)), float(max(accs))
    row["epochs_run"] = [f["epochs"] for f in fits]
    row["epochs"] = float(np.mean(row["epochs_run"]))
    row["best_epochs"] = [f.get("best") for f in fits]
    if all(b is not None for b in row["best_epochs"]):
        row["best_epoch"] = float(np.mean(row["best_epochs"]))
    row["fit_s_all"] = [f["fit_s"] for f in fits]
    row["fit_s"] = statistics.median(row["fit_s_all"])
    spe = [f["train_s"] / f["epochs"] for f in fits]
    row["s_per_epoch_all"] = spe
    row["s_per_epoch"] = statistics.median(spe)
    row["repeats"] = len(fits)
    row["samples_timed"] = int(sum(f["epochs"] for f in fits) * n_trained)
    us = row["s_per_epoch"] / max(n_trained, 1) * 1e6
    row["median_us"] = us
    row["min_us"] = min(spe) / max(n_trained, 1) * 1e6
    row["max_us"] = max(spe) / max(n_trained, 1) * 1e6
    row["samples_per_s"] = 1e6 / us if us else None
    return row


# --------------------------------------------------------------------------------------------
# fastrnn.Model
# --------------------------------------------------------------------------------------------
def model_variants(dtypes, backends, epochs=None, hidden=None, quick=False):
    """``(label, recipe, kwargs, backend, seeds_cap)`` of the Model rows to run."""
    out = []
    for dt in dtypes:
        out.append(("default", "default", dict(RECIPES["default"], dtype=dt), "numba", None))
    out.append(("tutorial", "tutorial", dict(RECIPES["tutorial"]), "numba", None))
    if "numpy" in backends:
        out.append(("default (numpy backend)", "default",
                    dict(RECIPES["default"], dtype="float64",
                         epochs=1 if quick else NUMPY_EPOCHS), "numpy", 1))
    res = []
    for label, recipe, kw, be, cap in out:
        kw = dict(kw)
        if epochs:
            kw["epochs"] = min(epochs, kw.get("epochs", epochs)) if be == "numpy" else epochs
        if hidden:
            kw["hidden_size"] = hidden
        kw["backend"] = be
        res.append((label, recipe, kw, be, cap))
    return res


def _n_trained(kw, y):
    """Sentences the fit trains on (early stopping holds out its validation split)."""
    from fastrnn.lowlevel import stratified_split
    if not kw.get("early_stopping", True):
        return len(y)
    yi = np.unique(y, return_inverse=True)[1].reshape(-1)
    tr, _ = stratified_split(yi, kw.get("validation_fraction", 0.1), np.random.default_rng(0))
    return len(tr)


def _warm(kw, xtr, ytr, xte):
    """One untimed fit on a slice and one prediction: numba compilation and first calls."""
    from fastrnn import Model
    step = max(1, len(xtr) // 300)
    m = Model(**dict(kw, epochs=1, seed=0, progress=False))
    try:
        m.fit(xtr[::step], ytr[::step])
    except ValueError:  # a slice too small to split for early stopping
        m.set_params(early_stopping=False).fit(xtr[::step], ytr[::step])
    m.predict_proba(xte[:50])


def fit_model(kw, seed, xtr, ytr, xte, yte):
    from fastrnn import Model
    m = Model(**dict(kw, seed=seed, progress=False))
    t0 = time.perf_counter()
    m.fit(xtr, ytr)
    fit_s = time.perf_counter() - t0
    return {"acc": float(m.score(xte, yte)), "fit_s": fit_s, "epochs": int(m.n_epochs_),
            "best": int(m.best_epoch_), "train_s": float(m.history_[-1]["time"]),
            "V": len(m.vocabulary_), "H": int(m.params_.shape[1]), "O": len(m.classes_)}


def run_models(data, xtr, ytr, xte, yte, variants, seeds, progress=None):
    rows = []
    for label, recipe, kw, be, cap in variants:
        if progress:
            progress(0, "real %s %s %s" % (label, kw.get("dtype", "float32"), be))
        dt = str(np.dtype(kw.get("dtype", "float32")))
        row = _base_row("model", label, recipe, dt, "%s-Model" % be, data, len(xtr), len(xte))
        try:
            _warm(kw, xtr, ytr, xte)
            fits = []
            for s in seeds[:cap] if cap else seeds:
                fits.append(fit_model(kw, s, xtr, ytr, xte, yte))
        except Exception as exc:  # a crash is a failed row, not a lost run
            row.update(status="FAIL", message="%s: %s" % (type(exc).__name__, exc))
            rows.append(row)
            continue
        row["seeds"] = list(seeds[:cap] if cap else seeds)
        row.update(V=fits[0]["V"], H=fits[0]["H"], O=fits[0]["O"])
        row["settings"] = {k: v for k, v in kw.items()}
        _fill_fits(row, fits, _n_trained(kw, ytr))
        row["message"] = ("%s; Model(%s); s/epoch = training clock (kernel + validation) / "
                          "epochs; fit s = wall time of fit; compile excluded"
                          % (data, ", ".join("%s=%r" % kv for kv in kw.items())))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# kernel: per-token cost of one epoch, recipe against recipe, numba against numpy
# --------------------------------------------------------------------------------------------
class _Fitted:
    """What a kernel row reads of one prepared model: sizes, and the epoch times of a fit."""

    def __init__(self, kw, xtr, ytr):
        self.kw = dict(kw, early_stopping=False, seed=0, progress=False)
        self.xtr, self.ytr = xtr, ytr

    def fit(self, epochs):
        """Train ``epochs`` epochs from scratch; keeps each epoch's kernel seconds
        (``history_[i]["epoch_s"]``: the training pass alone, no validation)."""
        from fastrnn import Model
        m = Model(**dict(self.kw, epochs=epochs)).fit(self.xtr, self.ytr)
        self.tokens, offsets = m.vocabulary_.encode(self.xtr)
        self.labels = offsets[1:]  # one entry per sentence
        self.shape = m.params_.shape
        return [h["epoch_s"] for h in m.history_]


def _prepared(kw, xtr, ytr):
    return _Fitted(kw, xtr, ytr)


def _time_epochs(jobs, repeats):
    """Per job, one fit of ``1 + repeats`` epochs: the first epoch (compile, first call) is
    dropped, the next ``repeats`` are each timed alone by ``Model.fit``
    (``history_[i]["epoch_s"]``)."""
    return [job.fit(1 + repeats)[1:] if repeats else [] for job in jobs]


def _kernel_row(data, label, recipe, kw, backend, times, run, n_test):
    dt = str(np.dtype(kw["dtype"]))
    row = _base_row("kernel", label, recipe, dt, backend, data, len(run.labels), n_test)
    if not times:
        row.update(status="FAIL", message="not timed (0 repeats)")
        return row
    ntok = int(len(run.tokens))
    med = statistics.median(times)
    q = np.percentile(times, [25, 75]) if len(times) > 1 else (med, med)
    V, H, O = run.shape
    row.update(V=int(V), H=int(H), O=int(O), epochs=1, repeats=len(times), tokens=ntok,
               samples_timed=len(times) * len(run.labels), s_per_epoch=med,
               us_per_token=med / ntok * 1e6, median_us=med / len(run.labels) * 1e6,
               q1_us=q[0] / len(run.labels) * 1e6, q3_us=q[1] / len(run.labels) * 1e6,
               min_us=min(times) / len(run.labels) * 1e6,
               max_us=max(times) / len(run.labels) * 1e6,
               samples_per_s=len(run.labels) / med, epoch_s_all=list(times),
               settings=dict(kw), message="%s; one training epoch, whole train set, no "
               "validation; median of %d" % (data, len(times)))
    return row


def run_kernels(data, xtr, ytr, n_test, repeats=5, numpy=True, numpy_repeats=1,
                shapes=((64, "float64"), (32, "float32")), progress=None):
    """Kernel rows: default vs tutorial recipe per shape; numpy vs numba (default, H=32 f64)."""
    rows = []
    for H, dt in shapes:
        if progress:
            progress(0, "real kernel H=%d %s" % (H, dt))
        kws = [(r, dict(RECIPES[r], hidden_size=H, dtype=dt, backend="numba"))
               for r in ("default", "tutorial")]
        jobs = [_prepared(kw, xtr, ytr) for _, kw in kws]
        times = _time_epochs(jobs, repeats)
        for (r, kw), job, t in zip(kws, jobs, times):
            rows.append(_kernel_row(data, "%s H=%d" % (r, H), r, kw, "numba-kernel", t,
                                    job, n_test))
    if numpy:
        if progress:
            progress(0, "real kernel numpy")
        kws = [dict(RECIPES["default"], hidden_size=32, dtype="float64", backend=be)
               for be in ("numba", "numpy")]
        jobs = [_prepared(kw, xtr, ytr) for kw in kws]
        tn = _time_epochs(jobs[:1], repeats)[0]
        tp = _time_epochs(jobs[1:], numpy_repeats)[0] if numpy_repeats else []
        rows.append(_kernel_row(data, "default H=32", "default", kws[0], "numba-kernel", tn,
                                jobs[0], n_test))
        rows.append(_kernel_row(data, "default H=32", "default", kws[1], "numpy-kernel", tp,
                                jobs[1], n_test))
    return rows


# --------------------------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------------------------
_FT_SCRIPT = r"""
import json, sys, time
import fasttext
a = json.loads(sys.argv[1])
t0 = time.perf_counter()
m = fasttext.train_supervised(a["train"], thread=1, verbose=0, seed=a["seed"], **a["kw"])
fit_s = time.perf_counter() - t0
gold, texts = [], []
with open(a["test"], encoding="utf-8") as f:
    for line in f:
        lab, _, text = line.rstrip("\n").partition(" ")
        gold.append(lab)
        texts.append(text)
pred = m.predict(texts)[0] if texts else []
acc = sum(p[0] == g for p, g in zip(pred, gold)) / max(len(gold), 1)
print(json.dumps({"fit_s": fit_s, "acc": acc, "epochs": m.epoch, "dim": m.dim,
                  "words": len(m.words)}))
"""


def _ft_line(label, text):
    return "__label__%d %s\n" % (label, " ".join(text.split()))


def fasttext_fit(train_file, test_file, kw, seed, timeout=3600):
    """One fastText fit in a fresh interpreter; returns the script's JSON dict."""
    arg = json.dumps({"train": train_file, "test": test_file, "kw": kw, "seed": int(seed)})
    out = subprocess.run([sys.executable, "-c", _FT_SCRIPT, arg], capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("fastText subprocess exited %d: %s"
                           % (out.returncode, (out.stderr.strip().splitlines() or ["?"])[-1]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_fasttext(data, xtr, ytr, xte, yte, seeds, progress=None):
    classes = np.unique(np.concatenate([np.asarray(ytr), np.asarray(yte)]))
    rows = []
    with tempfile.TemporaryDirectory(prefix="fastrnn-bench-ft-") as tmp:
        trf, tef = os.path.join(tmp, "train.txt"), os.path.join(tmp, "test.txt")
        for path, xs, ys in ((trf, xtr, ytr), (tef, xte, yte)):
            with open(path, "w", encoding="utf-8") as f:
                for x, y in zip(xs, np.searchsorted(classes, ys)):
                    f.write(_ft_line(int(y), x))
        for label, kw in FASTTEXT.items():
            if progress:
                progress(0, "real %s" % label)
            row = _base_row("peer", label, "fastText", "float32", "fasttext", data, len(xtr),
                            len(xte))
            fits, errors, ok_seeds = [], [], []
            for s in seeds:
                try:
                    r = fasttext_fit(trf, tef, kw, s)
                except Exception as exc:
                    errors.append("seed %d: %s" % (s, exc))
                    continue
                if not np.isfinite(r["acc"]):
                    errors.append("seed %d: accuracy %r" % (s, r["acc"]))
                    continue
                fits.append(dict(r, train_s=r["fit_s"], best=None))
                ok_seeds.append(s)
            if not fits:
                row.update(status="FAIL", message="; ".join(errors))
                rows.append(row)
                continue
            row["seeds"] = ok_seeds
            row["settings"] = dict(kw, thread=1, dim=fits[0]["dim"])
            row["V"] = fits[0]["words"]
            _fill_fits(row, fits, len(xtr))
            row["message"] = ("%s; fasttext.train_supervised(defaults, thread=1%s), fresh "
                              "subprocess per fit; fit s = the call (reads the file)%s"
                              % (data, "".join(", %s=%r" % kv for kv in kw.items()),
                                 ("; failed: " + "; ".join(errors)) if errors else ""))
            rows.append(row)
    return rows


def _sk_pipeline(label, seed):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline
    clf = MultinomialNB() if label.startswith("NB") else LogisticRegression(max_iter=1000,
                                                                           random_state=seed)
    return make_pipeline(CountVectorizer(binary=True, ngram_range=(1, 2)), clf)


def _one_thread():
    """BLAS and OpenMP (scikit-learn's loss) at one thread, like every other contender."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def run_sklearn(data, xtr, ytr, xte, yte, seeds, progress=None):
    rows = []
    for label in SKLEARN:
        if progress:
            progress(0, "real %s" % label)
        row = _base_row("peer", label, "scikit-learn", "float64", "sklearn", data, len(xtr),
                        len(xte))
        try:
            step = max(1, len(xtr) // 300)
            _sk_pipeline(label, 0).fit(xtr[::step], ytr[::step])  # warm-up: imports
            fits = []
            for s in seeds:
                p = _sk_pipeline(label, s)
                with _one_thread():
                    t0 = time.perf_counter()
                    p.fit(xtr, ytr)
                    fit_s = time.perf_counter() - t0
                fits.append({"acc": float(p.score(xte, yte)), "fit_s": fit_s, "epochs": 1,
                             "train_s": fit_s, "best": None,
                             "V": len(p[0].vocabulary_)})
        except Exception as exc:
            row.update(status="FAIL", message="%s: %s" % (type(exc).__name__, exc))
            rows.append(row)
            continue
        row["seeds"] = list(seeds)
        row["V"] = fits[0]["V"]
        row["settings"] = {"vectorizer": "CountVectorizer(binary=True, ngram_range=(1, 2))",
                           "classifier": "MultinomialNB()" if label.startswith("NB") else
                           "LogisticRegression(max_iter=1000)"}
        _fill_fits(row, fits, len(xtr))
        row["epochs"] = None
        row["message"] = ("%s; fit s = pipeline.fit (vectorize + fit), one BLAS/OpenMP thread, "
                          "after a warm-up" % data)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# the scenario
# --------------------------------------------------------------------------------------------
def speed_bars(rows):
    """Issue 7's speed bars from one run's rows: ``[{name, value, bar, ok, how}]``."""
    ok = [r for r in rows if r["status"] == "ok"]

    def find(kind, value, backend, dtype=None):
        for r in ok:
            if (r["kind"] == kind and r["value"] == value and r["backend"] == backend
                    and (dtype is None or r["dtype"] == dtype)):
                return r
        return None
    bars = []
    for H, dt in ((64, "float64"), (32, "float32")):
        d = find("kernel", "default H=%d" % H, "numba-kernel", dt)
        t = find("kernel", "tutorial H=%d" % H, "numba-kernel", dt)
        if d and t:
            v = d["us_per_token"] / t["us_per_token"]
            bars.append({"name": "default / tutorial recipe, kernel epoch per token, H=%d %s"
                         % (H, dt), "value": v, "bar": "<= %.1f" % BARS["recipe"],
                         "ok": v <= BARS["recipe"],
                         "how": "%.3f / %.3f µs per token; Trainer.epoch on the whole train set "
                         "(%d tokens), median of %d interleaved epochs"
                         % (d["us_per_token"], t["us_per_token"], d["tokens"], d["repeats"])})
    kn = find("kernel", "default H=32", "numba-kernel", "float64")
    kp = find("kernel", "default H=32", "numpy-kernel", "float64")
    if kn and kp:
        v = kp["s_per_epoch"] / kn["s_per_epoch"]
        bars.append({"name": "numba / numpy backend, training epoch, default recipe H=32 "
                     "float64", "value": v, "bar": ">= %.0f" % BARS["numpy"],
                     "ok": v >= BARS["numpy"],
                     "how": "%.3g s vs %.3g s per epoch (numpy: %d epoch(s), numba: median "
                     "of %d)" % (kp["s_per_epoch"], kn["s_per_epoch"], kp["repeats"],
                                 kn["repeats"])})
    mn = find("model", "default", "numba-Model", "float64")
    mp = find("model", "default (numpy backend)", "numpy-Model", "float64")
    if mn and mp:
        v = mp["s_per_epoch"] / mn["s_per_epoch"]
        bars.append({"name": "numba / numpy backend, Model.fit epoch incl. validation, "
                     "default recipe float64", "value": v, "bar": ">= %.0f" % BARS["numpy"],
                     "ok": v >= BARS["numpy"],
                     "how": "%.3g s vs %.3g s per epoch" % (mp["s_per_epoch"],
                                                           mn["s_per_epoch"])})
    for dt in ("float64", "float32"):
        m = find("model", "default", "numba-Model", dt)
        if m:
            bars.append({"name": "seconds per epoch, default recipe %s" % dt,
                         "value": m["s_per_epoch"], "bar": "", "ok": None,
                         "how": "Model.fit training clock / epochs run, median of %d seeds"
                         % m["repeats"]})
    m = find("model", "default", "numba-Model", "float32")
    f = find("peer", "fastText", "fasttext")
    if m and f:
        v = m["fit_s"] / f["fit_s"]
        bars.append({"name": "Model().fit / fastText train_supervised, total fit time",
                     "value": v, "bar": "<= %.0f (aim %.0f)" % (BARS["fasttext"],
                                                              BARS["fasttext_aim"]),
                     "ok": v <= BARS["fasttext"],
                     "how": "%.3g s vs %.3g s, medians of %d and %d fits (fastText: default "
                     "settings, 5 epochs, thread=1)" % (m["fit_s"], f["fit_s"], m["repeats"],
                                                        f["repeats"])})
    return bars


def _one_blas_thread():
    """A context limiting BLAS (OpenBLAS, MKL) to one thread, if threadpoolctl is installed.

    Every contender trains single-threaded (fastrnn's kernels, fastText ``thread=1``), and on a
    shared 2-core machine a 2-thread OpenBLAS made scikit-learn's LogisticRegression fit vary
    from 0.6 s to 8 s on MR.  (fastrnn's parallel ``predict_proba`` keeps numba's threads.)
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext(), None
    return threadpool_limits(limits=1, user_api="blas"), 1


def _versions():
    from importlib import metadata
    out = {}
    for dist in ("fastrnn", "fasttext-numpy2-wheel", "scikit-learn", "threadpoolctl"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def run_real(data_dir, dtypes, backends=("numba",), epochs=None, hidden=None, progress=None,
             seeds=3, quick=False, samples=None, peers=True, note=print):
    """Rows (the runner's schema plus ``kind``, ``accuracy``, ``acc_min``, ``s_per_epoch``,
    ``fit_s``, ``us_per_token``...) and the speed bars."""
    if peers:  # threadpoolctl limits the BLAS libraries loaded when it starts: scipy's too
        _import("sklearn.linear_model")
    ctx, blas = _one_blas_thread()
    with ctx:
        rows, info = _run_real(data_dir, dtypes, backends, epochs, hidden, progress, seeds,
                               quick, samples, peers, note)
    info["blas_threads"] = blas
    return rows, info


def _run_real(data_dir, dtypes, backends, epochs, hidden, progress, seeds, quick, samples,
              peers, note):
    data, xtr, ytr, xte, yte = load(data_dir, samples)
    if quick and not epochs:
        epochs = 2
    seed_list = list(range(seeds))
    rows = run_models(data, xtr, ytr, xte, yte,
                      model_variants(dtypes, backends, epochs, hidden, quick), seed_list,
                      progress)
    rows += run_kernels(data, xtr, ytr, len(xte), repeats=1 if quick else 5,
                        numpy="numpy" in backends, progress=progress)
    if peers:
        if _import("fasttext") is None:
            note("peer fastText skipped: fasttext is not installed (%s)" % PEER_HINT)
        else:
            rows += run_fasttext(data, xtr, ytr, xte, yte, seed_list, progress)
        if _import("sklearn") is None:
            note("peer scikit-learn skipped: scikit-learn is not installed (%s)" % PEER_HINT)
        else:
            rows += run_sklearn(data, xtr, ytr, xte, yte, seed_list, progress)
    info = {"data": data, "data_dir": data_dir, "n_train": len(xtr), "n_test": len(xte),
            "seeds": seed_list, "versions": _versions(), "bars": speed_bars(rows)}
    return rows, info


# --------------------------------------------------------------------------------------------
# markdown
# --------------------------------------------------------------------------------------------
def _acc(r):
    if r.get("accuracy") is None:
        return "-"
    if len(r.get("accuracies") or []) > 1:
        return "%.4f (%.4f)" % (r["accuracy"], r["acc_min"])
    return "%.4f" % r["accuracy"]


def _epochs(r):
    if r["kind"] == "peer":
        return "%d" % r["epochs"] if r["epochs"] else "-"
    if r.get("epochs") is None:
        return "-"
    e = "%.3g" % r["epochs"]
    if r.get("best_epoch") is not None and r["settings"].get("early_stopping", True):
        e += " / %.3g" % r["best_epoch"]
    return e


def label(r):
    if r["kind"] == "model":
        s = "fastrnn %s" % r["value"].replace(" (numpy backend)", "")
        if r["backend"].startswith("numpy"):
            s += " (numpy backend, %d epoch%s)" % (r["epochs"], "" if r["epochs"] == 1 else "s")
        return "%s %s" % (s, {"float32": "f32", "float64": "f64"}[r["dtype"]])
    return r["value"]


def markdown(rows, info, short=False):
    """A markdown table of the model and peer rows (``short``: fewer columns)."""
    rows = [r for r in rows if r["kind"] in ("model", "peer")]
    if short:
        out = ["| data | recipe | test acc mean (min) | epochs | fit s |", "|---|---|---|---|---|"]
    else:
        out = ["| data | recipe | test acc mean (min) | epochs run / best | s/epoch | fit s |",
               "|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] != "ok":
            out.append("| %s | %s | FAIL: %s |" % (r["data"], label(r), r["message"][:80]))
            continue
        fit = "%.3g" % r["fit_s"]
        spe = "%.3g" % r["s_per_epoch"] if r["kind"] == "model" or r["epochs"] else "-"
        if r["kind"] == "peer" and r["epochs"]:
            spe = "%.3g" % (r["fit_s"] / r["epochs"])
        if short:
            out.append("| %s | %s | %s | %s | %s |" % (r["data"], label(r), _acc(r), _epochs(r),
                                                       fit))
        else:
            out.append("| %s | %s | %s | %s | %s | %s |" % (r["data"], label(r), _acc(r),
                                                            _epochs(r), spe, fit))
    return "\n".join(out)


def markdown_bars(bars):
    out = ["| speed bar | value | bar | met | how |", "|---|---|---|---|---|"]
    for b in bars:
        out.append("| %s | %.3g | %s | %s | %s |" % (
            b["name"], b["value"], b["bar"] or "-",
            "-" if b["ok"] is None else ("yes" if b["ok"] else "**no**"), b["how"]))
    return "\n".join(out)
