"""The benchmark results store: one JSON line per (task, method, seed, budget) cell, append-only.

A killed ``bench`` continues: cells with an ``ok`` record are skipped, failed cells are tried
again, and an unreadable line (a write cut by the kill) is reported and skipped, never fatal.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError

log = logging.getLogger("promptlearn")


def cell_key(*, task: str, task_fingerprint: str, method: str, seed: int, budget: int, agent: str,
             rewriter: str) -> str:
    body = json.dumps([task, task_fingerprint, method, seed, budget, agent, rewriter])
    return hashlib.sha256(body.encode()).hexdigest()[:16]


class ResultsStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigError(f"results path {self.path} is a folder; give a .jsonl file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def cells_dir(self) -> Path:
        """Where cells keep run state and caches (``<stem>_cells/`` beside the results file)."""
        return self.path.parent / f"{self.path.stem}_cells"

    def records(self) -> list[dict[str, Any]]:
        """Every readable record, oldest first; unreadable lines are logged and skipped."""
        if not self.path.exists():
            return []
        rows = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d is not a JSON record (a write cut by a kill?); skipped", self.path, n)
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows

    def finished(self) -> dict[str, dict[str, Any]]:
        """The latest ``ok`` record of each cell key."""
        return {r["key"]: r for r in self.records() if r.get("status") == "ok" and "key" in r}

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # two bench processes on one file write whole lines
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
