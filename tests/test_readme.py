"""The README's runnable example runs as written (in a temporary folder)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_ten_line_example_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text(encoding="utf-8")
    section = text.split("## A ten-line example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert float(out[0]) >= 0.99  # the built-in corpus is learned
    assert (tmp_path / "sentiment.npz").exists()


def test_ci_runs_the_readme_test_command():
    """.ci/run runs exactly the second command the README gives a newcomer."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1).splitlines()
    readme_cmd = block[1].split("#", 1)[0].strip()
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1].strip() == readme_cmd
