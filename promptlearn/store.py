"""The run directory: an append-only event log that makes runs resumable.

``events.jsonl`` gets one JSON line per rollout, critique, candidate,
proposal and decision, flushed and fsynced as it happens. Resuming replays
the loop from the start with those records as a memo: stored results are
reused (and charged to the budget as before), so the run reaches the point
of the crash without model calls and continues. A line cut off by a crash
is ignored; at most the calls in flight are lost.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator

from .errors import ConfigError

EVENTS_FILE = "events.jsonl"
CONFIG_FILE = "run.json"
RESULT_FILE = "result.json"


class RunStore:
    def __init__(self, run_dir: str | Path | None, *, resume: bool = False):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._lock = threading.Lock()
        self._fh = None
        self.memo: dict[str, dict[str, Any]] = {}  # key -> stored event, for replay
        if self.run_dir is None:
            return
        events = self.run_dir / EVENTS_FILE
        if events.exists() and events.stat().st_size > 0 and not resume:
            raise ConfigError(f"{self.run_dir} already holds a run; pass resume=True to continue it "
                              f"or choose a new run_dir")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            for event in read_events(self.run_dir):
                if "key" in event:
                    self.memo[event["key"]] = event
            _truncate_partial_line(events)
        self._fh = events.open("a", encoding="utf-8")

    def write_json(self, name: str, data: Any) -> None:
        if self.run_dir is None:
            return
        tmp = self.run_dir / (name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str))
        os.replace(tmp, self.run_dir / name)

    def append(self, event: dict[str, Any]) -> None:
        if "key" in event:
            self.memo[event["key"]] = event
        if self._fh is None:
            return
        line = json.dumps(event, default=str, ensure_ascii=False)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def recall(self, key: str) -> dict[str, Any] | None:
        return self.memo.get(key)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_events(run_dir: str | Path) -> Iterator[dict[str, Any]]:
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                return  # cut off by a crash mid-write
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                return


def _truncate_partial_line(path: Path) -> None:
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
