"""Numba's on-disk cache for kernels that embed code from other files.

Numba keys a cached kernel on its own file only, but a cached caller contains the compiled code
of every ``njit`` function it calls.  A kernel in ``dropin.py`` that calls ``rnn.py``'s functions
would therefore keep serving the old machine code after an edit to ``rnn.py``.  :func:`depends_on`
turns the disk cache on with the sources of the given modules in the cache index key, so an edit
to any of them recompiles::

    @depends_on(rnn)
    @njit(cache=True, error_model="numpy", nogil=True)
    def kernel(...): ...

    depends_on(rnn)(dispatcher)                  # the same, for an existing dispatcher

Saves into one cache folder are serialised by a file lock (``fastrnn-cache.lock``, POSIX
``flock``): numba's index is read, given a new data file name and written back, so two processes
saving new signatures of one kernel at once (several Dask workers or pytest-xdist workers on a
cold cache, or fastrnn's compile helper beside the fit it helps) could otherwise both claim the
same data file, and the index would name one signature's code for another.  Kernels with
Numba's plain cache get the same lock from :func:`lock_saves` (the same cache entries).

The hook subclasses a private Numba class (``numba.core.caching.FunctionCache._index_key``).
If that is not there as expected, the kernel's disk cache is switched off (compiled once per
process, never stale) and a :class:`CacheHookWarning` says so; ``tests/test_kernels.py``
checks that every kernel which needs the hook has it (:func:`is_dependency_cached`), so CI fails
loudly.
"""

import contextlib
import hashlib
import os
import warnings

from numba.core.dispatcher import Dispatcher

__all__ = ["CacheHookWarning", "depends_on", "dependency_key", "is_dependency_cached",
           "lock_saves"]

#: the lock file that serialises saves into one cache folder (see ``DependentCache``)
LOCK_FILE = "fastrnn-cache.lock"


class CacheHookWarning(RuntimeWarning):
    """The dependent-cache hook could not be installed: the kernel is compiled every process."""


def _source_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def dependency_key(paths):
    """``((basename, sha256 of the source), ...)`` for the files ``paths``, read now."""
    return tuple((os.path.basename(p), _source_hash(p)) for p in paths)


@contextlib.contextmanager
def _folder_lock(folder):
    """An exclusive ``flock`` on ``folder/fastrnn-cache.lock`` for the ``with`` block (POSIX;
    elsewhere, or if the lock file cannot be made, no lock: numba's own behaviour)."""
    try:
        import fcntl
        f = open(os.path.join(folder, LOCK_FILE), "a")
    except (ImportError, OSError):
        yield
        return
    with f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _make_cache_class():
    from numba.core.caching import FunctionCache

    if not callable(getattr(FunctionCache, "_index_key", None)):
        raise AttributeError("numba.core.caching.FunctionCache has no _index_key method")

    class LockedCache(FunctionCache):
        """Numba's function cache, its saves serialised across processes (same index key)."""

        def _save_overload(self, sig, data):
            # numba reads the index, picks a free data file name and writes both back: two
            # processes saving new signatures of one kernel at once (Dask workers, pytest-xdist
            # or fastrnn's compile helper on a cold cache) could claim the same file, leaving
            # an index entry that names another signature's code.  One save at a time per
            # cache folder.
            if not self._enabled:
                return
            self._impl.locator.ensure_cache_path()
            with _folder_lock(self.cache_path):
                super()._save_overload(sig, data)

    class DependentCache(LockedCache):
        """:class:`LockedCache` with the dependencies' source hashes in the index key."""

        def __init__(self, py_func, paths):
            super().__init__(py_func)
            self.dependency_paths = tuple(paths)

        def _index_key(self, sig, codegen):
            # read at every load and save, so an edit made while a process runs counts too
            return super()._index_key(sig, codegen) + (dependency_key(self.dependency_paths),)

    return FunctionCache, LockedCache, DependentCache


try:
    _FunctionCache, _LockedCache, _DependentCache = _make_cache_class()
    _HOOK_ERROR = None
except Exception as e:  # pragma: no cover - depends on numba internals
    _FunctionCache = _LockedCache = _DependentCache = None
    _HOOK_ERROR = e


def lock_saves(namespace, module):
    """Give every dispatcher of ``module`` (name) found in ``namespace`` (its ``globals()``)
    that has Numba's plain disk cache a :class:`LockedCache`: the same cache entries, its saves
    serialised by the folder lock as ``depends_on``'s are.  Called at the end of each kernel
    module.  Without the hook (numba internals changed) the caches stay as they are."""
    if _LockedCache is None:  # pragma: no cover - depends on numba internals
        return
    for d in list(namespace.values()):
        if (isinstance(d, Dispatcher) and d.py_func.__module__ == module
                and type(getattr(d, "_cache", None)) is _FunctionCache):
            d._cache = _LockedCache(d.py_func)


def _disable_cache(dispatcher):  # pragma: no cover - depends on numba internals
    """Fall back to no disk cache: a stale cached kernel is worse than a slow start."""
    from numba.core.caching import NullCache

    dispatcher._cache = NullCache()


def depends_on(*modules):
    """Decorator: cache an ``njit`` dispatcher on disk, keyed also on the sources of ``modules``.

    ``modules`` are imported modules (or anything with a ``__file__``) whose njit functions the
    kernel calls; a module's ``KERNEL_DEPENDENCIES`` (modules whose njit code its functions
    embed) are added, transitively.  Returns the dispatcher (made with or without ``cache=True``: its cache is
    replaced).  If the hook cannot be installed the kernel's disk cache is switched off and a
    :class:`CacheHookWarning` is issued.
    """
    paths = []
    # a module's own njit dependencies (its KERNEL_DEPENDENCIES) are keyed too, transitively
    pending, seen = list(modules), set()
    modules = []
    while pending:
        m = pending.pop(0)
        if id(m) not in seen:
            seen.add(id(m))
            modules.append(m)
            pending.extend(getattr(m, "KERNEL_DEPENDENCIES", ()))
    for m in modules:
        path = getattr(m, "__file__", None)
        if not path:
            raise TypeError("depends_on takes modules with a source file, got %r" % (m,))
        paths.append(os.path.abspath(path))

    def install(dispatcher):
        if not isinstance(dispatcher, Dispatcher):
            raise TypeError("depends_on applies to an njit dispatcher, got %r" % (dispatcher,))
        error = _HOOK_ERROR
        if error is None:
            try:
                dispatcher._cache = _DependentCache(dispatcher.py_func, paths)
                return dispatcher
            except Exception as e:  # pragma: no cover - depends on numba internals
                error = e
        _disable_cache(dispatcher)  # pragma: no cover - depends on numba internals
        warnings.warn("numba's cache internals changed (%s): the disk cache of %s is off"
                      % (error, dispatcher.py_func.__qualname__), CacheHookWarning, stacklevel=2)
        return dispatcher

    return install


def is_dependency_cached(dispatcher, *modules):
    """True when ``dispatcher``'s disk cache is keyed on the sources of all ``modules``."""
    cache = getattr(dispatcher, "_cache", None)
    if _DependentCache is None or not isinstance(cache, _DependentCache):
        return False
    want = {os.path.abspath(m.__file__) for m in modules}
    return want <= set(cache.dependency_paths)
