"""Component selection: which prompt of a multi-component candidate the next round changes.

Contract: ``select(names, failures, rng) -> name`` picks one of ``names`` (never empty; the
components the agent was seen to read, in the candidate's order). ``failures`` are the
parent's failed minibatch rollouts with the judges' words about them. A selector holds per-run
state: the loop uses a fresh copy per run. Single-prompt candidates never reach a selector.
"""

from __future__ import annotations

import random
import re
from typing import Protocol, Sequence

from ..records import Rollout

PRIOR_BLAME = 0.5
MIN_QUOTE_CHARS = 4  # a step output shorter than this ("B", "yes") is no evidence when a critique repeats it


class Failure(Protocol):
    """What a selector reads of one failed case (``proposers.Case`` is one)."""

    @property
    def rollout(self) -> Rollout: ...

    @property
    def critique_text(self) -> str: ...


class ComponentSelector(Protocol):
    name: str

    def select(self, names: Sequence[str], failures: Sequence[Failure], rng: random.Random) -> str: ...


class RoundRobinComponents:
    """Each component in turn (GEPA's default), whatever the failures say."""

    name = "round_robin"

    def __init__(self) -> None:
        self.turn = 0

    def select(self, names: Sequence[str], failures: Sequence[Failure], rng: random.Random) -> str:
        name = names[self.turn % len(names)]
        self.turn += 1
        return name


def blame(names: Sequence[str], failure: Failure) -> dict[str, float]:
    """Which steps one failed rollout implicates, one unit of blame shared among them.

    In order of evidence: the step that failed (the one after the last step recorded, when the
    rollout errored); a step that returned nothing; steps whose output or name the critique
    quotes; else the last step that ran, since its output was the answer judged wrong.
    """
    steps = [t for t in failure.rollout.trace if t.get("component") in names]
    ran = [str(t["component"]) for t in steps]
    if failure.rollout.error:
        after = [n for n in names if n not in ran]
        culprits = after[:1] or ran[-1:]
    else:
        culprits = [str(t["component"]) for t in steps if not str(t.get("output", "")).strip()]
    if not culprits:
        critique = failure.critique_text.lower()
        culprits = [str(t["component"]) for t in steps
                    if (len(out := str(t.get("output", "")).strip().lower()) >= MIN_QUOTE_CHARS and out in critique)
                    or re.search(rf"\b{re.escape(str(t['component']).lower())}\b", critique)]
    culprits = list(dict.fromkeys(culprits or ran[-1:] or names[-1:]))
    return {n: 1.0 / len(culprits) for n in culprits}


class CreditComponents:
    """The component the failures blame most (see ``blame``), per time it was already chosen, so a
    step that keeps being blamed gets most rounds without starving the others (each component
    starts with ``PRIOR_BLAME``)."""

    name = "credit"

    def __init__(self) -> None:
        self.chosen: dict[str, int] = {}

    def select(self, names: Sequence[str], failures: Sequence[Failure], rng: random.Random) -> str:
        total = {n: 0.0 for n in names}
        for failure in failures:
            for name, share in blame(names, failure).items():
                total[name] += share
        best = max(names, key=lambda n: ((total[n] + PRIOR_BLAME) / (1 + self.chosen.get(n, 0)),
                                         -self.chosen.get(n, 0)))
        self.chosen[best] = self.chosen.get(best, 0) + 1
        return best


COMPONENT_SELECTORS: dict[str, type[ComponentSelector]] = {"credit": CreditComponents,
                                                           "round_robin": RoundRobinComponents}
