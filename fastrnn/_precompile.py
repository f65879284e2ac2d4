"""Compile some kernels in a helper process while this one compiles the epoch kernel.

A cold first fit spends most of its time in Numba's compiler, on one core: the epoch kernel
with the callees it compiles separately (:func:`kernels.rnn.callee_signatures`: ~2.5 s of
its ~9 s), then the divergence check and the predict kernel (~2 s more).  Numba compiles under
one lock per process, so threads cannot share that work, but a second process can: when the
first epoch kernel call of a process will compile, the engine calls :func:`before_call`, which
starts a helper::

    python -c "from fastrnn._precompile import main; main()"   (the jobs pickled on stdin)

It says ``ready`` once imported, then compiles the jobs, in order, into the same on-disk
cache, printing ``done <i>`` per job.  Meanwhile this process compiles the epoch kernel.
Numba looks in the disk cache before it compiles a signature (``Dispatcher.compile`` asks
``_cache.load_overload``); for each listed kernel that lookup is wrapped, for the helper's
lifetime, to wait until the helper has finished that kernel, so this process loads it instead
of compiling it again.  A wait ends when the helper finishes the job, fails it, exits, has not
said ``ready`` within :data:`READY_LIMIT` seconds of its start (it is then stopped), or
:data:`WAIT_LIMIT` seconds after its start; after that, or for argument types the helper was
not given, Numba compiles as it would have.  The helper never changes what is compiled, only
which process compiles it first (the cache's entries are the same; saves are serialised by
``kernels._cache``'s folder lock), so results do not depend on it.

One helper runs at a time per process (a second first call meanwhile compiles everything
itself), and only where it can help: JIT on, the kernels' disk cache on and the same folder
in the helper (checked by the helper before it compiles anything), at least two usable CPU
cores, a plain Python interpreter (not a frozen application), and ``FASTRNN_COMPILE_HELPER``
not ``0`` (the switch).  Measured: the README's "First run".
"""

import logging
import os
import pickle
import subprocess
import sys
import threading
import time

logger = logging.getLogger("fastrnn")

#: Seconds after the helper's start when every wait on it ends (the caller then compiles).
WAIT_LIMIT = 60.0
#: Seconds the helper has to import and say ``ready``; a helper that does not is stopped.
READY_LIMIT = 15.0

_lock = threading.Lock()
_requested = set()   # (dispatcher, argument types) handed to a helper by this process
_active = None       # the running Helper (or _STARTING), if any
_STARTING = object()


def enabled():
    """Whether a helper may be started: the ``FASTRNN_COMPILE_HELPER`` switch is not ``0``,
    JIT is on, this is a plain Python interpreter and it may use at least two CPU cores."""
    if os.environ.get("FASTRNN_COMPILE_HELPER", "1").strip().lower() in ("0", "false", "no"):
        return False
    if not sys.executable or getattr(sys, "frozen", False):
        return False
    import numba
    if numba.config.DISABLE_JIT:
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return cores >= 2


def _cached(dispatcher):
    """The dispatcher's on-disk cache object if it has a working one (``cache=True``), else
    None (a helper's compile would not reach this process)."""
    cache = getattr(dispatcher, "_cache", None)
    if (getattr(cache, "_cache_file", None) is None or not getattr(cache, "_enabled", True)
            or not callable(getattr(cache, "load_overload", None))):
        return None
    return cache


def _cache_path(dispatcher):
    return os.path.abspath(str(getattr(_cached(dispatcher), "_cache_path", "")))


def _importable(dispatcher):
    """Whether the helper finds ``dispatcher`` as ``module.name`` of its Python function."""
    f = dispatcher.py_func
    return getattr(sys.modules.get(f.__module__), f.__name__, None) is dispatcher


