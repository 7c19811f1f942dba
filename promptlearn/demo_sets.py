"""Demo sets: a worked example for every label (``LabelCoverProposer``), the parent's failures added on top of
such a set (``HardCasesProposer``), and demo-set search (several candidate sets per round, screened by the
loop: ``DemoSearchProposer``).

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

from .config import COVER_MAX_LABELS, COVER_MIN_LABELS, DEFAULT_DEMO_SETS, DEFAULT_MAX_DEMOS
from .edits import DemoProposer, as_demo, contract_rule, states_contract, usable_demos
from .proposers import Case, ProposalContext
from .records import Candidate, Example, Proposal, Provenance

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


def usable_by_label(context: ProposalContext, max_labels: int) -> dict[str, list[Example]]:
    """Usable training examples (``edits.usable_demos``) by lower-cased label, in training order, when the contract
    is ``labels`` with ``COVER_MIN_LABELS`` to ``max_labels`` labels; {} otherwise. What ``cover`` shows and what
    ``glossary`` describes."""
    contract = context.contract
    if contract is None or contract.kind != "labels" or not COVER_MIN_LABELS <= len(contract.labels) <= max_labels:
        return {}
    labels = {label.lower() for label in contract.labels}
    found: dict[str, list[Example]] = {}
    for example in usable_demos(context.train):
        key = str(example.reference).strip().lower()
        if key in labels:
            found.setdefault(key, []).append(example)
    return found


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


class LabelCoverProposer:
    """Strategy ``cover`` (no LLM): for a classification contract with a few labels, the parent's worked examples
    plus one training example for each label they do not show yet, in shuffled order.

    Why: with the competent SNIPS seed (7 labels) one example per label scored 75 / 78 / 77 / 86% on a 100-example
    dev set, against 74.0% for the best policy of two demos and 76.8% for four (benchmarks/README "Which demos");
    a pair of demos shows two labels, and the 0.5B answers the labels it has seen an example of. In the loop it took
    SNIPS from 68.1% to 76.2% (three seeds); with 13-15 banking intents the long set helps less, and the paired
    minibatch test rejected it in two of three banking77-13b cells, so validation tests it (``validate_directly``;
    benchmarks/README "Validation as the cover set's test"). Applies while the
    contract is ``labels`` with ``COVER_MIN_LABELS`` to ``COVER_MAX_LABELS`` labels (two-label tasks get the demos
    strategy's pair; option letters are not labels of the input), ``max_demos`` > 0, and the training split has a
    usable example of a label the parent's demos miss. The child also restates the label contract as the prompt's
    last line, after the examples (a rule placed ``"end"``), when no rule of the parent's states it. The set may
    exceed ``max_demos``, which caps what the demos and merge strategies add. Examples come from the training split
    only; deterministic given the parent and the round."""

    name = "cover"

    def __init__(self, max_labels: int = COVER_MAX_LABELS):
        self.max_labels = max_labels

    def _missing(self, parent: Candidate, context: ProposalContext) -> dict[str, list[Example]]:
        """Usable training examples by label, for the contract's labels the parent's demos do not show."""
        shown = {d.answer.strip().lower() for d in parent.demos}
        return {key: examples for key, examples in usable_by_label(context, self.max_labels).items() if key not in shown}

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        return bool(self._missing(parent, context))

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        missing = self._missing(parent, context)
        rng = random.Random(f"cover/{context.iteration}/{parent.id}")  # str seeds hash stably (sha512)
        if not missing:
            return Proposal(child=None, rejections=(f"{self.name}: the demos already show every label",),
                            strategy=self.name)
        picked = [rng.choice(missing[key]) for key in sorted(missing)]
        rng.shuffle(picked)  # label order carries no hint
        demos = (*parent.demos, *(as_demo(e, context.iteration) for e in picked))
        rules, why = parent.rules, f"show a worked example for each of {len(picked)} label(s) the demos did not show"
        if context.contract is not None and not states_contract(parent, context.contract):
            # The label contract as the prompt's last line: on 100-example dev sets outside the cells' splits,
            # beside a cover set, it added +5.7 [+3.0, +8.7] (SNIPS), +3.5 [+0.3, +6.7] (banking77-15) and +2.2
            # [+0.0, +4.5] (banking77-13b), with as many off-label answers: the labels restated next to the input,
            # not a repaired format; as rule 1, before the examples, +2.3, +1.0 and +2.0. Format repair, which
            # adds it as a rule, waits for format failures and so rarely fires on a competent seed
            # (benchmarks/README "Rules on the test set, and the label contract as a rule").
            why += ", and restate the label set as the prompt's last line"
            rules = (*rules, contract_rule(parent, context.contract, context.iteration, tuple(
                Provenance(example_id=e.id, judge="contract", critique="the label set the training references use")
                for e in picked), placement="end"))
        child = Candidate.create(parent.system_prompt, rules, demos, parent_ids=(parent.id,),
                                 iteration=context.iteration, strategy=self.name, rationale=why)
        # Validation, not eight paired examples, tests it: on banking77-13b the minibatch rejected it in two of
        # three cells (0.5 vs 0.5; 0.375 vs 0.5 at evidence 0.69), while one example per label was worth 20
        # points over the seed on SNIPS and banking77-15 dev sets (benchmarks/README "Which demos" and
        # "Validation as the cover set's test").
        return Proposal(child=child, strategy=self.name, rationale=child.rationale, validate_directly=True)


class HardCasesProposer(DemoProposer):
    """Strategy ``hard_cases`` (no LLM; opt-in): once the parent's demos show every label of a ``cover``-sized
    label set, up to ``per_round`` training inputs the parent got wrong, added on top of the set (different
    answers where the failures have them, ``distinct_answers``; failures no candidate has shown first), until
    ``max_demos`` such extra examples are shown.

    Why: a cover set is past ``max_demos``, so ``demos`` stops applying to it and its descendants, and on SNIPS
    and banking77-15 the rounds after it went to rules, which bought a third of the validation gain per rollout
    that worked examples did (benchmarks/README "Where the rounds go"). Replacing the shown example of a label
    by a failure did not pay (same section); this keeps every label's example and adds the hard ones, as the
    loop before ``cover`` did on the SNIPS weights split (two failures shown: 81.4% against the cover set's
    72.9%). Examples come from the training split only; deterministic given the parent and the round."""

    name = "hard_cases"

    def _extra(self, parent: Candidate, context: ProposalContext) -> int | None:
        """How many demos beyond the first of each label the parent shows; None when its demos do not show
        every label of a label set ``cover`` would apply to (this strategy then stands aside)."""
        labels = set(usable_by_label(context, COVER_MAX_LABELS))
        shown = [d.answer.strip().lower() for d in parent.demos]
        if not labels or not labels <= set(shown):
            return None
        return len(shown) - len(set(shown))

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        extra = self._extra(parent, context)
        train_ids = {e.id for e in context.train}
        return extra is not None and extra < self.max_demos and any(self._usable(c, parent, train_ids) for c in cases)

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        extra = self._extra(parent, context)
        wrong = self._failures(parent, cases, context)
        if extra is None or extra >= self.max_demos or not wrong:
            why = f"{self.name}: the demos miss a label, show {self.max_demos} extra already, or no failure is new"
            return Proposal(child=None, rejections=(why,), strategy=self.name)
        picked = distinct_answers([c.example for c in wrong], min(self.per_round, self.max_demos - extra))
        demos = (*parent.demos, *(as_demo(e, context.iteration) for e in picked))
        child = Candidate.create(parent.system_prompt, parent.rules, demos, parent_ids=(parent.id,),
                                 iteration=context.iteration, strategy=self.name,
                                 rationale=f"add {len(picked)} worked example(s) the parent got wrong to a set "
                                           f"that shows every label")
        return Proposal(child=child, strategy=self.name, rationale=child.rationale)
