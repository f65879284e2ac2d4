"""The ``fastrnn`` command line, through click's CliRunner and as a subprocess."""

import json
import subprocess
import sys

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