class Helper:
    """A running helper process and the waits of this process on its jobs."""

    def __init__(self, jobs):
        global _active
        with _lock:
            _active = self                     # _finish clears it
        self.jobs = jobs                       # [(dispatcher, argument types), ...]
        self.done = [threading.Event() for _ in jobs]
        self.ready = threading.Event()
        self.failed = {}                       # job index -> the helper's one-line reason
        self.t0 = time.perf_counter()
        self._hooks = []
        payload = pickle.dumps([(d.py_func.__module__, d.py_func.__name__, sig, _cache_path(d))
                                for d, sig in jobs])
        env = dict(os.environ, FASTRNN_COMPILE_HELPER="0", FASTRNN_QUIET="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from fastrnn._precompile import main; main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        try:
            self.proc.stdin.write(payload)
            self.proc.stdin.close()
        except OSError:                        # the helper died at once: nothing to wait for
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self._finish()
            return
        self._install()
        self._reader = threading.Thread(target=self._read, name="fastrnn-precompile",
                                        daemon=True)
        self._reader.start()

    def _read(self):
        try:
            for line in self.proc.stdout:
                word, _, rest = line.decode("utf-8", "replace").strip().partition(" ")
                if word == "ready":
                    self.ready.set()
                    continue
                i, _, reason = rest.partition(" ")
                if word in ("done", "fail") and i.isdigit() and int(i) < len(self.done):
                    if word == "fail":
                        self.failed[int(i)] = reason
                    self.done[int(i)].set()
        finally:
            self.proc.stdout.close()
            self.proc.wait()
            self._finish()

    def _finish(self):
        global _active
        self.ready.set()
        for ev in self.done:                   # nothing more will come: no one waits
            ev.set()
        self._uninstall()
        with _lock:
            if _active is self:
                _active = None
        logger.debug("compile helper finished in %.1f s (failed: %s)",
                     time.perf_counter() - self.t0, self.failed or "none")

    def wait(self, dispatcher):
        """Block until every job on ``dispatcher`` is done, the helper has ended, or the
        limits of the module docstring have passed."""
        if not self.ready.wait(max(0.0, self.t0 + READY_LIMIT - time.perf_counter())):
            logger.debug("compile helper not ready after %.0f s: stopped", READY_LIMIT)
            self.proc.kill()                   # the reader then sees EOF and finishes
            self._finish()
            return
        deadline = self.t0 + WAIT_LIMIT
        for (d, _), ev in zip(self.jobs, self.done):
            if d is dispatcher and not ev.is_set():
                ev.wait(max(0.0, deadline - time.perf_counter()))

    def _install(self):
        with _lock:
            for d in {d for d, _ in self.jobs}:
                cache = _cached(d)
                original = cache.load_overload

                def load_overload(sig, target_context, _d=d, _original=original):
                    self.wait(_d)
                    return _original(sig, target_context)

                cache.load_overload = load_overload   # an instance attribute shadows the method
                self._hooks.append(cache)

    def _uninstall(self):
        with _lock:
            hooks, self._hooks = self._hooks, []
            for cache in hooks:                # only this helper's (one helper at a time)
                vars(cache).pop("load_overload", None)


def start(jobs):
    """Start a helper compiling ``jobs`` (``[(dispatcher, argument types), ...]``, in the
    order this process will need them); returns the :class:`Helper`, or None when none is
    started: switched off, one core, a helper already running, or nothing left to compile
    (no disk cache, already in this process or on disk, already handed to a helper)."""
    global _active
    if not enabled():
        return None
    from . import _compile
    with _lock:
        if _active is not None:
            return None
        jobs = [(d, tuple(sig)) for d, sig in jobs
                if _cached(d) is not None and _importable(d)
                and (d, tuple(sig)) not in _requested and tuple(sig) not in d.overloads
                and not _compile.in_disk_cache(d, tuple(sig))]
        if not jobs:
            return None
        _requested.update(jobs)
        _active = _STARTING                    # no second helper while this one starts
    try:
        return Helper(jobs)
    except OSError as e:                       # no process could be started: compile here
        logger.debug("compile helper not started: %s", e)
        with _lock:
            _active = None
        return None


def before_call(kernel, args, what, jobs):
    """Before ``kernel(*args)`` (compile-notice label ``what``): if this first call will
    compile, start a helper on ``jobs()`` (built only then; a failure to build them costs the
    helper, never the call).  The engines' one entry point."""
    from . import _compile
    if not (_compile.first_call(kernel, what) and enabled()
            and _compile.will_compile(kernel, args)):
        return
    try:
        todo = jobs()
    except Exception as e:  # a bug in the job list must not break the fit
        logger.debug("compile helper not started: its jobs failed (%s: %s)",
                     type(e).__name__, e)
        return
    start(todo)


def main():
    """The helper: say ``ready``, then compile the pickled ``[(module, name, argument types,
    cache folder), ...]`` from stdin in order, one ``done <i>`` (or ``fail <i> <reason>``)
    line per job on stdout.  A job whose kernel caches in another folder here than in the
    caller (``NUMBA_CACHE_DIR`` changed in code, say) is not compiled: it would not reach it."""
    import importlib
    jobs = pickle.load(sys.stdin.buffer)
    print("ready", flush=True)
    for i, (module, name, sig, folder) in enumerate(jobs):
        try:
            d = getattr(importlib.import_module(module), name)
            if _cache_path(d) != folder:
                print("fail %d the helper caches in %s, the caller in %s"
                      % (i, _cache_path(d), folder), flush=True)
                continue
            d.compile(sig)
            print("done %d" % i, flush=True)
        except BrokenPipeError:
            return                             # the caller is gone
        except Exception as e:  # the caller compiles it itself; say why for its debug log
            print("fail %d %s: %s" % (i, type(e).__name__, str(e).splitlines()[0][:200]
                                      if str(e) else ""), flush=True)


if __name__ == "__main__":
    main()
