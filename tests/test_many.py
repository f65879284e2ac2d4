"""fastrnn.train_many: bit-identical to Model.fit in any batch, grids, bad input, ensembles,
resume from output_dir, the sweep CLI, and a Dask cluster that loses a worker mid-sweep."""

import json
import os
import signal
import threading
import time

import numba
import numpy as np
import pytest
from click.testing import CliRunner

import fastrnn
from fastrnn import Ensemble, Model, average_proba, param_grid, train_many
from fastrnn.cli import main
from fastrnn.datasets import load_demo

SMALL = dict(hidden_size=8, epochs=4, progress=False)
TUTORIAL = dict(pooling="last", optimizer="sgd", learning_rate=0.02, init="tutorial",
                min_count=1, early_stopping=False, gradient="tutorial")
DIVERGES = dict(optimizer="sgd", clip=None, learning_rate=1e38, dtype="float32")
RECIPES = {
    "tutorial": TUTORIAL,
    "default-early-stopping": dict(epochs=12, n_iter_no_change=1),
    "adam-max-clipnorm": dict(optimizer="adam", pooling="max", clip=None, clip_norm=0.5,
                              learning_rate=0.005, early_stopping=False),
}


@pytest.fixture(scope="module")
def demo():
    return load_demo(n_train=120, n_test=40, seed=3)


def _same_weights(a, b):
    return all(np.array_equal(getattr(a.params_, n), getattr(b.params_, n))
               for n in a.params_.names)


def _configs(dtype):
    out = []
    for i, (name, recipe) in enumerate(RECIPES.items()):
        for seed in (0, 1):
            out.append(dict(SMALL, dtype=dtype, seed=seed, hidden_size=8 + 4 * (seed + i % 2),
                            **recipe))
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bit_identical_to_fit_alone_any_batch_any_threads(demo, dtype):
    (tr, ytr), _ = demo
    configs = _configs(dtype)
    alone = [Model(**c).fit(tr, ytr) for c in configs]
    assert any(m.n_epochs_ < 12 for m, c in zip(alone, configs) if c.get("epochs") == 12), \
        "no model stopped early: the early-stopping recipe is not exercised"
    for threads in (1, 2, None):
        for batch in (configs, configs[::-1][:3], configs[2:3]):
            models, rows = train_many((tr, ytr), batch, threads=threads)
            for c, m, r in zip(batch, models, rows):
                ref = alone[configs.index(c)]
                assert _same_weights(m, ref), f"{c} differs (threads={threads}, " \
                                              f"batch of {len(batch)})"
                assert m.n_epochs_ == ref.n_epochs_ == r["epochs"]
                assert m.best_epoch_ == ref.best_epoch_ == r["best_epoch"]
                assert [h["loss"] for h in m.history_] == [h["loss"] for h in ref.history_]


def test_threads_are_restored(demo):
    (tr, ytr), _ = demo
    before = numba.get_num_threads()
    train_many((tr, ytr), [dict(SMALL, seed=0)], threads=1)
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("threads,exc,match", [
    (2.5, TypeError, "threads must be a positive integer.*float 2.5"),
    (True, TypeError, "threads must be a positive integer.*bool"),
    ("2", TypeError, "threads must be a positive integer.*str"),
    (0, ValueError, "threads must be a positive integer.*got 0"),
    (-3, ValueError, "threads must be a positive integer.*got -3"),
])
def test_bad_threads_are_refused_before_training(demo, threads, exc, match, monkeypatch):
    import fastrnn._many_pool as pool
    (tr, ytr), _ = demo
    monkeypatch.setattr(pool, "_fit_one", lambda *a: pytest.fail("trained"))
    with pytest.raises(exc, match=match):
        train_many((tr, ytr), [dict(SMALL, seed=0)], threads=threads)


def test_threads_above_the_core_count_are_clamped_with_a_warning(demo):
    from fastrnn import ThreadsWarning
    from fastrnn._many_pool import available_cores, check_threads
    (tr, ytr), _ = demo
    cores = available_cores()
    with pytest.warns(ThreadsWarning, match=f"threads=100 is more than the {cores} cores"):
        assert check_threads(100) == cores
    assert check_threads(-1) == check_threads(None) == cores
    assert check_threads(np.int64(1)) == 1 and check_threads(None, n_tasks=1) == 1
    with pytest.warns(ThreadsWarning):
        models, rows = train_many((tr, ytr), [dict(SMALL, seed=0)], threads=cores + 1)
    assert _same_weights(models[0], Model(**dict(SMALL, seed=0)).fit(tr, ytr))


