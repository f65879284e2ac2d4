"""Backends: the same per-sample SGD (or the same batch prediction) in different implementations.

A backend turns a cell's :class:`~fastrnn.bench.scenarios.Data` into a fresh state
(:meth:`Backend.prepare`, untimed), runs the timed work on it (:meth:`Backend.run`: ``cell.epochs``
epochs of training, or one ``predict_proba``), and returns what the runner compares across
backends (:meth:`Backend.result`: the final weights, or the probabilities), as float64 arrays.
"""

import time

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
    """The kernels, through :class:`fastrnn.lowlevel.Trainer` / :func:`lowlevel.predict_proba`."""
    name = "numba"

    def warm(self, cell, data):
        from fastrnn import lowlevel as E
        tiny = slice(0, 2)
        st = self.prepare(cell, data)
        if cell.kind == "train":
            off = data.offsets[:3]
            st["trainer"].epoch(data.tokens[:off[-1]], off, data.labels[tiny],
                                np.arange(min(2, cell.n), dtype=np.int64))
        else:
            E.predict_proba(st["params"], data.tokens, data.offsets[:2], RECIPE["pooling"])

    def prepare(self, cell, data):
        from fastrnn import lowlevel as E
        P = E.Params(*(data.init[k] for k in PARAM_NAMES), dtype=cell.dtype)
        st = {"params": P, "cell": cell, "data": data}
        if cell.kind == "train":
            st["trainer"] = E.Trainer(P, **RECIPE)
            # workspace for the longest sentence now: bench/profile.py's staged kernels write
            # into it directly, and no repeat should time the allocation
            st["trainer"]._grow(int(data.lengths.max()))
        return st

    def run(self, st):
        cell, d = st["cell"], st["data"]
        if cell.kind == "train":
            tr = st["trainer"]
            for e in range(cell.epochs):
                tr.epoch(d.tokens, d.offsets, d.labels, d.orders[e])
        else:
            from fastrnn import lowlevel as E
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
        P = {"WxhT": data.init["WxhT"].astype(dt), "Whh": data.init["Whh"].astype(dt),
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
            st["out"] = R.predict_proba(d.tokens, d.offsets, P["WxhT"], P["Whh"], P["bh"],
                                        P["Why"], P["by"], RECIPE["pooling"])

    def result(self, st):
        P = st["params"]
        if st["cell"].kind == "train":
            return {k: P[k].astype(np.float64) for k in PARAM_NAMES}
        return {"proba": st["out"].astype(np.float64)}


# --------------------------------------------------------------------------------------------
# peers: torch (eager, hand-written BPTT) and jax (one jit per epoch)
# --------------------------------------------------------------------------------------------
#: XLA flags the jax backend sets before jax is first imported: one thread, as every backend
#: of a training cell runs on one core.
XLA_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _pad_sentences(data):
    """Per sentence, padded to the longest: tokens (n, Tmax) (padding 0), its distinct words
    (n, Tmax) (padding V, out of range) and for each position the index of its word among them
    (n, Tmax).  Untimed preparation, the same for torch and jax."""
    lens = data.lengths
    n, Tmax = len(lens), max(int(lens.max()), 1)
    V = int(data.init["WxhT"].shape[0])
    toks = np.zeros((n, Tmax), dtype=np.int64)
    uniq = np.full((n, Tmax), V, dtype=np.int64)
    inv = np.zeros((n, Tmax), dtype=np.int64)
    for s in range(n):
        sent = data.tokens[data.offsets[s]:data.offsets[s + 1]]
        u, i = np.unique(sent, return_inverse=True)
        toks[s, :len(sent)] = sent
        uniq[s, :len(u)] = u
        inv[s, :len(sent)] = i
    return toks, uniq, inv, lens.astype(np.int64)


class _Peer(Backend):
    """A peer framework: available when its package imports; imported only when used."""
    module = ""

    @classmethod
    def _import(cls):
        import importlib
        return importlib.import_module(cls.module)

    @classmethod
    def available(cls):
        try:
            cls._import()
        except ImportError:
            return False, "%s is not installed (pip install fastrnn[peers])" % cls.module
        return True, ""

    def result(self, st):
        if st["cell"].kind == "train":
            return {k: np.asarray(self._numpy(st["params"][k]), dtype=np.float64)
                    for k in PARAM_NAMES}
        return {"proba": np.asarray(self._numpy(st["out"]), dtype=np.float64)}


class TorchBackend(_Peer):
    """PyTorch eager mode on one thread, the recurrence and BPTT written by hand with tensors
    (no autograd): rows of ``WxhT`` gathered with ``index_select``, the per-sample loop in
    Python; the dense weights (Whh, Why, bh, by) and their gradients live in one flat tensor
    each, so their clip and SGD step are two calls.  Inference: all sentences at once, padded,
    with a length mask."""
    name = module = "torch"
    note = ""

    @classmethod
    def _import(cls):
        import torch
        torch.set_num_threads(1)
        return torch

    @staticmethod
    def _numpy(t):
        return t.detach().cpu().numpy()

    def prepare(self, cell, data):
        torch = self._import()
        dt = {"float64": torch.float64, "float32": torch.float32}[cell.dtype]
        H, O = cell.H, cell.O
        sizes = (H * H, O * H, H, O)
        flat = torch.empty(sum(sizes), dtype=dt)
        views = torch.split(flat, sizes)
        Whh, Why, bh, by = (views[0].view(H, H), views[1].view(O, H), views[2], views[3])
        for v, k in zip((Whh, Why, bh, by), ("Whh", "Why", "bh", "by")):
            v.copy_(torch.from_numpy(data.init[k]))
        WxhT = torch.from_numpy(data.init["WxhT"]).to(dt).clone()
        P = {"WxhT": WxhT, "Whh": Whh, "Why": Why, "bh": bh, "by": by, "flat": flat}
        st = {"cell": cell, "data": data, "params": P, "torch": torch}
        if cell.kind == "train":
            gflat = torch.empty_like(flat)
            gv = torch.split(gflat, sizes)
            st["grads"] = (gflat, gv[0].view(H, H), gv[1].view(O, H), gv[2], gv[3])
            eye = torch.eye(O, dtype=dt)
            sents = []
            for s in range(cell.n):
                sent = data.tokens[data.offsets[s]:data.offsets[s + 1]].astype(np.int64)
                u, i = np.unique(sent, return_inverse=True)
                sents.append((torch.from_numpy(sent), torch.from_numpy(u),
                              torch.from_numpy(i.astype(np.int64)), len(sent),
                              eye[int(data.labels[s])].clone()))
            st["sents"] = sents
            st["hs"] = torch.zeros(int(data.lengths.max()) + 1, H, dtype=dt)
            st["G"] = torch.empty(int(data.lengths.max()), H, dtype=dt)
            st["orders"] = [o.tolist() for o in data.orders]
        else:
            toks, _, _, lens = _pad_sentences(data)
            st["toks"], st["lens"] = torch.from_numpy(toks), torch.from_numpy(lens)
        return st

    def warm(self, cell, data):
        st = self.prepare(cell, data)
        if cell.kind == "train":
            self._epoch(st, list(range(min(2, cell.n))))
        else:
            self.run(st)

    def run(self, st):
        torch = st["torch"]
        with torch.inference_mode():
            if st["cell"].kind == "train":
                for e in range(st["cell"].epochs):
                    self._epoch(st, st["orders"][e])
            else:
                st["out"] = self._infer(st)

    @staticmethod
    def _epoch(st, order):
        torch = st["torch"]
        P, sents, hs, Gbuf = st["params"], st["sents"], st["hs"], st["G"]
        gflat, gWhh, gWhy, gbh, gby = st["grads"]
        WxhT, Whh, Why, bh, by, flat = (P["WxhT"], P["Whh"], P["Why"], P["bh"], P["by"],
                                        P["flat"])
        WhhT, WhyT = Whh.t(), Why.t()
        lr, c = RECIPE["lr"], RECIPE["clip"]
        tanh, addmv, mv, mul = torch.tanh, torch.addmv, torch.mv, torch.mul
        for s in order:
            tok, uniq, inv, T, onehot = sents[s]
            # forward: h_t = tanh((WxhT[w_t] + bh) + Whh @ h_{t-1}), hs[0] = 0
            X = torch.index_select(WxhT, 0, tok).add_(bh)
            for t in range(T):
                tanh(addmv(X[t], Whh, hs[t]), out=hs[t + 1])
            h = hs[T]
            p = torch.softmax(addmv(by, Why, h), 0)
            dy = torch.sub(p, onehot, out=gby)            # dL/dy = dby
            torch.outer(dy, h, out=gWhy)
            # backward through time: g_t = (1 - h_t^2) * dh, dh = Whh.T @ g_t
            D = 1 - hs[1:T + 1].square()
            G = Gbuf[:T]
            dh = mv(WhyT, dy)
            for t in range(T - 1, -1, -1):
                g = mul(D[t], dh, out=G[t])
                if t:
                    dh = mv(WhhT, g)
            torch.mm(G.t(), hs[:T], out=gWhh)
            torch.sum(G, 0, out=gbh)
            rows = torch.zeros(len(uniq), G.shape[1], dtype=G.dtype).index_add_(0, inv, G)
            # elementwise clip, SGD; only the sentence's input rows change
            gflat.clamp_(-c, c)
            flat.sub_(gflat, alpha=lr)
            WxhT.index_add_(0, uniq, rows.clamp_(-c, c), alpha=-lr)

    @staticmethod
    def _infer(st):
        torch = st["torch"]
        P, toks, lens = st["params"], st["toks"], st["lens"]
        X = P["WxhT"][toks] + P["bh"]                       # (n, Tmax, H)
        h = torch.zeros(X.shape[0], X.shape[2], dtype=X.dtype)
        WhhT = P["Whh"].t()
        for t in range(X.shape[1]):
            hn = torch.tanh(torch.addmm(X[:, t], h, WhhT))
            h = torch.where((t < lens)[:, None], hn, h)
        return torch.softmax(torch.addmm(P["by"], h, P["Why"].t()), 1)


def _jax_modules():
    """Import jax on one thread with float64 enabled (the flags must be set before the first
    import; if jax was imported before, its thread settings are whatever they were)."""
    import os
    import sys
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " " + XLA_THREAD_FLAGS).strip()
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax


