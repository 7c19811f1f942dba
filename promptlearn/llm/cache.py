"""On-disk request cache: SQLite in WAL mode, safe across threads and processes."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from .types import Completion

CACHE_ENV = "PROMPTLEARN_CACHE"  # a path for the default cache, or "off"
DEFAULT_CACHE_PATH = Path("~/.cache/promptlearn/llm_cache.sqlite")


def default_cache() -> "SQLiteCache | None":
    """The cache an LLM gets when none is passed: ``$PROMPTLEARN_CACHE`` (or "off"), else ~/.cache/promptlearn."""
    setting = os.environ.get(CACHE_ENV, "")
    if setting.lower() in {"off", "none", "0"}:
        return None
    return SQLiteCache(setting or DEFAULT_CACHE_PATH)
_BUSY_TIMEOUT_MS = 30_000


class SQLiteCache:
    """Maps ``Request.cache_key()`` to a Completion.

    Only the answer and its token counts are stored: requests carry no
    credentials (see ``Request``), so no API key can reach the file.
    One connection per thread; WAL + busy timeout let several processes write.
    """

    def __init__(self, path: str | Path = DEFAULT_CACHE_PATH):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, model TEXT, "
                         "payload TEXT NOT NULL, created REAL NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> Completion | None:
        row = self._connect().execute("SELECT payload FROM completions WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return Completion(**data, cached=True, latency_s=0.0)

    def put(self, key: str, completion: Completion) -> None:
        payload = {"text": completion.text, "model": completion.model,
                   "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
                   "cost_usd": completion.cost_usd, "finish_reason": completion.finish_reason}
        self._connect().execute("INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?)",
                                (key, completion.model, json.dumps(payload), time.time()))

    def __len__(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM completions").fetchone()[0]

    def clear(self) -> None:
        self._connect().execute("DELETE FROM completions")
