"""Soft voting of ``Model`` with a bag-of-words pipeline, as the README shows it."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.ensemble import VotingClassifier  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer  # noqa: E402
from sklearn.naive_bayes import MultinomialNB  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn.datasets import load_demo  # noqa: E402


def test_soft_vote_with_naive_bayes_averages_probabilities():
    (tr, ytr), (te, yte) = load_demo(n_train=400, n_test=60, seed=1)
    rnn = fastrnn.Model(seed=0, epochs=5, progress=False)
    nb = make_pipeline(CountVectorizer(ngram_range=(1, 2), binary=True), MultinomialNB())
    vote = VotingClassifier([("rnn", rnn), ("nb", nb)], voting="soft").fit(tr, ytr)
    p = vote.predict_proba(te)
    assert p.shape == (len(te), 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    # soft voting is the mean of the fitted members' probabilities
    members = [est.predict_proba(te) for est in vote.estimators_]
    np.testing.assert_allclose(p, np.mean(members, axis=0), rtol=1e-6)
    assert set(vote.predict(te)) <= set(ytr)
    assert 0.0 <= vote.score(te, yte) <= 1.0
