"""How much does a GRU or LSTM epoch cost against the tanh epoch, and against the numpy reference?

Workload (MR-like): ``N_SENT`` generated sentences of 20 words, vocabulary 10,000 drawn with a
Zipf-like (1/rank) frequency so that words repeat as in text, 2 classes; Adagrad lr 0.1, mean
pooling, elementwise clip 1, exact gradient, H = 32 and 64, float32 and float64.  Every epoch
runs from the same initial weights and state (a fresh trainer per round), so rounds are equal.

* ``epoch-<cell>-H<H>-<dtype>``: one epoch through ``fastrnn.lowlevel.Trainer`` (tanh) or
  ``fastrnn.lowlevel.GatedTrainer`` (gru, lstm).  Issue bars: GRU/tanh <= 3.5x, LSTM/tanh
  <= 4.5x, same H and dtype.
* ``reference-<cell>-H32-f64``: the numpy reference on the first ``N_REF`` sentences (per
  sample: divide by ``N_REF``; the kernel's per-sample time is its epoch over ``N_SENT``).
  Bar: numba >= 20x the reference per sample.

:func:`cell_ratios` runs the same measurements without pytest-benchmark and returns rows (dicts
with a ``cell`` field); ``fastrnn-bench run cells`` (:mod:`fastrnn.bench.cells`) is the other
question: each cell's SGD epoch against the numpy reference and PyTorch eager, weights
cross-checked.  :func:`cold_compile` times a
cold first epoch (fresh ``NUMBA_CACHE_DIR``, a new process) per cell (bar: a gated cell's cold
compile <= 1.25x tanh's).  ``python bench/test_bench_cells.py [--cold]`` prints both.

Times are CPU seconds of this process (``time.process_time``, best of several rounds, the
cells interleaved): the machines are shared, and wall time counts other processes' work.

Run: ``pytest bench/test_bench_cells.py --benchmark-enable --benchmark-only``; without those
flags every case runs once as a plain test.
"""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from fastrnn import lowlevel as E
from fastrnn import lowlevel as GE
from fastrnn import reference as R
from fastrnn import reference_gated as RG

N_SENT = 2000
N_REF = 40
V = 10_000
LEN = 20
CELLS = ("tanh", "gru", "lstm")
HP = dict(lr=0.1, clip=1.0, optimizer="adagrad", pooling="mean")


def mr_like_corpus(n=N_SENT, V=V, length=LEN, O=2, seed=0):
    """``(tokens int32, offsets int64, labels int64)``: n sentences of ``length`` words."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, V + 1)
    tokens = rng.choice(V, size=n * length, p=p / p.sum()).astype(np.int32)
    offsets = (np.arange(n + 1) * length).astype(np.int64)
    labels = rng.integers(0, O, n).astype(np.int64)
    return tokens, offsets, labels


def make_trainer(cell, H, dtype, V=V, O=2, seed=1):
    rng = np.random.default_rng(seed)
    if cell == "tanh":
        P = E.Params.initial(V, H, O, init="xavier", rng=rng, dtype=dtype)
        return E.Trainer(P, gradient="exact", **HP)
    P = GE.GatedParams.initial(V, H, O, cell, init="xavier", rng=rng, dtype=dtype)
    return GE.GatedTrainer(P, **HP)


def reference_epoch(cell, H, corpus, n):
    """A callable running the numpy reference over the first ``n`` sentences (fresh copies)."""
    tr = make_trainer(cell, H, np.float64)
    tokens, offsets, labels = corpus
    order = np.arange(n, dtype=np.int64)
    if cell == "tanh":
        P0 = {n: getattr(tr.params, n) for n in R.PARAM_NAMES}

        def run():
            P = {k: v.copy() for k, v in P0.items()}
            S = R.init_optimizer_state("adagrad", *P.values())
            return R.train_epoch(tokens, offsets, labels, order, P, S, gradient="exact", **HP)
    else:
        P0 = tr.params.as_dict()

        def run():
            P = {k: v.copy() for k, v in P0.items()}
            S = RG.init_optimizer_state("adagrad", P, cell)
            return RG.train_epoch(tokens, offsets, labels, order, P, S, cell, **HP)
    return run


def kernel_epoch(cell, H, dtype, corpus):
    """``(setup, run)``: ``setup()`` makes a fresh trainer (same weights, zero state) and
    returns ``((trainer,), {})``; ``run(trainer)`` is one kernel epoch over the corpus (only
    this is timed)."""
    tokens, offsets, labels = corpus
    order = np.arange(len(offsets) - 1, dtype=np.int64)
    make_trainer(cell, H, dtype).epoch(tokens, offsets, labels, order)  # compile / load cache

    def setup():
        return (make_trainer(cell, H, dtype),), {}

    def run(tr):
        return tr.epoch(tokens, offsets, labels, order)
    return setup, run


def _best(fn, repeat, setup=None):
    best = np.inf
    for _ in range(repeat):
        args, kwargs = setup() if setup is not None else ((), {})
        t0 = time.process_time()  # CPU time: the 2-core machine is shared, wall time is not ours
        fn(*args, **kwargs)
        best = min(best, time.process_time() - t0)
    return best


def cell_ratios(Hs=(32, 64), dtypes=(np.float64, np.float32), repeat=7, ref_repeat=2):
    """Epoch seconds per (cell, H, dtype), the gated/tanh ratios, and numba-vs-numpy per sample.

    Rows: ``{"cell", "H", "dtype", "epoch_s", "us_per_sample", "vs_tanh"}`` and, for float64
    H = 32, ``"reference_us_per_sample"`` and ``"numba_vs_numpy"``.  The trainer set-up (a
    fresh model per round: allocation of the weights, state and V x GH gradient buffer) is not
    timed.
    """
    corpus = mr_like_corpus()
    rows = []
    for H in Hs:
        for dt in dtypes:
            kernels = {c: kernel_epoch(c, H, dt, corpus) for c in CELLS}
            t = {c: np.inf for c in CELLS}
            for _ in range(repeat):  # cells interleaved: load from other processes hits all
                for c in CELLS:
                    t[c] = min(t[c], _best(kernels[c][1], 1, kernels[c][0]))
            for c in CELLS:
                row = dict(cell=c, H=H, dtype=np.dtype(dt).name, epoch_s=t[c],
                           us_per_sample=1e6 * t[c] / N_SENT, vs_tanh=t[c] / t["tanh"])
                if dt == np.float64 and H == Hs[0]:
                    ref = _best(reference_epoch(c, H, corpus, N_REF), ref_repeat) / N_REF
                    row.update(reference_us_per_sample=1e6 * ref,
                               numba_vs_numpy=ref / (t[c] / N_SENT))
                rows.append(row)
    return rows


_COLD = """
import sys, time
import numpy as np
from fastrnn import lowlevel as E
from fastrnn import lowlevel as GE
cell, dtype = sys.argv[1], np.dtype(sys.argv[2])
rng = np.random.default_rng(0)
lens = rng.integers(1, 8, 5)
offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
tokens = rng.integers(0, 10, offsets[-1]).astype(np.int32)
labels = rng.integers(0, 2, 5).astype(np.int64)
hp = dict(lr=0.1, optimizer=sys.argv[3], pooling="mean")
if cell == "tanh":
    tr = E.Trainer(E.Params.initial(10, 8, 2, init="xavier", dtype=dtype), **hp)
