"""Backends: the same per-sample SGD (or the same batch prediction) in different implementations.

A backend turns a cell's :class:`~fastrnn.bench.scenarios.Data` into a fresh state
(:meth:`Backend.prepare`, untimed), runs the timed work on it (:meth:`Backend.run`: ``cell.epochs``
epochs of training, or one ``predict_proba``), and returns what the runner compares across
backends (:meth:`Backend.result`: the final weights, or the probabilities), as float64 arrays.
"""

import numpy as np

#: The recipe every backend trains with (the tutorial's SGD with elementwise clipping).
RECIPE = dict(lr=0.02, clip=1.0, optimizer="sgd", gradient="exact", pooling="last")
PARAM_NAMES = ("WxhT", "Whh", "Why", "bh", "by")


class Backend:
    name = "?"
    #: a short note shown next to the name
    note = ""

    @classmethod
    def available(cls):
        """``(True, "")`` or ``(False, "why not")``."""
        return True, ""

    def warm(self, cell, data):
        """Compile whatever ``run`` will need for this cell's dtype (untimed)."""

    def prepare(self, cell, data):
        raise NotImplementedError

    def run(self, state):
        raise NotImplementedError

    def result(self, state):
        raise NotImplementedError


class NumbaBackend(Backend):
    """The kernels, through :class:`fastrnn._engine.Trainer` / :func:`_engine.predict_proba`."""
    name = "numba"

    def warm(self, cell, data):
        from fastrnn import _engine as E
        tiny = slice(0, 2)
        st = self.prepare(cell, data)
        if cell.kind == "train":
            off = data.offsets[:3]
            st["trainer"].epoch(data.tokens[:off[-1]], off, data.labels[tiny],
                                np.arange(min(2, cell.n), dtype=np.int64))
        else:
            E.predict_proba(st["params"], data.tokens, data.offsets[:2], RECIPE["pooling"])

    def prepare(self, cell, data):
        from fastrnn import _engine as E
        P = E.Params(*(data.init[k] for k in PARAM_NAMES), dtype=cell.dtype)
        st = {"params": P, "cell": cell, "data": data}
        if cell.kind == "train":
            st["trainer"] = E.Trainer(P, **RECIPE)
            st["trainer"]._grow(int(data.lengths.max()))
        return st

    def run(self, st):
        cell, d = st["cell"], st["data"]
        if cell.kind == "train":
            tr = st["trainer"]
            for e in range(cell.epochs):
                tr.epoch(d.tokens, d.offsets, d.labels, d.orders[e])
        else:
            from fastrnn import _engine as E
            st["out"] = E.predict_proba(st["params"], d.tokens, d.offsets, RECIPE["pooling"])

    def result(self, st):
        if st["cell"].kind == "train":
            return {k: getattr(st["params"], k).astype(np.float64) for k in PARAM_NAMES}
        return {"proba": st["out"].astype(np.float64)}


class NumpyBackend(Backend):
    """The plain-numpy reference (:mod:`fastrnn.reference`); ``dense=True`` is the tutorial's
    algorithm (the whole ``(V, H)`` input gradient built, clipped and applied every sample)."""

    def __init__(self, dense=True):
        self.dense = dense
        self.name = "numpy"
        self.note = "dense" if dense else "lean"

    def prepare(self, cell, data):
        from fastrnn import reference as R
        dt = np.dtype(cell.dtype)
        P = {"Wxh": data.init["WxhT"].astype(dt), "Whh": data.init["Whh"].astype(dt),
             "Why": data.init["Why"].astype(dt), "bh": data.init["bh"].astype(dt),
             "by": data.init["by"].astype(dt)}
        return {"params": P, "state": R.init_optimizer_state(RECIPE["optimizer"], *P.values()),
                "cell": cell, "data": data}

    def run(self, st):
        from fastrnn import reference as R
        cell, d, P = st["cell"], st["data"], st["params"]
        if cell.kind == "train":
            step = 0
            for e in range(cell.epochs):
                _, _, step = R.train_epoch(d.tokens, d.offsets, d.labels, d.orders[e], P,
                                           st["state"], step=step, dense=self.dense, **RECIPE)
        else:
            st["out"] = R.predict_proba(d.tokens, d.offsets, P["Wxh"], P["Whh"], P["bh"],
                                        P["Why"], P["by"], RECIPE["pooling"])

    def result(self, st):
        P = st["params"]
        if st["cell"].kind == "train":
            return {k: P[r].astype(np.float64)
                    for k, r in zip(PARAM_NAMES, ("Wxh", "Whh", "Why", "bh", "by"))}
        return {"proba": st["out"].astype(np.float64)}


class _Missing(Backend):
    module = ""

    @classmethod
    def available(cls):
        import importlib.util
        if importlib.util.find_spec(cls.module) is None:
            return False, "%s is not installed" % cls.module
        return False, "the %s backend is not implemented yet" % cls.module


class TorchBackend(_Missing):
    name = module = "torch"


class JaxBackend(_Missing):
    name = module = "jax"


BACKENDS = ("numba", "numpy", "torch", "jax")


def make_backend(name, reference="dense"):
    if name == "numba":
        return NumbaBackend()
    if name == "numpy":
        return NumpyBackend(dense=(reference == "dense"))
    if name == "torch":
        return TorchBackend()
    if name == "jax":
        return JaxBackend()
    raise ValueError("unknown backend %r; choose from %s" % (name, ", ".join(BACKENDS)))
