"""``fastrnn-bench run cells``: every recurrent cell (tanh, GRU, LSTM) x dtype, per-sample SGD in
the Numba kernels, the numpy reference and PyTorch eager, weights cross-checked first.

Workload per (cell, H, dtype): ``n`` sentences of ``length`` words (default 200 x 20, MR-like),
vocabulary ``V`` (default 2,000) drawn with a Zipf-like 1/rank frequency so that words repeat as
in text, 2 classes, initial weights ``U(-1/sqrt(H), 1/sqrt(H))`` (PyTorch's default) for every
parameter.  Recipe, the same in every backend: :data:`RECIPE` (SGD lr 0.02, elementwise clip 1,
mean pooling, exact gradient), one update per sample, the same sample order.

Backends (the :class:`fastrnn.bench.backends.Backend` protocol, timed by
:func:`time_backend_cpu`: one warm-up, then ``repeats`` timed runs from the same initial weights,
CPU time per sample, every backend on one thread):

* ``numba``: :class:`fastrnn.lowlevel.Trainer` (tanh) / :class:`fastrnn.lowlevel.GatedTrainer`;
* ``numpy``: :func:`fastrnn.reference.train_epoch` / :func:`fastrnn.reference_gated.train_epoch`
  (the oracle);
* ``torch`` (optional): eager ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM(input_size=V, hidden_size=H,
  batch_first=True)`` + ``nn.Linear(H, O)`` at batch size 1, fed one-hot word vectors (built
  before timing), autograd, ``clamp_`` + ``sub_`` per parameter, ``torch.set_num_threads(1)``.
  The tanh cell's ``bias_hh_l0`` is frozen at zero (fastrnn's tanh cell has one bias, ``bh`` =
  ``bias_ih_l0``; two trained biases would take two steps per sample).

Agreement, before any time is reported: every backend trains the first ``CHECK_SAMPLES`` samples
from the initial weights and its weight changes are compared with the numpy reference's
(:func:`fastrnn.bench.runner.rel_error`, tolerances :data:`fastrnn.bench.runner.TOL`: float64
1e-9, float32 1e-3); a backend that disagrees is a ``FAIL`` row with no time (and the timed
run's final weights are checked the same way).  Rows are the runner's rows plus ``cell``,
``length``, ``clock`` (``"cpu"``), ``precheck_rel_err`` and, for numba, ``vs_torch`` (torch
µs / numba µs).

Measured 2026-12-01 (defaults, 2-core AMD EPYC shared at load 5-7, torch 2.13 CPU; the README's
Performance table): numba 50-168x torch eager for every cell and dtype (bar 10x); vs the numpy
reference, float64: 37-41x at H = 32, GRU 17.7x / LSTM 16.2x / tanh 20.1x at H = 64 (the
gated matrices, 96 / 128 KiB, stream from L2 in every matvec; the reference's BLAS matvecs
amortise better there); float32 H = 64: GRU 22.9x, LSTM 20.9x; epoch vs tanh GRU 2.50-3.19x,
LSTM 3.23-4.16x; all weights within 6.3e-14 (f64) / 3.4e-5 (f32) of the reference's.
"""

import numpy as np

from . import backends as B
from . import runner as R
from .scenarios import Cell

CELLS = ("tanh", "gru", "lstm")
RECIPE = dict(lr=0.02, clip=1.0, optimizer="sgd", pooling="mean")
GATES = {"tanh": 1, "gru": 3, "lstm": 4}
NAMES = {"tanh": ("WxhT", "Whh", "bh", "Why", "by"),
         "gru": ("WxhT", "Whh", "bih", "bhh", "Why", "by"),
         "lstm": ("WxhT", "Whh", "bih", "bhh", "Why", "by")}
DEFAULTS = dict(n=200, length=20, V=2000, Hs=(32, 64), epochs=1)
QUICK = dict(n=12, length=6, V=40, Hs=(8,), epochs=1)
#: samples of the agreement check that runs before any timing
CHECK_SAMPLES = 10
BACKENDS = ("numba", "numpy", "torch")


def make_cell(name, H, dtype, n, length, V, epochs, seed=0):
    return Cell("cells", "cell", H, dtype, "train", int(n), int(V), int(H), 2,
                length=int(length), epochs=int(epochs), seed=int(seed), extra={"cell": name})


