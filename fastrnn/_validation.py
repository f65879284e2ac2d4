"""Input checks shared by the public API: every bad input is refused here, before a kernel runs.

The kernels do not bounds-check, so everything they index with (word ids, labels, offsets,
sample orders) and every array they write into is checked by these functions first.
"""

import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype):
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise ``TypeError``
    (``None`` too: numpy would read it as float64)."""
    if dtype is None:
        raise TypeError("dtype must be float32 or float64, got None")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def check_bool(name, value, allow_none=False):
    """``value`` as a bool if it is one (numpy's included, and the integers 0 and 1; ``None``
    if allowed), else ``TypeError``: a truthy string such as ``"False"`` must not pass as
    True."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    extra = " or None" if allow_none else ""
    raise TypeError(f"{name} must be True or False{extra}, got {value!r}")


def check_pair(name, value, kinds=(tuple, list, np.ndarray)):
    """``value`` as ``(texts, labels)``: one of ``kinds`` holding two items, else a
    ``ValueError`` naming ``name`` and what it got."""
    seq = isinstance(value, kinds)
    if not seq or len(value) != 2:
        got = f"a {type(value).__name__} of {len(value)}" if seq else type(value).__name__
        raise ValueError(f"{name} must be a (texts, labels) pair, got {got}")
    return value[0], value[1]


def check_int(name, value, minimum=None, maximum=None, what=None):
    """An integer (not bool) within bounds, returned as ``int``; ``what`` (e.g. ``'or
    "auto"'``) names the other values ``name`` accepts in the ``TypeError``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer{' ' + what if what else ''}, got "
                        f"{type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(name, value, *, positive=False, nonnegative=False, allow_none=False,
                below=None):
    """A finite real number (not bool), returned as ``float``; ``None`` if allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if below is not None and value >= below:
        raise ValueError(f"{name} must be < {below}, got {value}")
    return value


def check_choice(name, value, choices):
    """``value`` must be one of ``choices`` (strings); returns its index."""
    if not isinstance(value, str) or value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {opts}, got {value!r}")
    return choices.index(value)


def as_int_array(name, a, dtype):
    """Convert to an integer array of ``dtype`` without silent truncation or wrap-around."""
    arr = np.asarray(a)
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    info = np.iinfo(dtype)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise ValueError(f"{name} has values outside the range of {np.dtype(dtype)}")
    return np.ascontiguousarray(arr, dtype=dtype)


def check_corpus(tokens, offsets, vocab_size):
    """Validate a flat corpus; returns ``(tokens int32 C-contiguous, offsets int64)``.

    ``tokens`` holds word ids in ``[0, vocab_size)``; ``offsets`` has length n+1, starts at 0,
    ends at ``len(tokens)`` and strictly increases (every sentence has at least one word).
    """
    tokens = as_int_array("tokens", tokens, np.int32)
    offsets = as_int_array("offsets", offsets, np.int64)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {tokens.shape}")
    if offsets.ndim != 1 or offsets.shape[0] < 2:
        raise ValueError(f"offsets must be 1-D with at least 2 entries (one sentence), "
                         f"got shape {offsets.shape}")
    if offsets[0] != 0 or offsets[-1] != tokens.shape[0]:
        raise ValueError(f"offsets must start at 0 and end at len(tokens)={tokens.shape[0]}, "
                         f"got {offsets[0]} .. {offsets[-1]}")
    lengths = np.diff(offsets)
    if (lengths <= 0).any():
        s = int(np.argmax(lengths <= 0))
        raise ValueError(f"sentence {s} is empty (or offsets decrease): every sentence needs "
                         "at least one word")
    if tokens.size:
        lo, hi = tokens.min(), tokens.max()
        if lo < 0:
            raise ValueError(f"word ids must be >= 0, got {lo}")
        if hi >= vocab_size:
            raise ValueError(f"word id {hi} is out of range for a vocabulary of {vocab_size} "
                             "words")
    return tokens, offsets


def check_labels(labels, n_samples, n_classes):
    """Integer class indices in ``[0, n_classes)``, one per sample; returns int64."""
    labels = as_int_array("labels", labels, np.int64)
    if labels.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},), one per sentence, "
                         f"got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must be class indices in [0, {n_classes}), got values "
                         f"from {labels.min()} to {labels.max()}")
    return labels


def check_order(order, n_samples):
    """A 1-D int64 array of sample indices in ``[0, n_samples)``."""
    order = as_int_array("order", order, np.int64)
    if order.ndim != 1:
        raise ValueError(f"order must be 1-D, got shape {order.shape}")
    if order.size and (order.min() < 0 or order.max() >= n_samples):
        raise ValueError(f"order must hold sample indices in [0, {n_samples})")
    return order
