"""Demo-set search: several candidate sets of worked examples per round, screened by the loop.

Which two worked examples a prompt shows moved SNIPS by up to 20 points (benchmarks/README "Which
demos"), more than whether they were failures; MIPROv2's gains there are the seed plus two demos
found by search. ``DemoSearchProposer`` therefore proposes ``sets`` alternatives at once, each the
parent with its worked examples *replaced* by one set, and the loop screens them (``Run._screen``:
successive halving on training minibatches, every rollout charged and memoised) before the
survivor meets the usual paired acceptance test and the validation gate.

The sets differ in size (1 to ``max_demos``) and in source: *bootstrapped* sets come from training
examples the parent already answers correctly (the model can follow them, as in MIPROv2's
bootstrapping), the others from the parent's failures first, then any usable training example.
Within a set every answer differs where the data allows, so a small model does not copy one label.
Deterministic given the parent, the round and the parent's known scores: it replays exactly on resume.
"""

from __future__ import annotations

import random
from typing import Sequence

from .config import DEFAULT_DEMO_SETS, DEFAULT_MAX_DEMOS
from .edits import as_demo, usable_demos
from .proposers import Case, ProposalContext
from .records import Candidate, Example, Proposal

# Set sizes in the order the alternatives take them: two first (the demos strategy's default), then four
# (better with the seed prompt on dev sets), then one and three (benchmarks/README "Which demos").
SET_SIZES = (2, 4, 1, 3)


def distinct_answers(examples: Sequence[Example], k: int) -> list[Example]:
    """Up to ``k`` of ``examples`` in order, each with an answer not yet picked; repeats only to fill up."""
    picked: list[Example] = []
    for example in examples:
        if len(picked) < k and all(str(p.reference) != str(example.reference) for p in picked):
            picked.append(example)
    picked += [e for e in examples if e not in picked][: k - len(picked)]
    return picked


class DemoSearchProposer:
    """``sets`` alternative demo sets for the loop to screen (see the module docstring)."""

    name = "demo_search"

    def __init__(self, sets: int = DEFAULT_DEMO_SETS, max_demos: int = DEFAULT_MAX_DEMOS):
        self.sets = sets
        self.max_demos = max_demos

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        return self.sets >= 2 and self.max_demos >= 1 and len(usable_demos(context.train)) >= 2

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        pool = usable_demos(context.train)
        rng = random.Random(f"demo_search/{context.iteration}/{parent.id}")  # str seeds hash stably (sha512)
        in_pool = {e.id for e in pool}
        solved = [e for e in pool if context.train_scores.get(e.id) == 1.0]
        failed = [c.example for c in cases if c.example.id in in_pool]
        children: list[Candidate] = []
        for i in range(self.sets):
            k = min(SET_SIZES[i % len(SET_SIZES)], self.max_demos, len(pool))
            bootstrapped = i % 2 == 1 and len(solved) >= k
            if bootstrapped:
                order = rng.sample(solved, len(solved))
            else:  # failures first (shuffled), then the rest of the pool
                rest = [e for e in pool if e not in failed]
                order = rng.sample(failed, len(failed)) + rng.sample(rest, len(rest))
            demos = tuple(as_demo(e, context.iteration) for e in distinct_answers(order, k))
            source = "bootstrapped (answered right by the parent)" if bootstrapped else "failures first"
            child = Candidate.create(parent.system_prompt, parent.rules, demos, parent_ids=(parent.id,),
                                     iteration=context.iteration, strategy=self.name,
                                     rationale=f"demo set {i + 1} of {self.sets}: {len(demos)} worked example(s), "
                                               f"{source}")
            if child.id != parent.id and child.id not in {c.id for c in children}:
                children.append(child)
        if not children:
            return Proposal(child=None, rejections=(f"{self.name}: every set repeats the parent's demos",),
                            strategy=self.name)
        return Proposal(child=children[0], screen=tuple(children[1:]), strategy=self.name,
                        rationale=f"screen {len(children)} demo sets, keep the best")
