"""The ``fastrnn`` command line, through click's CliRunner and as a subprocess."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from fastrnn.cli import main
from fastrnn.datasets import make_corpus


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    texts, labels = make_corpus(400, seed=0)
    lines = ["label\ttext"] + [f"{y}\t{t}" for t, y in zip(texts, labels)]
    (d / "train.tsv").write_text("\n".join(lines) + "\n")
    (d / "test.tsv").write_text("\n".join(lines[:101]) + "\n")
    (d / "one_class.tsv").write_text("label\ttext\n1\tgood\n1\tgreat\n")
    (d / "blank_label.tsv").write_text("label\ttext\n1\tgood\n\tbad\n")
    (d / "empty.tsv").write_text("label\ttext\n")
    return d


@pytest.fixture(scope="module")
def model_file(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "m.npz"
    r = CliRunner().invoke(main, ["train", str(data / "train.tsv"), "-o", str(out), "--epochs",
                                  "3", "--hidden-size", "16", "--seed", "0"])
    assert r.exit_code == 0, r.output
    return out


def test_demo_runs_and_logs(runner):
    r = runner.invoke(main, ["demo", "--epochs", "2", "--train-size", "200", "--test-size", "50"])
    assert r.exit_code == 0, r.output
    assert "--- Epoch 1" in r.output and "Train:\tLoss" in r.output and "Test:\tLoss" in r.output
    assert "test accuracy" in r.output and " s in all" in r.output


def test_train_predict_evaluate(runner, data, model_file):
    assert model_file.exists()
    r = runner.invoke(main, ["predict", str(model_file), "i am very happy", "this was bad"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[2] == "i am very happy"
    r = runner.invoke(main, ["predict", str(model_file), "--json", "good"])
    rec = json.loads(r.output)
    assert rec["label"] in (0, 1) and 0 <= rec["probability"] <= 1
    r = runner.invoke(main, ["predict", str(model_file), "--file", "-"], input="good\nbad\n")
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 2
    r = runner.invoke(main, ["evaluate", str(model_file), str(data / "test.tsv")])
    assert r.exit_code == 0, r.output
    assert "100 texts" in r.output and "accuracy" in r.output


@pytest.mark.parametrize("args,code,message", [
    (["train", "{d}/missing.tsv", "-o", "{d}/m.npz"], 1, "missing.tsv"),
    (["train", "{d}/train.tsv", "-o", "{d}/m.npz", "--text-col", "body"], 1, "body"),
    (["train", "{d}/empty.tsv", "-o", "{d}/m.npz"], 1, "empty"),
    (["train", "{d}/one_class.tsv", "-o", "{d}/m.npz"], 1, "two classes"),
    (["train", "{d}/blank_label.tsv", "-o", "{d}/m.npz"], 1, "label"),
    (["train", "{d}/train.tsv", "-o", "{d}/nope/m.npz"], 1, "does not exist"),
    (["train", "{d}/train.tsv", "-o", "{d}/m.npz", "--learning-rate", "-1"], 2, "learning-rate"),
    (["train", "{d}/train.tsv", "-o", "{d}/m.npz", "--epochs", "0"], 2, "epochs"),
    (["predict", "{d}/train.tsv", "x"], 1, "train.tsv"),
    (["predict", "{d}/missing.npz", "x"], 1, "missing.npz"),
    (["demo", "--dtype", "int8"], 2, "dtype"),
    (["nonsense"], 2, "No such command"),
])
def test_user_errors_are_one_line(runner, data, args, code, message):
    r = runner.invoke(main, [a.format(d=data) for a in args])
    assert r.exit_code == code, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    assert not (data / "m.npz").exists()


def test_predict_needs_text(runner, model_file):
    r = runner.invoke(main, ["predict", str(model_file)])
    assert r.exit_code == 2 and "at least one TEXT" in r.output


def test_subprocess_entry_point(data, model_file):
    r = subprocess.run([sys.executable, "-m", "fastrnn.cli", "predict", str(model_file), "good"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("good")
    r = subprocess.run([sys.executable, "-m", "fastrnn.cli", "evaluate", str(model_file),
                        str(data / "missing.tsv")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "missing.tsv" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- file safety (issue 10)
def _one_line_error(r, code=1):
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception,
                                                                              SystemExit)
    assert len(r.output.strip().splitlines()) == 1, r.output
    return r.output


TRAIN = ["--epochs", "2", "--hidden-size", "8"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_train_refuses_outputs_that_are_not_files(runner, data, tmp_path):
    """A named pipe even with --force (a device such as /dev/null was replaced by a regular
    file) and --buckets with --ngrams 0 (the option did nothing): one line each, before
    training."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(fifo), "--force"]
                      + TRAIN)
    assert "is a pipe, not a regular file" in _one_line_error(r)
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(tmp_path / "m.npz"),
                             "--ngrams", "0", "--buckets", "64"] + TRAIN)
    assert r.exit_code == 2 and "--ngrams 0 turns off" in r.output
    assert not (tmp_path / "m.npz").exists()