else:
    tr = GE.GatedTrainer(GE.GatedParams.initial(10, 8, 2, cell, dtype=dtype), **hp)
c0, t0 = time.process_time(), time.perf_counter()
tr.epoch(tokens, offsets, labels, np.arange(5, dtype=np.int64))
print(time.process_time() - c0, time.perf_counter() - t0)
"""


def cold_compile(cells=CELLS, dtype="float32", optimizer="adagrad"):
    """Rows ``{"cell", "dtype", "optimizer", "cold_cpu_s", "cold_wall_s", "vs_tanh"}``: the
    first epoch of a new process with an empty numba cache (one (cell, optimizer, dtype) epoch
    kernel compiled; import time excluded)."""
    out = {}
    for cell in cells:
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, NUMBA_CACHE_DIR=d)
            res = subprocess.run([sys.executable, "-c", _COLD, cell, dtype, optimizer], env=env,
                                 capture_output=True, text=True, check=True)
        cpu, wall = (float(v) for v in res.stdout.split())
        out[cell] = (cpu, wall)
    base = out.get("tanh", (np.nan,))[0]
    return [dict(cell=c, dtype=dtype, optimizer=optimizer, cold_cpu_s=cpu, cold_wall_s=wall,
                 vs_tanh=cpu / base) for c, (cpu, wall) in out.items()]


@pytest.fixture(scope="module")
def corpus():
    return mr_like_corpus()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("H", [32, 64])
@pytest.mark.parametrize("cell", CELLS)
def test_epoch(benchmark, corpus, cell, H, dtype):
    benchmark.group = "epoch-H%d-%s" % (H, np.dtype(dtype).name)
    benchmark.name = "epoch-%s-H%d-%s" % (cell, H, np.dtype(dtype).name)
    setup, run = kernel_epoch(cell, H, dtype, corpus)
    loss, correct = benchmark.pedantic(run, setup=setup, rounds=5, warmup_rounds=1)
    assert np.isfinite(loss) and 0 <= correct <= N_SENT


@pytest.mark.parametrize("cell", CELLS)
def test_reference(benchmark, corpus, cell):
    benchmark.group = "reference-H32-f64"
    benchmark.name = "reference-%s-H32-f64-%dsent" % (cell, N_REF)
    loss, correct, step = benchmark.pedantic(reference_epoch(cell, 32, corpus, N_REF), rounds=2)
    assert np.isfinite(loss) and step == N_REF


if __name__ == "__main__":
    for row in cell_ratios() + (cold_compile() if "--cold" in sys.argv else []):
        print("  ".join("%s=%s" % (k, ("%.4g" % v) if isinstance(v, float) else v)
                        for k, v in row.items()))
