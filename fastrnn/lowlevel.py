"""The low-level pieces behind ``Model`` and ``train_many``, for benchmarks and experiments.

A small public surface over private modules (their internals may change; these names stay):

* :class:`Params`, :class:`Trainer` (one model's optimizer state and workspace;
  ``Trainer.epoch(tokens, offsets, labels, order) -> (summed loss, n correct)`` runs one
  whole epoch in one nogil kernel call and raises ``FloatingPointError`` on divergence) and
  :func:`predict_proba`, from :mod:`fastrnn._engine`;
* :func:`init_weights`: the initial weights ``Model`` and the tutorial draw;
* :func:`stratified_split`: the validation split of ``Model.fit(early_stopping=True)``;
* :func:`available_cores` and :func:`check_threads`: how ``train_many`` sizes its pool;
* :class:`GatedParams`, :class:`GatedTrainer`, :func:`gated_predict_proba`: the same for the
  GRU and LSTM cells (from :mod:`fastrnn._gated_engine`, imported on first access, so a
  program that uses only the tanh cell never loads the gated kernels);
* :func:`atomic_write`: the one writer every result file goes through (temporary file, rename,
  umask permissions).

Inputs are not validated here beyond what the kernels need: use ``Model`` for user data.
"""

from ._engine import Params, Trainer, init_weights, predict_proba
from ._fit import stratified_split
from ._io import atomic_write
from ._many_pool import available_cores, check_threads

_GATED = ("GatedParams", "GatedTrainer", "gated_predict_proba")


def __getattr__(name):
    if name in _GATED:
        from . import _gated_engine
        return getattr(_gated_engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_GATED) + ["Params", "Trainer", "init_weights", "predict_proba", "stratified_split",
           "available_cores", "check_threads", "atomic_write"]
