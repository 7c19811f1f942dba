"""Acceptance: does the child beat its parent on the same minibatch?

Contract: ``decide(parent_scores, child_scores, rng) -> Decision`` where both
lists are paired (same examples, same order), scores in [0, 1], higher is
better. ``Decision.margin`` is the mean paired difference (child - parent);
``evidence`` is the test statistic that made the call, recorded with the run.
Judges are noisy: a child that wins by one example of eight under a noisy
judge is often luck, so the default asks the bootstrap for confidence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, Sequence

from ..config import DEFAULT_ACCEPTANCE_CONFIDENCE
from ..stats import mean, prob_positive, sign_test_p

DEFAULT_CONFIDENCE = DEFAULT_ACCEPTANCE_CONFIDENCE  # one default for the class and OptimizeConfig
DEFAULT_SIGN_ALPHA = 0.25


@dataclass(frozen=True)
class Decision:
    accepted: bool
    margin: float
    evidence: float
    rule: str


class Acceptance(Protocol):
    name: str

    def decide(self, parent: Sequence[float], child: Sequence[float], rng: random.Random) -> Decision: ...


def paired_diffs(parent: Sequence[float], child: Sequence[float]) -> list[float]:
    """child - parent per example; ValueError unless the two lists pair up."""
    if len(parent) != len(child):
        raise ValueError(f"paired scores needed: parent has {len(parent)}, child {len(child)}")
    return [c - p for p, c in zip(parent, child)]


class StrictImprovement:
    """GEPA's rule: accept when the child's minibatch sum is higher. Fast, trusts the judge fully."""

    name = "improvement"

    def decide(self, parent: Sequence[float], child: Sequence[float], rng: random.Random) -> Decision:
        diffs = paired_diffs(parent, child)
        margin = mean(diffs)
        return Decision(margin > 0, margin, margin, "sum(child) > sum(parent)")


class BootstrapAcceptance:
    """Accept when the bootstrap puts P(mean paired gain > 0) at or above ``confidence``."""

    name = "bootstrap"

    def __init__(self, confidence: float = DEFAULT_CONFIDENCE):
        self.confidence = confidence

    def decide(self, parent: Sequence[float], child: Sequence[float], rng: random.Random) -> Decision:
        diffs = paired_diffs(parent, child)
        margin = mean(diffs)
        p = prob_positive(diffs, rng=rng) if margin > 0 else 0.0
        return Decision(margin > 0 and p >= self.confidence, margin, p, f"P(gain>0) >= {self.confidence}")


class SignTestAcceptance:
    """Accept when the child wins more examples than it loses with one-sided sign-test p <= ``alpha``."""

    name = "sign"

    def __init__(self, alpha: float = DEFAULT_SIGN_ALPHA):
        self.alpha = alpha

    def decide(self, parent: Sequence[float], child: Sequence[float], rng: random.Random) -> Decision:
        diffs = paired_diffs(parent, child)
        wins, losses = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
        p = sign_test_p(wins, losses)
        margin = mean(diffs)
        return Decision(wins > losses and p <= self.alpha, margin, p, f"sign test p <= {self.alpha}")


ACCEPTANCES: dict[str, type[Acceptance]] = {"improvement": StrictImprovement, "bootstrap": BootstrapAcceptance,
                                             "sign": SignTestAcceptance}
