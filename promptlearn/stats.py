"""Small statistics used by acceptance and reporting. Pure Python, seeded."""

from __future__ import annotations

import math
import random
from typing import Iterable, Sequence

DEFAULT_BOOTSTRAP_SAMPLES = 2000


def mean(values: Iterable[float]) -> float:
    """The mean; 0.0 for no values (an unscored candidate counts as 0, never as an error)."""
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def bootstrap_ci(values: Sequence[float], *, rng: random.Random, samples: int = DEFAULT_BOOTSTRAP_SAMPLES,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean."""
    if not values:
        return (0.0, 0.0)
    n = len(values)
    means = sorted(mean([values[rng.randrange(n)] for _ in range(n)]) for _ in range(samples))
    lo = means[int((1 - level) / 2 * samples)]
    hi = means[min(samples - 1, int((1 + level) / 2 * samples))]
    return lo, hi


def prob_positive(diffs: Sequence[float], *, rng: random.Random, samples: int = DEFAULT_BOOTSTRAP_SAMPLES) -> float:
    """Bootstrap estimate of P(mean paired difference > 0); ties count half."""
    if not diffs:
        return 0.5
    n = len(diffs)
    above = 0.0
    for _ in range(samples):
        m = mean([diffs[rng.randrange(n)] for _ in range(n)])
        above += 1.0 if m > 0 else 0.5 if m == 0 else 0.0
    return above / samples


def sign_test_p(wins: int, losses: int) -> float:
    """One-sided exact sign test: P(at least ``wins`` of wins+losses under a fair coin). Ties dropped."""
    n = wins + losses
    if n == 0:
        return 1.0
    return float(sum(math.comb(n, k) for k in range(wins, n + 1)) / 2 ** n)
