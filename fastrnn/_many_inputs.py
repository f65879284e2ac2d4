"""``train_many``'s inputs: parameter grids, datasets, model specs, ids and fingerprints.

Turns the accepted forms of ``data`` / ``models`` into :class:`_Dataset` and :class:`_Spec`
objects, checks every configuration before anything trains, and computes the stable ids
``output_dir`` and Dask use.
"""

import hashlib
import itertools
import json
import reprlib

import numpy as np

from ._validation import check_pair
from .model import Model, _PARAMS, _texts

__all__ = ["param_grid", "model_id", "dataset_fingerprint"]

#: Parameters that cannot be sent to another process or written to ``results.jsonl``.
_LOCAL_ONLY = ("tokenizer",)


def param_grid(grid):
    """Expand a grid into a list of parameter dicts (scikit-learn ``ParameterGrid`` order).

    ``grid`` is a dict mapping parameter names to lists of values (a scalar means one value), or
    a list of such dicts (their expansions are concatenated).  Keys are iterated in sorted order
    and the last key varies fastest, as in ``sklearn.model_selection.ParameterGrid``.
    """
    if isinstance(grid, dict):
        grid = [grid]
    if not isinstance(grid, (list, tuple)):
        raise TypeError(f"the grid must be a dict of parameter lists or a list of such dicts, "
                        f"got {type(grid).__name__}")
    if not grid:
        raise ValueError("the grid is empty: give a dict of parameter lists or a non-empty list "
                         "of such dicts")
    out = []
    for g, sub in enumerate(grid):
        if not isinstance(sub, dict):
            raise TypeError(f"grid[{g}] must be a dict of parameter lists, got "
                            f"{type(sub).__name__}")
        keys = sorted(sub)
        values = []
        for k in keys:
            v = sub[k]
            v = list(v) if isinstance(v, (list, tuple, range, np.ndarray)) else [v]
            if not v:
                raise ValueError(f"the grid is empty: parameter {k!r} has no values")
            values.append(v)
        for combo in itertools.product(*values):
            out.append(dict(zip(keys, combo)))
    return out


_PLAIN_TYPES = frozenset((int, float, str, bool, type(None)))


def plain_history(history):
    """Copies of a fit's history rows (``Model.history_``) as JSON-safe values: numpy scalars
    become Python numbers.  Rows that hold plain values already (a numba fit's) are copied
    as they are: checking the types is cheaper than converting every value on the calling
    thread (cProfile, 16 tutorial-sized models: 12 -> 4 ms)."""
    out = []
    for m in history:
        if all(type(v) in _PLAIN_TYPES for v in m.values()):
            out.append(dict(m))
        else:
            out.append({k: _jsonable(v) for k, v in m.items()})
    return out


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    return value


def _plain_params(params, where):
    """Parameters as JSON-safe values (raises naming ``where`` if one cannot be)."""
    out = {}
    for k, v in params.items():
        if k == "progress":
            continue
        if k in _LOCAL_ONLY and v is not None:
            raise ValueError(f"{where}: parameter {k}={v!r} is code and cannot be sent to a "
                             "worker or written to output_dir; use the default")
        if isinstance(v, np.random.Generator):
            raise ValueError(f"{where}: seed must be an int or None (not a Generator) with "
                             "client= or output_dir=")
        v = _jsonable(v)
        try:
            json.dumps(v)
        except TypeError:
            raise ValueError(f"{where}: parameter {k}={reprlib.repr(v)} is not JSON-serialisable"
                             " (client= and output_dir= need plain values"
                             + (": pass the vectors as a file path" if k == "embeddings" else "")
                             + ")") from None
        out[k] = v
    return out


def _describe(params):
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"


def model_name(index, params):
    """How errors and warnings name a model of a batch: ``model 3 (seed=1, hidden_size=32)``
    (``progress``, which changes nothing it learns, left out)."""
    shown = {k: v for k, v in _shown(params).items() if k != "progress"}
    return f"model {index} ({_describe(shown)})"


def dataset_fingerprint(texts, labels):
    """A stable hex digest of a dataset (its texts and labels, in order)."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    y = np.asarray(labels)
    h.update(json.dumps([y.dtype.kind, [_jsonable(v) for v in y.tolist()]]).encode("utf-8"))
    return h.hexdigest()


def model_id(params, fingerprint):
    """The stable id of one model: a hash of its (JSON-safe) parameters and dataset."""
    blob = json.dumps({"params": params, "data": fingerprint}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class _Dataset:
    def __init__(self, index, texts, labels, validation):
        self.index = index
        self.texts = texts
        self.labels = labels
        self.validation = validation
        self._fp = None

    @property
    def fingerprint(self):
        if self._fp is None:
            fp = dataset_fingerprint(self.texts, self.labels)
            if self.validation is not None:
                fp = hashlib.sha256((fp + dataset_fingerprint(*self.validation)).encode()).hexdigest()
            self._fp = fp
        return self._fp

    def plain(self):
        return {"texts": self.texts, "labels": self.labels, "validation": self.validation}


class _Spec:
    """One model to train: index, parameters, dataset, and the user's Model instance if any."""

    def __init__(self, index, params, dataset, model=None):
        self.index = index
        self.params = params
        self.dataset = dataset
        self.model = model
        self.id = None
        self.error = None


