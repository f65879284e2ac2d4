"""pytest-benchmark: many tutorial-sized models at once (issue 5).

Questions, one ``group`` each (compare rows within a group; ratios from one run):

* ``many-threads``: 64 tutorial-sized models (58 sentences of ~4.3 words, V = 18, H = 64,
  tutorial recipe) for one epoch in one batch-kernel call, on 1 and on 2 threads, against the
  same 64 models trained by 64 single-model ``train_epoch`` calls.  Bars: 2 threads >= 1.8x the
  throughput of 1 thread; the batch on 1 thread within 10% of the single-model kernel per
  sample.
* ``many-vs-fit``: 64 models x 50 epochs (PERFORMANCE.md "Scale and many models") through the public API, ``train_many`` (2 threads)
  against 64 sequential ``Model.fit`` calls, all Python overhead included.  Bar: >= 2x.

Every row first checks that it reproduces the single-model weights bit for bit.  Time is per
round (one epoch of 64 models, or the whole fit); divide by ``extra_info["samples"]``.

    pytest bench/test_bench_many.py --benchmark-enable --benchmark-only --benchmark-group-by=group
"""

from types import SimpleNamespace

import numba
import numpy as np
import pytest

from fastrnn import Model, train_many
from fastrnn import _engine as E
from fastrnn import kernels as K
from fastrnn.bench import scenarios as S
from fastrnn.many import _Group

M = 64
EPOCHS = 50
TUTORIAL = dict(pooling="last", optimizer="sgd", learning_rate=0.02, init="tutorial",
                min_count=1, early_stopping=False, gradient="tutorial", hidden_size=64,
                progress=False, shuffle=True)


def _data(seed):
    cell = S.Cell("tutorial", "", 0, "float64", "train", **{k: S.BASE[k] for k in "nVHO"},
                  epochs=1, seed=seed)
    return S.make_data(cell)


def _models(dtype):
    """64 tutorial-sized models: (run-like data, Trainer) pairs, same initial weights per seed."""
    runs, trainers = [], []
    for i in range(M):
        d = _data(i)
        P = E.Params(*(d.init[n] for n in E.Params.names), dtype=dtype)
        t = E.Trainer(P, lr=0.02, clip=1.0, optimizer="sgd", gradient="tutorial",
                      pooling="last")
        t._grow(int(np.diff(d.offsets).max()))  # workspace for the longest sentence
        order = d.orders[0]
        runs.append(SimpleNamespace(tokens=d.tokens, offsets=d.offsets, labels=d.labels,
                                    next_order=lambda o=order: o))
        trainers.append(t)
    return runs, trainers


def _reset(trainers, init):
    for t, w in zip(trainers, init):
        for n, a in zip(E.Params.names, w):
            getattr(t.params, n)[...] = a
        t.params.sync_transpose()


def _single_epochs(runs, trainers):
    for r, t in zip(runs, trainers):
        K.TRAIN_EPOCH_BY_OPTIMIZER[t.optimizer](
            *t.kernel_args(r.tokens, r.offsets, r.labels, r.next_order()))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("how", ["batch-1-thread", "batch-2-threads", "single-kernel-x64"])
def test_many_threads(benchmark, how, dtype):
    if how == "batch-2-threads" and numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 cores")
    runs, trainers = _models(dtype)
    init = [tuple(a.copy() for a in t.params.arrays()) for t in trainers]
    group = _Group(runs, trainers)
    active = list(range(M))
    # reference: one single-model epoch per model, from the same weights
    ref_runs, ref_tr = _models(dtype)
    _single_epochs(ref_runs, ref_tr)
    threads = {"batch-1-thread": 1, "batch-2-threads": 2}.get(how, 1)
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        if how == "single-kernel-x64":
            step = lambda: _single_epochs(runs, trainers)  # noqa: E731
        else:
            step = lambda: group.epoch(active)  # noqa: E731
        step()  # compile / warm
        _reset(trainers, init)
        step()
        for a, b in zip(trainers, ref_tr):
            for n in E.Params.names:
                assert np.array_equal(getattr(a.params, n), getattr(b.params, n)), n
        benchmark.group = f"many-threads/{dtype}"
        benchmark.extra_info["samples"] = sum(len(r.labels) for r in runs)
        benchmark.pedantic(step, setup=lambda: _reset(trainers, init), rounds=30,
                           warmup_rounds=2)
    finally:
        numba.set_num_threads(old)


def _texts(seed):
    """A tutorial-sized text dataset: 58 sentences of ~4.3 words from 18 words."""
    d = _data(seed)
    words = [f"w{i}" for i in range(S.BASE["V"])]
    texts = [" ".join(words[w] for w in d.tokens[a:b])
             for a, b in zip(d.offsets[:-1], d.offsets[1:])]
    return texts, d.labels


@pytest.mark.parametrize("how", ["train_many-2-threads", "Model.fit-x64"])
def test_many_vs_fit(benchmark, how):
    texts, labels = _texts(0)
    configs = [dict(TUTORIAL, seed=s, epochs=EPOCHS, dtype="float64") for s in range(M)]
    if how == "Model.fit-x64":
        def run():
            return [Model(**c).fit(texts, labels) for c in configs]
    else:
        def run():
            return train_many((texts, labels), configs, threads=2, progress=False).models
    models = run()  # warm (compile)
    ref = Model(**configs[5]).fit(texts, labels)
    assert all(np.array_equal(getattr(models[5].params_, n), getattr(ref.params_, n))
               for n in E.Params.names)
    benchmark.group = "many-vs-fit"
    benchmark.extra_info["samples"] = M * EPOCHS * len(labels)
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
