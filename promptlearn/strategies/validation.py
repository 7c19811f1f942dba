"""Validation passes: how much of the validation set a child runs on before the loop gives up on it.

A child that passed the minibatch test (or skips it: ``validate_directly``) is scored on the validation set, and
on a task with 60 validation examples two such passes are 60% of a 200-rollout budget. A policy lets the loop stop
a pass early when the child clearly trails the best.

Contract: ``order(ids)`` gives the order the loop runs the validation examples in and ``stages(n)`` the running
counts after which it asks (ascending, the last is ``n``). At each stage but the last the loop calls
``give_up(best, child, rng)`` with the best candidate's and the child's scores on the examples reached so far,
paired (same examples, same order), scores in [0, 1], higher is better. ``Stop.stop`` true ends the pass there: the
child does not join the validation pool and cannot become the best, and the rollouts it spent stay spent (the
round's record says how many examples it reached and why it stopped). Nothing here raises on data; ``rng`` is the
policy's own, so asking does not move the loop's other random draws.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Protocol, Sequence

from ..config import DEFAULT_FUTILITY_ALPHA
from ..stats import mean, prob_positive
from .acceptance import paired_diffs

# Below this many validation examples a half pass says too little to stop on.
MIN_STAGE_EXAMPLES = 8


@dataclass(frozen=True)
class Stop:
    stop: bool
    margin: float  # mean paired difference child - best on the examples reached
    evidence: float  # the statistic the call rests on (futility: bootstrap P(gain > 0))


class ValidationPolicy(Protocol):
    name: str

    def order(self, ids: Sequence[str]) -> list[str]: ...

    def stages(self, n: int) -> list[int]: ...

    def give_up(self, best: Sequence[float], child: Sequence[float], rng: random.Random) -> Stop: ...


class FullPass:
    """Every child runs on every validation example, in the split's order (the loop before this policy existed)."""

    name = "full"

    def order(self, ids: Sequence[str]) -> list[str]:
        return list(ids)

    def stages(self, n: int) -> list[int]:
        return [n]

    def give_up(self, best: Sequence[float], child: Sequence[float], rng: random.Random) -> Stop:
        return Stop(False, mean(paired_diffs(best, child)), 1.0)


class FutilityStop:
    """Look at half and three quarters of the pass; stop when the child trails the best and the bootstrap puts
    P(gain > 0) below ``alpha``.

    The examples run in an order fixed by their ids' hashes, not the split's order: a split stored label by
    label would otherwise show the first half of the labels only. The order is the same for every child, so
    every stage pairs the child with the best on the same examples.
    """

    name = "futility"

    def __init__(self, alpha: float = DEFAULT_FUTILITY_ALPHA):
        if not 0.0 < alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
        self.alpha = alpha

    def order(self, ids: Sequence[str]) -> list[str]:
        return sorted(ids, key=lambda eid: hashlib.sha256(eid.encode()).hexdigest())

    def stages(self, n: int) -> list[int]:
        looks = [k for k in (n // 2, (3 * n) // 4) if MIN_STAGE_EXAMPLES <= k < n]
        return sorted(set(looks)) + [n]

    def give_up(self, best: Sequence[float], child: Sequence[float], rng: random.Random) -> Stop:
        diffs = paired_diffs(best, child)
        margin = mean(diffs)
        if margin >= 0:
            return Stop(False, margin, 1.0)
        p = prob_positive(diffs, rng=rng)
        return Stop(p < self.alpha, margin, p)


VALIDATIONS: dict[str, type[ValidationPolicy]] = {"full": FullPass, "futility": FutilityStop}
