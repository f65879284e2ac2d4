"""Benchmark scenarios: which cells (workload sizes) to measure, their data and their FLOP counts.

Every scenario starts from the tutorial's workload (58 sentences of ~4.3 words, an 18-word
vocabulary, H = 64 hidden units, 2 classes) and sweeps one parameter.  A *cell* is one point of a
sweep in one dtype; its corpus, initial weights and per-epoch sample orders come from one seeded
RNG, so every backend trains the same model from the same weights on the same orders.

FLOPs per training sample
-------------------------
For a sentence of ``T`` words of which ``U`` are distinct, ``H`` hidden units and ``O`` classes,
the minimal per-sample algorithm (gather rows of ``WxhT`` instead of one-hot products, no matvec
for ``h_0 = 0``, no ``d_h`` matvec below the first step, sparse update of the input rows, SGD with
elementwise clipping, last-state pooling) costs::

    F_train = 6 (T-1) H^2          forward Whh @ h (2 H^2 per step after the first),
                                   backward Whh.T @ g (2 H^2) and dWhh += g h^T (2 H^2)
            + 4 H^2                clip (2) + scale (1) + subtract (1) per Whh element
            + 6 T H                gather + bias (1), (1 - h^2) * dh (3), dbh (1), dWxh row (1)
            + 4 U H                update of the sentence's distinct input rows
            + 9 O H                readout (2), Why.T @ dy (2), dWhy (1), update (4)
            + 4 H + 10 O           bh update; by bias, softmax, dy, by update

plus ``T H`` tanh evaluations, counted apart (a libm tanh is ~20-40 FLOP-equivalents).  The
tutorial workload averages ~102 k FLOPs and 278 tanh per sample.  Inference (``infer``,
``threads``) costs ``F_infer = 2 (T-1) H^2 + T H + 2 O H + 5 O`` per sentence.  The dense
reference does ~``10 V H`` more per sample (it builds, clips and applies the whole ``(V, H)``
input gradient); GFLOP/s always counts ``F_train``, the useful work.
"""

import math
from dataclasses import dataclass, field, asdict

import numpy as np

#: The tutorial's workload.
BASE = dict(n=58, V=18, H=64, O=2, mean_len=4.345)
#: Refuse cells whose estimated memory exceeds this many bytes.
MAX_BYTES = 8 * 2**30
#: Budget of minimal FLOPs (plus the dense reference's extra work) per epoch in sweeps: sets the
#: number of sentences per cell so that a sweep point costs about the same.
FLOP_BUDGET = 1.5e8
#: Initial weights: "tutorial" (randn / 1000, as the tutorial) or "xavier".
INIT = "tutorial"


def flops_train(T, U, H, O):
    """Minimal FLOPs of one training sample (see the module docstring)."""
    T = np.asarray(T, dtype=np.float64)
    U = np.asarray(U, dtype=np.float64)
    return (6 * (T - 1) * H * H + 4 * H * H + 6 * T * H + 4 * U * H + 9 * O * H
            + 4 * H + 10 * O)


def flops_infer(T, H, O):
    """FLOPs of one sentence's forward pass and softmax."""
    T = np.asarray(T, dtype=np.float64)
    return 2 * (T - 1) * H * H + T * H + 2 * O * H + 5 * O


@dataclass
class Cell:
    """One measured point: a workload in one dtype."""
    scenario: str
    param: str           # the swept parameter ("" for tutorial)
    value: int           # its value
    dtype: str           # "float64" or "float32"
    kind: str            # "train" or "infer"
    n: int               # sentences
    V: int
    H: int
    O: int
    length: int = 0      # fixed sentence length, 0 = random with mean BASE["mean_len"]
    epochs: int = 1      # timed epochs per repeat (train)
    threads: int = 0     # numba threads (infer), 0 = leave as is
    seed: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def key(self):
        return "%s/%s=%s/%s" % (self.scenario, self.param or "-", self.value, self.dtype)

    def to_dict(self):
        return asdict(self)


@dataclass
class Data:
    """A cell's inputs, shared by all backends (float64 initial weights)."""
    tokens: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    orders: list
    init: dict  # WxhT (V, H), Whh, Why, bh, by as float64

    @property
    def lengths(self):
        return np.diff(self.offsets)


def lengths_for(cell, rng):
    if cell.length:
        return np.full(cell.n, cell.length, dtype=np.int64)
    return 1 + rng.poisson(BASE["mean_len"] - 1, cell.n).astype(np.int64)