def test_train_refuses_to_overwrite_its_input(runner, data, tmp_path):
    src = tmp_path / "d.tsv"
    src.write_bytes((data / "train.tsv").read_bytes())
    before = src.read_bytes()
    for extra in ([], ["--force"]):
        r = runner.invoke(main, ["train", str(src), "-o", str(src)] + TRAIN + extra)
        assert "input file" in _one_line_error(r)
        assert src.read_bytes() == before
    val = tmp_path / "v.tsv"
    val.write_bytes(before)
    r = runner.invoke(main, ["train", str(src), "--validation", str(val), "-o", str(val),
                             "--force"] + TRAIN)
    assert "input file" in _one_line_error(r) and val.read_bytes() == before


def test_train_refuses_to_replace_an_existing_file_without_force(runner, data, tmp_path,
                                                                 model_file):
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n")
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(other)] + TRAIN)
    assert "already exists; use --force" in _one_line_error(r)
    assert other.read_text() == "my notes\n"
    model = tmp_path / "m.npz"
    model.write_bytes(model_file.read_bytes())
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(model)] + TRAIN)
    assert "use --force" in _one_line_error(r)
    assert model.read_bytes() == model_file.read_bytes()
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(model), "--force"]
                      + TRAIN)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("make,expect", [
    (lambda p: p / "plain_file" / "m.npz", "is not a folder"),
    (lambda p: p / "missing" / "m.npz", "does not exist"),
    (lambda p: p, "is a directory"),
])
def test_unwritable_output_fails_before_training(runner, data, tmp_path, monkeypatch, make,
                                                 expect):
    (tmp_path / "plain_file").write_text("x")
    from fastrnn import model as M
    monkeypatch.setattr(M.Model, "fit", lambda *a, **k: pytest.fail("trained before checking"))
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(make(tmp_path))])
    assert expect in _one_line_error(r)


@pytest.mark.parametrize("name", ["folder", "folder.tsv"])
def test_a_directory_as_data_is_one_line_naming_it(runner, data, tmp_path, model_file, name):
    d = tmp_path / name
    d.mkdir()
    out = tmp_path / "m.npz"
    for args in (["train", str(d), "-o", str(out)],
                 ["train", str(data / "train.tsv"), "--validation", str(d), "-o", str(out)],
                 ["evaluate", str(model_file), str(d)],
                 ["predict", str(model_file), "--file", str(d)],
                 ["sweep", str(d), "--output-dir", str(tmp_path / "out")]):
        assert f"{d}: is a directory, not a " in _one_line_error(runner.invoke(main, args))
    assert not out.exists()


