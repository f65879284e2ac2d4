"""Numba kernels of fastrnn (installed as ``fastrnn.kernels``).

Arrays and scalars in, caller-owned buffers out; no validation here (see :mod:`fastrnn._engine`).
"""

from ._cache import depends_on
from .rnn import (
    GRADIENT_EXACT, GRADIENT_TUTORIAL, POOL_LAST, POOL_MEAN, POOL_MAX,
    OPT_SGD, OPT_ADAGRAD, OPT_ADAM, GRADIENT_NAMES, POOLING_NAMES, OPTIMIZER_NAMES,
    HP_FIELDS, N_VECS, EPOCH_BUNDLES, TRAIN_EPOCH_BY_OPTIMIZER,
    rnn_step, pool_states, readout, softmax_loss, forward, backward_steps,
    accumulate_gradients, backward, apply_update, train_epoch_sgd, train_epoch_adagrad,
    train_epoch_adam, train_epoch_adagrad_default, epoch_kernel, predict_proba_range,
)

__all__ = [
    "depends_on",
    "GRADIENT_EXACT", "GRADIENT_TUTORIAL", "POOL_LAST", "POOL_MEAN", "POOL_MAX",
    "OPT_SGD", "OPT_ADAGRAD", "OPT_ADAM", "GRADIENT_NAMES", "POOLING_NAMES", "OPTIMIZER_NAMES",
    "HP_FIELDS", "N_VECS", "EPOCH_BUNDLES", "TRAIN_EPOCH_BY_OPTIMIZER",
    "rnn_step", "pool_states", "readout", "softmax_loss", "forward", "backward_steps",
    "accumulate_gradients", "backward", "apply_update", "train_epoch_sgd", "train_epoch_adagrad",
    "train_epoch_adam", "train_epoch_adagrad_default", "epoch_kernel", "predict_proba_range",
]
