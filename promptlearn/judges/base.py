"""The Judge protocol and the panel that combines several judges into one score.

Contract: ``Judge.acritique(example, rollout) -> Critique`` with ``score`` in
[0, 1], higher is better, and an ``explanation`` a person (and the rewriter)
can act on. A judge never raises for a bad *output*: that is a low score.

What becomes data and what stops the run:
- a failed model call, unparseable structured output or a timeout inside a judge
  becomes a Critique with ``error`` set; the panel leaves it out of the weighted
  score rather than blaming the agent;
- any other exception from a judge (a code judge's ValueError, a NaN score) is
  recorded the same way for that example; the loop stops the run if it hits every
  seed rollout, since then it is a configuration error, not a data problem;
- ConfigError (a missing field, a bad setting) propagates at once.
A judge may offer ``preflight(examples)``: checks of what it needs (references,
fields) that raise ConfigError before the first call.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Protocol, Sequence, runtime_checkable

from .._redaction import redact
from ..errors import ConfigError
from ..records import Critique, Example, Rollout

log = logging.getLogger("promptlearn")


@runtime_checkable
class Judge(Protocol):
    name: str

    async def acritique(self, example: Example, rollout: Rollout) -> Critique: ...


def failed_rollout_critique(name: str, rollout: Rollout) -> Critique:
    return Critique(judge=name, score=0.0, label="error",
                    explanation=f"The agent produced no output: {rollout.error}")


async def safe_critique(judge: Judge, example: Example, rollout: Rollout) -> Critique:
    """``judge.acritique``, with failures turned into data as the module docstring says."""
    try:
        critique = await judge.acritique(example, rollout)
    except ConfigError:
        raise  # misconfiguration is loud: it would fail every example the same way
    except Exception as exc:  # noqa: BLE001 - per-example; the loop stops if it hits every rollout
        error = redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:500]
        log.info("judge %r failed on example %r (recorded, left out of the score): %s", judge.name, example.id, error)
        return Critique(judge=judge.name, score=0.0, label="judge_error", error=error)
    if not isinstance(critique, Critique):
        return Critique(judge=judge.name, score=0.0, label="judge_error",
                        error=f"judge returned {type(critique).__name__}, not a Critique")
    return critique


def _finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class JudgePanel:
    """Several judges, one weighted score. Weights default to 1 each."""

    def __init__(self, judges: Sequence[Judge], weights: Sequence[float] | None = None):
        if isinstance(judges, (str, bytes)) or not isinstance(judges, Sequence):
            raise ConfigError(f"judges must be Judge objects (e.g. ExactMatch(), or judges.load(name, llm)), "
                              f"got {type(judges).__name__} {str(judges)[:60]!r}")
        if not judges:
            raise ConfigError("at least one judge is needed to score rollouts")
        bad = [j for j in judges if not isinstance(j, Judge)]
        if bad:
            raise ConfigError(f"judges must be Judge objects (e.g. ExactMatch(), or judges.load(name, llm)); "
                              f"got {type(bad[0]).__name__} {str(bad[0])[:60]!r}")
        names = [j.name for j in judges]
        if len(set(names)) != len(names):
            raise ConfigError(f"judge names must be unique, got {names}")
        weights = list(weights) if weights is not None else [1.0] * len(judges)
        # NaN passes "w < 0" and then reports every score as 0.000 (issue 29).
        if len(weights) != len(judges) or any(not _finite_number(w) or w < 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError(f"need one non-negative weight per judge (sum > 0), got {weights}")
        self.judges = list(judges)
        self.weights = weights

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.judges]

    async def acritique(self, example: Example, rollout: Rollout) -> tuple[tuple[Critique, ...], float]:
        critiques = await asyncio.gather(*(self._safe(j, example, rollout) for j in self.judges))
        return tuple(critiques), self.combine(critiques)

    def preflight(self, examples: Sequence[Example]) -> None:
        """Each judge's own checks (references present, fields available); ConfigError names the judge."""
        for judge in self.judges:
            check = getattr(judge, "preflight", None)
            if check is not None:
                check(examples)

    async def _safe(self, judge: Judge, example: Example, rollout: Rollout) -> Critique:
        return await safe_critique(judge, example, rollout)

    def combine(self, critiques: Sequence[Critique]) -> float:
        pairs = [(c.score, w) for c, w in zip(critiques, self.weights) if c.error is None]
        total = sum(w for _, w in pairs)
        return sum(s * w for s, w in pairs) / total if total > 0 else 0.0