def _jax_fns():
    """The jitted epoch and inference functions (built once per process)."""
    global _JAX_FNS
    if _JAX_FNS is not None:
        return _JAX_FNS
    jax = _jax_modules()
    import jax.numpy as jnp
    from jax import lax

    def sample(params, s, toks, uniq, inv, lens, labels):
        WxhT, Whh, Why, bh, by = params
        tok, T, c = toks[s], lens[s], labels[s]
        Tmax, H = toks.shape[1], Whh.shape[0]
        dt = Whh.dtype
        lr, clip = jnp.asarray(RECIPE["lr"], dt), jnp.asarray(RECIPE["clip"], dt)

        def fwd(t, hs):
            return hs.at[t + 1].set(jnp.tanh(WxhT[tok[t]] + bh + Whh @ hs[t]))
        hs = lax.fori_loop(0, T, fwd, jnp.zeros((Tmax + 1, H), dt))
        hT = hs[T]
        y = Why @ hT + by
        m = y.max()
        e = jnp.exp(y - m)
        p = e / e.sum()
        dy = p.at[c].add(-1)

        def bwd(i, carry):
            dh, dWhh, dbh, R = carry
            t = T - i                                  # T .. 1, as the reference
            g = (1 - hs[t] ** 2) * dh
            return (Whh.T @ g, dWhh + jnp.outer(g, hs[t - 1]), dbh + g,
                    R.at[inv[s, t - 1]].add(g))
        zero = (Why.T @ dy, jnp.zeros((H, H), dt), jnp.zeros(H, dt), jnp.zeros((Tmax, H), dt))
        _, dWhh, dbh, R = lax.fori_loop(0, T, bwd, zero)

        def step(W, d):
            return W - lr * jnp.clip(d, -clip, clip)
        # only the rows of the sentence's distinct words: the padding index V is dropped
        WxhT = WxhT.at[uniq[s]].add(-(lr * jnp.clip(R, -clip, clip)), mode="drop")
        return (WxhT, step(Whh, dWhh), step(Why, jnp.outer(dy, hT)), step(bh, dbh),
                step(by, dy))

    def epoch(params, order, toks, uniq, inv, lens, labels):
        def body(P, s):
            return sample(P, s, toks, uniq, inv, lens, labels), None
        return lax.scan(body, params, order)[0]

    def infer(params, toks, lens):
        WxhT, Whh, Why, bh, by = params
        X = WxhT[toks] + bh                            # (n, Tmax, H)

        def step(h, t):
            hn = jnp.tanh(X[:, t] + h @ Whh.T)
            return jnp.where((t < lens)[:, None], hn, h), None
        h = lax.scan(step, jnp.zeros((X.shape[0], X.shape[2]), X.dtype),
                     jnp.arange(X.shape[1]))[0]
        return jax.nn.softmax(h @ Why.T + by, axis=1)

    _JAX_FNS = (jax, jax.jit(epoch, donate_argnums=0), jax.jit(infer))
    return _JAX_FNS


