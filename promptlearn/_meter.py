"""The meter that charges every record to the budget and says when to stop."""

from __future__ import annotations

import time
from typing import Any, Callable

from .config import Budget
from .records import Cost


class Meter:
    """Counts rollouts and the cost of records the loop used.

    Charges come from the records themselves (``Cost`` measured when they were
    made), not from live counters, so a resumed run that replays stored records
    is charged what the first run was and takes the same path.
    """

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic):
        self.budget = budget
        self.clock = clock
        self.started = clock()
        self.rollouts = 0
        self.spent = Cost()
        self.by_role: dict[str, Cost] = {}

    def charge(self, role: str, cost: Cost, *, rollout: bool = False) -> None:
        self.rollouts += int(rollout)
        self.spent = self.spent + cost
        self.by_role[role] = self.by_role.get(role, Cost()) + cost

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    def rollouts_left(self) -> int | None:
        return None if self.budget.max_rollouts is None else max(0, self.budget.max_rollouts - self.rollouts)

    def exhausted(self) -> str | None:
        """The name of the first limit reached, or None."""
        b, spent = self.budget, self.spent
        if b.max_rollouts is not None and self.rollouts >= b.max_rollouts:
            return "max_rollouts"
        if b.max_llm_calls is not None and spent.calls >= b.max_llm_calls:
            return "max_llm_calls"
        if b.max_tokens is not None and spent.tokens >= b.max_tokens:
            return "max_tokens"
        if b.max_cost_usd is not None and spent.cost_usd >= b.max_cost_usd:
            return "max_cost_usd"
        if b.max_wall_s is not None and self.elapsed_s >= b.max_wall_s:
            return "max_wall_s"
        return None

    def snapshot(self) -> dict[str, Any]:
        spent = self.spent
        return {"rollouts": self.rollouts, "llm_calls": spent.calls, "cache_hits": spent.cache_hits,
                "tokens": spent.tokens, "cost_usd": round(spent.cost_usd, 6), "wall_s": round(self.elapsed_s, 2)}

    def usage_by_role(self) -> dict[str, dict[str, float]]:
        return {role: cost.as_row() for role, cost in self.by_role.items()}
