"""Strategy choice: which proposal strategy the next round uses.

Contract: ``choose(names, rng) -> name`` picks one of the applicable strategies (never empty);
``update(name, accepted, rollouts)`` reports how a round that used ``name`` went: whether its
child passed the minibatch test, and the rollouts spent testing it; ``rollouts == 0`` means the
strategy produced no new child to test (it failed, or repeated a candidate): a rejection that cost
no rollouts, which must not make the strategy look cheap. Higher acceptance per rollout spent is
better. A chooser holds per-run state: the loop uses a fresh copy per run.
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
    picks the best rate per rollout spent testing its children (strategies whose children are cheap to
    test count for more). Strategies without a prior start from Beta(1, 1). A strategy never tried costs 1,
    which makes every strategy get tried early; one tried but never tested (it only failed or repeated a
    candidate) costs what a tested child costs on average: on the core suite, pricing those tries at 0
    rollouts made merge look free and picked it for up to three duplicate rounds in a row."""

    name = "thompson"

    def __init__(self, priors: dict[str, tuple[float, float]] | None = None) -> None:
        self.priors = dict(DEFAULT_PRIORS if priors is None else priors)
        self.accepted: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.rollouts: dict[str, int] = {}
        self.tested: dict[str, int] = {}

    def cost(self, name: str) -> float:
        """Mean rollouts per tested child of ``name`` (see the class docstring for the untested cases)."""
        if self.tested.get(name):
            return self.rollouts[name] / self.tested[name]
        if not self.accepted.get(name, 0) + self.rejected.get(name, 0):
            return 1.0
        tested = sum(self.tested.values())
        return sum(self.rollouts.values()) / tested if tested else 1.0

    def choose(self, names: Sequence[str], rng: random.Random) -> str:
        def value(name: str) -> float:
            alpha, beta = self.priors.get(name, (1.0, 1.0))
            rate = rng.betavariate(alpha + self.accepted.get(name, 0), beta + self.rejected.get(name, 0))
            return rate / max(1.0, self.cost(name))

        return max(names, key=value)

    def update(self, name: str, accepted: bool, rollouts: int) -> None:
        table = self.accepted if accepted else self.rejected
        table[name] = table.get(name, 0) + 1
        if rollouts > 0:
            self.rollouts[name] = self.rollouts.get(name, 0) + rollouts
            self.tested[name] = self.tested.get(name, 0) + 1


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
