"""fastrnn: a Numba-JIT CPU engine for small vanilla (tanh) RNN text classifiers.

Public API: :class:`RNN` (drop-in for the classic tutorial's class), :class:`Model`
(scikit-learn-style text classifier), :class:`Vocabulary`, :mod:`fastrnn.datasets`,
:mod:`fastrnn.reference` (the plain-numpy oracle).
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("fastrnn")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from . import datasets, reference  # noqa: E402
from .model import (DivergenceWarning, EmptyTextWarning, MissingVectorsWarning, Model,  # noqa: E402
                    NotFittedError)
from .ensemble import Ensemble, average_proba  # noqa: E402
from .many import ThreadsWarning, TrainManyResult, param_grid, train_many  # noqa: E402
from .rnn import RNN  # noqa: E402
from .vocab import Vocabulary  # noqa: E402
from .vectors import WordVectors, load_vectors  # noqa: E402

__all__ = ["Model", "NotFittedError", "EmptyTextWarning", "DivergenceWarning",
           "MissingVectorsWarning", "RNN", "train_many", "param_grid",
           "TrainManyResult", "ThreadsWarning", "Ensemble", "average_proba", "Vocabulary",
           "load_vectors", "WordVectors", "datasets", "reference", "__version__"]
