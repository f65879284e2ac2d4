"""One epoch of many independent models in one call, in parallel over models.

:func:`train_epoch_many` runs the epoch kernel of the model's optimizer
(:func:`fastrnn.kernels.rnn.train_epoch_sgd` / ``_adagrad`` / ``_adam``, the entry points
``Trainer.epoch`` uses: forward, softmax loss, BPTT, fused clip + update per sample, in that
order) once per model inside a ``prange`` over the models, so model ``m``'s weights after the
call are bit-identical to a single-model epoch with the same buffers: it *is* that call.  Models are independent: each has
its own data, sample order, hyperparameters (``hp``), modes, optimizer state and workspace; no
buffer is shared between models and nothing is allocated inside the parallel loop.

Layout: every model keeps its own arrays (its ``fastrnn._engine.Trainer`` buffers, each a
separate 64-byte-aligned allocation), and the kernel receives a table of their addresses and
shapes (``addr``, ``dims``) instead of arrays stacked along a model axis.  Measured reasons:
views of one stacked (or list-held) array share one reference count, which every thread
updates atomically for the row views ``train_epoch`` takes per sample; a typed list of arrays
avoids the sharing but costs ~2-5 s of uncached compilation per process to build; the address
table costs neither and lets models of one call differ in ``V``, ``H``, ``O`` and corpus
length.  Only the float dtype must be the same for all models of one call (one compilation per
dtype); the caller groups models by dtype.

Caching: Numba's on-disk cache is keyed by this file only, and a cached caller embeds the
compiled code of its callees.  The epoch kernels live in ``rnn.py``, so the cache index key of
this module's kernel also carries a hash of ``rnn.py``'s source: an edit there recompiles.
"""

import hashlib
import os

import numpy as np
from numba import carray, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .rnn import OPT_ADAGRAD, OPT_SGD, train_epoch_adagrad, train_epoch_adam, train_epoch_sgd

_opts = dict(error_model="numpy", nogil=True)

#: The arrays of one model, in :func:`~fastrnn.kernels.rnn.train_epoch`'s argument order
#: (its three mode arguments are the columns of ``modes``), with their dimensions and kind:
#: ``"i4"`` int32, ``"i8"`` int64, ``"f"`` the models' float dtype.
ARRAYS = (("tokens", 1, "i4"), ("offsets", 1, "i8"), ("labels", 1, "i8"), ("order", 1, "i8"),
          ("WxhT", 2, "f"), ("Whh", 2, "f"), ("WhhT", 2, "f"), ("Why", 2, "f"), ("bh", 1, "f"),
          ("by", 1, "f"), ("Sx", 3, "f"), ("Shh", 3, "f"), ("Sy", 3, "f"), ("Sbh", 2, "f"),
          ("Sby", 2, "f"), ("hp", 1, "f"), ("counters", 1, "i8"), ("hs", 2, "f"),
          ("G", 2, "f"), ("gX", 2, "f"), ("mark", 1, "i8"), ("vecs", 2, "f"), ("amax", 1, "i8"),
          ("y", 1, "f"), ("p", 1, "f"), ("dWhh", 2, "f"), ("dWhy", 2, "f"), ("rows", 1, "i8"),
          ("uniq", 1, "i8"))
N_ARRAYS = len(ARRAYS)
(A_TOKENS, A_OFFSETS, A_LABELS, A_ORDER, A_WXHT, A_WHH, A_WHHT, A_WHY, A_BH, A_BY, A_SX, A_SHH,
 A_SY, A_SBH, A_SBY, A_HP, A_COUNTERS, A_HS, A_G, A_GX, A_MARK, A_VECS, A_AMAX, A_Y, A_P,
 A_DWHH, A_DWHY, A_ROWS, A_UNIQ) = range(N_ARRAYS)


@intrinsic
def _voidptr(typingctx, addr):
    """An integer address as a ``void*`` (for :func:`numba.carray`)."""
    if not isinstance(addr, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)
    return types.voidptr(addr), codegen


@njit(inline="always", **_opts)
def _a1(addr, dims, m, k, dtype):
    return carray(_voidptr(addr[m, k]), (dims[m, k, 0],), dtype)


@njit(inline="always", **_opts)
def _a2(addr, dims, m, k, dtype):
    return carray(_voidptr(addr[m, k]), (dims[m, k, 0], dims[m, k, 1]), dtype)


@njit(inline="always", **_opts)
def _a3(addr, dims, m, k, dtype):
    return carray(_voidptr(addr[m, k]), (dims[m, k, 0], dims[m, k, 1], dims[m, k, 2]), dtype)


