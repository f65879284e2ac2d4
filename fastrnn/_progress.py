"""One progress display for the library (``Model.fit`` epochs, ``train_many`` model-epochs).

Built on ``rich`` (a dependency): the library itself imports no ``click``.  Writes to stderr;
disabled, it does nothing.  ``advance`` may be called from any thread (rich locks its state).
"""

import sys

from ._validation import check_bool

__all__ = ["Progress", "enabled"]


def enabled(show):
    """``show`` as a bool: ``None`` means "only when stderr is a terminal"."""
    if check_bool("progress", show, allow_none=True) is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return show


class Progress:
    """A bar of ``total`` steps labelled ``label``, with an optional metrics text.

    Use as a context manager; ``advance(n, text=None)`` moves it on.
    """

    def __init__(self, total, label, show=None):
        self.total = int(total)
        self.label = label
        self._bar = None
        self._task = None
        if enabled(show) and self.total > 0:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn)
            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     TextColumn("{task.fields[text]}"),
                                     console=Console(file=sys.stderr), transient=False)

    @property
    def shown(self):
        """Whether the bar is displayed (``advance`` does nothing otherwise)."""
        return self._bar is not None

    def __enter__(self):
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, text="")
        return self

    def advance(self, n=1, text=None):
        if self._bar is not None and (n > 0 or text is not None):
            kw = {} if text is None else {"text": text}
            self._bar.update(self._task, advance=n, **kw)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        return False


def metrics_text(m):
    """The short live text of one epoch's metrics."""
    s = f"loss {m['loss']:.3f} acc {m['accuracy']:.3f}"
    if "val_accuracy" in m:
        s += f" val_acc {m['val_accuracy']:.3f}"
    return s