def test_folder_without_write_permission_fails_before_training(runner, data, tmp_path,
                                                               monkeypatch):
    import tempfile

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")
    from fastrnn import model as M
    monkeypatch.setattr(M.Model, "fit", lambda *a, **k: pytest.fail("trained before checking"))
    monkeypatch.setattr(tempfile, "TemporaryFile", denied)
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(tmp_path / "m.npz")])
    assert "not writable (Permission denied)" in _one_line_error(r)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content,expect", [
    ("caf\xe9 good\n".encode("latin-1"), "line 1: not valid UTF-8 (byte 0xe9)"),
    (b"good\n\x00\xff\xfe\x80binary", "line 2: not valid UTF-8"),
    ("good\n".encode("utf-16"), "UTF-16"),
    (b"", "has no texts"),
])
def test_predict_file_is_read_like_the_data_files(runner, model_file, tmp_path, content, expect):
    f = tmp_path / "in.txt"
    f.write_bytes(content)
    r = runner.invoke(main, ["predict", str(model_file), "--file", str(f)])
    out = _one_line_error(r)
    assert expect in out and "in.txt" in out
    assert f.read_bytes() == content


def test_predict_file_reads_utf8_with_crlf_and_stdin(runner, model_file, tmp_path):
    f = tmp_path / "in.txt"
    f.write_bytes("\ufeffgood\r\ncaf\u00e9 bad\r\n".encode("utf-8"))
    r = runner.invoke(main, ["predict", str(model_file), "--file", str(f)])
    assert r.exit_code == 0, r.output
    assert [line.split("\t")[2] for line in r.output.splitlines()] == ["good", "caf\u00e9 bad"]
    r = runner.invoke(main, ["predict", str(model_file), "--file", "-"], input=b"\xe9\n")
    assert "standard input: line 1: not valid UTF-8" in _one_line_error(r)


def test_predict_file_reads_the_text_column_of_a_data_file(runner, model_file, data, tmp_path):
    r = runner.invoke(main, ["predict", str(model_file), "--file", str(data / "test.tsv")])
    assert r.exit_code == 0, r.output
    texts = [line.split("\t", 1)[1] for line in (data / "test.tsv").read_text().splitlines()[1:]]
    assert [line.split("\t", 2)[2] for line in r.output.splitlines()] == texts  # no header row
    f = tmp_path / "new.csv"
    f.write_text('id,review\n1,"good, very good"\n')
    r = runner.invoke(main, ["predict", str(model_file), "--file", str(f), "--text-col", "review"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].endswith("\tgood, very good")
    r = runner.invoke(main, ["predict", str(model_file), "--file", str(f)])
    assert "new.csv: no text column 'text'; the header (line 1) has columns ['id', 'review']" \
        in _one_line_error(r)
    # a text with a line break or a tab stays on its line (escaped); --json keeps it as it is
    f.write_text('id,review\n1,"good\nfilm\there"\n2,bad\n')
    r = runner.invoke(main, ["predict", str(model_file), "--file", str(f), "--text-col", "review"])
    assert [line.split("\t", 2)[2] for line in r.output.splitlines()] == \
        ["good\\nfilm\\there", "bad"]
    r = runner.invoke(main, ["predict", str(model_file), "--file", str(f), "--text-col", "review",
                             "--json"])
    assert json.loads(r.output.splitlines()[0])["text"] == "good\nfilm\there"
    # --text-col names a column: refused for a one-text-per-line file or TEXT arguments
    (tmp_path / "lines.txt").write_text("good\n")
    for args in (["--file", str(tmp_path / "lines.txt")], ["--file", "-"], ["good"]):
        r = runner.invoke(main, ["predict", str(model_file), *args, "--text-col", "review"])
        assert r.exit_code == 2 and "--text-col applies to a .tsv/.csv/.jsonl --file" in r.output


def test_unseen_classes_name_the_right_file_and_few_classes(runner, data, tmp_path, model_file):
    texts, _ = make_corpus(120, seed=3)
    many = tmp_path / "many.tsv"
    many.write_text("label\ttext\n" + "".join(f"{i % 99 + 5}\t{t}\n"
                                              for i, t in enumerate(texts)))
    r = runner.invoke(main, ["evaluate", str(model_file), str(many)])
    out = _one_line_error(r)
    assert "many.tsv" in out and "99 (5, 6, 7, 8, 9, ...)" in out and len(out) < 250
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "--validation", str(many),
                             "-o", str(tmp_path / "m.npz")] + TRAIN)
    out = _one_line_error(r)
    assert out.startswith("Error: ") and "many.tsv" in out.split(":")[1]
    assert "99 (" in out and "train.tsv" in out and len(out) < 250
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
def test_long_text_field_is_read_in_every_format(runner, tmp_path, suffix, model_file):
    from fastrnn.datasets import load
    long_text = "good " * 40000  # 200 kB, above csv's default 128 KiB field limit
    f = tmp_path / ("long" + suffix)
    if suffix == ".jsonl":
        f.write_text(json.dumps({"label": 1, "text": long_text}) + "\n"
                     + json.dumps({"label": 0, "text": "bad"}) + "\n")
    else:
        sep = "\t" if suffix == ".tsv" else ","
        f.write_text(f"label{sep}text\n1{sep}{long_text}\n0{sep}bad\n")
    texts, labels = load(f)
    assert texts[0] == long_text and labels.tolist() == [1, 0]
    import csv
    assert csv.field_size_limit() == 131072  # the process-wide limit is restored
    r = runner.invoke(main, ["evaluate", str(model_file), str(f)])
    assert r.exit_code == 0, r.output


