"""Usage accounting per role (agent, judge, optimizer, ...)."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from dataclasses import asdict, dataclass
from typing import Iterator

from .types import Completion


@dataclass
class RoleUsage:
    calls: int = 0           # model calls actually made (cache hits excluded)
    cache_hits: int = 0
    errors: int = 0          # failed attempts, retried or not
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Usage:
    """Thread-safe counters, keyed by role. Share one instance across LLMs to get one bill."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_role: dict[str, RoleUsage] = {}

    def _role(self, role: str) -> RoleUsage:
        return self.by_role.setdefault(role, RoleUsage())

    def record(self, role: str, completion: Completion) -> None:
        with self._lock:
            usage = self._role(role)
            if completion.cached:
                usage.cache_hits += 1
                return
            usage.calls += 1
            usage.prompt_tokens += completion.prompt_tokens
            usage.completion_tokens += completion.completion_tokens
            usage.latency_s += completion.latency_s
            usage.cost_usd += completion.cost_usd or 0.0

    def record_error(self, role: str) -> None:
        with self._lock:
            self._role(role).errors += 1

    def total(self) -> RoleUsage:
        with self._lock:
            total = RoleUsage()
            for usage in self.by_role.values():
                for key, value in asdict(usage).items():
                    setattr(total, key, getattr(total, key) + value)
            return total

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return {role: asdict(usage) for role, usage in self.by_role.items()}

    def to_frame(self):
        import pandas as pd

        rows = [{"role": role, **values} for role, values in self.snapshot().items()]
        frame = pd.DataFrame(rows, columns=["role", *RoleUsage.__dataclass_fields__])
        return frame.set_index("role")


class UsageScope:
    """Collects the usage of the calls made inside ``with usage_scope() as scope:``.

    Backed by a ContextVar, so concurrent asyncio tasks each see only their own
    calls. The loop stores a scope's totals in each record, which lets a resumed
    run charge replayed records exactly what they first cost.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.cache_hits = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost_usd = 0.0

    def add(self, completion: Completion) -> None:
        if completion.cached:
            self.cache_hits += 1
            return
        self.calls += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.cost_usd += completion.cost_usd or 0.0

    def as_dict(self) -> dict:
        return {"calls": self.calls, "cache_hits": self.cache_hits, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost_usd": self.cost_usd}


_current_scope: contextvars.ContextVar[UsageScope | None] = contextvars.ContextVar("promptlearn_usage_scope",
                                                                                   default=None)


@contextlib.contextmanager
def usage_scope() -> Iterator[UsageScope]:
    outer = _current_scope.get()
    scope = UsageScope()
    token = _current_scope.set(scope)
    try:
        yield scope
    finally:
        _current_scope.reset(token)
        if outer is not None:  # nested scopes roll up
            for key, value in scope.as_dict().items():
                setattr(outer, key, getattr(outer, key) + value)


def record_in_scope(completion: Completion) -> None:
    scope = _current_scope.get()
    if scope is not None:
        scope.add(completion)
