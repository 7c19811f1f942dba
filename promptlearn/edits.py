"""Proposal strategies that need no LLM: format repair, demonstrations, merge, reasoning room.

Each is a ``Proposer`` (``name``, ``applicable``, ``apropose``) whose child is tested like any
other: the same minibatch, the same acceptance test, the same validation gate. Being
deterministic, they cost no rewriter call and replay exactly on resume.
"""

from __future__ import annotations

import re
from typing import Literal, Sequence

from ._templating import has_markup
from .config import DEFAULT_DEMO_SETS, DEFAULT_MAX_DEMOS, DEFAULT_MAX_RULES
from .contracts import AnswerContract
from .guards import instruction_in_data
from .proposers import Case, ProposalContext
from .records import Candidate, Demo, Example, Proposal, Provenance, Rule
from .strategies.selection import pareto_front

FORMAT_SHARE = 0.5  # repair the format when at least this share of the minibatch failures are format failures
DEMO_INPUT_CHARS = 800  # BBH questions run to 600+ characters; four demos still fit a 4k context
DEMO_ANSWER_CHARS = 120
# Worked examples one demos round adds at most (each with a different answer). Four scored higher than two
# with the seed prompt on dev sets outside the splits (SNIPS 76.8% vs 70.5%, banking77-15 58.0% vs 54.0%,
# four draws each), but inside the loop four tied with two (six SNIPS runs, mean +0.6 pts) and missed the
# 75% SNIPS yardstick on one split of three (benchmarks/README "Which demos"), so two stays the default.
DEMOS_PER_ROUND = 2
ANSWER_LINE_PATTERN = r"(?im)^\s*(?:final\s+)?answer\s*[:=]\s*(.+?)\s*$"
REASONING_INSTRUCTION = ("Work the problem out step by step, then give the final answer on the last line, "
                         "as 'Answer: <answer>'.")


# "When <condition>, answer <label>." -- the shape the rules meta-prompt asks for; merge reads it to find conflicts.
_RULE_SHAPE = re.compile(r"^\s*(?:if|when)\s+(?P<condition>.+?),\s*(?:then\s+)?(?:answer|choose|reply with|reply|"
                         r"respond with|output|label it as|label it|classify it as)\s+(?P<answer>.+?)[\s.]*$",
                         re.IGNORECASE)


def condition_and_answer(rule_text: str) -> tuple[str, str] | None:
    """(condition, answer) of a "When ..., answer X" rule, normalised for comparison; None for other shapes."""
    match = _RULE_SHAPE.match(rule_text)
    if match is None:
        return None
    def norm(text: str) -> str:
        return " ".join(re.sub(r"[\"'`]", "", text).lower().split())

    return norm(match["condition"]), norm(match["answer"])


def _next_rule_id(parent: Candidate) -> int:
    return max((r.id for r in parent.rules), default=0) + 1


def _provenance(cases: Sequence[Case], why: str) -> tuple[Provenance, ...]:
    return tuple(Provenance(example_id=c.example.id, judge=",".join(x.judge for x in c.critiques) or "contract",
                            critique=why) for c in cases)


def _child(parent: Candidate, context: ProposalContext, strategy: str, *, rules: tuple[Rule, ...] | None = None,
           demos: tuple[Demo, ...] | None = None, rationale: str, extra_parents: tuple[str, ...] = (),
           text: str | None = None) -> Proposal:
    child = Candidate.create(parent.system_prompt if text is None else text, parent.rules if rules is None else rules,
                             parent.demos if demos is None else demos, parent_ids=(parent.id, *extra_parents),
                             iteration=context.iteration, rationale=rationale, strategy=strategy)
    if child.id == parent.id:
        return Proposal(child=None, rejections=(f"{strategy}: the edit leaves the prompt unchanged",), strategy=strategy)
    return Proposal(child=child, rationale=rationale, strategy=strategy)


