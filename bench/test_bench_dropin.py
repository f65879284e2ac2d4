"""How much faster is the drop-in ``fastrnn.RNN`` than the numpy reference, called per sample?

The tutorial's training loop calls ``forward`` and ``backprop`` from Python once per sentence.
Group ``dropin-f64`` times one epoch of that loop over the tutorial workload (58 sentences of 2-6
words, vocabulary 18, H = 64, 2 classes) through ``fastrnn.RNN`` (forward, a numpy softmax,
``d_y = p - onehot``, backprop) beside ``reference.train_epoch(dense=True)``, the tutorial's
algorithm in plain numpy (forward, softmax, BPTT, the full (V, H) input gradient clipped and
applied), on the same weights and order.  Issue 13's bar: >= 5x (measured 6.2x, numpy 1.26:
6.5x, with ``--benchmark-timer=time.process_time`` on a loaded 2-core machine, 2026-12-01;
4.4-4.7x before the kernels kept ``WhhT`` between calls, 3.0x before the one-hot /
per-call-check work).  ``test_dropin_per_sample_one_hot`` feeds the tutorial's
one-hot inputs instead of word ids; ``test_dropin_train_epoch`` adds the
drop-in's whole-epoch fast path (``RNN.train_epoch``, one kernel call).

Run: ``pytest bench/test_bench_dropin.py --benchmark-enable --benchmark-only``.
"""

import numpy as np
import pytest

from fastrnn import RNN
from fastrnn import reference as R

V, H, O, N = 18, 64, 2, 58


@pytest.fixture(scope="module")
def workload():
    rng = np.random.default_rng(0)
    sents = [rng.integers(0, V, rng.integers(2, 7)).tolist() for _ in range(N)]
    labels = rng.integers(0, O, N)
    return sents, labels


def softmax(y):
    e = np.exp(y - y.max())
    return e / e.sum()


def dropin_epoch(rnn, sents, labels):
    for s, c in zip(sents, labels):
        out, _ = rnn.forward(s)
        d_y = softmax(out)
        d_y[c] -= 1
        rnn.backprop(d_y)


def test_dropin_per_sample(benchmark, workload):
    sents, labels = workload
    benchmark.group = "dropin-f64"
    benchmark.extra_info["samples_per_epoch"] = N
    rnn = RNN(V, O, seed=1)
    benchmark.pedantic(dropin_epoch, args=(rnn, sents, labels), rounds=50, warmup_rounds=1)
    assert np.isfinite(rnn.Whh).all()


def test_dropin_per_sample_one_hot(benchmark, workload):
    """The same loop with the tutorial's inputs: lists of one-hot ``(V, 1)`` float64 vectors."""
    sents, labels = workload
    one_hot = [[np.eye(V)[:, [w]] for w in s] for s in sents]
    benchmark.group = "dropin-f64"
    benchmark.extra_info["samples_per_epoch"] = N
    rnn = RNN(V, O, seed=1)
    benchmark.pedantic(dropin_epoch, args=(rnn, one_hot, labels), rounds=50, warmup_rounds=1)
    assert np.isfinite(rnn.Whh).all()


def test_dropin_train_epoch(benchmark, workload):
    sents, labels = workload
    benchmark.group = "dropin-f64"
    benchmark.extra_info["samples_per_epoch"] = N
    rnn = RNN(V, O, seed=1)
    loss, acc = benchmark.pedantic(rnn.train_epoch, args=(sents, labels), rounds=200,
                                   warmup_rounds=1)
    assert np.isfinite(loss)


def test_reference_per_sample(benchmark, workload):
    sents, labels = workload
    benchmark.group = "dropin-f64"
    benchmark.extra_info["samples_per_epoch"] = N
    rnn = RNN(V, O, seed=1)
    P = {"WxhT": rnn.Wxh.T.copy(), "Whh": rnn.Whh.copy(), "Why": rnn.Why.copy(),
         "bh": rnn.bh.ravel().copy(), "by": rnn.by.ravel().copy()}
    state = R.init_optimizer_state("sgd", *P.values())
    tokens = np.concatenate(sents).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sents])]).astype(np.int64)
    order = np.arange(N)
    benchmark.pedantic(R.train_epoch, args=(tokens, offsets, labels, order, P, state),
                       kwargs=dict(lr=0.02, gradient="tutorial", dense=True), rounds=10,
                       warmup_rounds=1)
    assert np.isfinite(P["Whh"]).all()