def make_data(cell):
    """Corpus, orders and float64 initial weights (the names of :data:`NAMES`) of a cell."""
    name = cell.extra["cell"]
    rng = np.random.default_rng(cell.seed)
    p = 1.0 / np.arange(1, cell.V + 1)
    tokens = rng.choice(cell.V, size=cell.n * cell.length, p=p / p.sum()).astype(np.int32)
    offsets = (np.arange(cell.n + 1) * cell.length).astype(np.int64)
    labels = rng.integers(0, cell.O, cell.n).astype(np.int64)
    orders = [rng.permutation(cell.n).astype(np.int64) for _ in range(cell.epochs)]
    GH = GATES[name] * cell.H
    k = 1.0 / np.sqrt(cell.H)
    shapes = {"WxhT": (cell.V, GH), "Whh": (GH, cell.H), "bh": (cell.H,), "bih": (GH,),
              "bhh": (GH,), "Why": (cell.O, cell.H), "by": (cell.O,)}
    init = {nm: rng.uniform(-k, k, shapes[nm]) for nm in NAMES[name]}
    return CellData(tokens, offsets, labels, orders, init)


class CellData:
    """A cell's inputs, shared by all backends."""

    def __init__(self, tokens, offsets, labels, orders, init):
        self.tokens, self.offsets, self.labels, self.orders, self.init = (
            tokens, offsets, labels, orders, init)

    @property
    def lengths(self):
        return np.diff(self.offsets)

    def head(self, m):
        """The first ``m`` samples, one epoch (the agreement check)."""
        m = min(m, len(self.labels))
        return CellData(self.tokens[:self.offsets[m]], self.offsets[:m + 1], self.labels[:m],
                      [np.arange(m, dtype=np.int64)], self.init)


def flops_per_sample(name, T, H, O, V):
    """Minimal FLOPs of one training sample (sparse input rows): forward and backward matvecs
    and the recurrent-weight gradient, ~6 G H^2 per step, plus the readout (order of size)."""
    G = GATES[name]
    return float(T * 6 * G * H * H + 6 * O * H + 3 * T * G * H)


class NumbaCells(B.Backend):
    name = "numba"

    def warm(self, cell, data):
        self.run(self.prepare(cell, data.head(2)))

    def prepare(self, cell, data):
        name = cell.extra["cell"]
        if name == "tanh":
            from fastrnn import lowlevel as E
            I = data.init
            P = E.Params(I["WxhT"], I["Whh"], I["Why"], I["bh"], I["by"], dtype=cell.dtype)
            tr = E.Trainer(P, gradient="exact", **RECIPE)
        else:
            from fastrnn import lowlevel as GE
            P = GE.GatedParams(*(data.init[k] for k in GE.GatedParams.names), cell=name,
                               dtype=cell.dtype)
            tr = GE.GatedTrainer(P, **RECIPE)
        tr._grow(int(data.lengths.max()))
        return {"cell": cell, "data": data, "trainer": tr, "names": NAMES[name]}

    def run(self, st):
        d, tr = st["data"], st["trainer"]
        for order in d.orders:
            tr.epoch(d.tokens, d.offsets, d.labels, order)

    def result(self, st):
        P = st["trainer"].params
        return {k: np.asarray(getattr(P, k), dtype=np.float64) for k in st["names"]}


class NumpyCells(B.Backend):
    name = "numpy"

    def prepare(self, cell, data):
        name = cell.extra["cell"]
        dt = np.dtype(cell.dtype)
        P = {k: v.astype(dt) for k, v in data.init.items()}
        if name == "tanh":
            from fastrnn import reference as Ref
            P = {n: P[n] for n in Ref.PARAM_NAMES}
            S = Ref.init_optimizer_state(RECIPE["optimizer"], *P.values())
        else:
            from fastrnn import reference_gated as RG
            S = RG.init_optimizer_state(RECIPE["optimizer"], P, name)
        return {"cell": cell, "data": data, "params": P, "state": S, "name": name}

    def run(self, st):
        d, P, S, name = st["data"], st["params"], st["state"], st["name"]
        step = 0
        for order in d.orders:
            if name == "tanh":
                from fastrnn import reference as Ref
                _, _, step = Ref.train_epoch(d.tokens, d.offsets, d.labels, order, P, S,
                                             step=step, gradient="exact", **RECIPE)
            else:
                from fastrnn import reference_gated as RG
                _, _, step = RG.train_epoch(d.tokens, d.offsets, d.labels, order, P, S, name,
                                            step=step, **RECIPE)

    def result(self, st):
        P = dict(st["params"])
        return {k: np.asarray(v, dtype=np.float64) for k, v in P.items()}


