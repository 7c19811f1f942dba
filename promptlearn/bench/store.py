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
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import ConfigError
from ..store import hold_lock, scan_jsonl

log = logging.getLogger("promptlearn")


def cell_key(*, task: str, task_fingerprint: str, method: str, seed: int, budget: int, agent: str,
             rewriter: str, engine: str = "llama.cpp") -> str:
    parts: list[object] = [task, task_fingerprint, method, seed, budget, agent, rewriter]
    body = json.dumps(parts if engine == "llama.cpp" else [*parts, engine])  # llama.cpp keys predate engines
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def copy_cache(source: Path, target: Path) -> bool:
    """Copy the model-call cache ``source`` to ``target`` unless ``target`` exists; True if copied.

    SQLite's online backup, not a file copy: the source may be in WAL mode with recent calls still
    in its ``-wal`` file, or open in a bench that is running.
    """
    if target.exists() or not source.is_file():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
    partial.replace(target)  # a kill mid-copy leaves no half cache under the real name
    return True


class ResultsStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigError(f"results path {self.path} is a folder; give a .jsonl file path")

    @property
    def lock_path(self) -> Path:
        """Beside the cells (a folder .gitignore already covers), not beside the results file."""
        return self.cells_dir / "results.lock"

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Holds the results file for one bench process, as a run folder is held (issue 29: two bench
        processes on one file both ran the same cells, wrote duplicate records and failed a cell on
        the shared run folder). A second process gets a ConfigError naming the owner's pid; the
        flock dies with its process, so a killed bench leaves no stale lock."""
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        handle = hold_lock(self.lock_path, lambda owner: (
            f"{self.path} is in use by another promptlearn bench (pid {owner}); wait for it to finish or give "
            f"another --results file"))
        try:
            yield
        finally:
            handle.close()

    @property
    def cells_dir(self) -> Path:
        """Where cells keep run state and caches (``<stem>_cells/`` beside the results file)."""
        return self.path.parent / f"{self.path.stem}_cells"

    def records(self) -> list[dict[str, Any]]:
        """Every readable record, oldest first; unreadable lines are logged and skipped."""
        scan = scan_jsonl(self.path)
        for n in scan.bad_lines:
            log.warning("%s:%d is not a JSON record; skipped", self.path, n)
        if scan.partial_last_line:
            log.warning("%s: the last line was cut by a kill; that cell runs again", self.path)
        return scan.events

    def finished(self) -> dict[str, dict[str, Any]]:
        """The latest ``ok`` record of each cell key."""
        return {r["key"]: r for r in self.records() if r.get("status") == "ok" and "key" in r}

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, default=str) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)  # here, not on open: reading a store creates nothing
        with open(self.path, "ab+") as handle:  # bytes: seeking back one byte is exact
            fcntl.flock(handle, fcntl.LOCK_EX)  # two bench processes on one file write whole lines
            end = handle.seek(0, os.SEEK_END)
            if end > 0:
                handle.seek(end - 1)
                if handle.read(1) != b"\n":
                    line = b"\n" + line  # end a line a kill cut short, or this record would be glued onto it
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
