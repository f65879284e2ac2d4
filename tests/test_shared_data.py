"""Checks on the real data in ../shared/data (skipped cleanly in a clone without it)."""

import numpy as np
import pytest

from fastrnn import RNN
from fastrnn.datasets import load_tsv

pytestmark = pytest.mark.shared


def test_tutorial_data_learned_with_the_drop_in(shared_data):
    """The tutorial's recipe through fastrnn.RNN: 100% test accuracy within 1,000 epochs.

    Measured over 10 seeds: gradient="exact" reaches 100% on every seed by epoch 400;
    gradient="tutorial" on 7 of 10 (the others end at 90-95%).  Three seeds are checked here.
    """
    tr, ytr = load_tsv(shared_data / "tutorial" / "train.tsv")
    te, yte = load_tsv(shared_data / "tutorial" / "test.tsv")
    vocab = sorted({w for t in tr for w in t.split(" ")})
    idx = {w: i for i, w in enumerate(vocab)}
    Xtr = [[idx[w] for w in t.split(" ")] for t in tr]
    Xte = [[idx[w] for w in t.split(" ")] for t in te]
    for seed in range(3):
        rnn = RNN(len(vocab), 2, seed=seed, gradient="exact")
        rng = np.random.default_rng(seed)
        for _ in range(600):
            rnn.train_epoch(Xtr, ytr, order=rng.permutation(len(Xtr)))
        assert (rnn.predict_proba(Xte).argmax(axis=1) == yte).mean() == 1.0
