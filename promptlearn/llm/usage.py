"""Usage accounting per role (agent, judge, optimizer, ...), in the one ``Cost`` type."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Any, Iterator

from .types import Completion, Cost


class Usage:
    """Thread-safe costs, keyed by role. Share one instance across LLMs to get one bill."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_role: dict[str, Cost] = {}

    def _add(self, role: str, cost: Cost) -> None:
        with self._lock:
            self.by_role[role] = self.by_role.get(role, Cost()) + cost

    def record(self, role: str, completion: Completion) -> None:
        self._add(role, Cost.of(completion))

    def record_error(self, role: str) -> None:
        self._add(role, Cost(errors=1))

    def total(self) -> Cost:
        with self._lock:
            return Cost.total(self.by_role.values())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {role: cost.as_row() for role, cost in self.by_role.items()}

    def to_frame(self) -> Any:
        import pandas as pd

        rows = [{"role": role, **values} for role, values in self.snapshot().items()]
        frame = pd.DataFrame(rows, columns=["role", *Cost.model_fields, "tokens"])
        return frame.set_index("role")


class UsageScope:
    """Collects the cost of the calls made inside ``with usage_scope() as scope:`` in ``scope.cost``.

    Backed by a ContextVar, so concurrent asyncio tasks each see only their own
    calls. The loop stores a scope's cost in each record, which lets a resumed
    run charge replayed records exactly what they first cost.
    """

    def __init__(self) -> None:
        self.cost = Cost()

    def add(self, completion: Completion) -> None:
        self.cost = self.cost + Cost.of(completion)


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
            outer.cost = outer.cost + scope.cost


def record_in_scope(completion: Completion) -> None:
    scope = _current_scope.get()
    if scope is not None:
        scope.add(completion)