def repairs_format(parent: Sequence[tuple[float, bool]], child: Sequence[tuple[float, bool]]) -> bool:
    """Whether a child fixes its parent's broken answer format without scoring lower, given (score, broke the
    answer format) per minibatch example for each: most of the parent's answers broke it, the child breaks at
    most half as many, and its total score is no lower.

    The acceptance test sees only scores: where the agent is weak at the content, a child that fixes the
    format can tie its parent at zero on eight examples (bbh_sample tracking_shuffled_objects_five_objects
    seed 1: the format repair turned 8 cut-off explanations into 6 bare letters and 2 "(B) yellow present", 0 of 8
    right either way, and was rejected, so the run kept its 0% seed). Such a child has removed failures no
    content strategy can fix, so the loop sends it to validation, which decides as for any accepted child.
    """
    before, after = sum(broke for _, broke in parent), sum(broke for _, broke in child)
    return (before >= FORMAT_SHARE * len(parent) and after <= before // 2
            and sum(score for score, _ in child) >= sum(score for score, _ in parent))


def states_contract(candidate: Candidate, contract: AnswerContract) -> bool:
    """Whether one of the candidate's rules states ``contract``, numbered or as the last line (what format repair and
    ``cover`` add)."""
    return any(contract.instruction.lower() in r.text.lower() for r in candidate.rules)


def contract_rule(parent: Candidate, contract: AnswerContract, iteration: int,
                  provenance: tuple[Provenance, ...], placement: Literal["list", "end"] = "list") -> Rule:
    """``contract`` as the parent's next rule: what format repair (numbered, ``"list"``) and ``cover`` (the
    prompt's last line, ``"end"``, written as a sentence) add."""
    text = contract.instruction if placement == "list" else contract.instruction[:1].upper() + contract.instruction[1:]
    return Rule(id=_next_rule_id(parent), text=text, iteration=iteration, provenance=provenance, placement=placement)


class FormatRepairProposer:
    """When most failures break the answer contract, the child states the contract as a rule.

    The contract comes from the training references (``contracts.infer_contract``), so this
    fixes "the agent explains instead of answering" without a rewriter call. A prompt whose own
    text already says it, yet whose answers still break it, gets it restated as a rule: a small
    model follows the closing numbered rule better than a sentence in the opening paragraph (the
    0.5B on the good-seed logical_deduction_three_objects, whose seed ends with the contract's
    sentence: 5.0% of 80 training answers right, 16.3% with that sentence repeated as rule 1).
    """

    name = "format"

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        contract = context.contract
        if contract is None or not cases or states_contract(parent, contract):
            return False
        return sum(c.is_format_failure for c in cases) >= FORMAT_SHARE * len(cases)

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        if context.contract is None or not self.applicable(parent, cases, context):
            return Proposal(child=None, rejections=("format: no contract, or few format failures",), strategy=self.name)
        broken = [c for c in cases if c.is_format_failure]
        kinds = sorted({c.failure for c in broken if c.failure})
        stated = context.contract.instruction.lower() in parent.system_prompt.lower()
        why = (f"{len(broken)} of {len(cases)} failures broke the answer format ({', '.join(kinds)})"
               + ("; the prompt states it, so it is restated as a rule" if stated else ""))
        rule = contract_rule(parent, context.contract, context.iteration, _provenance(broken, why))
        return _child(parent, context, self.name, rules=(*parent.rules, rule), rationale=why)


# A line of task data that would read as part of the rendered prompt's layout (records.render_prompt).
_FORGED_LAYOUT = re.compile(r"(?im)^\s*(?:input|answer|rules|examples)\s*:")


def demo_input(example: Example) -> str:
    """The input a worked example shows: the example's input fields, joined."""
    return " ".join(str(v) for v in example.inputs.values())


def as_demo(example: Example, iteration: int = 0) -> Demo:
    """A training example as a worked example: its input, and its reference as the answer."""
    return Demo(example_id=example.id, input=demo_input(example), answer=str(example.reference), iteration=iteration)


def usable_demo(example: Example, train_ids: set[str]) -> bool:
    """Whether a training example may be shown as a worked example: it has a short one-line reference, and its
    input is short, holds no template markup, does not address the model and cannot forge the prompt's layout."""
    ref = example.reference
    if ref is None or example.id not in train_ids:
        return False
    text = demo_input(example)
    # A demo's input goes into the system prompt verbatim: an input that addresses the model ("SYSTEM
    # NOTE, new rule: ...") would become an instruction the agent reads on every call (issue 29).
    # Its lines must not forge the prompt's own layout either ("...\nAnswer: PWNED\n\nInput: ..."): each demo
    # is read as one "Input:" and one "Answer:" under "Examples:".
    return (len(text) <= DEMO_INPUT_CHARS and len(str(ref)) <= DEMO_ANSWER_CHARS
            and not has_markup(text) and not has_markup(str(ref)) and instruction_in_data(text) is None
            and instruction_in_data(str(ref)) is None and not _FORGED_LAYOUT.search(text)
            and "\n" not in str(ref))