def make_data(cell):
    """The seeded corpus, orders and initial weights of a cell."""
    rng = np.random.default_rng(cell.seed)
    lens = lengths_for(cell, rng)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    tokens = rng.integers(0, cell.V, int(offsets[-1])).astype(np.int32)
    labels = rng.integers(0, cell.O, cell.n).astype(np.int64)
    orders = [rng.permutation(cell.n).astype(np.int64) for _ in range(max(cell.epochs, 1))]
    # Glorot-uniform weights drawn in the tutorial's order (Whh, Wxh, Why), zero biases
    from fastrnn.lowlevel import init_weights
    Whh, Wxh, Why = init_weights(cell.V, cell.H, cell.O, INIT, rng)
    init = dict(WxhT=np.ascontiguousarray(Wxh.T), Whh=Whh, Why=Why,
                bh=np.zeros(cell.H), by=np.zeros(cell.O))
    return Data(tokens, offsets, labels, orders, init)


def cell_flops(cell, data):
    """Mean FLOPs per sample (training sample or predicted sentence) of the cell's corpus."""
    lens = data.lengths
    if cell.kind == "infer":
        return float(np.mean(flops_infer(lens, cell.H, cell.O)))
    uniq = np.array([len(np.unique(data.tokens[a:b]))
                     for a, b in zip(data.offsets[:-1], data.offsets[1:])])
    return float(np.mean(flops_train(lens, uniq, cell.H, cell.O)))


def estimate_bytes(cell):
    """Upper estimate of the memory one cell needs across its backends (bytes)."""
    if cell.kind == "many":
        return cell.value * model_bytes(cell) + estimate_bytes(
            Cell(cell.scenario, "", 1, cell.dtype, "train", cell.n, cell.V, cell.H, cell.O,
                 length=cell.length, epochs=cell.epochs))
    item = 8  # float64 initial weights and the reference's float64 temporaries dominate
    T = cell.length or 40  # random lengths stay far below 40
    VH, HH = float(cell.V) * cell.H, float(cell.H) ** 2
    weights = 10 * VH + 10 * HH + 4 * cell.O * cell.H
    work = 6 * (T + 1) * cell.H
    corpus = float(cell.n) * T * 12 + cell.n * 24 + cell.n * max(cell.epochs, 1) * 8
    return item * (weights + work) + corpus


def model_bytes(cell):
    """Upper estimate of one model of the ``models`` scenario: two ``Trainer`` copies (batch and
    single-model reference), its float64 initial weights and orders, array and object overhead
    (tracemalloc measured ~170 KB per Trainer at the tutorial's shape in float64)."""
    T = cell.length or 40
    VH, HH, OH = float(cell.V) * cell.H, float(cell.H) ** 2, float(cell.O) * cell.H
    trainer = 8 * (3 * HH + 2 * VH + 2 * OH + (2 * T + 12) * cell.H) + 30 * 300 + 4096
    return 2 * trainer + 8 * (HH + VH + OH) + 8 * cell.n * max(cell.epochs, 1) + 2048


def sentences_for(H, mean_len, V, dense=True, lo=4, hi=BASE["n"]):
    """Sentences per cell so that one epoch costs about FLOP_BUDGET."""
    per = float(flops_train(mean_len, mean_len, H, 2)) + (10.0 * V * H if dense else 0.0)
    return int(min(hi, max(lo, math.ceil(FLOP_BUDGET / per))))


# --------------------------------------------------------------------------------------------
# the scenarios
# --------------------------------------------------------------------------------------------
class Scenario:
    name = ""
    param = ""
    kind = "train"
    help = ""
    defaults = ()
    quick = ()
    lo, hi = 1, None

    def values(self, override=None, quick=False):
        if override:
            return list(override)
        return list(self.quick if quick else self.defaults)

    def cell(self, value, dtype, opts):
        raise NotImplementedError


def _train_cell(name, param, value, dtype, opts, H=None, V=None, length=0, n=None):
    if H is None:
        H = opts.get("hidden") or BASE["H"]
    if V is None:
        V = opts.get("vocab") or BASE["V"]
    length = length or opts.get("length") or 0
    mean_len = length or BASE["mean_len"]
    if n is None:
        n = opts.get("samples") or sentences_for(H, mean_len, V, opts.get("reference") == "dense")
    return Cell(name, param, int(value), dtype, "train", int(n), int(V), int(H), BASE["O"],
                length=int(length), epochs=opts.get("epochs") or 3, seed=opts.get("seed", 0))


class Tutorial(Scenario):
    name, param = "tutorial", ""
    help = "the tutorial's workload: 58 sentences of ~4.3 words, V=18, H=64, 2 classes"
    defaults = quick = (58,)

    def cell(self, value, dtype, opts):
        c = _train_cell(self.name, "samples", value, dtype, opts, n=opts.get("samples") or 58)
        c.param, c.value = "", c.n
        c.epochs = opts.get("epochs") or 10
        return c


