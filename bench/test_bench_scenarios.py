"""pytest-benchmark versions of the fastrnn-bench scenarios at small sizes.

Question: how much faster than the numpy reference are the kernels on each scenario's
workload?  The numba and numpy rows of one cell share a ``group``, so pytest-benchmark's table
shows their ratio; ``benchmark.pedantic(..., warmup_rounds=1)`` keeps JIT compilation out of the
timing, and ``setup`` restores the initial weights before every round (one round = the cell's
epochs, or one predict_proba).  Each test also checks that the round reproduced the reference's
result.  Times are per round, not per sample: divide by ``extra_info["samples"]``.

    pytest bench/test_bench_scenarios.py --benchmark-enable --benchmark-group-by=group
    pytest bench/test_bench_scenarios.py      # as plain tests (addopts has --benchmark-disable)
"""

import pytest

from fastrnn.bench import backends as B
from fastrnn.bench import runner as R
from fastrnn.bench import scenarios as S

OPTS = dict(reference="dense", seed=0)
CELLS = [
    ("tutorial", 58, dict(samples=58, epochs=10)),
    ("hidden", 128, dict(samples=16, epochs=2)),
    ("length", 50, dict(samples=8, epochs=2)),
    ("vocab", 10000, dict(samples=8, epochs=2)),
    ("infer", 1000, dict()),
    ("threads", 1, dict(samples=2000)),
]
DTYPES = ["float64", "float32"]
BACKENDS = {"numba": B.NumbaBackend, "numpy": lambda: B.NumpyBackend(dense=True)}

_data = {}
_oracle = {}


def _cell(name, value, extra, dtype):
    return R.build_cells([name], [dtype], dict(OPTS, **extra), values=[value])[0]


def _get(cell):
    if cell.key not in _data:
        _data[cell.key] = S.make_data(cell)
        ref = B.NumpyBackend(dense=False)
        st = ref.prepare(cell, _data[cell.key])
        ref.run(st)
        _oracle[cell.key] = ref.result(st)
    return _data[cell.key], _oracle[cell.key]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("name, value, extra", CELLS, ids=[c[0] for c in CELLS])
def test_scenario(benchmark, name, value, extra, dtype, backend):
    cell = _cell(name, value, extra, dtype)
    data, oracle = _get(cell)
    be = BACKENDS[backend]()
    R._set_threads(cell)
    be.warm(cell, data)
    benchmark.group = cell.key
    samples = cell.n * (cell.epochs if cell.kind == "train" else 1)
    benchmark.extra_info.update(samples=samples, flops_per_sample=S.cell_flops(cell, data))
    last = {}

    def setup():
        last["st"] = be.prepare(cell, data)
        return (last["st"],), {}

    benchmark.pedantic(be.run, setup=setup, rounds=3, warmup_rounds=1, iterations=1)
    assert R.rel_error(be.result(last["st"]), oracle,
                       data.init if cell.kind == "train" else None) <= R.TOL[dtype]
    if cell.threads:
        import numba
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
