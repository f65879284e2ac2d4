"""``Model(cell="tanh" | "gru" | "lstm")``: kernels vs the numpy reference through the Model,
save/load, scikit-learn plumbing, train_many (threads and Dask), bad input, what is compiled.

Tolerances (Model, 3 epochs, no early stopping, same seed, numba vs numpy backend):

* float64: ``rtol=1e-9`` relative to ``|w| + 1e-3`` per weight (measured <= 4.1e-12 for GRU
  and LSTM, 1.2e-10 for tanh with max pooling), probabilities ``atol=1e-12``.
* float32: ``assert_allclose(rtol=2e-4, atol=2e-4)`` as in ``tests/test_gated.py`` (the kernels
  compute the gates' sigmoid/tanh in float64 and round once, numpy in float32: ~1 ulp per
  gate, grown by training; measured max |difference| 2e-5 (LSTM), 2e-6 (GRU)); probabilities
  ``atol=2e-4`` (measured <= 5e-7).
"""

import json
import zipfile

import numpy as np
import pytest

from conftest import run_python
from fastrnn import Model, NotFittedError, reference_gated as RG, train_many
from fastrnn import _engine as E
from fastrnn.datasets import load_demo

CELLS = ("tanh", "gru", "lstm")
GATED = ("gru", "lstm")
POOLINGS = ("last", "mean", "max")
FAST = dict(hidden_size=8, epochs=3, early_stopping=False, progress=False, ngrams=0)


@pytest.fixture(scope="module")
def demo():
    return load_demo(n_train=150, n_test=60, seed=2)


def _rel_err(a, b):
    return max(float(np.max(np.abs(a.params_[n].astype(np.float64) - b.params_[n])
                            / (np.abs(b.params_[n].astype(np.float64)) + 1e-3)))
               for n in a.params_)


def _same(a, b):
    return list(a.params_) == list(b.params_) and all(
        np.array_equal(a.params_[n], b.params_[n]) for n in a.params_)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell", CELLS)
def test_numba_equals_numpy_reference(demo, cell, pooling, dtype):
    if (cell, pooling, dtype) == ("tanh", "max", "float32"):
        pytest.skip("tanh + max pooling in float32: near-ties of hidden states pick another "
                    "argmax step within 3 epochs (measured: weights 4e-4 apart, beyond 2e-4); "
                    "the tanh cell's float64 bar is tests/test_model.py's")
    (tr, ytr), (te, _) = demo
    kw = dict(FAST, cell=cell, pooling=pooling, dtype=dtype, seed=4)
    a = Model(backend="numba", **kw).fit(tr, ytr)
    b = Model(backend="numpy", **kw).fit(tr, ytr)
    assert list(a.params_) == list(E.cell_engine(cell).names)
    assert a.params_["Whh"].dtype == np.dtype(dtype)
    if dtype == "float64":
        assert _rel_err(a, b) <= 1e-9
    else:
        for n in a.params_:
            np.testing.assert_allclose(a.params_[n], b.params_[n], rtol=2e-4, atol=2e-4,
                                       err_msg=n)
    pa, pb = a.predict_proba(te), b.predict_proba(te)
    np.testing.assert_allclose(pa, pb, rtol=0, atol=1e-12 if dtype == "float64" else 2e-4)
    assert not _same(a, Model(backend="numba", **dict(kw, seed=5)).fit(tr, ytr))


@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("recipe", [
    dict(optimizer="sgd", clip=None, learning_rate=0.05),
    dict(optimizer="adam", learning_rate=0.01, clip=None, clip_norm=0.5, weight_decay=1e-3),
    dict(optimizer="adagrad", clip=0.5, weight_decay=1e-2, init="pytorch"),
])
def test_every_optimizer_and_clip_mode_matches_reference(demo, cell, recipe):
    (tr, ytr), _ = demo
    kw = dict(FAST, cell=cell, dtype="float64", seed=1, **recipe)
    a = Model(backend="numba", **kw).fit(tr, ytr)
    b = Model(backend="numpy", **kw).fit(tr, ytr)
    assert _rel_err(a, b) <= 1e-9


@pytest.mark.parametrize("cell", GATED)
def test_early_stopping_keeps_the_best_epoch(demo, cell):
    (tr, ytr), (te, yte) = demo
    m = Model(cell=cell, hidden_size=8, epochs=6, n_iter_no_change=2, seed=0,
              progress=False).fit(tr, ytr)
    best = min(range(m.n_epochs_), key=lambda i: m.history_[i]["val_loss"])
    assert m.best_epoch_ == best + 1
    assert 0 <= m.score(te, yte) <= 1


