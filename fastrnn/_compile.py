"""Say what Numba is compiling, on the first call only, on a terminal or not.

A cold first run compiles the kernels it calls (an epoch kernel ~10 s with its callees, the
predict kernels ~1.8 s, on a quiet 2-core AMD EPYC; a GRU's epoch kernel ~13 s) and looks hung while it does.  The engine wraps each kernel call::

    loss, correct = _compile.call(K.rnn.train_epoch_adagrad, *args,
                                  what="adagrad float32 epoch kernel", about=10)

which, when Numba will really compile (no overload for these argument types in this process and
no entry for them in the on-disk cache), prints one line before the call and finishes it after::

    fastrnn: compiling the adagrad float32 epoch kernel (first run only, about 10 s; `fastrnn
    warmup` compiles ahead)... done in 10.1 s

(a GRU or LSTM model's line names its cell: "the GRU adagrad float32 epoch kernel").

Where the line goes: when logging is configured (the ``fastrnn`` logger or the root logger has
a handler) it is logged on the ``fastrnn`` logger at INFO (two records: "compiling ..." and
"compiled ... in 10.1 s"), so the logging setup decides; otherwise it is written to stderr.
Silence it with ``FASTRNN_QUIET=1`` or ``logging.getLogger("fastrnn").setLevel(logging.WARNING)``.
A warm cache, or a second call in the same process, prints nothing.

Cost: the first call per ``(kernel, what)`` in a process types the arguments and reads the
cache index (a fraction of a millisecond, against the seconds a compile or cache load takes);
every later call is one dictionary lookup (well under a microsecond; the budget is 50 µs).
Label ``what`` with everything that selects a compilation (optimizer, dtype, cell), so that a
new one is noticed.
"""

import contextlib
import logging
import os
import sys
import threading
import time

logger = logging.getLogger("fastrnn")

_seen = set()  # (dispatcher, what) already called in this process
# Held while checking, and through the call when it compiles: a thread making the same first
# call meanwhile then finds the kernel compiled (no second notice), and two notices never
# interleave on stderr.  Numba compiles under its own global lock anyway.  Re-entrant: a
# compiling() body may call() another kernel.
_lock = threading.RLock()


def quiet():
    """``True`` when ``FASTRNN_QUIET`` is set to anything but ``""``/``"0"``."""
    return os.environ.get("FASTRNN_QUIET", "0").strip().lower() not in ("", "0", "false", "no")


def will_compile(dispatcher, args):
    """Whether calling ``dispatcher(*args)`` now makes Numba compile (rather than reuse an
    overload of this process or load one from the on-disk cache).

    ``False`` for anything that is not a Numba dispatcher (e.g. under ``NUMBA_DISABLE_JIT=1``).
    Costs ~15 µs per argument (Numba's ``typeof`` from Python) plus a read of the cache index;
    :func:`call` does it once per kernel and label.
    """
    overloads = getattr(dispatcher, "overloads", None)
    sig = signature(dispatcher, args)
    if sig is None or sig in overloads:
        return False
    return not in_disk_cache(dispatcher, sig)


def signature(dispatcher, args):
    """The argument types Numba compiles ``dispatcher(*args)`` for (defaults left out of
    ``args`` included), or None: not a Numba dispatcher, or an argument Numba cannot type
    (numba raises its own error on the call)."""
    if getattr(dispatcher, "overloads", None) is None or not hasattr(dispatcher, "typeof_pyval"):
        return None
    try:
        return tuple(dispatcher.typeof_pyval(a) for a in args) + _omitted(dispatcher, len(args))
    except Exception:
        return None


def first_call(dispatcher, what):
    """Whether ``dispatcher`` under the label ``what`` has not been called through
    :func:`call` or :func:`ensure` in this process yet (one set lookup)."""
    return (dispatcher, what) not in _seen


def _omitted(dispatcher, n_given):
    """The types Numba gives the parameters after the first ``n_given`` that the call leaves
    to their defaults (``omitted(default=...)``), as part of the overload's signature."""
    import inspect
    from numba.core import types
    params = list(inspect.signature(dispatcher.py_func).parameters.values())[n_given:]
    return tuple(types.Omitted(p.default) for p in params
                 if p.default is not inspect.Parameter.empty)


def in_disk_cache(dispatcher, sig):
    """Whether Numba's on-disk cache of ``dispatcher`` holds an entry for the argument types
    ``sig`` that matches this source, Numba version and CPU (the key Numba itself looks up)."""
    cache = getattr(dispatcher, "_cache", None)
    cache_file = getattr(cache, "_cache_file", None)
    if cache_file is None or not getattr(cache, "_enabled", True):
        return False  # cache=False (numba's NullCache): every process compiles
    try:
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache_file._load_index()
    except Exception:  # an unreadable or foreign index: numba will compile, and so say we
        return False


def _actual_cache_path():
    """The folder Numba caches the kernels in (asked of one of them), or None."""
    from . import kernels
    path = getattr(getattr(kernels.rnn.predict_proba_range, "_cache", None), "_cache_path", None)
    return os.path.abspath(path) if path else None


