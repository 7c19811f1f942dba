"""Parent selection: which candidate the next rewrite starts from.

Contract: ``select(pool, rng) -> candidate id``. ``pool`` maps candidate id to
its per-example validation scores (higher is better; every candidate is scored
on the same validation examples). Never empty: the seed is always in the pool.
"""

from __future__ import annotations

import random
from typing import Mapping, Protocol

from ..stats import mean

Scores = Mapping[str, Mapping[str, float]]  # candidate id -> example id -> score


def _mean(scores: Mapping[str, float]) -> float:
    return mean(scores.values())


class CandidateSelector(Protocol):
    name: str

    def select(self, pool: Scores, rng: random.Random) -> str: ...


class BestSelector:
    """Always the best mean validation score; ties go to the earliest candidate."""

    name = "best"

    def select(self, pool: Scores, rng: random.Random) -> str:
        return max(pool, key=lambda cid: _mean(pool[cid]))


def pareto_front(pool: Scores) -> dict[str, int]:
    """Candidates that are best on at least one example, with how many examples each leads.

    Dominated candidates (never better anywhere than another front member that is at
    least as good everywhere) are removed, as in GEPA's Pareto selection.
    """
    examples = set().union(*(s.keys() for s in pool.values())) if pool else set()
    wins: dict[str, int] = {}
    for eid in sorted(examples):
        best = max(pool[c].get(eid, 0.0) for c in pool)
        for cid in pool:
            if pool[cid].get(eid, 0.0) == best:
                wins[cid] = wins.get(cid, 0) + 1
    front = dict(wins)
    for a in list(front):
        for b in list(front):
            if a != b and a in front and b in front:
                sa, sb = pool[a], pool[b]
                if all(sb.get(e, 0.0) >= sa.get(e, 0.0) for e in examples) and \
                        any(sb.get(e, 0.0) > sa.get(e, 0.0) for e in examples):
                    del front[a]
                    break
    return front


class ParetoSelector:
    """Sample from the Pareto front, weighted by how many validation examples each candidate leads.

    Keeps candidates that win on some examples alive even when their mean is lower,
    which protects against over-fitting one rewrite direction.
    """

    name = "pareto"

    def select(self, pool: Scores, rng: random.Random) -> str:
        front = pareto_front(pool)
        if not front:
            return BestSelector().select(pool, rng)
        ids = sorted(front)
        return rng.choices(ids, weights=[front[c] for c in ids], k=1)[0]


SELECTORS: dict[str, type[CandidateSelector]] = {"best": BestSelector, "pareto": ParetoSelector}
