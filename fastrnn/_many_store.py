"""``train_many(output_dir=...)``: results.jsonl (one line per finished model) and weights.

Every finished model is appended as one JSON line (flushed and fsynced) and its weights are
written atomically as ``<id>.npz``; a re-run loads what is already there instead of training.
"""

import json
import os
from pathlib import Path

from ._many_inputs import _jsonable
from .model import Model

RESULTS_FILE = "results.jsonl"


class _Store:
    """``output_dir``: results.jsonl (one line per finished model) and ``<id>.npz`` weights."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / RESULTS_FILE
        self.rows = {}
        if self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError:  # a line cut short by a crash: that model reruns
                        continue
                    if isinstance(row, dict) and "id" in row:
                        self.rows[row["id"]] = row

    def done(self, mid):
        """The stored row and model of a finished model, or None."""
        row = self.rows.get(mid)
        if row is None:
            return None
        if row.get("status") != "ok":
            return row, None
        npz = self.folder / f"{mid}.npz"
        if not npz.is_file():
            return None
        try:
            model = Model.load(npz)
        except (OSError, ValueError):
            return None
        model.history_ = row.get("history", [])
        model.n_epochs_ = row.get("epochs")
        model.fit_time_ = row.get("time")
        return row, model

    def write(self, row, model):
        if model is not None:
            model.save(self.folder / f"{row['id']}.npz")
        line = json.dumps(row, default=_jsonable) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.rows[row["id"]] = row


