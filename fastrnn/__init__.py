"""fastrnn: a Numba-JIT CPU engine for small vanilla (tanh) RNN text classifiers."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("fastrnn")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from . import reference  # noqa: E402

__all__ = ["reference", "__version__"]
