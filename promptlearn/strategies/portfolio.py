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


# Prior (accepted, rejected) pseudo-counts. Rules start ahead: on SNIPS a flat prior spent 9 of 12 rounds
# on rewrite and merge and gained +10.7 pts where rules alone gained +17.1 (benchmarks/README.md).
DEFAULT_PRIORS: dict[str, tuple[float, float]] = {"rules": (3.0, 1.0)}


class ThompsonChooser:
    """A bandit: samples each strategy's acceptance rate from Beta(prior + accepted, prior + rejected) and
    picks the best rate per rollout spent (strategies whose children are cheap to test count for more).
    Strategies without a prior start from Beta(1, 1)."""

    name = "thompson"

    def __init__(self, priors: dict[str, tuple[float, float]] | None = None) -> None:
        self.priors = dict(DEFAULT_PRIORS if priors is None else priors)
        self.accepted: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.rollouts: dict[str, int] = {}

    def choose(self, names: Sequence[str], rng: random.Random) -> str:
        def value(name: str) -> float:
            tries = self.accepted.get(name, 0) + self.rejected.get(name, 0)
            alpha, beta = self.priors.get(name, (1.0, 1.0))
            rate = rng.betavariate(alpha + self.accepted.get(name, 0), beta + self.rejected.get(name, 0))
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