def test_tanh_is_the_default_cell(demo):
    """``cell="tanh"`` is the default and the one-hot tanh model of ``Params`` (the kernels of
    ``kernels.rnn``, checked against the reference elsewhere), not a gated model."""
    (tr, ytr), _ = demo
    assert Model().cell == "tanh"
    a = Model(seed=3, **FAST).fit(tr, ytr)
    b = Model(seed=3, cell="tanh", **FAST).fit(tr, ytr)
    assert isinstance(a.params_, E.Params) and _same(a, b)
    assert "cell" not in repr(b) and "cell='gru'" in repr(Model(cell="gru"))


@pytest.mark.parametrize("cell", CELLS)
def test_params_are_the_mapping_loss_and_grad_takes(demo, cell):
    (tr, ytr), _ = demo
    m = Model(cell=cell, dtype="float64", seed=0, **FAST).fit(tr, ytr)
    d = dict(m.params_)
    assert list(d) == list(RG.PARAM_NAMES[cell]) and len(m.params_) == len(d)
    assert "Whh" in m.params_ and "nope" not in m.params_ and m.params_.get("nope") is None
    with pytest.raises(KeyError):
        m.params_["WhhT"]
    tokens = m.vocabulary_.encode(["good movie"])[0]
    loss, grads = RG.loss_and_grad(m.params_, tokens, 1, cell=cell, pooling=m.pooling)
    assert np.isfinite(loss) and set(grads) == set(d)
    p = m.predict_proba(["good movie"])[0, 1]
    assert loss == pytest.approx(-np.log(p), rel=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_save_load_round_trip(demo, tmp_path, cell):
    (tr, ytr), (te, _) = demo
    m = Model(cell=cell, seed=0, **FAST).fit(tr, ytr)
    path = m.save(tmp_path / f"{cell}.npz")
    back = Model.load(path)
    assert back.cell == cell and back.get_params() == dict(m.get_params(), progress=None)
    assert _same(m, back)
    np.testing.assert_array_equal(back.predict_proba(te), m.predict_proba(te))


def _rewrite_meta(path, edit):
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    meta = json.loads(bytes(data["meta"]).decode())
    edit(meta, data)
    data["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **data)


def test_version_1_tanh_files_still_load(demo, tmp_path):
    (tr, ytr), (te, _) = demo
    m = Model(seed=0, **FAST).fit(tr, ytr)
    path = m.save(tmp_path / "old.npz")

    def to_v1(meta, data):  # what fastrnn wrote before cells existed
        meta["format_version"] = 1
        del meta["params"]["cell"]
    _rewrite_meta(path, to_v1)
    back = Model.load(path)
    assert back.cell == "tanh"
    np.testing.assert_array_equal(back.predict_proba(te), m.predict_proba(te))


def test_bad_model_files_name_the_problem(demo, tmp_path):
    (tr, ytr), _ = demo
    path = Model(cell="gru", seed=0, **FAST).fit(tr, ytr).save(tmp_path / "g.npz")

    def drop_bih(meta, data):
        del data["bih"]
    _rewrite_meta(path, drop_bih)
    with pytest.raises(ValueError, match="not a valid fastrnn model file.*bih"):
        Model.load(path)

    def future(meta, data):
        meta["format_version"] = 99
    _rewrite_meta(path, future)
    with pytest.raises(ValueError, match="format version 99"):
        Model.load(path)
    assert zipfile.is_zipfile(path)


def test_bad_cell_and_combinations_are_refused(demo):
    (tr, ytr), _ = demo
    with pytest.raises(ValueError, match="cell"):
        Model(cell="rnn").fit(tr, ytr)
    with pytest.raises(ValueError, match="cell"):
        Model(cell=3).fit(tr, ytr)
    with pytest.raises(ValueError, match=r"gradient='tutorial'.*cell='gru'.*tanh cell"):
        Model(cell="gru", gradient="tutorial").fit(tr, ytr)
    with pytest.raises(ValueError, match=r"init='tutorial'.*cell='lstm'"):
        Model(cell="lstm", init="tutorial").fit(tr, ytr)
    with pytest.raises(ValueError, match=r"init='pytorch'.*cell='tanh'"):
        Model(init="pytorch").fit(tr, ytr)
    with pytest.raises(ValueError, match="invalid parameter"):
        Model().set_params(cells="gru")


def test_to_torch_state_dict_errors(demo):
    (tr, ytr), _ = demo
    with pytest.raises(NotFittedError, match="fit"):
        Model(cell="gru").to_torch_state_dict()
    m = Model(cell="gru", seed=0, **FAST).fit(tr, ytr)
    m.ngrams = 2  # an input path beside the words (the n-gram option's attribute)
    with pytest.raises(ValueError, match="ngrams=2"):
        m.to_torch_state_dict()


@pytest.mark.parametrize("cell", CELLS)
def test_torch_state_dict_layout(demo, cell):
    (tr, ytr), _ = demo
    m = Model(cell=cell, seed=0, **FAST).fit(tr, ytr)
    sd = m.to_torch_state_dict()
    V, H, O = len(m.vocabulary_), 8, len(m.classes_)
    GH = {"tanh": 1, "gru": 3, "lstm": 4}[cell] * H
    assert {k: v.shape for k, v in sd.items()} == {
        "rnn.weight_ih_l0": (GH, V), "rnn.weight_hh_l0": (GH, H), "rnn.bias_ih_l0": (GH,),
        "rnn.bias_hh_l0": (GH,), "fc.weight": (O, H), "fc.bias": (O,)}
    assert all(v.flags.c_contiguous and v.dtype == np.float32 for v in sd.values())
    np.testing.assert_array_equal(sd["rnn.weight_ih_l0"], m.params_["WxhT"].T)
    sd["fc.bias"][:] = 7  # copies: the model is not touched
    assert not np.any(m.params_["by"] == 7)


def test_sklearn_clone_and_grid_search_over_cells(demo):
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    (tr, ytr), _ = demo
    m = Model(cell="lstm", seed=0, **FAST)
    assert clone(m).get_params() == m.get_params() and clone(m).cell == "lstm"
    grid = GridSearchCV(Model(seed=0, **FAST), {"cell": ["tanh", "gru"]}, cv=2).fit(tr, ytr)
    assert grid.best_params_["cell"] in ("tanh", "gru")
    assert grid.best_estimator_.cell == grid.best_params_["cell"]


@pytest.mark.parametrize("threads", [1, 2])
def test_train_many_gru_grid_equals_model_fit(demo, threads):
    (tr, ytr), _ = demo
    grid = [dict(FAST, cell="gru", seed=s, learning_rate=lr, pooling=p)
            for s, lr, p in ((0, 0.05, "mean"), (1, 0.1, "max"), (2, 0.1, "last"))]
    grid.append(dict(FAST, cell="lstm", seed=0, hidden_size=4, early_stopping=True))
    res = train_many((tr, ytr), grid, threads=threads)
    for params, got in zip(grid, res.models):
        alone = Model(**params).fit(tr, ytr)
        assert got.cell == params["cell"] and _same(got, alone)


def test_train_many_on_dask_gru(demo):
    distributed = pytest.importorskip("dask.distributed")
    (tr, ytr), _ = demo
    grid = [dict(FAST, cell="gru", seed=0), dict(FAST, cell="lstm", seed=1),
            dict(FAST, seed=2)]
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        res = train_many((tr, ytr), grid, client=client, chunk_size=1)
    for params, got in zip(grid, res.models):
        assert _same(got, Model(**params).fit(tr, ytr))


_COMPILED = """
import json, numpy as np
import fastrnn
from numba.core.registry import CPUDispatcher
def compiled(mod):
    return sorted(n for n, d in vars(mod).items()
                  if isinstance(d, CPUDispatcher) and d.signatures)
import fastrnn.kernels.rnn as KR
out = {"import": compiled(KR)}
(tr, y), _ = fastrnn.datasets.load_demo(n_train=60, n_test=10)
fastrnn.Model(hidden_size=4, epochs=2, progress=False, cell=CELL).fit(tr, y)
import sys
out["gated_imported"] = "fastrnn.kernels.gated" in sys.modules
if out["gated_imported"]:
    import fastrnn.kernels.gated as KG
    out["gated"] = compiled(KG)
print(json.dumps(out))
"""


@pytest.mark.parametrize("cell", ["tanh", "gru"])
def test_only_the_cell_used_is_compiled(tmp_path, cell):
    out = run_python(_COMPILED.replace("CELL", repr(cell)), cache=tmp_path / "cache")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["import"] == []  # importing fastrnn compiles nothing
    if cell == "tanh":
        assert got["gated_imported"] is False
    else:
        assert got["gated"] and all("lstm" not in n for n in got["gated"]), got["gated"]
        assert "train_epoch_gru_adagrad" in got["gated"]
    # the cold start says what it compiles (issue 13), for a gated cell too
    kernel = {"tanh": "adagrad float32", "gru": "GRU adagrad float32"}[cell]
    assert f"fastrnn: compiling the {kernel} epoch kernel (first run only" in out.stderr, \
        out.stderr


@pytest.mark.parametrize("cell", GATED)
def test_pooled_predict_equals_serial_bits(demo, cell):
    """Above SERIAL_PREDICT_BELOW sentences predict_proba runs ranges on the thread pool."""
    (tr, ytr), _ = demo
    m = Model(cell=cell, seed=0, **FAST).fit(tr, ytr)
    texts = (tr * 4)[:E.SERIAL_PREDICT_BELOW + 200]
    tokens, offsets = m.vocabulary_.encode(texts)
    out = np.empty((len(texts), 2), dtype=np.float32)
    E.cell_engine(cell).predict_proba_serial(m.params_, tokens, offsets, m.pooling, out)
    np.testing.assert_array_equal(m.predict_proba(texts), out)