def _as_dataset(i, data, what="data"):
    texts, labels = check_pair(what, data, (tuple, list))
    texts = _texts(texts, f"{what} texts")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(texts):
        raise ValueError(f"{what}: labels must be 1-D with one label per text ({len(texts)}), "
                         f"got shape {labels.shape}")
    return texts, labels


def _is_pair(data):
    return (isinstance(data, tuple) and len(data) == 2
            and not isinstance(data[0], tuple) and not isinstance(data[1], tuple))


def _is_list_of_sets(v):
    """``[(texts, labels), ...]`` rather than one ``(texts, labels)`` pair."""
    return (isinstance(v, (list, tuple)) and len(v) > 0 and isinstance(v[0], (list, tuple))
            and len(v[0]) == 2 and isinstance(v[0][0], (list, tuple, np.ndarray)))


def _normalise(data, models, validation_data):
    """Turn the accepted input forms into datasets and specs (raises on malformed input)."""
    if models is None:
        raise ValueError("models is required: a list of Model or parameter dicts, a grid "
                         "(dict of lists), or one Model/dict per dataset")
    # the model configurations
    if isinstance(models, Model):
        configs = [models]
    elif isinstance(models, dict):
        is_grid = any(isinstance(v, (list, tuple, range, np.ndarray)) for v in models.values())
        configs = param_grid(models) if is_grid else [models]
    elif isinstance(models, (list, tuple)):
        configs = list(models)
    else:
        raise TypeError(f"models must be a Model, a dict or a list, got {type(models).__name__}")
    if not configs:
        raise ValueError("no models to train: the list (or grid) of models is empty")
    # the datasets
    if _is_pair(data):
        datasets = [_Dataset(0, *_as_dataset(0, data), None)]
        if _is_list_of_sets(validation_data):
            raise ValueError("validation_data is a list of validation sets but data is one "
                             "(texts, labels) pair: give one validation pair, or a list of "
                             "datasets with one validation set each")
        if validation_data is not None:
            datasets[0].validation = _as_dataset(0, validation_data, "validation_data")
        per_model = [0] * len(configs)
    elif isinstance(data, (list, tuple)):
        if not data:
            raise ValueError("data is an empty list of datasets")
        if validation_data is not None and (not isinstance(validation_data, (list, tuple))
                                            or len(validation_data) != len(data)):
            raise ValueError(f"validation_data must be a list with one (texts, labels) pair or "
                             f"None per dataset ({len(data)})")
        datasets, seen = [], {}
        for i, d in enumerate(data):
            v = None if validation_data is None else validation_data[i]
            # the same objects again (a grid over one dataset): one _Dataset, hashed once
            same = (id(d[0]), id(d[1]), id(v[0]) if v is not None else None,
                    id(v[1]) if v is not None else None) if isinstance(d, (tuple, list)) \
                and len(d) == 2 else None
            if same is not None and same in seen:
                datasets.append(seen[same])
                continue
            ds = _Dataset(i, *_as_dataset(i, d, f"data[{i}]"), None)
            if v is not None:
                ds.validation = _as_dataset(i, v, f"validation_data[{i}]")
            datasets.append(ds)
            if same is not None:
                seen[same] = ds
        if len(configs) == 1:
            one = configs[0]
            configs = [one if not isinstance(one, Model) else Model(**one.get_params())
                       for _ in datasets]
            if isinstance(one, Model):
                configs[0] = one
        if len(configs) != len(datasets):
            raise ValueError(f"got {len(datasets)} datasets but {len(configs)} models: give one "
                             "model per dataset, or a single model/dict for all")
        per_model = list(range(len(datasets)))
    else:
        raise TypeError("data must be a (texts, labels) pair or a list of such pairs")

    specs = []
    for i, (cfg, d) in enumerate(zip(configs, per_model)):
        if isinstance(cfg, Model):
            spec = _Spec(i, cfg.get_params(), datasets[d], cfg)
        elif isinstance(cfg, dict):
            spec = _Spec(i, dict(cfg), datasets[d])
        else:
            raise TypeError(f"model {i}: expected a Model or a dict of parameters, got "
                            f"{type(cfg).__name__}")
        specs.append(spec)
    return datasets, specs


def _check_spec(spec):
    """Build (or check) the spec's Model; returns it, or raises ValueError naming the model."""
    where = model_name(spec.index, spec.params)
    try:
        unknown = [k for k in spec.params if k not in _PARAMS]
        if unknown:
            raise ValueError(f"unknown parameter{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(map(repr, unknown))}; valid parameters: "
                             f"{', '.join(_PARAMS)}")
        model = spec.model if spec.model is not None else Model(**spec.params)
        model._validate()
        if len(np.unique(spec.dataset.labels)) < 2:
            raise ValueError(f"dataset {spec.dataset.index} has only one class "
                             f"({np.unique(spec.dataset.labels)!r}); need at least two")
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None
    return model


def _shown(params):
    """The parameters worth showing: those that differ from Model's defaults."""
    default = Model().get_params()
    return {k: v for k, v in params.items()
            if k not in default or not _same(v, default[k])}


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return a is b


