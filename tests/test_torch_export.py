"""``Model.to_torch_state_dict``: the weights loaded into PyTorch give ``predict_proba``.

Skipped without torch.  Tolerance: float64 probabilities <= 1e-10 absolute (the issue's bar;
measured <= ~4e-16) on sentences of 1 to 200 words, for each cell and pooling; the README's
snippet runs as written.
"""

import re
from pathlib import Path

import numpy as np
import pytest

from fastrnn import Model
from fastrnn.datasets import load_demo

torch = pytest.importorskip("torch")

README = Path(__file__).resolve().parents[1] / "README.md"
MODULES = {"tanh": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
POOL = {"last": lambda out: out[:, -1], "mean": lambda out: out.mean(1),
        "max": lambda out: out.max(1).values}


@pytest.fixture(scope="module")
def demo():
    return load_demo(n_train=200, n_test=20, seed=5)


class Net(torch.nn.Module):
    """What the README rebuilds, for any cell and pooling."""

    def __init__(self, cell, pooling, V, H, O):
        super().__init__()
        kw = {"nonlinearity": "tanh"} if cell == "tanh" else {}
        self.rnn = MODULES[cell](V, H, batch_first=True, **kw)
        self.fc = torch.nn.Linear(H, O)
        self.pool = POOL[pooling]

    def forward(self, x):
        return torch.softmax(self.fc(self.pool(self.rnn(x)[0])), dim=-1)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["tanh", "gru", "lstm"])
def test_torch_reproduces_predict_proba(demo, cell, pooling):
    (tr, ytr), _ = demo
    m = Model(cell=cell, pooling=pooling, dtype="float64", hidden_size=6, epochs=2, seed=1,
              ngrams=0, early_stopping=False, progress=False).fit(tr, ytr)
    V, H, O = len(m.vocabulary_), 6, len(m.classes_)
    net = Net(cell, pooling, V, H, O).double()
    sd = m.to_torch_state_dict()
    assert set(sd) == set(net.state_dict())
    net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    rng = np.random.default_rng(0)
    words = m.vocabulary_.words
    lengths = [1, 2, 3, 7, 20, 50, 120, 200]
    texts = [" ".join(rng.choice(words, n)) for n in lengths]
    tokens, offsets = m.vocabulary_.encode(texts)
    assert np.diff(offsets).tolist() == lengths
    want = m.predict_proba(texts)
    with torch.no_grad():
        for i, (a, b) in enumerate(zip(offsets[:-1], offsets[1:])):
            x = torch.nn.functional.one_hot(torch.from_numpy(tokens[a:b]).long(), V)
            got = net(x.double()[None]).numpy()[0]
            np.testing.assert_allclose(got, want[i], rtol=0, atol=1e-10,
                                       err_msg=f"{cell}/{pooling}, {lengths[i]} words")


def test_readme_snippet_runs_as_written(tmp_path, monkeypatch, capsys):
    text = README.read_text(encoding="utf-8")
    section = text.split("## PyTorch export", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert float(capsys.readouterr().out.split()[-1]) <= 1e-10