@njit(cache=True, **_opts)
def _finite(A):
    for v in A.ravel():
        if not np.isfinite(v):
            return False
    return True


@njit(parallel=True, **_opts)
def train_epoch_many(active, addr, dims, modes, proto, loss, correct, finite):
    """One epoch for each model ``m`` in ``active`` (int64 model indices, no repeats).

    ``addr`` (M, N_ARRAYS) int64 holds the data address of each array of :data:`ARRAYS` for
    each model and ``dims`` (M, N_ARRAYS, 3) int64 its shape (unused dimensions 0): exactly
    what :func:`~fastrnn.kernels.rnn.train_epoch` takes for that model.  Every array must be
    C-contiguous, of the kind given in :data:`ARRAYS` (``"f"``: ``proto``'s dtype), and kept
    alive by the caller during the call; no two models may share a writable array.
    ``modes`` (M, 3) int64: gradient, pooling and optimizer codes.  Outputs per model (only
    entries of ``active`` are written): ``loss`` (M,) float64 summed loss, ``correct`` (M,)
    int64, ``finite`` (M,) bool: loss and all five parameters finite.

    The arrays are rebuilt here as views without an owner (no reference count), so the views
    ``train_epoch`` takes per sample cost no atomic operation and no thread ever writes a
    cache line of another model's buffers.
    """
    F = proto.dtype
    for k in prange(active.shape[0]):
        m = active[k]
        WxhT = _a2(addr, dims, m, A_WXHT, F)
        Whh = _a2(addr, dims, m, A_WHH, F)
        Why = _a2(addr, dims, m, A_WHY, F)
        bh = _a1(addr, dims, m, A_BH, F)
        by = _a1(addr, dims, m, A_BY, F)
        args = (
            _a1(addr, dims, m, A_TOKENS, np.int32), _a1(addr, dims, m, A_OFFSETS, np.int64),
            _a1(addr, dims, m, A_LABELS, np.int64), _a1(addr, dims, m, A_ORDER, np.int64),
            WxhT, Whh, _a2(addr, dims, m, A_WHHT, F), Why, bh, by,
            _a3(addr, dims, m, A_SX, F), _a3(addr, dims, m, A_SHH, F),
            _a3(addr, dims, m, A_SY, F), _a2(addr, dims, m, A_SBH, F),
            _a2(addr, dims, m, A_SBY, F), _a1(addr, dims, m, A_HP, F),
            modes[m, 0], modes[m, 1], modes[m, 2], _a1(addr, dims, m, A_COUNTERS, np.int64),
            _a2(addr, dims, m, A_HS, F), _a2(addr, dims, m, A_G, F),
            _a2(addr, dims, m, A_GX, F), _a1(addr, dims, m, A_MARK, np.int64),
            _a2(addr, dims, m, A_VECS, F), _a1(addr, dims, m, A_AMAX, np.int64),
            _a1(addr, dims, m, A_Y, F), _a1(addr, dims, m, A_P, F),
            _a2(addr, dims, m, A_DWHH, F), _a2(addr, dims, m, A_DWHY, F),
            _a1(addr, dims, m, A_ROWS, np.int64), _a1(addr, dims, m, A_UNIQ, np.int64))
        # the per-optimizer entry points Trainer.epoch uses (same arithmetic, same bits; the
        # optimizer a compile-time constant there: ~15 % faster than the generic train_epoch)
        opt = modes[m, 2]
        if opt == OPT_SGD:
            lo, co = train_epoch_sgd(*args)
        elif opt == OPT_ADAGRAD:
            lo, co = train_epoch_adagrad(*args)
        else:
            lo, co = train_epoch_adam(*args)
        loss[m] = lo
        correct[m] = co
        finite[m] = (np.isfinite(lo) and _finite(WxhT) and _finite(Whh) and _finite(Why)
                     and _finite(bh) and _finite(by))


def _source_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _enable_dependent_cache(dispatcher, *dependencies):
    """Turn on Numba's disk cache for ``dispatcher`` with the sources of ``dependencies``
    (other modules whose functions it calls) in the index key.  If Numba's cache internals
    differ from what this expects, the kernel simply stays uncached (compiled per process)."""
    try:
        from numba.core.caching import FunctionCache

        deps = tuple(_source_hash(os.path.abspath(m.__file__)) for m in dependencies)

        class _DependentCache(FunctionCache):
            def _index_key(self, sig, codegen):
                return super()._index_key(sig, codegen) + (deps,)

        dispatcher._cache = _DependentCache(dispatcher.py_func)
    except Exception:  # pragma: no cover - depends on numba internals
        pass


def _setup_cache():
    from . import rnn
    _enable_dependent_cache(train_epoch_many, rnn)


_setup_cache()