def _stderr_runner():
    """A CliRunner whose result has ``stderr`` apart from ``stdout``."""
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        return CliRunner()  # click >= 8.2 keeps stderr apart


def test_warnings_are_one_line_on_stderr(model_file, monkeypatch):
    import warnings
    from fastrnn import model as M
    real = M.Model.predict_proba

    def warn(self, texts):
        warnings.warn("2 of 2 texts have no known words\nsecond line", UserWarning)
        return real(self, texts)
    monkeypatch.setattr(M.Model, "predict_proba", warn)
    r = _stderr_runner().invoke(main, ["predict", str(model_file), "great", "good"])
    assert r.exit_code == 0, r.stderr
    assert r.stderr == "warning: 2 of 2 texts have no known words\n"
    assert len(r.stdout.splitlines()) == 2


def test_model_file_permissions_follow_the_umask(model_file, tmp_path):
    import os
    from fastrnn import Model
    m = Model.load(model_file)
    old = os.umask(0o022)
    try:
        m.save(tmp_path / "a.npz")
        os.umask(0o077)
        m.save(tmp_path / "b.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.npz").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]


@pytest.mark.parametrize("make,expect", [
    (lambda p: p, "is a directory, not a fastrnn model file"),
    (lambda p: p / "t.tsv", "is not a fastrnn model file (not an .npz archive)"),
])
def test_model_path_messages(runner, tmp_path, make, expect):
    (tmp_path / "t.tsv").write_text("label\ttext\n1\tgood\n")
    for cmd in (["predict", str(make(tmp_path)), "x"],
                ["evaluate", str(make(tmp_path)), str(tmp_path / "t.tsv")]):
        out = _one_line_error(runner.invoke(main, cmd))
        assert expect in out and "pickle" not in out


@pytest.mark.parametrize("labels,expect", [
    (['""', "1"], "blank label"),
    (["", "1"], "blank label"),
])
def test_blank_labels_name_the_row(runner, tmp_path, labels, expect):
    f = tmp_path / "b.csv"
    f.write_text("label,text\n" + "".join(f"{y},text {i}\n" for i, y in
                                          enumerate(labels * 10)))
    out = _one_line_error(runner.invoke(main, ["train", str(f), "-o", str(tmp_path / "m.npz")]))
    assert expect in out and "line 2" in out and "validation_fraction" not in out


