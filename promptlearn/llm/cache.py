"""On-disk request cache: SQLite in WAL mode, safe across threads and processes."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from ..errors import ConfigError
from .types import Completion

CACHE_ENV = "PROMPTLEARN_CACHE"  # a path for the default cache, or "off"
DEFAULT_CACHE_PATH = Path("~/.cache/promptlearn/llm_cache.sqlite")


_OFF = {"off", "none", "0", "false", "no"}
_BUSY_TIMEOUT_MS = 30_000


def default_cache() -> "SQLiteCache | None":
    """The cache an LLM gets when none is passed: ``$PROMPTLEARN_CACHE`` (or "off"), else ~/.cache/promptlearn."""
    return resolve_cache(os.environ.get(CACHE_ENV, "") or DEFAULT_CACHE_PATH)


def resolve_cache(setting: "SQLiteCache | str | Path | bool | None") -> "SQLiteCache | None":
    """One meaning for the ``cache=`` argument, the ``--cache`` flag and ``$PROMPTLEARN_CACHE``.

    None, False or "off" (also "none", "0") mean no cache and no file; a path means a SQLite
    cache there; a SQLiteCache is used as it is. A path that cannot hold a cache is a ConfigError.
    """
    if setting is None or setting is False:
        return None
    if isinstance(setting, SQLiteCache):
        return setting
    if isinstance(setting, str) and setting.strip().lower() in _OFF:
        return None
    if not isinstance(setting, (str, Path)):
        raise ConfigError(f"cache must be a path, 'off' or None, got {type(setting).__name__}")
    return SQLiteCache(setting)


class SQLiteCache:
    """Maps ``Request.cache_key()`` to a Completion.

    Only the answer and its token counts are stored: requests carry no
    credentials (see ``Request``), so no API key can reach the file.
    One connection per thread; WAL + busy timeout let several processes write.
    """

    def __init__(self, path: str | Path = DEFAULT_CACHE_PATH):
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            raise ConfigError(f"cache path {self.path} is a directory; give a file path such as "
                              f"{self.path / 'llm_cache.sqlite'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the cache folder {self.path.parent}: {exc.strerror or exc}") from None
        self._local = threading.local()
        try:
            with self._connect() as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, model TEXT, "
                             "payload TEXT NOT NULL, created REAL NOT NULL)")
                conn.execute("SELECT key, payload FROM completions LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            self._local.conn = None
            raise ConfigError(f"cache file {self.path} is not a promptlearn cache ({exc}); "
                              f"point the cache elsewhere or delete that file") from None

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
        return int(self._connect().execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def clear(self) -> None:
        self._connect().execute("DELETE FROM completions")
