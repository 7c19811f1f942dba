"""The run directory: an append-only event log that makes runs resumable.

``events.jsonl`` gets one JSON line per rollout, critique, candidate,
proposal and decision, flushed and fsynced as it happens. Resuming replays
the loop from the start with those records as a memo: stored results are
reused (and charged to the budget as before), so the run reaches the point
of the crash without model calls and continues.

What resume guarantees:
- a line cut off by a crash (the last one) is dropped; at most the calls in flight are lost;
- an unreadable line elsewhere is skipped and reported (file and line numbers), never the
  records after it;
- ``run.json`` holds a fingerprint of what the records depend on (examples, seed prompt,
  judges, agent, loop settings); resuming with different ones is refused, naming what changed;
- one process at a time: a lock file (with the owner's pid) guards the directory.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, TextIO, TypeVar

from ._redaction import redact
from .errors import ConfigError

EVENTS_FILE = "events.jsonl"
CONFIG_FILE = "run.json"
RESULT_FILE = "result.json"
LOCK_FILE = "run.lock"

log = logging.getLogger("promptlearn")
T = TypeVar("T")

try:  # POSIX; on other systems the directory is not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


@dataclass
class EventScan:
    """What reading ``events.jsonl`` found: the events and the lines that could not be read."""

    events: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line number of each event
    bad_lines: list[int] = field(default_factory=list)  # 1-based line numbers
    partial_last_line: bool = False


class RunStore:
    def __init__(self, run_dir: str | Path | None, *, resume: bool = False):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._lock = threading.Lock()
        self._fh: TextIO | None = None
        self._lock_fh: TextIO | None = None
        self.records: dict[str, dict[str, Any]] = {}  # key -> stored event, for replay
        self._memo_lines: dict[str, int] = {}
        self.skipped_lines: list[int] = []
        if self.run_dir is None:
            return
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ConfigError(f"run directory {self.run_dir} is a file; choose a folder path")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the run directory {self.run_dir}: {exc.strerror or exc}") from None
        self._take_lock()
        try:
            events = self.run_dir / EVENTS_FILE
            for name in (EVENTS_FILE, CONFIG_FILE):
                if (self.run_dir / name).exists() and not (self.run_dir / name).is_file():
                    raise ConfigError(f"{self.run_dir / name} is not a file; this folder does not hold a promptlearn "
                                      f"run, choose another run_dir")
            if events.exists() and events.stat().st_size > 0 and not resume:
                raise ConfigError(f"{self.run_dir} already holds a run; pass resume=True (--resume) to continue "
                                  f"it or choose a new run_dir")
            if resume:
                scan = scan_events(self.run_dir)
                for event, number in zip(scan.events, scan.lines):
                    if "key" in event:
                        self.records[event["key"]] = event
                        self._memo_lines[event["key"]] = number
                self.skipped_lines = scan.bad_lines
                if scan.bad_lines:
                    log.warning("%s: skipped %d unreadable line(s) (line %s); the records after them are used",
                                events, len(scan.bad_lines), ", ".join(map(str, scan.bad_lines[:10])))
                _truncate_partial_line(events)
            self._fh = events.open("a", encoding="utf-8")
        except BaseException:
            self._release_lock()
            raise

    # ------------------------------------------------------------------ one process per run directory

    def _take_lock(self) -> None:
        assert self.run_dir is not None
        self._lock_fh = hold_lock(self.run_dir / LOCK_FILE, lambda owner: (
            f"{self.run_dir} is in use by another promptlearn process (pid {owner}); "
            f"wait for it to finish or choose another run_dir"))

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()  # closing the file releases the flock
            self._lock_fh = None

    # ------------------------------------------------------------------ writing

    def read_json(self, name: str) -> Any | None:
        """A JSON file of this run, or None if absent or unreadable."""
        if self.run_dir is None:
            return None
        path = self.run_dir / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def write_json(self, name: str, data: Any) -> None:
        if self.run_dir is None:
            return
        text = redact(json.dumps(data, indent=2, default=str))
        # A unique temporary name per writer: os.replace is atomic, so readers see the old file
        # or the new one, never an empty one, and two writers never replace each other's temp file.
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.run_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self.run_dir / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def append(self, event: dict[str, Any]) -> None:
        if "key" in event:
            self.records[event["key"]] = event
        if self._fh is None:
            return
        line = redact(json.dumps(event, default=str, ensure_ascii=False))
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())

    async def memo(self, key: str, kind: str, compute: Callable[[], Awaitable[T | None]], *,
                   dump: Callable[[T], dict[str, Any]], load: Callable[[dict[str, Any]], T]) -> T | None:
        """The stored value for ``key``, or ``compute()``'s, appended as a ``kind`` event.

        This is what makes resume a replay: every model-dependent step of the loop goes
        through here. ``compute`` may return None (e.g. out of budget): nothing is stored.
        """
        stored: T | None = self.recall(key, load)
        if stored is not None:
            return stored
        value = await compute()
        if value is not None:
            self.append({"type": kind, "key": key, **dump(value)})
        return value

    def recall(self, key: str, parse: Callable[[dict[str, Any]], T] | None = None) -> Any:
        """The stored event for ``key`` (or ``parse(event)``), or None if there is none.

        A stored record that ``parse`` cannot read is reported with its file and line and
        treated as absent, so that step is redone rather than the run failing.
        """
        event = self.records.get(key)
        if event is None or parse is None:
            return event
        try:
            return parse(event)
        except (KeyError, TypeError, ValueError) as exc:
            where = f"{self.run_dir / EVENTS_FILE}:{self._memo_lines.get(key, '?')}" if self.run_dir else key
            log.warning("%s: the stored %s record cannot be read (%s); redoing that step",
                        where, event.get("type", "?"), str(exc).splitlines()[0][:200])
            del self.records[key]
            return None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._release_lock()


def hold_lock(path: Path, busy: Callable[[str], str]) -> TextIO:
    """An open handle holding an exclusive flock on ``path``, with this process's pid written in it; closing the
    handle releases it. If another process holds it: ConfigError(``busy(owner's pid)``). Run folders and bench
    results files both use it. flock dies with its process, so a run killed with -9 never leaves a stale lock."""
    handle = path.open("a+", encoding="utf-8")
    if fcntl is None:  # pragma: no cover
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise ConfigError(busy(owner)) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def scan_events(run_dir: str | Path) -> EventScan:
    """Read ``events.jsonl`` whole: unreadable lines are reported by number and skipped."""
    return scan_jsonl(Path(run_dir) / EVENTS_FILE)


def scan_jsonl(path: Path) -> EventScan:
    """Read an append-only JSONL file whole: objects by line; unreadable lines and a cut last line are noted."""
    scan = EventScan()
    if not path.exists():
        return scan
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.endswith("\n"):
                scan.partial_last_line = True  # cut off by a crash mid-write
                break
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                scan.bad_lines.append(number)
                continue
            if not isinstance(event, dict):
                scan.bad_lines.append(number)
                continue
            scan.events.append(event)
            scan.lines.append(number)
    return scan


def read_events(run_dir: str | Path) -> Iterator[dict[str, Any]]:
    """The readable events of a run, in order (see :func:`scan_events` for the lines skipped)."""
    yield from scan_events(run_dir).events


def _truncate_partial_line(path: Path) -> None:
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
