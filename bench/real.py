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
    :class:`fastrnn.Model` per recipe and seed (``--seeds N``, ``--recipes``): ``default``
    (``Model()``: the constructor's defaults, early stopping on validation loss) in float32
    and float64, ``accurate`` (``Model.preset("accurate")``), ``old-default`` (the defaults
    with ``ngrams=0``: the model before the n-gram path), the ``tutorial`` recipe
    (:data:`RECIPES`, float64, 10 epochs), with ``--embeddings PATH`` also
    ``default+vectors`` and ``accurate+vectors`` (``Model.preset(name, embeddings=wv)``, the
    vectors read once by ``fastrnn.load_vectors(PATH, words=<the train and test tokens>)``),
    and the ``numpy`` backend of the default recipe in float64 capped at 2 epochs (one seed;
    only its speed is of interest).  Every contender (recipes and peers) fits seed 0, then
    every contender seed 1, and so on: interleaved, so that the load of a shared machine
    falls on all of them alike.
    Before the timed fits, each row fits once on a small slice, untimed (numba compilation and
    first calls).  Reported: test accuracy mean / min / max over the seeds, epochs run and best
    epoch, seconds per epoch (the model's own training clock: the epoch kernel plus the
    per-epoch validation scoring, divided by the epochs run; median over seeds) and fit seconds
    (wall time of ``fit``: vocabulary, encoding, epochs, early stopping; mean over seeds).
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

#: name -> Model keyword arguments (``seed`` and ``progress`` are added per fit), on top of
#: :data:`PRESET` (``Model.preset(PRESET[name], **kwargs)``; none: ``Model(**kwargs)``).
RECIPES = {
    "default": dict(),
    "accurate": dict(),
    "old-default": dict(ngrams=0),
    "tutorial": dict(hidden_size=64, pooling="last", optimizer="sgd", learning_rate=0.02,
                     init="tutorial", min_count=1, early_stopping=False, gradient="tutorial",
                     dtype="float64", epochs=10),
}
#: The recipes with pretrained vectors (``--embeddings``): ``embeddings=`` is added.
VECTOR_RECIPES = {"default+vectors": dict(), "accurate+vectors": dict()}
#: recipe -> the ``Model.preset`` name it starts from (others: ``Model(**kwargs)``).
PRESET = {"accurate": "accurate", "default+vectors": "fast", "accurate+vectors": "accurate"}
#: Issue 12's accuracy bars per data folder name: recipe -> (mean >=, each seed >=), percent.
ACCURACY_BARS = {
    "mr": {"default": (75.5, 74.5), "accurate": (76.0, None), "accurate+vectors": (76.5, None)},
    "sst2": {"default": (81.5, 80.5), "accurate": (83.0, None),
             "accurate+vectors": (83.0, None)},
}
#: ``Model()`` against ``old-default`` on unseen review sentences: at least this many points.
OLD_DEFAULT_GAIN = 3.0
#: Data folder names whose ``old-default`` gain is a bar (elsewhere it is reported only).
UNSEEN_SETS = ("reviews",)
#: Epochs of the numpy-backend row (the reference is ~100x slower; only its speed is reported).
NUMPY_EPOCHS = 2
#: Peers: label -> (package, settings).
FASTTEXT = {"fastText": {}, "fastText wordNgrams=2": {"wordNgrams": 2}}
SKLEARN = ("NB uni+bigram", "LR uni+bigram")
PEER_HINT = "pip install 'fastrnn[peers]'"
#: Speed bars (issue 7).
BARS = {"recipe": 1.5, "numpy": 5.0, "fasttext": 3.0, "fasttext_aim": 2.0}


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
    row["fit_s"] = float(np.mean(row["fit_s_all"]))
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
def recipe_names(vectors=False):
    """The recipes ``run real`` knows (with ``vectors``: also the ``+vectors`` ones)."""
    return list(RECIPES) + (list(VECTOR_RECIPES) if vectors else [])


def make_model(recipe, kw):
    """The unfitted :class:`fastrnn.Model` of ``recipe`` with keyword arguments ``kw``."""
    from fastrnn import Model
    if recipe in PRESET:
        return Model.preset(PRESET[recipe], **kw)
    return Model(**kw)


def read_vectors(path, texts):
    """``(WordVectors, seconds)``: ``fastrnn.load_vectors(path, words=<the tokens of texts>)``
    (the default tokenizer's tokens: lower-cased words, as ``Model`` sees them)."""
    from fastrnn import load_vectors
    from fastrnn.vocab import default_tokenizer
    words = set()
    for t in texts:
        words.update(default_tokenizer(t))
    t0 = time.perf_counter()
    wv = load_vectors(path, words=sorted(words))
    return wv, time.perf_counter() - t0


def check_recipes(recipes, vectors=False):
    """``recipes`` without repeats, in order; ``ValueError`` naming an unknown recipe, or a
    vector recipe asked for without ``vectors``."""
    for r in recipes:
        if r in VECTOR_RECIPES and not vectors:
            raise ValueError("recipe %r needs vectors (the +vectors recipes need --embeddings)"
                             % r)
        if r not in recipe_names(True):
            raise ValueError("unknown recipe %r; choose from %s"
                             % (r, ", ".join(recipe_names(bool(vectors)))))
    return list(dict.fromkeys(recipes))


def model_variants(dtypes, backends, epochs=None, hidden=None, quick=False, recipes=None,
                   vectors=None, params=None):
    """``(label, recipe, kwargs, backend, seeds_cap)`` of the Model rows to run.

    ``recipes``: names from :func:`recipe_names` (default: all of :data:`RECIPES`, and the
    vector recipes when ``vectors`` (a ``WordVectors``) is given); ``default`` runs in each of
    ``dtypes``, the others in their own dtype; ``params`` ({name: value}, ``--param``) set
    Model parameters on top of every recipe but the numpy-backend row's."""
    recipes = (recipe_names(vectors is not None) if recipes is None
               else check_recipes(recipes, vectors is not None))
    out = []
    for r in recipes:
        if r == "default":
            for dt in dtypes:
                out.append(("default", "default", dict(RECIPES["default"], dtype=dt), "numba",
                            None))
        elif r in VECTOR_RECIPES:
            out.append((r, r, dict(VECTOR_RECIPES[r], embeddings=vectors), "numba", None))
        else:
            out.append((r, r, dict(RECIPES[r]), "numba", None))
    if "numpy" in backends and "default" in recipes:
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
        if params and be != "numpy":
            kw.update(params)
        kw["backend"] = be
        res.append((label, recipe, kw, be, cap))
    return res


def parse_param(text):
    """``"name=value"`` -> ``(name, value)`` for ``--param``: ``value`` as an int, a float,
    true/false/none, or else the string; ``name`` must be a :class:`fastrnn.Model`
    parameter (ValueError otherwise)."""
    from fastrnn import Model
    name, eq, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    known = sorted(Model().get_params())
    if not eq or not name or not raw:
        raise ValueError("%r is not NAME=VALUE" % text)
    if name not in known or name in ("seed", "progress", "embeddings", "tokenizer"):
        raise ValueError("%r is not a Model parameter --param can set; choose from %s"
                         % (name, ", ".join(k for k in known if k not in (
                             "seed", "progress", "embeddings", "tokenizer"))))
    low = raw.lower()
    if low in ("true", "false"):
        return name, low == "true"
    if low == "none":
        return name, None
    for conv in (int, float):
        try:
            return name, conv(raw)
        except ValueError:
            pass
    return name, raw


def _n_trained(kw, y):
    """Sentences the fit trains on (early stopping holds out its validation split)."""
    from fastrnn.lowlevel import stratified_split
    if not kw.get("early_stopping", True):
        return len(y)
    yi = np.unique(y, return_inverse=True)[1].reshape(-1)
    tr, _ = stratified_split(yi, kw.get("validation_fraction", 0.1), np.random.default_rng(0))
    return len(tr)


def _warm(kw, xtr, ytr, xte, recipe="default"):
    """One untimed fit on a slice and one prediction: numba compilation and first calls."""
    step = max(1, len(xtr) // 300)
    m = make_model(recipe, dict(kw, epochs=1, seed=0, progress=False))
    try:
        m.fit(xtr[::step], ytr[::step])
    except ValueError:  # a slice too small to split for early stopping
        m.set_params(early_stopping=False).fit(xtr[::step], ytr[::step])
    m.predict_proba(xte[:50])


def fit_model(kw, seed, xtr, ytr, xte, yte, recipe="default"):
    m = make_model(recipe, dict(kw, seed=seed, progress=False))
    t0 = time.perf_counter()
    m.fit(xtr, ytr)
    fit_s = time.perf_counter() - t0
    best = int(m.best_epoch_)
    val = m.history_[best - 1].get("val_accuracy") if best >= 1 else None
    return {"acc": float(m.score(xte, yte)), "fit_s": fit_s, "epochs": int(m.n_epochs_),
            "best": best, "train_s": float(m.history_[-1]["time"]),
            "val_acc": None if val is None else float(val),
            "V": len(m.vocabulary_), "H": int(m.hidden_size), "O": len(m.classes_)}


def _settings(recipe, kw):
    """A JSON-able record of a recipe's settings: the preset's name and every parameter of the
    model it builds that differs from ``Model()``'s or is set in ``kw`` (vectors: their
    source and size), so a preset that depends on ``embeddings=`` is recorded as built."""
    from fastrnn import Model
    params, defaults = make_model(recipe, kw).get_params(), Model().get_params()
    out = {"preset": PRESET[recipe]} if recipe in PRESET else {}
    for k, v in params.items():
        if k not in kw and (k not in defaults or v is defaults[k] or v == defaults[k]):
            continue
        if k == "embeddings" and v is not None:
            v = "%s (%d words x %d)" % (getattr(v, "source", "?"), len(v.words), v.dim)
        out[k] = v
    return out


class _Job:
    """One contender of the interleaved run: a result row, a warm-up and one fit per seed."""
    tolerant = False  # True: a failed seed is noted and skipped, not the end of the row

    def __init__(self, row, seeds):
        self.row, self.seeds, self.fits, self.errors, self.ok_seeds = row, seeds, [], [], []
        self.failed = None

    def warm(self):
        pass

    def fit(self, seed):
        raise NotImplementedError

    def finish(self):
        return self.row


class _ModelJob(_Job):
    def __init__(self, variant, data, xtr, ytr, xte, yte, seeds):
        label, recipe, kw, be, cap = variant
        dt = str(np.dtype(kw.get("dtype", "float32")))
        super().__init__(_base_row("model", label, recipe, dt, "%s-Model" % be, data,
                                   len(xtr), len(xte)), list(seeds[:cap] if cap else seeds))
        self.recipe, self.kw = recipe, kw
        self.xy = (xtr, ytr, xte, yte)
        self.desc = "real %s %s %s" % (label, dt, be)

    def warm(self):
        xtr, ytr, xte, _ = self.xy
        _warm(self.kw, xtr, ytr, xte, self.recipe)

    def fit(self, seed):
        return fit_model(self.kw, seed, *self.xy, recipe=self.recipe)

    def finish(self):
        row, fits, kw = self.row, self.fits, self.kw
        row["seeds"] = self.ok_seeds
        row.update(V=fits[0]["V"], H=fits[0]["H"], O=fits[0]["O"])
        row["settings"] = _settings(self.recipe, kw)
        _fill_fits(row, fits, _n_trained(kw, self.xy[1]))
        vals = [f["val_acc"] for f in fits]
        row["val_accuracies"] = vals
        row["val_accuracy"] = (float(np.mean(vals)) if all(v is not None for v in vals)
                               else None)
        made = "Model.preset(%r, ...)" % PRESET[self.recipe] if self.recipe in PRESET \
            else "Model(...)"
        row["message"] = ("%s; %s with %s; s/epoch = training clock (kernel + validation) / "
                          "epochs; fit s = wall time of fit, mean; compile excluded"
                          % (row["data"], made, ", ".join("%s=%r" % kv for kv in
                                                          row["settings"].items())))
        return row


def run_jobs(jobs, seeds, progress=None):
    """Warm every job, then fit seed by seed across the jobs (interleaved); the rows."""
    for job in jobs:
        if progress:
            progress(0, getattr(job, "desc", "real") + " (warm-up)")
        try:
            job.warm()
        except Exception as exc:  # a crash is a failed row, not a lost run
            job.failed = "%s: %s" % (type(exc).__name__, exc)
    for s in seeds:
        for job in jobs:
            if job.failed or s not in job.seeds:
                continue
            if progress:
                progress(0, "%s seed %d" % (getattr(job, "desc", "real"), s))
            try:
                job.fits.append(job.fit(s))
                job.ok_seeds.append(s)
            except Exception as exc:
                msg = "%s: %s" % (type(exc).__name__, exc)
                if job.tolerant:
                    job.errors.append("seed %d: %s" % (s, msg))
                else:
                    job.failed = msg
    rows = []
    for job in jobs:
        if job.failed or not job.fits:
            job.row.update(status="FAIL", message=job.failed or "; ".join(job.errors))
            rows.append(job.row)
        else:
            rows.append(job.finish())
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


def write_fasttext_files(tmp, classes, xtr, ytr, xte, yte):
    """fastText's ``__label__N text`` train and test files in ``tmp``: their paths."""
    trf, tef = os.path.join(tmp, "train.txt"), os.path.join(tmp, "test.txt")
    for path, xs, ys in ((trf, xtr, ytr), (tef, xte, yte)):
        with open(path, "w", encoding="utf-8") as f:
            for x, y in zip(xs, np.searchsorted(classes, ys)):
                f.write(_ft_line(int(y), x))
    return trf, tef


class _FastTextJob(_Job):
    tolerant = True  # the wheel can fail on one seed: noted, the others still count

    def __init__(self, label, kw, files, data, n, n_test, seeds):
        super().__init__(_base_row("peer", label, "fastText", "float32", "fasttext", data, n,
                                   n_test), list(seeds))
        self.kw, self.files, self.desc = kw, files, "real %s" % label

    def fit(self, seed):
        r = fasttext_fit(*self.files, self.kw, seed)
        if not np.isfinite(r["acc"]):
            raise RuntimeError("accuracy %r" % r["acc"])
        return dict(r, train_s=r["fit_s"], best=None)

    def finish(self):
        row, fits, kw = self.row, self.fits, self.kw
        row["seeds"] = self.ok_seeds
        row["settings"] = dict(kw, thread=1, dim=fits[0]["dim"])
        row["V"] = fits[0]["words"]
        _fill_fits(row, fits, row["n"])
        row["message"] = ("%s; fasttext.train_supervised(defaults, thread=1%s), fresh "
                          "subprocess per fit; fit s = the call (reads the file), mean%s"
                          % (row["data"], "".join(", %s=%r" % kv for kv in kw.items()),
                             ("; failed: " + "; ".join(self.errors)) if self.errors else ""))
        return row


def fasttext_jobs(data, xtr, ytr, xte, yte, seeds, tmp):
    """The fastText jobs (:data:`FASTTEXT`), their files written into ``tmp``."""
    classes = np.unique(np.concatenate([np.asarray(ytr), np.asarray(yte)]))
    files = write_fasttext_files(tmp, classes, xtr, ytr, xte, yte)
    return [_FastTextJob(label, kw, files, data, len(xtr), len(xte), seeds)
            for label, kw in FASTTEXT.items()]


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


class _SklearnJob(_Job):
    def __init__(self, label, data, xtr, ytr, xte, yte, seeds):
        super().__init__(_base_row("peer", label, "scikit-learn", "float64", "sklearn", data,
                                   len(xtr), len(xte)), list(seeds))
        self.label, self.xy, self.desc = label, (xtr, ytr, xte, yte), "real %s" % label

    def warm(self):
        xtr, ytr = self.xy[:2]
        step = max(1, len(xtr) // 300)
        _sk_pipeline(self.label, 0).fit(xtr[::step], ytr[::step])  # imports

    def fit(self, seed):
        xtr, ytr, xte, yte = self.xy
        p = _sk_pipeline(self.label, seed)
        with _one_thread():
            t0 = time.perf_counter()
            p.fit(xtr, ytr)
            fit_s = time.perf_counter() - t0
        return {"acc": float(p.score(xte, yte)), "fit_s": fit_s, "epochs": 1,
                "train_s": fit_s, "best": None, "V": len(p[0].vocabulary_)}

    def finish(self):
        row, fits, label = self.row, self.fits, self.label
        row["seeds"] = self.ok_seeds
        row["V"] = fits[0]["V"]
        row["settings"] = {"vectorizer": "CountVectorizer(binary=True, ngram_range=(1, 2))",
                           "classifier": "MultinomialNB()" if label.startswith("NB") else
                           "LogisticRegression(max_iter=1000)"}
        _fill_fits(row, fits, row["n"])
        row["epochs"] = None
        row["message"] = ("%s; fit s = pipeline.fit (vectorize + fit), one BLAS/OpenMP thread, "
                          "after a warm-up; mean" % row["data"])
        return row


def sklearn_jobs(data, xtr, ytr, xte, yte, seeds):
    return [_SklearnJob(label, data, xtr, ytr, xte, yte, seeds) for label in SKLEARN]


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
    for fl in FASTTEXT:
        f = find("peer", fl, "fasttext")
        if not (m and f):
            continue
        v = m["fit_s"] / f["fit_s"]
        mt, ft = _per_seed(m, "fit_s_all"), _per_seed(f, "fit_s_all")
        paired = [mt[s] / ft[s] for s in mt if s in ft]
        bars.append({"name": "Model().fit / %s train_supervised, total fit time" % fl,
                     "value": v, "bar": "<= %.0f (aim %.0f)" % (BARS["fasttext"],
                                                              BARS["fasttext_aim"]),
                     "ok": v <= BARS["fasttext"],
                     "how": "%.3g s vs %.3g s, means of %d and %d fits, interleaved seed by "
                     "seed (per-seed ratios %s; fastText: %s, 5 epochs, thread=1)"
                     % (m["fit_s"], f["fit_s"], m["repeats"], f["repeats"],
                        ", ".join("%.2f" % x for x in paired), "defaults" if not FASTTEXT[fl]
                        else ", ".join("%s=%r" % kv for kv in FASTTEXT[fl].items()))})
    return bars


def _per_seed(row, key):
    """``{seed: row[key][i]}``."""
    return dict(zip(row["seeds"], row[key]))


def _find_model(rows, value):
    """The numba row of recipe ``value``: float32 (the defaults' dtype) if it ran, else any."""
    found = [r for r in rows if r["status"] == "ok" and r["kind"] == "model"
             and r["value"] == value and r["backend"] == "numba-Model"]
    return next((r for r in found if r["dtype"] == "float32"), found[0] if found else None)


def accuracy_bars(rows, data):
    """Issue 12's accuracy comparisons from one run's rows: ``[{name, value, bar, ok, how}]``
    (values in percentage points; ``ok`` None where the comparison is reported, not a bar)."""
    bars = []
    d = _find_model(rows, "default")
    key = (data or "").lower()
    for recipe, (mean_bar, each_bar) in ACCURACY_BARS.get(key, {}).items():
        r = _find_model(rows, recipe)
        if r is None:
            continue
        v = 100 * r["accuracy"]
        ok = v >= mean_bar and (each_bar is None or 100 * r["acc_min"] >= each_bar)
        bars.append({"name": "%s test accuracy, %s" % ("Model()" if recipe == "default" else
                                                       recipe, data),
                     "value": v, "bar": ">= %.1f%s" % (mean_bar, " (each >= %.1f)" % each_bar
                                                       if each_bar is not None else ""),
                     "ok": ok, "how": "mean (min) %.2f (%.2f) over seeds %s, %% of %d test "
                     "sentences" % (v, 100 * r["acc_min"], r["seeds"], r["n_test"])})
    old = _find_model(rows, "old-default")
    if d and old:
        v = 100 * (d["accuracy"] - old["accuracy"])
        bar = key in UNSEEN_SETS
        bars.append({"name": "Model() - old-default (ngrams=0) test accuracy, %s" % data,
                     "value": v, "bar": (">= +%.1f points" % OLD_DEFAULT_GAIN) if bar else "",
                     "ok": (v >= OLD_DEFAULT_GAIN) if bar else None,
                     "how": "%.2f vs %.2f mean over seeds %s" % (100 * d["accuracy"],
                                                                 100 * old["accuracy"],
                                                                 d["seeds"])})
    for fl in FASTTEXT:
        f = next((r for r in rows if r["status"] == "ok" and r["kind"] == "peer"
                  and r["value"] == fl), None)
        if not (d and f):
            continue
        v = 100 * (d["accuracy"] - f["accuracy"])
        bars.append({"name": "Model() - %s test accuracy, %s" % (fl, data), "value": v,
                     "bar": "> 0 points", "ok": v > 0,
                     "how": "%.2f (%.2f) vs %.2f (%.2f), mean (min) over seeds %s / %s"
                     % (100 * d["accuracy"], 100 * d["acc_min"], 100 * f["accuracy"],
                        100 * f["acc_min"], d["seeds"], f["seeds"])})
    for r in rows:
        if (r["status"] == "ok" and r["kind"] == "model" and d is not None and r is not d
                and r["backend"] == "numba-Model" and r["value"] != "default"):
            bars.append({"name": "%s / Model() fit time, %s" % (r["value"], data),
                         "value": r["fit_s"] / d["fit_s"], "bar": "", "ok": None,
                         "how": "%.3g s vs %.3g s, means of %d fits; test accuracy %.2f vs "
                         "%.2f" % (r["fit_s"], d["fit_s"], r["repeats"], 100 * r["accuracy"],
                                   100 * d["accuracy"])})
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
             seeds=3, quick=False, samples=None, peers=True, note=print, recipes=None,
             vectors=None, kernels=True, params=None):
    """Rows (the runner's schema plus ``kind``, ``accuracy``, ``acc_min``, ``s_per_epoch``,
    ``fit_s``, ``us_per_token``...) and the run's info (speed and accuracy bars...).

    ``recipes``: the Model recipes (:func:`recipe_names`; default all, with the vector
    recipes when ``vectors`` is given); ``vectors``: ``(path, WordVectors, seconds to read)``
    from :func:`read_vectors`; ``kernels``: also the kernel rows; ``params``: Model
    parameters set on top of every recipe (:func:`model_variants`)."""
    if peers:  # threadpoolctl limits the BLAS libraries loaded when it starts: scipy's too
        _import("sklearn.linear_model")
    ctx, blas = _one_blas_thread()
    with ctx:
        rows, info = _run_real(data_dir, dtypes, backends, epochs, hidden, progress, seeds,
                               quick, samples, peers, note, recipes, vectors, kernels,
                               params)
    info["blas_threads"] = blas
    return rows, info


def _run_real(data_dir, dtypes, backends, epochs, hidden, progress, seeds, quick, samples,
              peers, note, recipes=None, vectors=None, kernels=True, params=None):
    data, xtr, ytr, xte, yte = load(data_dir, samples)
    if quick and not epochs:
        epochs = 2
    seed_list = list(range(seeds))
    wv = vectors[1] if vectors else None
    variants = model_variants(dtypes, backends, epochs, hidden, quick, recipes, wv, params)
    with tempfile.TemporaryDirectory(prefix="fastrnn-bench-ft-") as tmp:
        jobs = [_ModelJob(v, data, xtr, ytr, xte, yte, seed_list) for v in variants]
        if peers:
            if _import("fasttext") is None:
                note("peer fastText skipped: fasttext is not installed (%s)" % PEER_HINT)
            else:
                jobs += fasttext_jobs(data, xtr, ytr, xte, yte, seed_list, tmp)
            if _import("sklearn") is None:
                note("peer scikit-learn skipped: scikit-learn is not installed (%s)"
                     % PEER_HINT)
            else:
                jobs += sklearn_jobs(data, xtr, ytr, xte, yte, seed_list)
        rows = run_jobs(jobs, seed_list, progress)
    # model rows first, then the peers (the jobs' order), then the kernels
    if kernels:
        rows += run_kernels(data, xtr, ytr, len(xte), repeats=1 if quick else 5,
                            numpy="numpy" in backends, progress=progress)
    info = {"data": data, "data_dir": data_dir, "n_train": len(xtr), "n_test": len(xte),
            "seeds": seed_list, "versions": _versions(), "bars": speed_bars(rows),
            "accuracy_bars": accuracy_bars(rows, data),
            "recipes": [v[0] for v in variants], "interleaved": True,
            "params": dict(params or {})}
    if vectors:
        path, wv, secs = vectors
        info["vectors"] = {"path": str(path), "words": len(wv.words), "dim": int(wv.dim),
                           "asked": wv.requested,
                           "missing": len(wv.missing), "lowercase": bool(wv.lowercase),
                           "read_s": secs}
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
        out = ["| data | recipe | test acc mean (min) | epochs run / best | s/epoch | fit s | "
               "val acc |", "|---|---|---|---|---|---|---|"]
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
            val = "%.4f" % r["val_accuracy"] if r.get("val_accuracy") is not None else "-"
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                r["data"], label(r), _acc(r), _epochs(r), spe, fit, val))
    return "\n".join(out)


def markdown_bars(bars, what="speed bar"):
    out = ["| %s | value | bar | met | how |" % what, "|---|---|---|---|---|"]
    for b in bars:
        out.append("| %s | %.3g | %s | %s | %s |" % (
            b["name"], b["value"], b["bar"] or "-",
            "-" if b["ok"] is None else ("yes" if b["ok"] else "**no**"), b["how"]))
    return "\n".join(out)
