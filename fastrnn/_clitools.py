"""Helpers shared by the command lines (``fastrnn``, ``fastrnn sweep``, ``fastrnn-bench``).

One copy each of: the one-line failure (:func:`fail`), loading a labelled data file
(:func:`load_data`) or a model (:func:`load_model`), the output-file policy
(:func:`check_output`), and one-line warnings (:func:`one_line_warnings`).  Only CLI modules
import this module (it imports ``click``); the library raises exceptions, the CLI explains them.
"""

import contextlib
import os
import warnings
from pathlib import Path

import click

from ._io import check_writable


def first_line(message, default="failed"):
    text = str(message)
    return text.splitlines()[0] if text.strip() else default


def fail(message):
    """Exit with a one-line error on stderr (exit code 1): a problem with the user's data/files."""
    raise click.ClickException(first_line(message))


def load_data(path, text_col, label_col):
    """``(texts, labels)`` of a labelled data file, or a one-line failure naming the file."""
    from .datasets import load
    try:
        texts, labels = load(path, text=text_col, label=label_col)
    except (OSError, ValueError, TypeError) as e:
        msg = first_line(e, f"cannot read {path}")
        fail(msg if str(path) in msg else f"{path}: {msg}")
    if len(texts) == 0:
        fail(f"{path}: the dataset is empty")
    return texts, labels


def load_model(path):
    """A :class:`fastrnn.Model` read from ``path``, or a one-line failure naming the file.

    A model saved without its unseen-word vectors warns in the CLI's words (the commands
    cannot re-attach vectors)."""
    from .model import MissingVectorsWarning, Model
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MissingVectorsWarning)
            model = Model.load(path)
    except (OSError, ValueError) as e:
        fail(e)
    for w in caught:
        if issubclass(w.category, MissingVectorsWarning):
            warnings.warn(MissingVectorsWarning(
                f"{path} was saved without the vectors of the words outside its vocabulary "
                "(oov_vectors=False): such words get no vector here; save the model with its "
                "vectors (Model.save's default) to keep them"))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model


def count(n, noun):
    """``"1 word"``, ``"2 words"``, ``"3 classes"``: a count in the CLI's lines."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{'es' if noun.endswith('s') else 's'}"


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path, inputs=(), force=False, what="output"):
    """Refuse an output path that would destroy something, before any work is done.

    - an input of the command (the same file, by any name): always refused;
    - any existing file: refused unless ``force`` (a fastrnn model included: replacing a model
      is a decision, say ``--force``);
    - a directory, a missing folder, a folder that cannot be written: refused.
    """
    path = Path(path)
    for p in inputs:
        if p is not None and path.exists() and _same_file(path, p):
            fail(f"{what} {path} is the input file {p}; choose another {what} file")
    if path.exists() and not path.is_dir() and not force:
        fail(f"{path} already exists; use --force to replace it")
    try:
        check_writable(path, what)
    except ValueError as e:
        fail(e)
    return path


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"warning: {first_line(message, category.__name__)}", err=True)


@contextlib.contextmanager
def one_line_warnings():
    """Show every Python warning raised inside as one ``warning: ...`` line on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        yield
