"""Trustworthy verdicts: self-consistency (n samples, majority) and ensembles with a voting rule."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Literal, Sequence

from ..errors import ConfigError
from ..llm.types import Cost
from ..records import Critique, Example, Rollout
from ..stats import mean
from .base import Judge, failed_rollout_critique

DEFAULT_SAMPLES = 5
DEFAULT_SAMPLE_TEMPERATURE = 0.7


class SelfConsistentJudge:
    """Asks ``judge`` ``n`` times at ``temperature`` (seeds 0..n-1) and takes the majority label.

    The critique's ``agreement`` is the majority's share of the valid votes. The wrapped judge
    must accept ``temperature`` and ``seed`` keywords (library and LLM judges do).
    """

    def __init__(self, judge: Any, n: int = DEFAULT_SAMPLES, temperature: float = DEFAULT_SAMPLE_TEMPERATURE):
        if n < 1:
            raise ConfigError("self-consistency needs n >= 1")
        self.judge, self.n, self.temperature = judge, n, temperature
        self.name = f"{judge.name}@sc{n}"

    async def acritique(self, example: Example, rollout: Rollout) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        samples = await asyncio.gather(*(self._one(example, rollout, i) for i in range(self.n)),
                                       return_exceptions=True)
        votes = [s for s in samples if isinstance(s, Critique) and s.error is None]
        if not votes:
            errors = [str(s) for s in samples if isinstance(s, BaseException)]
            return Critique(judge=self.name, score=0.0, label="judge_error", error="; ".join(errors)[:500])
        label, count = Counter(v.label for v in votes).most_common(1)[0]
        winners = [v for v in votes if v.label == label]
        return Critique(judge=self.name, score=mean(v.score for v in winners), label=label,
                        explanation=winners[0].explanation, agreement=count / len(votes),
                        cost=Cost.total(v.cost for v in votes))

    async def _one(self, example: Example, rollout: Rollout, seed: int) -> Critique:
        critique: Critique = await self.judge.acritique(example, rollout, temperature=self.temperature, seed=seed)
        return critique


class EnsembleJudge:
    """Several judges (or judge models) voting: ``majority`` of pass/fail, ``mean`` score, or ``all`` must pass."""

    def __init__(self, judges: Sequence[Judge], rule: Literal["majority", "mean", "all"] = "majority",
                 name: str = "ensemble"):
        if not judges:
            raise ConfigError("an ensemble needs at least one judge")
        self.judges, self.rule, self.name = list(judges), rule, name

    async def acritique(self, example: Example, rollout: Rollout) -> Critique:
        results = await asyncio.gather(*(j.acritique(example, rollout) for j in self.judges), return_exceptions=True)
        votes = [r for r in results if isinstance(r, Critique) and r.error is None]
        if not votes:
            return Critique(judge=self.name, score=0.0, label="judge_error", error="every ensemble member failed")
        passes = [v.score >= 0.5 for v in votes]
        if self.rule == "mean":
            score = mean(v.score for v in votes)
        elif self.rule == "all":
            score = float(all(passes))
        else:
            score = float(sum(passes) * 2 > len(passes))
        verdict = score >= 0.5
        agreement = mean(float(p == verdict) for p in passes)
        text = " | ".join(f"{v.judge}: {v.explanation}" for v in votes)
        return Critique(judge=self.name, score=score, label="pass" if verdict else "fail", explanation=text,
                        agreement=agreement, cost=Cost.total(v.cost for v in votes))
