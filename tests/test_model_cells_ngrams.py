"""``Model(cell="gru"|"lstm", ngrams=2)``: the linear n-gram path beside a gated cell, end to end."""

import numpy as np
import pytest

import fastrnn
from fastrnn.datasets import load_demo

FAST = dict(hidden_size=6, epochs=3, early_stopping=False, progress=False, ngrams=2,
            buckets=64, dtype="float64")


@pytest.fixture(scope="module")
def demo():
    (tr, ytr), (te, yte) = load_demo(n_train=120, n_test=30, seed=3)
    return tr, ytr, te


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gated_ngrams_numba_equals_numpy_and_round_trips(demo, cell, tmp_path):
    tr, ytr, te = demo
    a = fastrnn.Model(seed=1, cell=cell, **FAST).fit(tr, ytr)
    b = fastrnn.Model(seed=1, cell=cell, backend="numpy", **FAST).fit(tr, ytr)
    assert a.params_.buckets == 64 and np.any(a.params_.U != 0)
    for n in a.params_.names:
        np.testing.assert_allclose(a.params_[n], b.params_[n], rtol=1e-9, atol=1e-12, err_msg=n)
    np.testing.assert_allclose(a.params_.U, b.params_.U, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.predict_proba(te), b.predict_proba(te), rtol=1e-9, atol=1e-12)
    a.save(tmp_path / "m.npz")
    c = fastrnn.Model.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(a.predict_proba(te), c.predict_proba(te))
    # the table changes the model: without it the same seed predicts differently
    d = fastrnn.Model(seed=1, cell=cell, **dict(FAST, ngrams=0)).fit(tr, ytr)
    assert not np.allclose(a.predict_proba(te), d.predict_proba(te))
    with pytest.raises(ValueError, match="ngrams"):
        a.to_torch_state_dict()


@pytest.mark.parametrize("cell", ["tanh", "gru", "lstm"])
def test_best_epoch_weights_and_table_are_those_of_that_epoch(cell):
    """Early stopping keeps the best epoch's weights; of the n-gram table only the corpus's
    rows are snapshotted and written back: the result equals, bit for bit, a run on the same
    validation data that simply stops after that epoch."""
    (tr, ytr), (te, yte) = load_demo(n_train=300, n_test=80, seed=3)
    kw = dict(FAST, cell=cell, epochs=12, n_iter_no_change=3, learning_rate=0.5,
              buckets=1 << 12, seed=2)
    es = fastrnn.Model(**dict(kw, early_stopping=True)).fit(tr, ytr, validation_data=(te, yte))
    assert es.best_epoch_ < es.n_epochs_, "pick settings where a later epoch was worse"
    cut = fastrnn.Model(**dict(kw, epochs=es.best_epoch_, early_stopping=False)).fit(
        tr, ytr, validation_data=(te, yte))
    for name in es.params_.names + ("U",):
        np.testing.assert_array_equal(getattr(es.params_, name), getattr(cut.params_, name),
                                      err_msg=name)