def usable_demos(train: Sequence[Example]) -> list[Example]:
    """The training examples ``usable_demo`` accepts as worked examples, in order: the pool demo sets and retrieval
    draw from."""
    train_ids = {e.id for e in train}
    return [e for e in train if usable_demo(e, train_ids)]


class DemoProposer:
    """Adds worked examples from the *training* minibatch: up to ``per_round`` inputs the parent got
    wrong, with their reference answers, each with a different answer (so the demos do not all share one).

    Which examples are shown moves SNIPS by up to 20 points with two demos, more than whether they were
    failures or successes (benchmarks/README "Which demos"). So a rejected
    demo child is worth another try with other examples: failures no candidate of the run has shown
    yet come first, and a retry on an overlapping minibatch tries new ones instead of repeating (or
    re-deriving) a set already tested."""

    name = "demos"

    def __init__(self, max_demos: int = DEFAULT_MAX_DEMOS, per_round: int = DEMOS_PER_ROUND):
        self.max_demos = max_demos
        self.per_round = per_round

    def _usable(self, case: Case, parent: Candidate, train_ids: set[str]) -> bool:
        return case.example.id not in {d.example_id for d in parent.demos} and usable_demo(case.example, train_ids)

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        train_ids = {e.id for e in context.train}
        return len(parent.demos) < self.max_demos and any(self._usable(c, parent, train_ids) for c in cases)

    def _failures(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> list[Case]:
        """The cases usable as new worked examples, those no candidate of the run has shown first (stable: worst
        first within each group)."""
        train_ids = {e.id for e in context.train}
        tried = {d.example_id for c in context.candidates.values() for d in c.demos}
        return sorted((c for c in cases if self._usable(c, parent, train_ids)), key=lambda c: c.example.id in tried)

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        wrong = self._failures(parent, cases, context)
        # A different answer than the first pick, so a small model does not copy one label everywhere.
        picked: list[Case] = []
        for case in wrong:
            if len(picked) < self.per_round and all(str(p.example.reference) != str(case.example.reference)
                                                    for p in picked):
                picked.append(case)
        picked = picked or wrong[:1]
        new = tuple(as_demo(c.example, context.iteration) for c in picked)
        demos = (*parent.demos, *new)[-self.max_demos:]
        return _child(parent, context, self.name, demos=demos,
                      rationale=f"show {len(new)} worked example(s) the parent got wrong")


def is_simplification(parent: Candidate, child: Candidate) -> bool:
    """``child`` is ``parent`` with some rules dropped and nothing else changed."""
    kept, had = [r.text for r in child.rules], [r.text for r in parent.rules]
    return (child.system_prompt == parent.system_prompt and child.demos == parent.demos and len(kept) < len(had)
            and set(kept) <= set(had))


def dropped_rule(parent: Candidate, child: Candidate) -> str | None:
    """The one rule ``child`` leaves out of ``parent`` when that is all it changes, else None."""
    if not is_simplification(parent, child):
        return None
    dropped = [r.text for r in parent.rules if r.text not in {k.text for k in child.rules}]
    return dropped[0] if len(dropped) == 1 else None


class PruneProposer:
    """Leave one rule out: alternatives that each drop one of the parent's rules, screened by the loop like demo
    sets. Each ablation's score against the parent's on the same examples is that rule's measured contribution
    (the round's ``rule_contributions``); a survivor that scores no lower than the parent is accepted on the tie
    and becomes the best if it matches the best on validation: a rule that earns nothing goes (rule bloat)."""

    name = "prune"

    def __init__(self, max_alternatives: int = DEFAULT_DEMO_SETS):
        self.max_alternatives = max_alternatives

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        return len(parent.rules) >= 2

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        # The newest rules first: the older ones have already survived more rounds.
        children = [Candidate.create(parent.system_prompt, tuple(r for r in parent.rules if r.id != rule.id),
                                     parent.demos, parent_ids=(parent.id,), iteration=context.iteration,
                                     strategy=self.name, rationale=f"drop rule {rule.id}: {rule.text[:120]}")
                    for rule in reversed(parent.rules[-self.max_alternatives:])]
        return Proposal(child=children[0], screen=tuple(children[1:]), strategy=self.name,
                        rationale=f"leave each of {len(children)} rules out; keep the prompt that does best")


class MergeProposer:
    """Combines the parent with another Pareto-front candidate that wins on other validation examples:
    the union of their rules and demonstrations. For one component of several, a partner whose
    version of that component was rewritten lends it whole (GEPA's component-wise merge)."""

    name = "merge"

    def __init__(self, max_rules: int = DEFAULT_MAX_RULES, max_demos: int = DEFAULT_MAX_DEMOS):
        self.max_rules = max_rules
        self.max_demos = max_demos

    def _partner(self, parent: Candidate, context: ProposalContext) -> Candidate | None:
        pool = context.pool
        if parent.id not in pool:
            return None
        mine = pool[parent.id]
        best, best_wins = None, 0
        for cid in pareto_front(pool):
            other = context.candidates.get(cid)
            if other is None or cid == parent.id:
                continue
            if other.system_prompt != parent.system_prompt:
                if context.component is None or other.prompt == parent.prompt:  # a rewrite: nothing to unite
                    continue
            elif not any(r.text not in {x.text for x in parent.rules} for r in other.rules) and \
                    not any(d.example_id not in {x.example_id for x in parent.demos} for d in other.demos):
                continue
            wins = sum(score > mine.get(eid, 0.0) for eid, score in pool[cid].items())
            if wins > best_wins:
                best, best_wins = other, wins
        return best

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        return self._partner(parent, context) is not None

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        other = self._partner(parent, context)
        if other is None:
            return Proposal(child=None, rejections=("merge: no partner on the Pareto front",), strategy=self.name)
        if other.system_prompt != parent.system_prompt:  # one component of several: take the other's version whole
            return _child(parent, context, self.name, rules=other.rules, demos=other.demos,
                          rationale=f"take {context.component!r} from {other.id}, which leads on other validation "
                                    f"examples", extra_parents=(other.id,), text=other.system_prompt)
        texts = {r.text.lower() for r in parent.rules}  # a contract said as a numbered rule and as the last line
        mine = {pair[0]: pair[1] for r in parent.rules if (pair := condition_and_answer(r.text))}
        next_id = _next_rule_id(parent)
        added, conflicts = [], 0
        for rule in other.rules:
            pair = condition_and_answer(rule.text)
            parents_answer = mine.get(pair[0]) if pair is not None else None
            if rule.text.lower() in texts or parents_answer is not None:
                # The same condition with another answer would leave the agent two orders; the parent's
                # rule stays (its candidate was the one selected), the partner's version is dropped.
                conflicts += pair is not None and parents_answer not in (None, pair[1])
                continue
            added.append(rule.model_copy(update={"id": next_id}))
            next_id += 1
        shown = {d.example_id for d in parent.demos}
        # Only a cover set (one per label) exceeds the cap: keep it whole. At or under the cap, merge trims to the
        # newest max_demos as it always has, so runs without a cover set make the choices they made before.
        demos = parent.demos if len(parent.demos) > self.max_demos else \
            (*parent.demos, *(d for d in other.demos if d.example_id not in shown))[-self.max_demos:]
        return _child(parent, context, self.name, rules=(*parent.rules, *added)[-self.max_rules:], demos=demos,
                      rationale=f"merge with {other.id}, which leads on other validation examples"
                                + (f"; kept this candidate's rule where {conflicts} of the other's give another "
                                   f"answer for the same condition" if conflicts else ""),
                      extra_parents=(other.id,))


class ReasoningProposer:
    """Gives the agent room to reason: work it out, then a last line 'Answer: X' that the agent's
    ``answer_pattern`` extracts for the judges. Only where the agent extracts answers and has tokens."""

    name = "reasoning"

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        return context.reasoning_room and not re.search(r"step by step|'Answer:", parent.prompt)

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        if not self.applicable(parent, cases, context):
            return Proposal(child=None, rejections=("reasoning: the agent has no answer extraction",),
                            strategy=self.name)
        content = [c for c in cases if not c.is_format_failure] or list(cases)
        why = f"{len(content)} content failure(s): the agent answers without working the problem out"
        rule = Rule(id=_next_rule_id(parent), text=REASONING_INSTRUCTION, iteration=context.iteration,
                    provenance=_provenance(content, why))
        return _child(parent, context, self.name, rules=(*parent.rules, rule), rationale=why)
