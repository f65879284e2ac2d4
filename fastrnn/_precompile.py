"""Compile some kernels in a helper process while this one compiles the epoch kernel.

A cold first fit spends most of its time in Numba's compiler, on one core: the epoch kernel
with the callees it compiles separately (:func:`kernels.rnn.callee_signatures`: ~2.5 s of
its ~9 s), then the divergence check and the predict kernel (~2 s more).  Numba compiles under
one lock per process, so threads cannot share that work, but a second process can: when the
first epoch kernel call of a process will compile (``fastrnn._compile.will_compile``), the
engine calls :func:`start` with those kernels and their argument types, and::

    python -m fastrnn._precompile        (the job list pickled on stdin)

compiles them, in that order, into the same on-disk cache, printing ``done <i>`` per job.
Meanwhile this process compiles the epoch kernel.  Numba looks in the disk cache before it
compiles a signature (``Dispatcher.compile`` asks ``_cache.load_overload``); for each listed
kernel that lookup is wrapped, for the helper's lifetime, to wait until the helper has finished
that kernel, so this process loads it instead of compiling it again.  The waits end when the
helper finishes the job, exits, or :data:`WAIT_LIMIT` seconds pass; after that, or for
argument types the helper was not given, Numba compiles as it would have.  The helper never
changes what is compiled, only which process compiles it first (the cache's entries are the
same), so results do not depend on it.

It runs only where it can help: JIT on, the kernel's disk cache on, at least two usable CPU
cores, and ``FASTRNN_COMPILE_HELPER`` not ``0`` (the switch; the helper itself runs with it
off).  Measured on the 2-core AMD EPYC machine, cold ``fastrnn demo``: see the README's "First
run".
"""

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import threading
import time

logger = logging.getLogger("fastrnn")

#: Seconds a compile waits, in all, for the helper's job on its kernel (then compiles itself).
WAIT_LIMIT = 60.0

_lock = threading.Lock()
_requested = set()   # (dispatcher, argument types) handed to a helper by this process


def enabled():
    """Whether a helper may be started: the ``FASTRNN_COMPILE_HELPER`` switch is not ``0``,
    JIT is on and this process may use at least two CPU cores."""
    if os.environ.get("FASTRNN_COMPILE_HELPER", "1").strip().lower() in ("0", "false", "no"):
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


class Helper:
    """A running helper process and the waits of this process on its jobs."""

    def __init__(self, jobs):
        self.jobs = jobs                       # [(dispatcher, argument types), ...]
        self.done = [threading.Event() for _ in jobs]
        self.failed = {}                       # job index -> the helper's one-line reason
        self.t0 = time.perf_counter()
        env = dict(os.environ, FASTRNN_COMPILE_HELPER="0", FASTRNN_QUIET="1")
        import numba
        if numba.config.CACHE_DIR:             # as this process sees it (set in code, too)
            env["NUMBA_CACHE_DIR"] = str(numba.config.CACHE_DIR)
        payload = pickle.dumps([(d.py_func.__module__, d.py_func.__name__, sig)
                                for d, sig in jobs])
        self.proc = subprocess.Popen([sys.executable, "-m", "fastrnn._precompile"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self._hooks = []
        self._reader = threading.Thread(target=self._read, name="fastrnn-precompile",
                                        daemon=True)
        try:
            self.proc.stdin.write(payload)
            self.proc.stdin.close()
        except OSError:                        # the helper died at once: nothing to wait for
            self._finish()
            return
        self._install()
        self._reader.start()

    def _read(self):
        try:
            for line in self.proc.stdout:
                word, _, rest = line.decode("utf-8", "replace").strip().partition(" ")
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
        for ev in self.done:                   # nothing more will come: no one waits
            ev.set()
        self._uninstall()
        logger.debug("compile helper finished in %.1f s (failed: %s)",
                     time.perf_counter() - self.t0, self.failed or "none")

    def wait(self, dispatcher):
        """Block until every job on ``dispatcher`` is done (or the helper has ended, or
        :data:`WAIT_LIMIT` has passed since the first wait)."""
        deadline = self.t0 + WAIT_LIMIT
        for (d, _), ev in zip(self.jobs, self.done):
            if d is dispatcher and not ev.is_set():
                ev.wait(max(0.0, deadline - time.perf_counter()))

    def _install(self):
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
        for cache in hooks:
            with contextlib.suppress(AttributeError):
                del cache.load_overload


def _importable(dispatcher):
    """Whether the helper finds ``dispatcher`` as ``module.name`` of its Python function."""
    f = dispatcher.py_func
    return getattr(sys.modules.get(f.__module__), f.__name__, None) is dispatcher


def start(jobs):
    """Start a helper compiling ``jobs`` (``[(dispatcher, argument types), ...]``, in the
    order this process will need them); returns the :class:`Helper`, or None when none is
    started (switched off, one core, no disk cache, or all already handed to a helper)."""
    if not enabled() or not sys.executable:
        return None
    with _lock:
        jobs = [(d, tuple(sig)) for d, sig in jobs
                if _cached(d) is not None and _importable(d)
                and (d, tuple(sig)) not in _requested and tuple(sig) not in d.overloads]
        if not jobs:
            return None
        _requested.update(jobs)
    try:
        return Helper(jobs)
    except OSError as e:                       # no process could be started: compile here
        logger.debug("compile helper not started: %s", e)
        return None


def before_call(kernel, args, what, jobs):
    """Before ``kernel(*args)`` (compile-notice label ``what``): if this first call will
    compile, start a helper on ``jobs()`` (built only then).  The engines' one entry point."""
    from . import _compile
    if _compile.first_call(kernel, what) and enabled() and _compile.will_compile(kernel, args):
        start(jobs())


def main():
    """The helper: compile the pickled ``[(module, name, argument types), ...]`` from stdin
    in order, one ``done <i>`` (or ``fail <i> <reason>``) line per job on stdout."""
    import importlib
    jobs = pickle.load(sys.stdin.buffer)
    for i, (module, name, sig) in enumerate(jobs):
        try:
            getattr(importlib.import_module(module), name).compile(sig)
            print("done %d" % i, flush=True)
        except Exception as e:  # the caller compiles it itself; say why for its debug log
            print("fail %d %s: %s" % (i, type(e).__name__, str(e).splitlines()[0][:200]
                                      if str(e) else ""), flush=True)


if __name__ == "__main__":
    main()
