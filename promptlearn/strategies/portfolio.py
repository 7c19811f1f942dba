"""Strategy choice: which proposal strategy the next round uses.

Contract: ``choose(names, rng) -> name`` picks one of the applicable strategies (never empty);
``update(name, accepted, rollouts)`` reports how a round that used ``name`` went: whether its
child passed the minibatch test, and the rollouts spent testing it. Higher acceptance per
rollout spent is better. A chooser holds per-run state: the loop uses a fresh copy per run.
"""

from __future__ import annotations

import random
from typing import Protocol, Sequence


class StrategyChooser(Protocol):
    name: str

    def choose(self, names: Sequence[str], rng: random.Random) -> str: ...

    def update(self, name: str, accepted: bool, rollouts: int) -> None: ...


class ThompsonChooser:
    """A bandit: samples each strategy's acceptance rate from Beta(1 + accepted, 1 + rejected) and picks
    the best rate per rollout spent (strategies whose children are cheap to test count for more)."""

    name = "thompson"

    def __init__(self) -> None:
        self.accepted: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.rollouts: dict[str, int] = {}

    def choose(self, names: Sequence[str], rng: random.Random) -> str:
        def value(name: str) -> float:
            tries = self.accepted.get(name, 0) + self.rejected.get(name, 0)
            rate = rng.betavariate(1 + self.accepted.get(name, 0), 1 + self.rejected.get(name, 0))
            cost = self.rollouts.get(name, 0) / tries if tries else 1.0
            return rate / max(1.0, cost)

        return max(names, key=value)

    def update(self, name: str, accepted: bool, rollouts: int) -> None:
        table = self.accepted if accepted else self.rejected
        table[name] = table.get(name, 0) + 1
        self.rollouts[name] = self.rollouts.get(name, 0) + rollouts


class RoundRobinChooser:
    """Each applicable strategy in turn, in the order given; ignores outcomes."""

    name = "round_robin"

    def __init__(self) -> None:
        self.turn = 0

    def choose(self, names: Sequence[str], rng: random.Random) -> str:
        name = names[self.turn % len(names)]
        self.turn += 1
        return name

    def update(self, name: str, accepted: bool, rollouts: int) -> None:
        return None


CHOOSERS: dict[str, type[StrategyChooser]] = {"thompson": ThompsonChooser, "round_robin": RoundRobinChooser}