def test_each_fit_runs_on_one_pool_thread(demo, monkeypatch):
    """The whole fit loop of a model runs on one thread; several threads share the models."""
    import fastrnn._fit as F
    (tr, ytr), _ = demo
    seen = {}
    keep = []  # the runs stay alive, so no two share an id()
    real = F.run

    def spy(run, epoch=None, on_epoch=None, callback=None, stop=None):
        keep.append(run)
        key = id(run)

        def note(m):
            seen.setdefault(key, set()).add(threading.get_ident())
            if on_epoch is not None:
                on_epoch(m)
        return real(run, epoch, note, callback, stop)
    monkeypatch.setattr(F, "run", spy)
    train_many((tr, ytr), {"seed": list(range(6)), **SMALL}, threads=2)
    assert len(seen) == 6 and all(len(t) == 1 for t in seen.values())
    assert threading.get_ident() not in set().union(*seen.values())


def test_grid_lists_models_and_datasets(demo):
    (tr, ytr), (te, yte) = demo
    grid = {"seed": [0, 1], "learning_rate": [0.01, 0.05], "hidden_size": 8, "epochs": 2,
            "progress": False}
    assert param_grid(grid) == [
        dict(epochs=2, hidden_size=8, learning_rate=lr, progress=False, seed=s)
        for lr in (0.01, 0.05) for s in (0, 1)]
    assert len(param_grid([grid, {"seed": [5]}])) == 5
    models, rows = train_many((tr, ytr), grid)
    assert len(models) == len(rows) == 4
    assert [r["params"]["learning_rate"] for r in rows] == [0.01, 0.01, 0.05, 0.05]
    assert all(r["status"] == "ok" and r["epochs"] == 2 for r in rows)
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "best_epoch", "time"} <= set(rows[0])
    # Model instances are fitted in place, like fit()
    mine = [Model(seed=s, **SMALL) for s in (3, 4)]
    got, _ = train_many((tr, ytr), mine)
    assert got[0] is mine[0] and _same_weights(mine[1], Model(seed=4, **SMALL).fit(tr, ytr))
    # one model per dataset; one dict for all datasets
    data = [(tr[:60], ytr[:60]), (tr[60:], ytr[60:]), (te, yte)]
    got, rows = train_many(data, dict(SMALL, seed=7))
    assert [r["dataset"] for r in rows] == [0, 1, 2]
    for (t, y), m in zip(data, got):
        assert _same_weights(m, Model(seed=7, **SMALL).fit(t, y))


def test_bad_input_names_the_model(demo):
    (tr, ytr), _ = demo
    with pytest.raises(ValueError, match="empty"):
        train_many((tr, ytr), [])
    with pytest.raises(ValueError, match="empty"):
        train_many((tr, ytr), {"seed": []})
    with pytest.raises(ValueError, match="2 datasets but 3 models"):
        train_many([(tr, ytr), (tr, ytr)], [SMALL, SMALL, SMALL])
    with pytest.raises(ValueError, match=r"model 1 \(.*lr=0.1.*\): unknown parameter 'lr'"):
        train_many((tr, ytr), [SMALL, dict(SMALL, lr=0.1)])
    with pytest.raises(ValueError, match="model 1 .*only one class"):
        train_many([(tr, ytr), (tr[:5], [1] * 5)], SMALL)
    with pytest.raises(ValueError, match="model 0 .*hidden_size must be >= 1"):
        train_many((tr, ytr), dict(SMALL, hidden_size=0))
    # a sweep records the bad model's error and trains the others
    models, rows = train_many((tr, ytr), [dict(SMALL, seed=0), dict(SMALL, lr=0.1),
                                          dict(SMALL, seed=1, **DIVERGES)],
                              errors="record")
    assert rows[0]["status"] == "ok" and models[0] is not None
    assert rows[1]["status"] == "error" and "unknown parameter 'lr'" in rows[1]["error"]
    assert models[1] is None
    assert rows[2]["status"] == "error" and "diverged" in rows[2]["error"]
    with pytest.raises(FloatingPointError, match="model 0 .*diverged"):
        train_many((tr, ytr), dict(SMALL, **DIVERGES))