@pytest.mark.parametrize("bad,expect", [
    (None, r"labels\[3\] is None"),
    (float("nan"), r"labels\[3\] is nan"),
    ("", r"labels\[3\] is blank"),
    ("  ", r"labels\[3\] is blank"),
])
def test_api_missing_labels_name_the_position(bad, expect):
    from fastrnn import Model
    texts, labels = make_corpus(20, seed=0)
    y = labels.tolist() if isinstance(bad, float) else [str(v) for v in labels]
    y[3] = bad
    with pytest.raises(ValueError, match=expect):
        Model(epochs=1, hidden_size=4).fit(texts, y)


def test_tiny_data_hint_names_the_cli_option(runner, tmp_path):
    f = tmp_path / "tiny.tsv"
    f.write_text("label\ttext\n1\tgood\n0\tbad\n1\tgreat\n")
    out = _one_line_error(runner.invoke(main, ["train", str(f), "-o", str(tmp_path / "m.npz")]))
    assert "--no-early-stopping" in out and "early_stopping=False" not in out
    r = runner.invoke(main, ["train", str(f), "-o", str(tmp_path / "m.npz"),
                             "--no-early-stopping", "--epochs", "3"])
    assert r.exit_code == 0, r.output
    assert "epoch 3 of 3" in r.output


def test_huge_learning_rate_says_diverged(runner, data, tmp_path):
    out = tmp_path / "m.npz"
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(out),
                             "--learning-rate", "1e30", "--epochs", "3", "--hidden-size", "8"])
    assert "training diverged" in _one_line_error(r) and "--learning-rate" in r.output
    assert not out.exists()


def test_diverged_fit_error_is_one_line(runner, data, tmp_path, monkeypatch):
    from fastrnn import model as M

    def diverge(self, *a, **k):
        raise FloatingPointError("training diverged: the loss became NaN")
    monkeypatch.setattr(M.Model, "fit", diverge)
    out = _one_line_error(runner.invoke(main, ["train", str(data / "train.tsv"), "-o",
                                               str(tmp_path / "m.npz")]))
    assert "train.tsv: training diverged" in out and not (tmp_path / "m.npz").exists()


def test_train_is_reproducible_by_default(runner, data, tmp_path):
    from fastrnn import Model
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for p in (a, b):
        r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(p)] + TRAIN)
        assert r.exit_code == 0, r.output
    ma, mb = Model.load(a), Model.load(b)
    assert ma.vocabulary_.to_dict() == mb.vocabulary_.to_dict()
    for name in ma.params_.names:
        np.testing.assert_array_equal(getattr(ma.params_, name), getattr(mb.params_, name))
    assert "[default: 0" in runner.invoke(main, ["train", "--help"]).output


def test_version_and_module_sweep_entry_points(tmp_path):
    r = subprocess.run([sys.executable, "-m", "fastrnn.cli", "sweep", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "CONFIG" in r.stdout
    from fastrnn import __version__
    assert CliRunner().invoke(main, ["--version"]).output.strip().endswith(__version__)


@pytest.mark.parametrize("make,expect", [
    (lambda p: p / "plain_file", "plain_file is a file, not a folder"),
    (lambda p: p / "plain_file" / "sub", "plain_file is a file, not a folder"),
])
def test_sweep_output_dir_checked_before_reading_or_training(runner, tmp_path, make, expect):
    (tmp_path / "plain_file").write_text("keep me")
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"data": "missing.tsv", "grid": {"seed": [0]}}')
    out = _one_line_error(runner.invoke(main, ["sweep", str(cfg), "--output-dir",
                                               str(make(tmp_path))]))
    assert expect in out and "missing.tsv" not in out
    assert (tmp_path / "plain_file").read_text() == "keep me"


def test_sweep_config_read_like_the_data_files(runner, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_bytes('{"data": "caf\xe9.tsv"}'.encode("latin-1"))
    out = _one_line_error(runner.invoke(main, ["sweep", str(cfg), "--output-dir",
                                               str(tmp_path / "out")]))
    assert "cfg.json: line 1: not valid UTF-8 (byte 0xe9)" in out
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- cells, n-grams, presets (issue 11)
def _train(runner, data, out, *args):
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(out)] + TRAIN
                      + list(args))
    assert r.exit_code == 0, r.output
    return r


