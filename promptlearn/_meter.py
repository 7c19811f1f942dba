"""The meter that charges every record to the budget and says when to stop."""

from __future__ import annotations

import time

from .config import Budget
from .records import Cost


class Meter:
    """Counts rollouts and the cost of records the loop used.

    Charges come from the records themselves (``Cost`` measured when they were
    made), not from live counters, so a resumed run that replays stored records
    is charged what the first run was and takes the same path.
    """

    def __init__(self, budget: Budget, clock=time.monotonic):
        self.budget = budget
        self.clock = clock
        self.started = clock()
        self.rollouts = 0
        self.calls = 0
        self.cache_hits = 0
        self.tokens = 0
        self.cost_usd = 0.0

    def charge(self, cost: Cost, *, rollout: bool = False) -> None:
        self.rollouts += int(rollout)
        self.calls += cost.calls
        self.cache_hits += cost.cache_hits
        self.tokens += cost.tokens
        self.cost_usd += cost.cost_usd

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    def rollouts_left(self) -> int | None:
        return None if self.budget.max_rollouts is None else max(0, self.budget.max_rollouts - self.rollouts)

    def exhausted(self) -> str | None:
        """The name of the first limit reached, or None."""
        b = self.budget
        if b.max_rollouts is not None and self.rollouts >= b.max_rollouts:
            return "max_rollouts"
        if b.max_llm_calls is not None and self.calls >= b.max_llm_calls:
            return "max_llm_calls"
        if b.max_tokens is not None and self.tokens >= b.max_tokens:
            return "max_tokens"
        if b.max_cost_usd is not None and self.cost_usd >= b.max_cost_usd:
            return "max_cost_usd"
        if b.max_wall_s is not None and self.elapsed_s >= b.max_wall_s:
            return "max_wall_s"
        return None

    def snapshot(self) -> dict:
        return {"rollouts": self.rollouts, "llm_calls": self.calls, "cache_hits": self.cache_hits,
                "tokens": self.tokens, "cost_usd": round(self.cost_usd, 6), "wall_s": round(self.elapsed_s, 2)}