class TorchCells(B.Backend):
    name = "torch"
    note = "eager"

    @classmethod
    def _import(cls):
        import torch
        torch.set_num_threads(1)
        return torch

    @classmethod
    def available(cls):
        try:
            cls._import()
        except ImportError:
            return False, "torch is not installed (pip install fastrnn[peers])"
        return True, ""

    def warm(self, cell, data):
        self.run(self.prepare(cell, data.head(2)))

    def prepare(self, cell, data):
        torch = self._import()
        name = cell.extra["cell"]
        dt = {"float64": torch.float64, "float32": torch.float32}[cell.dtype]
        mod = {"tanh": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[name]
        rnn = mod(input_size=cell.V, hidden_size=cell.H, batch_first=True).to(dt)
        fc = torch.nn.Linear(cell.H, cell.O).to(dt)
        I = data.init

        def t(a):
            return torch.from_numpy(np.ascontiguousarray(a)).to(dt)
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(t(I["WxhT"].T))
            rnn.weight_hh_l0.copy_(t(I["Whh"]))
            if name == "tanh":
                rnn.bias_ih_l0.copy_(t(I["bh"]))
                rnn.bias_hh_l0.zero_()
                rnn.bias_hh_l0.requires_grad_(False)
            else:
                rnn.bias_ih_l0.copy_(t(I["bih"]))
                rnn.bias_hh_l0.copy_(t(I["bhh"]))
            fc.weight.copy_(t(I["Why"]))
            fc.bias.copy_(t(I["by"]))
        eye = torch.eye(cell.V, dtype=dt)
        sents = []
        for s in range(len(data.labels)):
            tok = torch.from_numpy(data.tokens[data.offsets[s]:data.offsets[s + 1]]
                                   .astype(np.int64))
            sents.append((eye[tok][None], torch.tensor([int(data.labels[s])])))
        params = [p for p in list(rnn.parameters()) + list(fc.parameters()) if p.requires_grad]
        return {"cell": cell, "data": data, "torch": torch, "rnn": rnn, "fc": fc,
                "sents": sents, "params": params, "name": name,
                "orders": [o.tolist() for o in data.orders]}

    def run(self, st):
        torch = st["torch"]
        rnn, fc, sents, params = st["rnn"], st["fc"], st["sents"], st["params"]
        F = torch.nn.functional
        lr, clip = RECIPE["lr"], RECIPE["clip"]
        pool = {"last": lambda o: o[-1], "mean": lambda o: o.mean(0),
                "max": lambda o: o.max(0).values}[RECIPE["pooling"]]
        for order in st["orders"]:
            for s in order:
                x, label = sents[s]
                out = rnn(x)[0][0]
                loss = F.cross_entropy(fc(pool(out))[None], label)
                for p in params:
                    p.grad = None
                loss.backward()
                with torch.no_grad():
                    for p in params:
                        p.sub_(p.grad.clamp_(-clip, clip), alpha=lr)

    def result(self, st):
        rnn, fc = st["rnn"], st["fc"]

        def a(p):
            return p.detach().cpu().numpy().astype(np.float64)
        out = {"WxhT": a(rnn.weight_ih_l0).T.copy(), "Whh": a(rnn.weight_hh_l0),
               "Why": a(fc.weight), "by": a(fc.bias)}
        if st["name"] == "tanh":
            out["bh"] = a(rnn.bias_ih_l0) + a(rnn.bias_hh_l0)
        else:
            out["bih"] = a(rnn.bias_ih_l0)
            out["bhh"] = a(rnn.bias_hh_l0)
        return out


BACKEND_CLASSES = {"numba": NumbaCells, "numpy": NumpyCells, "torch": TorchCells}


def time_backend_cpu(backend, cell, data, repeats, warmup=1):
    """:func:`fastrnn.bench.runner.time_backend` with CPU time (``time.process_time``) instead of
    wall time: this scenario runs on shared machines, where wall time counts other processes'
    work (measured: numba's interquartile range 10.6-31.1 µs at a load of 6 on 2 cores).
    Every backend here runs on one thread (torch ``set_num_threads(1)``, the kernels serial),
    so CPU time is the time of the work.  Returns ``(times in s, result, None)``."""
    import time
    return R.time_backend(backend, cell, data, repeats, warmup, trace=False,
                          clock=time.process_time)


def _precheck(backends, cell, data, tol):
    """``{backend name: rel err}`` of a short run (the first CHECK_SAMPLES samples) against
    the numpy reference, before anything is timed."""
    short = data.head(CHECK_SAMPLES)
    ref = NumpyCells()
    st = ref.prepare(cell, short)
    ref.run(st)
    oracle = ref.result(st)
    errs = {}
    for be in backends:
        if isinstance(be, NumpyCells):
            continue
        try:
            st = be.prepare(cell, short)
            be.run(st)
            errs[be.name] = R.rel_error(be.result(st), oracle, short.init)
        except Exception as exc:  # a backend that crashes is a failure of that cell
            errs[be.name] = "%s: %s" % (type(exc).__name__, exc)
    return errs


def run_cell(cell, backends, repeats, warmup=1):
    """Rows (one per backend) for one (cell, H, dtype); a backend whose weights disagree with the
    numpy reference after the short pre-check is not timed (a FAIL row)."""
    data = make_data(cell)
    name = cell.extra["cell"]
    tol = R.TOL[cell.dtype]
    flops = flops_per_sample(name, cell.length, cell.H, cell.O, cell.V)
    samples = cell.n * cell.epochs
    pre = _precheck(backends, cell, data, tol)
    measured = []
    oracle = None
    for be in backends:
        p = pre.get(be.name, 0.0)
        if isinstance(p, str) or p > tol:
            msg = (p if isinstance(p, str) else
                   "weights differ from the numpy reference after %d samples: rel err %.3g > "
                   "%.0e (not timed)" % (min(CHECK_SAMPLES, cell.n), p, tol))
            measured.append((be, [], None, msg, p))
            continue
        try:
            times, res, _ = time_backend_cpu(be, cell, data, repeats, warmup)
        except Exception as exc:
            measured.append((be, [], None, "%s: %s" % (type(exc).__name__, exc), p))
            continue
        measured.append((be, times, res, "", p))
        if isinstance(be, NumpyCells):
            oracle = res
    if oracle is None:
        ref = NumpyCells()
        st = ref.prepare(cell, data)
        ref.run(st)
        oracle = ref.result(st)
    rows = []
    for be, times, res, msg, p in measured:
        label = be.name + ("-" + be.note if be.note else "")
        if res is None:
            row = R._row(cell, label, [], samples, flops, None, None if isinstance(p, str) else p,
                         tol, None, "FAIL", msg)
        else:
            rel = R.rel_error(res, oracle, data.init)
            if rel <= tol:
                row = R._row(cell, label, times, samples, flops, None, rel, tol, None, "ok",
                             warm_s=getattr(be, "warm_s", None))
            else:
                row = R._row(cell, label, times, samples, flops, None, rel, tol, None, "FAIL",
                             "results differ from the numpy reference: rel err %.3g > %.0e"
                             % (rel, tol))
        row.update(cell=name, length=cell.length, value="%s H=%d" % (name, cell.H), clock="cpu",
                   precheck_rel_err=None if isinstance(p, str) else p)
        rows.append(row)
    by = {r["backend"].split("-")[0]: r for r in rows if r["status"] == "ok"}
    ref_us = by.get("numpy", {}).get("median_us")
    torch_us = by.get("torch", {}).get("median_us")
    for r in rows:
        if r["median_us"]:
            if ref_us:
                r["speedup"] = ref_us / r["median_us"]
            if r["backend"] == "numba" and torch_us:
                r["vs_torch"] = torch_us / r["median_us"]
    return rows


def build(dtypes, hidden=None, values=None, samples=None, length=None, vocab=None, epochs=None,
          seed=0, quick=False, cells=CELLS):
    """The cells of the scenario: every cell x H x dtype."""
    base = QUICK if quick else DEFAULTS
    Hs = list(values) if values else ([hidden] if hidden else list(base["Hs"]))
    out = []
    for dt in dtypes:
        for H in Hs:
            for name in cells:
                out.append(make_cell(name, H, dt, samples or base["n"], length or base["length"],
                                     vocab or base["V"], epochs or base["epochs"], seed))
    return out


def make_backends(names, note):
    """Backend objects for ``names`` (the numpy reference always first: it is the oracle);
    unavailable ones are skipped with a note."""
    objs = [NumpyCells()]
    for n in names:
        if n == "numpy":
            continue
        if n not in BACKEND_CLASSES:
            if note:
                note("cells: backend %s skipped: the cells scenario runs %s"
                     % (n, ", ".join(BACKENDS)))
            continue
        be = BACKEND_CLASSES[n]()
        ok, why = be.available()
        if not ok:
            if note:
                note("cells: %s rows skipped: %s" % (n, why))
            continue
        objs.append(be)
    return objs


def run_cells(dtypes, backend_names=BACKENDS, repeats=5, note=print, progress=None, **kw):
    """All rows of ``fastrnn-bench run cells``."""
    cells = build(dtypes, **kw)
    backends = make_backends(backend_names, note)
    rows = []
    for c in cells:
        if progress:
            progress(0, "cells/%s H=%d/%s" % (c.extra["cell"], c.H, c.dtype))
        rows.extend(run_cell(c, backends, repeats))
    return rows