@pytest.mark.parametrize("args,cell,ngrams,buckets", [
    (["--cell", "gru", "--ngrams", "0"], "gru", 0, 2**20),
    (["--cell", "lstm", "--ngrams", "1", "--buckets", "64"], "lstm", 1, 64),
    (["--preset", "accurate", "--buckets", "128"], "gru", 2, 128),
])
def test_train_cell_and_ngrams_are_recorded_and_predict_evaluate_work(runner, data, tmp_path,
                                                                      args, cell, ngrams,
                                                                      buckets):
    from fastrnn import Model
    out = tmp_path / "m.npz"
    r = _train(runner, data, out, *args)
    assert f"trained a {cell} model" in r.output
    m = Model.load(out)
    assert (m.cell, m.ngrams, m.buckets) == (cell, ngrams, buckets)
    assert m.params_.buckets == (buckets if ngrams else 0)
    r = runner.invoke(main, ["predict", str(out), "--json", "i am very happy", "this was bad"])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in r.output.strip().splitlines()]
    assert len(recs) == 2 and all(abs(sum(x["probabilities"].values()) - 1) < 1e-5
                                  for x in recs)
    got = np.array([[x["probabilities"][str(c)] for c in m.classes_.tolist()] for x in recs])
    np.testing.assert_allclose(got, m.predict_proba(["i am very happy", "this was bad"]),
                               rtol=0, atol=1e-12)
    r = runner.invoke(main, ["evaluate", str(out), str(data / "test.tsv")])
    assert r.exit_code == 0, r.output
    assert "100 texts" in r.output


def test_preset_sets_defaults_and_explicit_options_override_it(runner, data, tmp_path,
                                                               monkeypatch):
    from fastrnn import Model
    from fastrnn import model as M
    seen = []

    def fit(self, *a, **k):  # the configuration is what is tested: no training
        seen.append(self.get_params())
        raise ValueError("stop here")
    monkeypatch.setattr(M.Model, "fit", fit)
    for args, want in [([], {"cell": "tanh"}),
                       (["--preset", "fast"], {"cell": "tanh"}),
                       (["--preset", "accurate"], {"cell": "gru"}),
                       (["--preset", "accurate", "--cell", "lstm"], {"cell": "lstm"}),
                       (["--preset", "accurate", "--cell", "tanh", "--ngrams", "3"],
                        {"cell": "tanh", "ngrams": 3}),
                       (["--hidden-size", "12", "--preset", "accurate"],
                        {"cell": "gru", "hidden_size": 12})]:
        r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o",
                                 str(tmp_path / "m.npz")] + args)
        assert r.exit_code == 1 and "stop here" in r.output, r.output
        got = seen.pop()
        expect = {**Model().get_params(), "seed": 0, "progress": got["progress"], **want}
        assert got == expect, args
    assert not (tmp_path / "m.npz").exists()
    help_text = " ".join(runner.invoke(main, ["train", "--help"]).output.split())
    assert "--preset [fast|accurate]" in help_text and "--cell [tanh|gru|lstm]" in help_text
    assert "accurate (cell=gru)" in help_text and "explicitly override it" in help_text


@pytest.mark.parametrize("args,message", [
    (["--cell", "rnn"], "--cell"),
    (["--cell", "GRU "], "--cell"),
    (["--ngrams", "-1"], "--ngrams"),
    (["--ngrams", "17"], "--ngrams"),
    (["--buckets", "0"], "--buckets"),
    (["--buckets", "many"], "--buckets"),
    (["--preset", "best"], "--preset"),
])
def test_bad_cell_ngrams_buckets_preset_are_usage_errors(runner, data, tmp_path, args, message):
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(tmp_path / "m.npz")]
                      + args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert "Invalid value" in r.output
    assert not (tmp_path / "m.npz").exists()