def _inside(path, folder):
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def cache_dir():
    """Where compiled kernels are cached: ``NUMBA_CACHE_DIR`` when set and usable, else the
    folder Numba really uses (the ``__pycache__`` folder beside the kernels' source files, or
    Numba's user-wide cache): when ``NUMBA_CACHE_DIR`` cannot be made or written, Numba falls
    back to those without a word (see :func:`unused_cache_setting`)."""
    import numba
    wanted = os.path.abspath(numba.config.CACHE_DIR) if numba.config.CACHE_DIR else None
    actual = _actual_cache_path()
    if wanted and (actual is None or _inside(actual, wanted)):
        return wanted
    if actual:
        return actual
    from . import kernels
    return os.path.join(os.path.dirname(os.path.abspath(kernels.__file__)), "__pycache__")


def unused_cache_setting():
    """``NUMBA_CACHE_DIR`` when it is set but Numba cannot use it (it caches in
    :func:`cache_dir` instead), else None."""
    import numba
    if not numba.config.CACHE_DIR:
        return None
    wanted = os.path.abspath(numba.config.CACHE_DIR)
    actual = _actual_cache_path()
    return None if actual is None or _inside(actual, wanted) else wanted


def _to_logging():
    return logger.hasHandlers()


def _start(what, about):
    if quiet() or (logger.level and logger.level > logging.INFO):
        return None
    hint = "first run only%s; `fastrnn warmup` compiles ahead" % (
        ", about %g s" % about if about else "")
    if _to_logging():
        logger.info("compiling the %s (%s)...", what, hint)
        return "log"
    try:
        sys.stderr.write("fastrnn: compiling the %s (%s)..." % (what, hint))
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # no usable stderr (closed, None)
        return None
    return "stderr"


def _finish(how, what, seconds, ok):
    if how == "log":
        if ok:
            logger.info("compiled the %s in %.1f s", what, seconds)
        else:
            logger.info("compiling the %s failed after %.1f s", what, seconds)
    elif how == "stderr":
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(" done in %.1f s\n" % seconds if ok
                             else " failed after %.1f s\n" % seconds)
            sys.stderr.flush()


@contextlib.contextmanager
def compiling(dispatcher, args, what, about=None):
    """Around a call of ``dispatcher(*args)``: announce and time it if it will compile.

    ``what`` names the kernel for the user ("adagrad float32 epoch kernel"); ``about`` is the
    usual compile time in seconds on a small machine, shown as a hint when given.  Yields
    whether a notice was given.
    """
    key = (dispatcher, what)
    if key in _seen:
        yield False
        return
    _lock.acquire()
    locked = True
    try:
        if key in _seen or not will_compile(dispatcher, args):
            _lock.release()
            locked = False
            yield False
            _seen.add(key)
            return
        how = _start(what, about)
        t0 = time.perf_counter()
        ok = False
        try:
            yield how is not None
            ok = True
        finally:
            _finish(how, what, time.perf_counter() - t0, ok)
            if ok:
                _seen.add(key)
    finally:
        if locked:
            _lock.release()


def call(dispatcher, *args, what, about=None):
    """``dispatcher(*args)``, announcing a compile on the first call (see :func:`compiling`)."""
    if (dispatcher, what) in _seen:
        return dispatcher(*args)
    with compiling(dispatcher, args, what, about):
        return dispatcher(*args)


def ensure(dispatcher, *args, what, about=None):
    """Make ``dispatcher`` ready for the argument types of ``args`` (compiled or loaded from
    the cache), announcing a compile as :func:`call` does, once per process and label: it
    calls ``dispatcher(*args)``, which the caller makes a no-op (e.g. an empty range).  For
    kernels whose real calls run where a notice cannot go first (the predict kernels' thread
    pool) or that are called every epoch (a validation set's predict)."""
    if (dispatcher, what) in _seen:
        return
    with compiling(dispatcher, args, what, about):
        dispatcher(*args)


def kernel_dispatchers():
    """Every Numba dispatcher defined in :mod:`fastrnn.kernels` (name -> dispatcher)."""
    import importlib
    import pkgutil
    from numba.core.dispatcher import Dispatcher
    from . import kernels
    out = {}
    for mod in pkgutil.iter_modules(kernels.__path__, kernels.__name__ + "."):
        m = importlib.import_module(mod.name)
        for name, obj in vars(m).items():
            if isinstance(obj, Dispatcher) and getattr(obj, "__module__", None) == m.__name__:
                out.setdefault("%s.%s" % (m.__name__.rsplit(".", 1)[-1], name), obj)
    return out


def cache_counts():
    """``(cache hits, compilations)`` summed over :func:`kernel_dispatchers` in this process.

    A call that compiled raises the second number; one served from the on-disk cache raises
    only the first; a call reusing this process's overload raises neither.
    """
    hits = misses = 0
    for d in kernel_dispatchers().values():
        st = d.stats
        hits += sum(st.cache_hits.values())
        misses += sum(st.cache_misses.values())
    return hits, misses
