"""Ensembles of fitted models: averaged class probabilities."""

import numpy as np

from .model import Model, _texts

__all__ = ["Ensemble", "average_proba"]


class Ensemble:
    """Average the class probabilities of fitted models that share the same classes.

    ``Ensemble(models).predict_proba(texts)`` is the mean of ``m.predict_proba(texts)`` (in
    float64); ``predict`` takes its argmax; ``score`` is the accuracy.  ``None`` entries (failed
    models from :func:`train_many`) are refused: filter them out first.
    """

    def __init__(self, models):
        if isinstance(models, (Model, str, bytes)) or not hasattr(models, "__iter__"):
            raise TypeError(f"Ensemble takes a list of fitted Models, got "
                            f"{type(models).__name__}")
        models = list(models)
        if not models:
            raise ValueError("an Ensemble needs at least one fitted model")
        for i, m in enumerate(models):
            if not isinstance(m, Model):
                raise TypeError(f"models[{i}] is {type(m).__name__}, not a fitted Model")
            m._check_fitted()
        c0 = models[0].classes_
        for i, m in enumerate(models[1:], 1):
            if m.classes_.shape != c0.shape or not np.array_equal(m.classes_, c0):
                raise ValueError(f"models[{i}] has classes {m.classes_!r}, but models[0] has "
                                 f"{c0!r}: an ensemble needs identical classes")
        self.models = models
        self.classes_ = c0

    def predict_proba(self, texts):
        """Mean class probabilities, shape ``(n, n_classes)``, float64."""
        texts = _texts(texts)
        acc = np.zeros((len(texts), len(self.classes_)), dtype=np.float64)
        for m in self.models:
            acc += m.predict_proba(texts)
        return acc / len(self.models)

    def predict(self, texts):
        return self.classes_[np.argmax(self.predict_proba(texts), axis=1)]

    def score(self, texts, labels):
        """Accuracy; ``labels`` checked as :meth:`Model.score` checks them (one per text, known
        classes, no missing label)."""
        texts = _texts(texts)
        if not texts:
            raise ValueError("cannot score on an empty dataset")
        yi = self.models[0]._encode_labels(labels, len(texts))
        return float(np.mean(np.argmax(self.predict_proba(texts), axis=1) == yi))


def average_proba(models, texts):
    """``Ensemble(models).predict_proba(texts)``."""
    return Ensemble(models).predict_proba(texts)
