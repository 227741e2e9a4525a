"""The training log ``metrics.jsonl``: reading it back (:class:`History`) and cutting it at a checkpoint."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..files import atomic_write_text

__all__ = ["LOG_NAME", "History", "read_jsonl", "truncate_log"]

LOG_NAME = "metrics.jsonl"


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file ([] when there is none); a line cut short by a kill is skipped."""
    records = []
    if not path.is_file():
        return records
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a kill; resume rewrites the file without it
    return records


def truncate_log(path: Path, step: int) -> None:
    """Keep only the records up to ``step`` (the checkpoint), so a resumed run does not duplicate lines."""
    if not path.is_file():
        return
    kept = [r for r in read_jsonl(path) if int(r.get("step", 0)) <= step]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


class History:
    """The records of a training run, read from ``metrics.jsonl``.

    Each record is a dict with ``kind`` ("train" or "eval"), ``step`` (optimizer updates done), ``time``
    (seconds of training so far, summed over resumptions) and, for "train", ``lr`` (``d_lr``), ``loss``
    and the mean of every loss term over the ``log_every`` window (discriminator terms prefixed ``d_``);
    for "eval", the floats returned by ``eval_fn``.
    """

    def __init__(self, path: str | os.PathLike):
        p = Path(path)
        self.path = p / LOG_NAME if p.is_dir() or p.suffix != ".jsonl" else p
        self.records: list[dict] = read_jsonl(self.path)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"History({str(self.path)!r}, {len(self.train_records)} train / {len(self.eval_records)} eval records)"

    @property
    def train_records(self) -> list[dict]:
        return [r for r in self.records if r.get("kind") == "train"]

    @property
    def eval_records(self) -> list[dict]:
        return [r for r in self.records if r.get("kind") == "eval"]

    def frame(self):
        """All records as a pandas DataFrame (one row per record)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.records)

    def _view(self, kind: str):
        import pandas as pd

        df = pd.DataFrame.from_records([r for r in self.records if r.get("kind") == kind])
        return df.dropna(axis=1, how="all").reset_index(drop=True)

    @property
    def train(self):
        """DataFrame of the training records (columns step, time, lr, loss, terms...)."""
        return self._view("train")

    @property
    def eval(self):
        """DataFrame of the evaluation records (columns step, time, metrics...)."""
        return self._view("eval")

    @property
    def final_metrics(self) -> dict:
        """The metrics of the last evaluation ({} if none)."""
        ev = self.eval_records
        if not ev:
            return {}
        return {k: v for k, v in ev[-1].items() if k not in ("kind", "step", "time")}

    @property
    def steps_done(self) -> int:
        return max((int(r["step"]) for r in self.records if "step" in r), default=0)
