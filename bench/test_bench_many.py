"""pytest-benchmark: many tutorial-sized models at once (issue 5).

Questions, one ``group`` each (compare rows within a group; ratios from one run):

* ``many-threads``: 64 tutorial-sized models (58 sentences of ~4.3 words, V = 18, H = 64,
  tutorial recipe) for 5 epochs each through ``train_many``'s engine (a thread pool, one task
  per model running all of its epochs with ``Trainer.epoch``), on 1 and on 2 threads, against
  the same 64 models trained by ``Trainer.epoch`` calls from the calling thread.  Bars: 2
  threads >= 1.8x the throughput of 1 thread; the pool on 1 thread within 10% of the
  single-model kernel per sample.
* ``many-vs-fit-early-stopping``: 16 default models (early stopping) through ``train_many``
  (2 threads) against 16 sequential ``Model.fit`` calls.  Bar: >= 1.7x (idle machine).
* ``many-vs-fit-early-stopping-tutorial`` / ``-mr``: the same on the tutorial's 58 training
  sentences and on the first 2,000 MR training sentences (``../shared/data`` beside the
  repository; skipped when absent).  Bar (issue 13): >= 1.7x on both, bit-identical weights.
* ``many-prepare-builtin`` / ``-mr``: one model's preparation (under the GIL) plain, with the
  token memo, and from the dataset coded once (``SharedCorpus``, what ``train_many`` does).
* ``many-frozen-vectors``: 4 models with frozen word vectors from one file through
  ``train_many`` (the file read once) against 4 ``Model.fit`` calls (each reads it);
  ``FASTRNN_BENCH_VECTORS=glove.6B.50d.txt`` times a real file.
* ``many-vs-fit``: 64 models x 50 epochs (the project's PERFORMANCE notes, "Scale and many models") through the public API, ``train_many`` (2 threads)
  against 64 sequential ``Model.fit`` calls, all Python overhead included.  Bar: >= 2x.

Every row first checks that it reproduces the single-model weights bit for bit.  Time is per
round (5 epochs of 64 models, or the whole fit); divide by ``extra_info["samples"]``.

    pytest bench/test_bench_many.py --benchmark-enable --benchmark-only --benchmark-group-by=group
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fastrnn import Model, train_many
from fastrnn import lowlevel as E
from fastrnn.bench import scenarios as S

M = 64
EPOCHS = 50
POOL_EPOCHS = 5
TUTORIAL = dict(pooling="last", optimizer="sgd", learning_rate=0.02, init="tutorial",
                min_count=1, early_stopping=False, gradient="tutorial", hidden_size=64,
                progress=False, shuffle=True)


def _data(seed):
    cell = S.Cell("tutorial", "", 0, "float64", "train", **{k: S.BASE[k] for k in "nVHO"},
                  epochs=POOL_EPOCHS, seed=seed)
    return S.make_data(cell)


def _models(dtype):
    """64 tutorial-sized models: (data, Trainer) pairs, same initial weights per seed."""
    runs, trainers = [], []
    for i in range(M):
        d = _data(i)
        P = E.Params(*(d.init[n] for n in E.Params.names), dtype=dtype)
        trainers.append(E.Trainer(P, lr=0.02, clip=1.0, optimizer="sgd", gradient="tutorial",
                                  pooling="last"))
        runs.append(SimpleNamespace(tokens=d.tokens, offsets=d.offsets, labels=d.labels,
                                    orders=d.orders))
    return runs, trainers


def _reset(trainers, init):
    for t, w in zip(trainers, init):
        for n, a in zip(E.Params.names, w):
            getattr(t.params, n)[...] = a
        t.params.sync_transpose()
        for s in t.state:
            s[...] = 0
        t.counters[...] = 0  # step count and row stamps: as a fresh Trainer
        t.mark[...] = 0


def _fit_one(r, t):
    for o in r.orders:
        t.epoch(r.tokens, r.offsets, r.labels, o)


def _single(runs, trainers):
    for r, t in zip(runs, trainers):
        _fit_one(r, t)


def _pool(runs, trainers, threads):
    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(_fit_one, r, t) for r, t in zip(runs, trainers)]:
            f.result()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("how", ["pool-1-thread", "pool-2-threads", "single-kernel-x64"])
def test_many_threads(benchmark, how, dtype):
    if how == "pool-2-threads" and E.available_cores() < 2:
        pytest.skip("needs 2 cores")
    runs, trainers = _models(dtype)
    init = [tuple(a.copy() for a in t.params.arrays()) for t in trainers]
    # reference: the single-model epochs from the calling thread, from the same weights
    ref_runs, ref_tr = _models(dtype)
    _single(ref_runs, ref_tr)
    threads = {"pool-1-thread": 1, "pool-2-threads": 2}.get(how)
    if threads is None:
        step = lambda: _single(runs, trainers)  # noqa: E731
    else:
        step = lambda: _pool(runs, trainers, threads)  # noqa: E731
    step()  # compile / warm
    _reset(trainers, init)
    step()
    for a, b in zip(trainers, ref_tr):
        for n in E.Params.names:
            assert np.array_equal(getattr(a.params, n), getattr(b.params, n)), n
    benchmark.group = f"many-threads/{dtype}"
    benchmark.extra_info["samples"] = POOL_EPOCHS * sum(len(r.labels) for r in runs)
    benchmark.pedantic(step, setup=lambda: _reset(trainers, init), rounds=30, warmup_rounds=2)


def _texts(seed):
    """A tutorial-sized text dataset: 58 sentences of ~4.3 words from 18 words."""
    d = _data(seed)
    words = [f"w{i}" for i in range(S.BASE["V"])]
    texts = [" ".join(words[w] for w in d.tokens[a:b])
             for a, b in zip(d.offsets[:-1], d.offsets[1:])]
    return texts, d.labels


def _timed_call(how, texts, labels, configs):
    """The timed call of a many-vs-fit row: ``train_many(threads=2)`` of ``configs``, or one
    ``Model.fit`` per config in turn (``how`` starts with "Model.fit")."""
    if how.startswith("Model.fit"):
        return lambda: [Model(**c).fit(texts, labels) for c in configs]
    return lambda: train_many((texts, labels), configs, threads=2, progress=False).models


def balance_ceiling(seconds, threads=2):
    """The best speed-up ``threads`` threads can give models that take ``seconds`` each when
    every thread takes the next model as it frees (``train_many``'s pool, in config order):
    their sum over the makespan of that greedy schedule.  Early-stopped models of very
    different lengths leave a thread idle at the end: on the tutorial data 16 default models'
    fit times capped it at 1.85-1.90x (the bench's runs and a script), before any cost of running two threads at once."""
    free = [0.0] * threads
    for t in seconds:
        i = free.index(min(free))
        free[i] += t
    return sum(seconds) / max(free)


def test_balance_ceiling():
    assert balance_ceiling([3, 1, 1, 1]) == 2.0  # the short ones fill the other thread
    assert balance_ceiling([4, 1, 1]) == 1.5
    assert balance_ceiling([1, 1, 4]) == 6 / 5  # the long one last: 1 + 4 on one thread
    assert balance_ceiling([2.0]) == 1.0


def _warm_then_timed(benchmark, run, **pedantic):
    """``(models of a first call of run, the timed rounds' last result)``: the first
    (compiling) call is not timed, then ``benchmark.pedantic(run, **pedantic)``.  With the
    benchmarks disabled (CI runs them once as tests) the first call is the only one (the
    second is ``None``): it exercises and checks the same code in half the time."""
    if benchmark.disabled:  # pedantic then makes the one plain call and returns its result
        return benchmark.pedantic(run, rounds=1, warmup_rounds=0), None
    models = run()  # warm (compile)
    return models, benchmark.pedantic(run, **pedantic)


def _check_bitwise(models, configs, texts, labels, indices, extra=()):
    """Models ``indices`` of a row equal, bit for bit, the same config fitted alone."""
    for i in indices:
        ref = Model(**configs[i]).fit(texts, labels)
        assert all(np.array_equal(getattr(models[i].params_, n), getattr(ref.params_, n))
                   for n in ref.params_.names + tuple(extra)), i


@pytest.mark.parametrize("how", ["train_many-2-threads", "Model.fit-x64"])
def test_many_vs_fit(benchmark, how):
    texts, labels = _texts(0)
    configs = [dict(TUTORIAL, seed=s, epochs=EPOCHS, dtype="float64") for s in range(M)]
    run = _timed_call(how, texts, labels, configs)
    benchmark.group = "many-vs-fit"
    benchmark.extra_info["samples"] = M * EPOCHS * len(labels)
    models, _ = _warm_then_timed(benchmark, run, rounds=5, warmup_rounds=1)
    _check_bitwise(models, configs, texts, labels, [5])


@pytest.mark.parametrize("how", ["train_many-2-threads", "Model.fit-x16"])
def test_many_vs_fit_early_stopping(benchmark, how):
    """``many-vs-fit-early-stopping``: 16 default models (early stopping on, seeds 0..15) on
    2,000 built-in sentences, ``train_many(threads=2)`` against 16 sequential ``Model.fit``.
    Bar (issue 13, on the tutorial data and MR): >= 1.7x on an otherwise idle 2-core machine.
    Models stop after different numbers of epochs: a stopped model frees its pool thread."""
    from fastrnn.datasets import load_demo
    (texts, labels), _ = load_demo(n_train=2000, n_test=10, seed=0)
    configs = [dict(seed=s, progress=False) for s in range(16)]
    run = _timed_call(how, texts, labels, configs)
    benchmark.group = "many-vs-fit-early-stopping"
    models, _ = _warm_then_timed(benchmark, run, rounds=3, warmup_rounds=0)
    benchmark.extra_info["epochs"] = sum(m.n_epochs_ for m in models)
    _check_bitwise(models, configs, texts, labels, [3])


#: ``../shared/data`` beside the repository (as ``tests/conftest.py``'s ``shared_data``), or
#: the folder named by ``FASTRNN_SHARED_DATA`` (a checkout elsewhere).
SHARED_DATA = Path(os.environ.get("FASTRNN_SHARED_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")


def _shared(name, n=None):
    from fastrnn.datasets import load_tsv
    path = SHARED_DATA / name / "train.tsv"
    if not path.is_file():
        pytest.skip(f"{path} is not present (set FASTRNN_SHARED_DATA to the folder holding "
                    "tutorial/ and mr/)")
    texts, labels = load_tsv(path)
    return list(texts)[:n], list(labels)[:n]


@pytest.mark.parametrize("how", ["train_many-2-threads", "Model.fit-x16"])
@pytest.mark.parametrize("data", ["tutorial", "mr"])
def test_many_vs_fit_early_stopping_shared_data(benchmark, how, data):
    """``many-vs-fit-early-stopping-<data>``: 16 default models (seeds 0..15) on the tutorial's
    training file or the first 2,000 MR training sentences, ``train_many(threads=2)`` against
    16 sequential ``Model.fit``; every model's weights (and n-gram table) bit-identical."""
    texts, labels = _shared(data, None if data == "tutorial" else 2000)
    configs = [dict(seed=s, progress=False) for s in range(16)]
    run = _timed_call(how, texts, labels, configs)
    benchmark.group = f"many-vs-fit-early-stopping-{data}"
    models, last = _warm_then_timed(benchmark, run, rounds=3, warmup_rounds=0)
    benchmark.extra_info["epochs"] = sum(m.n_epochs_ for m in models)
    _check_bitwise(models, configs, texts, labels, [0, 7], extra=("U",))
    if how.startswith("Model.fit") and last is not None:  # measured, not --benchmark-disable
        # the load-balance ceiling of these fits on 2 threads (their own times, one at a time)
        benchmark.extra_info["balance_ceiling"] = round(
            balance_ceiling([m.fit_time_ for m in last]), 3)


#: ``many-frozen-vectors``: a real vectors file (e.g. GloVe 6B 50d's ``.txt``) named by
#: ``FASTRNN_BENCH_VECTORS``, else a generated GloVe-format file of the corpus's words and
#: ``OTHER_WORDS`` others (50 dimensions).
BENCH_VECTORS = os.environ.get("FASTRNN_BENCH_VECTORS")
OTHER_WORDS = 20_000


@pytest.fixture(scope="module")
def vectors_file(tmp_path_factory):
    if BENCH_VECTORS:
        return Path(BENCH_VECTORS)
    from fastrnn.datasets import corpus_words
    words = corpus_words() + [f"other{i}" for i in range(OTHER_WORDS)]
    M = np.random.default_rng(0).standard_normal((len(words), 50)).round(5)
    path = tmp_path_factory.mktemp("vectors") / "vectors.txt"
    with open(path, "w", encoding="utf-8") as f:
        for w, row in zip(words, M):
            f.write(w + " " + " ".join(map(str, row)) + "\n")
    return path


@pytest.mark.parametrize("how", ["train_many-2-threads", "Model.fit-x4"])
def test_many_frozen_vectors_read_once(benchmark, how, vectors_file):
    """``many-frozen-vectors``: 4 default models with frozen ``embeddings=FILE`` (seeds 0..3,
    3 epochs) on 2,000 built-in sentences: ``train_many(threads=2)`` reads the file once for
    all four (each picks its rows from memory) against 4 sequential ``Model.fit``, each
    reading it; weights bit-identical (the CHANGELOG's figures: GloVe 6B 50d)."""
    from fastrnn.datasets import load_demo
    (texts, labels), _ = load_demo(n_train=2000, n_test=10, seed=0)
    configs = [dict(seed=s, epochs=3, early_stopping=False, embeddings=str(vectors_file),
                    progress=False) for s in range(4)]
    run = _timed_call(how, texts, labels, configs)
    benchmark.group = "many-frozen-vectors"
    benchmark.extra_info["vectors"] = str(vectors_file) if BENCH_VECTORS else \
        f"generated, {OTHER_WORDS} other words"
    models, _ = _warm_then_timed(benchmark, run, rounds=3, warmup_rounds=0)
    _check_bitwise(models, configs, texts, labels, [2], extra=("Ext",))


@pytest.mark.parametrize("how", ["plain", "token-memo", "shared-corpus"])
@pytest.mark.parametrize("data", ["builtin", "mr"])
def test_prepare_per_model(benchmark, how, data):
    """``many-prepare-<data>``: one default model's preparation (``fastrnn._fit.prepare``,
    all under the GIL) on 2,000 sentences, as ``Model.fit`` does it (plain), with
    ``train_many``'s token memo alone (how it was), and from the dataset coded once
    (``fastrnn._shared_corpus.SharedCorpus``, how ``train_many`` does it; the corpus is built
    once outside the timing).  Same arrays in all three (``tests/test_shared_corpus.py``)."""
    from fastrnn import _fit
    from fastrnn._shared_corpus import SharedCorpus
    from fastrnn.vocab import shared_tokens
    if data == "mr":
        texts, labels = _shared("mr", 2000)
    else:
        from fastrnn.datasets import load_demo
        (texts, labels), _ = load_demo(n_train=2000, n_test=10, seed=0)
        texts, labels = list(texts), list(labels)
    corpus = SharedCorpus(texts)
    model = Model(seed=0, progress=False)
    if how == "plain":
        step = lambda: _fit.prepare(model, texts, labels)  # noqa: E731
    else:
        kw = {"corpus": corpus} if how == "shared-corpus" else {}

        def step():
            with shared_tokens(corpus.memo):
                return _fit.prepare(model, texts, labels, **kw)
    run = step()
    assert run.vocab.words == _fit.prepare(model, texts, labels).vocab.words
    benchmark.group = f"many-prepare-{data}"
    benchmark.pedantic(step, rounds=10, warmup_rounds=1)