def test_ensemble(demo):
    (tr, ytr), (te, yte) = demo
    models, _ = train_many((tr, ytr), {"seed": [0, 1, 2], **SMALL})
    p = average_proba(models, te)
    expected = np.mean([m.predict_proba(te).astype(np.float64) for m in models], axis=0)
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    ens = Ensemble(models)
    assert list(ens.predict(te)) == list(models[0].classes_[np.argmax(p, axis=1)])
    assert 0 <= ens.score(te, yte) <= 1
    other = Model(seed=0, **SMALL).fit(tr, np.where(np.asarray(ytr) == 1, "pos", "neg"))
    with pytest.raises(ValueError, match="identical classes"):
        Ensemble(models + [other])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])


def test_output_dir_streams_and_resumes(demo, tmp_path, monkeypatch):
    (tr, ytr), _ = demo
    grid = {"seed": [0, 1, 2], **SMALL}
    models, rows = train_many((tr, ytr), grid, output_dir=tmp_path)
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3 and {json.loads(x)["id"] for x in lines} == {r["id"] for r in rows}
    assert all((tmp_path / f"{r['id']}.npz").is_file() for r in rows)
    assert len({r["id"] for r in rows}) == 3
    # second run: nothing trains, everything is loaded
    import fastrnn.many as many
    monkeypatch.setattr(many, "_train_local", lambda *a, **k: pytest.fail("trained again"))
    again, rows2 = train_many((tr, ytr), grid, output_dir=tmp_path)
    assert all(r["cached"] for r in rows2)
    assert [r["id"] for r in rows2] == [r["id"] for r in rows]
    assert all(_same_weights(a, b) for a, b in zip(models, again))
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 3
    # a changed dataset is a different model id
    monkeypatch.undo()
    _, rows3 = train_many((tr[:-1], ytr[:-1]), {"seed": [0], **SMALL}, output_dir=tmp_path)
    assert not rows3[0]["cached"] and rows3[0]["id"] not in {r["id"] for r in rows}


def _write_config(tmp_path, grid, **extra):
    (tr, ytr), _ = load_demo(n_train=80, n_test=10, seed=5)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": int(y)}) + "\n"
                            for t, y in zip(tr, ytr)))
    cfg = tmp_path / "sweep.json"
    cfg.write_text(json.dumps(dict({"data": "train.jsonl", "grid": grid}, **extra)))
    return cfg


def test_sweep_cli(tmp_path):
    cfg = _write_config(tmp_path, [{"seed": [0, 1], "hidden_size": [8], "epochs": [2]},
                                   {"hidden_size": [0], "epochs": [2]}], params={"min_count": 1})
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["sweep", str(cfg), "--output-dir", str(out), "--threads", "1"])
    # one config carries a bad value: recorded, the others trained, exit code 1
    assert r.exit_code == 1, r.output
    assert "3 models: 2 trained, 0 already in" in r.output and "1 failed" in r.output
    assert "hidden_size must be >= 1" in r.output.splitlines()[-1]
    cfg.write_text(json.dumps({"data": "train.jsonl", "params": {"min_count": 1},
                               "grid": {"seed": [0, 1], "hidden_size": [8], "epochs": [2]}}))
    # the same grid without the bad config: both models are already there, exit code 0
    r = CliRunner().invoke(main, ["sweep", str(cfg), "--output-dir", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 models: 0 trained, 2 already in" in r.output


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ('{"data": "train.jsonl"}', "missing key 'grid'"),
    ('{"data": "nope.csv", "grid": {"seed": [0]}}', "nope.csv"),
    ('{"data": "train.jsonl", "grid": {"seed": []}}', "grid is empty"),
    ('{"data": "train.jsonl", "grid": {}, "colour": 1}', "unknown key(s) 'colour'"),
    ('{"data": "train.jsonl", "grid": "seed"}', "the grid must be a dict of parameter lists "
                                                "or a list of such dicts, got str"),
    ('{"data": "train.jsonl", "params": {"bogus": 1}, "grid": [{"seed": [0]}, {"lr": [1]}]}',
     "unknown Model parameter(s) 'bogus', 'lr' in 'params'/'grid'"),
    ('{"data": "train.jsonl", "grid": {"embeddings": ["nope.txt"]}}',
     "nope.txt (embeddings) does not exist or is not a file"),
    ('{"data": "train.jsonl", "grid": {"embeddings": [""]}}',
     "'embeddings' is an empty path: name a vectors file"),
])
def test_sweep_cli_bad_config_is_one_line(tmp_path, content, message):
    cfg = _write_config(tmp_path, {})
    cfg.write_text(content)
    r = CliRunner().invoke(main, ["sweep", str(cfg), "--output-dir", str(tmp_path / "o")])
    assert r.exit_code != 0 and message in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()  # refused before anything is written