# ---------------------------------------------------------------- pretrained vectors (issue 12)
def _vectors_file(path, data, rows=None, width=6):
    from fastrnn.vocab import default_tokenizer
    words = sorted({w for line in (data / "train.tsv").read_text().splitlines()[1:]
                    for w in default_tokenizer(line.split("\t", 1)[1])})
    rng = np.random.default_rng(0)
    lines = [w + " " + " ".join("%.6f" % x for x in rng.standard_normal(width))
             for w in words[: rows or len(words)]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_train_with_embeddings_frozen_and_fine_tuned(runner, data, tmp_path):
    from fastrnn import Model
    vec = _vectors_file(tmp_path / "v.txt", data)
    before = vec.read_bytes()
    for flag, frozen in ([], True), (["--fine-tune-embeddings"], False):
        out = tmp_path / ("m%d.npz" % frozen)
        _train(runner, data, out, "--embeddings", str(vec), *flag)
        m = Model.load(out)
        assert m.freeze_embeddings is frozen and m.params_.embedded
        assert m.params_.Emb.shape[1] == 6
        r = runner.invoke(main, ["evaluate", str(out), str(data / "test.tsv")])
        assert r.exit_code == 0, r.output
    assert vec.read_bytes() == before
    # --preset accurate with vectors takes the preset's recipe for vectors
    out = tmp_path / "acc.npz"
    _train(runner, data, out, "--embeddings", str(vec), "--preset", "accurate")
    m = Model.load(out)
    assert (m.cell, m.freeze_embeddings) == ("gru", False)


def test_a_model_saved_without_its_unseen_word_vectors_warns_in_the_clis_words(runner, data,
                                                                               tmp_path):
    from fastrnn import Model
    vec = _vectors_file(tmp_path / "v.txt", data)
    with vec.open("a", encoding="utf-8") as f:  # a word the training data never has
        f.write("unseenword " + " ".join(["0.5"] * 6) + "\n")
    out = tmp_path / "m.npz"
    _train(runner, data, out, "--embeddings", str(vec))
    small = tmp_path / "small.npz"
    Model.load(out).save(small, oov_vectors=False)
    r = _stderr_runner().invoke(main, ["predict", str(small), "unseenword good"])
    assert r.exit_code == 0, r.output
    assert "warning: " + str(small) + " was saved without the vectors of the words outside " \
        "its vocabulary (oov_vectors=False): such words get no vector here; save the model " \
        "with its vectors" in r.stderr
    r = runner.invoke(main, ["predict", str(out), "unseenword good"])  # saved with them: quiet
    assert r.exit_code == 0 and "warning" not in r.output


def test_train_embeddings_bad_input(runner, data, tmp_path):
    out = tmp_path / "m.npz"
    for path, expect in ((tmp_path / "nope.txt", "nope.txt: no such file"),
                         (tmp_path, "is a directory, not a vectors file")):
        r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(out),
                                 "--embeddings", str(path)])
        assert expect in _one_line_error(r)
    r = runner.invoke(main, ["train", str(data / "train.tsv"), "-o", str(out),
                             "--fine-tune-embeddings"])
    assert r.exit_code == 2 and "need --embeddings" in r.output
    bad = tmp_path / "bad.txt"
    bad.write_text("good 0.1 0.2 0.3\nbad 0.1 0.2\n", encoding="utf-8")
    msg = _one_line_error(runner.invoke(main, ["train", str(data / "train.tsv"), "-o",
                                               str(out), "--embeddings", str(bad)] + TRAIN))
    assert str(bad) in msg and "line 2" in msg and "train.tsv" not in msg
    # the vectors file is an input: never the output
    vec = _vectors_file(tmp_path / "v.txt", data)
    msg = _one_line_error(runner.invoke(main, ["train", str(data / "train.tsv"), "-o",
                                               str(vec), "--force", "--embeddings", str(vec)]))
    assert "is the input file" in msg
    assert not out.exists()