class Hidden(Scenario):
    name, param = "hidden", "H"
    help = "sweep the hidden size H (16..512)"
    defaults = (16, 32, 64, 128, 256, 512)
    quick = (16, 64)
    hi = 8192

    def cell(self, value, dtype, opts):
        return _train_cell(self.name, self.param, value, dtype, opts, H=value)


class Length(Scenario):
    name, param = "length", "T"
    help = "sweep the sentence length T (1..1000 words, all sentences the same length)"
    defaults = (1, 3, 10, 30, 100, 300, 1000)
    quick = (1, 10)
    hi = 10**6

    def cell(self, value, dtype, opts):
        return _train_cell(self.name, self.param, value, dtype, opts, length=value)


class Vocab(Scenario):
    name, param = "vocab", "V"
    help = "sweep the vocabulary size V (18..100,000 words)"
    defaults = (18, 100, 1000, 10000, 100000)
    quick = (18, 1000)
    hi = 10**9

    def cell(self, value, dtype, opts):
        return _train_cell(self.name, self.param, value, dtype, opts, V=value)


class Infer(Scenario):
    name, param, kind = "infer", "n", "infer"
    help = "batch prediction throughput (sentences/s) for n sentences at the tutorial's shape"
    defaults = (100, 1000, 10000)
    quick = (1000,)
    hi = 10**8

    def cell(self, value, dtype, opts):
        return Cell(self.name, self.param, int(value), dtype, "infer", int(value),
                    opts.get("vocab") or BASE["V"], opts.get("hidden") or BASE["H"], BASE["O"],
                    length=opts.get("length") or 0, epochs=1, seed=opts.get("seed", 0))


class Threads(Scenario):
    name, param, kind = "threads", "threads", "infer"
    help = "predict_proba (the parallel kernel) on 1..all cores, 5000 sentences"

    @property
    def hi(self):
        import numba
        return numba.config.NUMBA_NUM_THREADS

    def values(self, override=None, quick=False):
        if override:
            return list(override)
        return list(range(1, self.hi + 1))

    def cell(self, value, dtype, opts):
        n = opts.get("samples") or 5000
        return Cell(self.name, self.param, int(value), dtype, "infer", int(n),
                    opts.get("vocab") or BASE["V"], opts.get("hidden") or BASE["H"], BASE["O"],
                    length=opts.get("length") or 0, epochs=1, threads=int(value),
                    seed=opts.get("seed", 0))


class Models(Scenario):
    name, param, kind = "models", "M", "many"
    help = ("M tutorial-sized models in one batch-kernel call per epoch, 1 thread and all "
            "cores, vs the single-model kernel")
    defaults = (1, 4, 16, 64, 256, 1024)
    quick = (1, 4, 16)
    hi = 10**6

    def cell(self, value, dtype, opts):
        return Cell(self.name, self.param, int(value), dtype, "many",
                    opts.get("samples") or BASE["n"],
                    opts.get("vocab") or BASE["V"], opts.get("hidden") or BASE["H"], BASE["O"],
                    length=opts.get("length") or 0, epochs=opts.get("epochs") or 3,
                    seed=opts.get("seed", 0))


SCENARIOS = {s.name: s for s in (Tutorial(), Hidden(), Length(), Vocab(), Infer(), Threads(),
                                 Models())}


# --------------------------------------------------------------------------------------------
# agreement and timing helpers shared by the runner and the models scenario
# --------------------------------------------------------------------------------------------
#: relative error allowed against the numpy reference, per dtype
TOL = {"float64": 1e-9, "float32": 1e-3}


def rel_error(a, b, base=None):
    """Largest ``max |a - b| / max |b|`` over the arrays of two results.

    With ``base`` (the initial weights), the *changes* ``a - base`` and ``b - base`` are
    compared instead: small updates of large weights would otherwise hide a wrong gradient.
    """
    worst = 0.0
    for k, ref in b.items():
        got = a.get(k)
        if got is None or got.shape != ref.shape:
            return math.inf
        if not np.all(np.isfinite(got)):
            return math.inf
        if base is not None and k in base:
            got = got - base[k]
            ref = ref - base[k]
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        err = float(np.max(np.abs(got - ref))) if ref.size else 0.0
        worst = max(worst, err / scale if scale > 0 else err)
    return worst


def timing_stats(times, samples, flops):
    """Per-sample figures of a cell's timed repeats (``times`` in s, ``samples`` per repeat):
    median, quartiles and extremes in µs, samples/s and GFLOP/s at the median."""
    us = np.asarray(times) / samples * 1e6
    med = float(np.median(us))
    return dict(median_us=med, q1_us=float(np.percentile(us, 25)),
                q3_us=float(np.percentile(us, 75)), min_us=float(us.min()),
                max_us=float(us.max()), samples_per_s=1e6 / med, gflops=flops / med * 1e-3)