_JAX_FNS = None


class JaxBackend(_Peer):
    """JAX on one XLA CPU thread, float64 enabled: one ``jax.jit`` per epoch, ``lax.scan`` over
    the epoch's sample order, per sample ``lax.fori_loop`` forward and BPTT over the sentence's
    own length (sentences padded to the longest), gradients accumulated in the reference's
    order, elementwise clip and SGD, the input rows updated by a scatter-add over the
    sentence's distinct words.  Inference: one jit, all sentences padded, a length mask."""
    name = module = "jax"
    note = ""

    @classmethod
    def _import(cls):
        return _jax_modules()

    @staticmethod
    def _numpy(a):
        return np.asarray(a)

    def _inputs(self, data):
        cached = getattr(self, "_cache", None)
        if cached is not None and cached[0] is data:
            return cached[1]
        import jax.numpy as jnp
        arrs = tuple(jnp.asarray(a) for a in _pad_sentences(data))
        self._cache = (data, arrs + (jnp.asarray(data.labels.astype(np.int64)),))
        return self._cache[1]

    def prepare(self, cell, data):
        jax, _, _ = _jax_fns()
        import jax.numpy as jnp
        P = {k: jnp.asarray(data.init[k].astype(cell.dtype)) for k in PARAM_NAMES}
        toks, uniq, inv, lens, labels = self._inputs(data)
        st = {"cell": cell, "data": data, "params": P, "inputs": (toks, uniq, inv, lens, labels)}
        if cell.kind == "train":
            st["orders"] = [jnp.asarray(o) for o in data.orders]
        return st

    def warm(self, cell, data):
        """First call (trace, compile, one epoch) minus second call: the compile time."""
        times = []
        for _ in range(2):
            st = self.prepare(cell, data)
            t0 = time.perf_counter()
            if cell.kind == "train":
                P = self._epoch_call(st, st["orders"][0])
            else:
                P = self._infer_call(st)
            jax_block(P)
            times.append(time.perf_counter() - t0)
        self.compile_s = max(times[0] - times[1], 0.0)

    def _epoch_call(self, st, order):
        _, epoch, _ = _jax_fns()
        toks, uniq, inv, lens, labels = st["inputs"]
        P = st["params"]
        out = epoch(tuple(P[k] for k in PARAM_NAMES), order, toks, uniq, inv, lens, labels)
        st["params"] = dict(zip(PARAM_NAMES, out))
        return out

    def _infer_call(self, st):
        _, _, infer = _jax_fns()
        toks, _, _, lens, _ = st["inputs"]
        st["out"] = infer(tuple(st["params"][k] for k in PARAM_NAMES), toks, lens)
        return st["out"]

    def run(self, st):
        if st["cell"].kind == "train":
            for e in range(st["cell"].epochs):
                out = self._epoch_call(st, st["orders"][e])
        else:
            out = self._infer_call(st)
        jax_block(out)


def jax_block(x):
    import jax
    jax.block_until_ready(x)


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
