"""``fastrnn-bench profile``: where a training sample's time goes.

The question: of the microseconds a sample costs, how many are the forward pass, BPTT, the fused
clip + update, and how many are lost to calling the kernels one by one from Python?  Measured on
one cell with the individual kernels (``kernels.forward``, ``softmax_loss``, ``backward_steps``,
``apply_update``):

- ``staged_epoch(stage)``, a Numba loop over the samples calling the kernels in turn and
  stopping after the forward pass (stage 0), after BPTT (1) or after the update (2): the
  differences are the phases' costs;
- the whole-epoch kernel (``kernels.train_epoch_<optimizer>`` through ``_engine.Trainer``):
  stage 2 minus it is what fusing the calls into one kernel saves (or costs);
- the same four kernel calls per sample from a Python loop: minus stage 2, the Python dispatch
  overhead between kernel calls;
- the numpy reference's phases (``reference.forward``, ``backward``, ``apply_update``) timed
  around each call, for comparison.
"""

import time

import numpy as np
from numba import njit

from fastrnn import kernels as K
from fastrnn.kernels import rnn as KR
from fastrnn.kernels import depends_on

from . import backends as B
from . import scenarios as S


@depends_on(KR)  # the cached kernel embeds rnn.py's code: an edit there recompiles it
@njit(cache=True, error_model="numpy", nogil=True)
def staged_epoch(stage, corpus, weights, state, hp, modes, work):
    """The epoch kernel's loop body as separate kernel calls, stopping after ``stage``.

    Arguments after ``stage``: the epoch kernel's bundles (``kernels.rnn.EPOCH_BUNDLES``)."""
    tokens, offsets, labels, order = corpus
    WxhT, Whh, WhhT, Why, bh, by = weights
    Sx, Shh, Sy, Sbh, Sby, counters = state
    gradient, pooling, optimizer = modes
    hs, G, gX, mark, vecs, amax, y, p, dWhy, rows, uniq = work
    loss = 0.0
    pooled = vecs[KR.V_POOL]
    for n in range(order.shape[0]):
        s = order[n]
        sent = tokens[offsets[s]:offsets[s + 1]]
        KR.forward(sent, WxhT, WhhT, bh, Why, by, pooling, hs, pooled, amax, y)
        if stage >= 1:
            c = labels[s]
            loss += KR.softmax_loss(y, c, p)
            p[c] -= 1
            KR.backward_steps(sent.shape[0], hs, amax, Whh, WhhT, Why, p, pooling, gradient,
                              G, vecs)
        if stage >= 2:
            KR.apply_update(sent, hs, pooled, G, p, WxhT, Whh, WhhT, Why, bh, by,
                            Sx, Shh, Sy, Sbh, Sby, hp, optimizer, counters, gX, mark, vecs, y,
                            dWhy, rows, uniq)
    return loss


def _python_epoch(tr, d, order):
    P = tr.params
    Sx, Shh, Sy, Sbh, Sby = tr.state
    pooled = tr.vecs[KR.V_POOL]
    for s in order:
        sent = d.tokens[d.offsets[s]:d.offsets[s + 1]]
        K.forward(sent, P.WxhT, P.WhhT, P.bh, P.Why, P.by, tr.pooling, tr.hs, pooled,
                  tr.amax, tr.y)
        c = d.labels[s]
        K.softmax_loss(tr.y, c, tr.p)
        tr.p[c] -= 1
        K.backward_steps(sent.shape[0], tr.hs, tr.amax, P.Whh, P.WhhT, P.Why, tr.p,
                         tr.pooling, tr.gradient, tr.G, tr.vecs)
        K.apply_update(sent, tr.hs, pooled, tr.G, tr.p, P.WxhT, P.Whh, P.WhhT, P.Why, P.bh,
                       P.by, Sx, Shh, Sy, Sbh, Sby, tr.hp, tr.optimizer, tr.counters, tr.gX,
                       tr.mark, tr.vecs, tr.y, tr.dWhy, tr.rows, tr.uniq)