def test_sweep_cli_reads_a_vectors_file_relative_to_the_config(tmp_path, monkeypatch):
    from fastrnn.datasets import corpus_words
    folder = tmp_path / "cfg"
    folder.mkdir()
    cfg = _write_config(folder, {"seed": [0]}, params={"embeddings": "../cfg/./v.txt",
                                                       "epochs": 1, "hidden_size": 8})
    rng = np.random.default_rng(0)
    (folder / "v.txt").write_text("".join(w + " " + " ".join("%.4f" % x for x in
                                                             rng.standard_normal(4)) + "\n"
                                          for w in corpus_words()))
    monkeypatch.chdir(tmp_path)  # not the config's folder
    r = CliRunner().invoke(main, ["sweep", str(cfg), "--output-dir", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    row = json.loads((tmp_path / "o" / "results.jsonl").read_text().splitlines()[0])
    assert row["status"] == "ok" and row["params"]["embeddings"] == str(folder.resolve() / "v.txt")


def _chunks(dask_scheduler):
    return [ts for ts in dask_scheduler.tasks.values() if str(ts.key).startswith("_chunk_worker")]


def _sweep_progress(dask_scheduler):
    """On the scheduler: (train_many chunks finished, workers processing one)."""
    return (sum(ts.state == "memory" for ts in _chunks(dask_scheduler)),
            [ws.address for ws in dask_scheduler.workers.values() if ws.processing])


def _rescheduled(dask_scheduler):
    """On the scheduler: how many chunks were processing on a worker that died."""
    return sum(ts.suspicious > 0 for ts in _chunks(dask_scheduler))


@pytest.mark.slow
def test_dask_cluster_survives_a_killed_worker(demo, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    (tr, ytr), _ = demo
    grid = {"seed": list(range(8)), "hidden_size": [32], "epochs": [40],
            "early_stopping": [False], "progress": [False], "dtype": ["float64"]}
    local, _ = train_many((tr, ytr), grid)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=":0",
                                  silence_logs=50) as cluster, \
            distributed.Client(cluster, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
        # warm the workers (imports, numba cache) so that the sweep's tasks are running
        warm = {k: v[0] for k, v in grid.items()}
        client.run(lambda: train_many((tr[:20], ytr[:20]), [dict(warm, epochs=1)]))
        pids = client.run(os.getpid)
        box = {}

        def sweep():
            try:
                box["result"] = train_many((tr, ytr), grid, client=client, chunk_size=1,
                                           output_dir=tmp_path, timeout=120)
            except BaseException as e:  # pragma: no cover - reported below
                box["error"] = e

        t = threading.Thread(target=sweep, daemon=True)
        t.start()
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline and t.is_alive():
            # the scheduler's view (the driver may write results.jsonl later): one chunk
            # finished and a worker still running one
            done, busy = client.run_on_scheduler(_sweep_progress)
            if done and busy:
                victim = busy[0]
            time.sleep(0.01)
        assert "error" not in box, box.get("error")
        assert victim is not None, (
            "the sweep finished before a worker could be killed" if not t.is_alive() else
            f"no chunk finished within 60 s: {client.run_on_scheduler(_sweep_progress)}")
        os.kill(pids[victim], signal.SIGKILL)
        # a chunk was running there when it died, and runs again (else this tests no
        # recovery); seen while the sweep still holds its futures
        rescheduled = 0
        while not rescheduled and t.is_alive():
            rescheduled = client.run_on_scheduler(_rescheduled)
            time.sleep(0.005)
        t.join(timeout=150)
        assert not t.is_alive(), "the sweep did not finish within 150 s after the kill"
        assert victim not in client.scheduler_info()["workers"], "the worker was not killed"
        assert rescheduled >= 1, "no chunk was running on the killed worker"
    assert "error" not in box, box.get("error")
    models, rows = box["result"]
    ids = [json.loads(x)["id"] for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted(r["id"] for r in rows) and len(set(ids)) == 8, \
        "every model must finish exactly once"
    assert all(r["status"] == "ok" for r in rows)
    for a, b in zip(models, local):
        assert _same_weights(a, b)


def test_shared_tokens_give_the_same_encoding():
    """train_many's token memo: inside ``shared_tokens`` the vocabulary, ids and n-gram arrays
    are those of a plain tokenization (ASCII, non-ASCII, empty and NUL-holding texts)."""
    from fastrnn import ngrams as NG
    from fastrnn.vocab import Vocabulary, shared_tokens, token_memo
    texts = ["Good movie!", "not good", "", "...", "naïve café déjà-vu", "a\x00b c",
             "don't 'quote' it", "x" * 300, "Good movie!"]
    plain = Vocabulary(min_count=1).fit(texts)
    want = NG.encode(plain, texts, 2, 97)
    memo = token_memo(texts)
    with shared_tokens(memo):
        v = Vocabulary(min_count=1).fit(texts)
        got = NG.encode(v, texts[::-1], 2, 97)
        got_fwd = NG.encode(v, texts, 2, 97)
        missing = v.encode(["not in the memo"])  # falls back to tokenizing
    assert v.words == plain.words
    for w, g in zip(want[:2], got_fwd[:2]):
        np.testing.assert_array_equal(w, g)
    for w, g in zip(want[2], got_fwd[2]):
        np.testing.assert_array_equal(w, g)
    np.testing.assert_array_equal(got[0], NG.encode(plain, texts[::-1], 2, 97)[0])
    np.testing.assert_array_equal(missing[0], plain.encode(["not in the memo"])[0])


def test_large_aligned_zeros_are_zero_writable_and_aligned():
    from fastrnn import _engine as E
    for shape, dt in (((1 << 18, 2), np.float32), ((1 << 17, 3), np.float64), ((5, 7), np.float32)):
        a = E.aligned_zeros(shape, dt)
        assert a.shape == shape and a.dtype == dt and a.flags.c_contiguous and a.flags.writeable
        assert a.ctypes.data % E.ALIGN == 0 and not a.any()
        a[-1, -1] = 1
        assert a.sum() == 1


def test_best_val_accuracy_is_the_kept_epochs():
    """A result row's best_val_accuracy is the validation accuracy of best_epoch, the epoch
    whose weights the model keeps (not the highest over all epochs: the best epoch is chosen
    by validation loss)."""
    (texts, labels), _ = load_demo(n_train=300, n_test=10, seed=1)
    models, rows = train_many((texts, labels), [
        Model(seed=s, epochs=25, n_iter_no_change=25, progress=False) for s in (0, 1)],
        threads=2, progress=False)
    for m, r in zip(models, rows):
        kept = m.history_[m.best_epoch_ - 1]["val_accuracy"]
        assert r["best_epoch"] == m.best_epoch_ and r["best_val_accuracy"] == kept
        assert r["val_accuracy"] == m.history_[-1]["val_accuracy"]


def test_result_rows_copy_the_history_as_plain_values():
    """A row's history is a copy of the model's (not the same dicts), in JSON-safe values:
    numpy scalars become Python numbers, plain rows are copied as they are."""
    from fastrnn._many_inputs import plain_history
    history = [{"epoch": 1, "loss": 0.5, "val_accuracy": np.float64(0.25), "n": np.int64(3)},
               {"epoch": 2, "loss": 0.4, "val_accuracy": 0.5}]
    rows = plain_history(history)
    assert rows == [{"epoch": 1, "loss": 0.5, "val_accuracy": 0.25, "n": 3},
                    {"epoch": 2, "loss": 0.4, "val_accuracy": 0.5}]
    assert [type(v) for v in rows[0].values()] == [int, float, float, int]
    assert all(a is not b for a, b in zip(rows, history))
    (texts, labels), _ = load_demo(n_train=200, n_test=10, seed=0)
    models, result = train_many((texts, labels), [dict(seed=0, epochs=3, progress=False)],
                                threads=1, progress=False)
    assert result[0]["history"] == models[0].history_
    assert result[0]["history"][0] is not models[0].history_[0]


def test_a_diverged_model_warns_once_by_name_from_train_many(demo):
    """A finite but diverged model of train_many warns DivergenceWarning naming it (once, on
    the calling thread, pointing at the caller), as Model.fit warns; the healthy ones do not."""
    import warnings
    (tr, ytr), _ = demo
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models, rows = train_many((tr, ytr), [dict(SMALL, seed=0),
                                              dict(SMALL, seed=1, learning_rate=1e30)],
                                  threads=2)
    diverged = [w for w in caught if issubclass(w.category, fastrnn.DivergenceWarning)]
    assert len(diverged) == 1, [str(w.message) for w in caught]
    assert str(diverged[0].message).startswith("model 1 (") and \
        "learning_rate=1e+30" in str(diverged[0].message)
    assert "training diverged" in str(diverged[0].message)
    assert diverged[0].filename == __file__
    assert rows[1]["status"] == "ok" and models[1] is not None  # kept, as Model.fit keeps it


def test_a_dask_result_carries_the_table_rows_not_the_table(demo):
    """A Dask worker's result holds what Model.save writes (the n-gram table's non-zero rows),
    not the whole 2**20-row table, and the driver rebuilds the same model from it (run here
    without a cluster: the worker function and the driver's reader)."""
    from fastrnn._many_dask import _chunk_worker, _model_from_plain
    (tr, ytr), (te, _) = demo
    params = dict(seed=0, epochs=3, progress=False)
    [res] = _chunk_worker([(0, "id0", params, "d")],
                          {"d": {"texts": list(tr), "labels": ytr, "validation": None}}, 1)
    ref = Model(**params).fit(tr, ytr)
    sent = sum(a.nbytes for a in res["arrays"].values())
    assert ref.params_.U.nbytes == 2**20 * 2 * 4 and sent < ref.params_.U.nbytes / 20
    back = _model_from_plain(params, res)
    assert all(np.array_equal(getattr(back.params_, n), getattr(ref.params_, n))
               for n in ref.params_.names + ("U",))
    np.testing.assert_array_equal(back.predict_proba(te), ref.predict_proba(te))
    assert back.n_epochs_ == ref.n_epochs_ == 3
    assert [m["loss"] for m in back.history_] == [m["loss"] for m in ref.history_]


def test_bad_train_many_options_are_refused_before_training(demo, tmp_path, monkeypatch):
    (tr, ytr), _ = demo
    monkeypatch.setattr("fastrnn._many_pool._fit_one", lambda *a, **k: pytest.fail("trained"))
    afile = tmp_path / "afile"
    afile.write_text("notes\n")
    cases = [
        (dict(output_dir=afile), ValueError, r"cannot use output_dir .*afile is a file, not a folder"),
        (dict(output_dir=afile / "sub"), ValueError, r"afile is a file, not a folder"),
        (dict(output_dir=5), TypeError, r"path must be a str or os.PathLike, got int"),
        (dict(chunk_size=0), ValueError, r"chunk_size must be >= 1"),
        (dict(chunk_size="a"), TypeError, r"chunk_size must be an integer"),
        (dict(timeout=-1), ValueError, r"timeout must be > 0"),
        (dict(client="tcp://127.0.0.1:1"), TypeError,
         r"client must be a dask.distributed Client, got str \(connect first"),
        (dict(progress="abc"), TypeError, r"progress must be True or False or None"),
        (dict(validation_data=[(tr[:5], ytr[:5]), (tr[:5], ytr[:5])]), ValueError,
         r"validation_data is a list of validation sets but data is one \(texts, labels\) pair"),
    ]
    for kwargs, exc, match in cases:
        with pytest.raises(exc, match=match):
            train_many((tr, ytr), [dict(SMALL, seed=0), dict(SMALL, seed=1)], **kwargs)
    assert afile.read_text() == "notes\n"
    for grid in ("seed", None, 3):
        with pytest.raises(TypeError, match=r"the grid must be a dict of parameter lists or a "
                                            r"list of such dicts, got"):
            param_grid(grid)


def test_ensemble_checks_its_input_and_labels(demo):
    (tr, ytr), (te, yte) = demo
    models = [Model(seed=s, **SMALL).fit(tr, ytr) for s in (0, 1)]
    for bad in (None, models[0], "models"):
        with pytest.raises(TypeError, match="Ensemble takes a list of fitted Models, got"):
            Ensemble(bad)
    ens = Ensemble(models)
    with pytest.raises(ValueError, match=r"labels must be 1-D with one label per text \(2\)"):
        ens.score(list(te[:2]), [1])
    with pytest.raises(ValueError, match=r"classes the model was not trained on: 1 \(7\)"):
        ens.score(list(te[:2]), [7, 1])
    with pytest.raises(ValueError, match="cannot score on an empty dataset"):
        ens.score([], [])
    assert ens.score(te, yte) == np.mean(ens.predict(te) == yte)