def _median_time(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _reference_phases(cell, d, repeats):
    from fastrnn import reference as R
    be = B.NumpyBackend(dense=True)
    tot = np.zeros(3)
    nrep = max(1, min(repeats, 3))
    for _ in range(nrep):
        st = be.prepare(cell, d)
        P, state = st["params"], st["state"]
        step = 0
        for s in d.orders[0]:
            sent = d.tokens[d.offsets[s]:d.offsets[s + 1]]
            t0 = time.perf_counter()
            hs, pooled, amax, y = R.forward(sent, P["WxhT"], P["Whh"], P["bh"], P["Why"],
                                            P["by"], "last")
            p, _ = R.softmax_loss(y, int(d.labels[s]))
            t1 = time.perf_counter()
            dy = p.copy()
            dy[int(d.labels[s])] -= 1
            G, grads = R.backward(sent, hs, pooled, amax, P["Whh"], P["Why"], dy, "last",
                                  "exact")
            t2 = time.perf_counter()
            dense = np.zeros_like(P["WxhT"])
            for w, g in grads["WxhT_rows"].items():
                dense[w] = g
            step += 1
            R.apply_update(P, grads, state, lr=B.RECIPE["lr"], clip=B.RECIPE["clip"],
                              step=step, dense_WxhT=dense)
            t3 = time.perf_counter()
            tot += (t1 - t0, t2 - t1, t3 - t2)
    return tot / (nrep * cell.n) * 1e6


def profile(cell, repeats=5, machine=None):
    """A list of ``(phase, µs per sample, note)`` rows and a dict of totals for one cell."""
    d = S.make_data(cell)
    be = B.NumbaBackend()
    order = d.orders[0]

    def fresh():
        st = be.prepare(cell, d)
        return st["trainer"]

    def staged(stage):
        tr = fresh()  # its workspace fits the longest sentence (NumbaBackend.prepare)
        staged_epoch(stage, *tr.kernel_args(d.tokens, d.offsets, d.labels, order[:1]))  # compile
        tr = fresh()
        a = tr.kernel_args(d.tokens, d.offsets, d.labels, order)
        return _median_time(lambda: staged_epoch(stage, *a), repeats)

    t_stage = [staged(k) / cell.n * 1e6 for k in range(3)]
    tr = fresh()
    tr.epoch(d.tokens, d.offsets, d.labels, order[:1])
    tr = fresh()
    t_epoch = _median_time(lambda: tr.epoch(d.tokens, d.offsets, d.labels, order),
                           repeats) / cell.n * 1e6
    tr = fresh()
    _python_epoch(tr, d, order[:1])
    tr = fresh()
    t_py = _median_time(lambda: _python_epoch(tr, d, order), repeats) / cell.n * 1e6
    ref = _reference_phases(cell, d, repeats)
    flops = S.cell_flops(cell, d)
    peak = (machine or {}).get("peak_gflops_per_core", {}).get(cell.dtype)
    rows = [
        ("forward + softmax", t_stage[0], "kernels.forward"),
        ("backward (BPTT)", t_stage[1] - t_stage[0], "softmax_loss + backward_steps"),
        ("clip + update", t_stage[2] - t_stage[1], "apply_update (gradients, clip, SGD)"),
        ("= kernels in a numba loop", t_stage[2], "staged_epoch(stage=2)"),
        ("whole-epoch kernel", t_epoch, "kernels.train_epoch_sgd via _engine.Trainer"),
        ("fusion saving", t_stage[2] - t_epoch, "numba loop minus whole-epoch kernel"),
        ("kernels from a Python loop", t_py, "4 dispatcher calls per sample"),
        ("Python overhead", t_py - t_stage[2], "Python loop minus numba loop"),
        ("numpy: forward + softmax", ref[0], "reference.forward + softmax_loss"),
        ("numpy: backward", ref[1], "reference.backward"),
        ("numpy: clip + update (dense)", ref[2], "dense WxhT gradient + apply_update"),
        ("numpy: total", ref.sum(), "per sample, Python timers around each phase"),
    ]
    if peak:
        rows.append(("FLOP bound at est. peak", flops / (peak * 1e3),
                     "%.0f FLOPs / %.1f GFLOP/s (one core)" % (flops, peak)))
    rows.append(("tanh evaluations", float(np.mean(d.lengths) * cell.H),
                 "per sample (a count, not µs)"))
    return rows, {"cell": cell.to_dict(), "flops_per_sample": flops}
