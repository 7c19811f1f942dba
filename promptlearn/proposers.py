"""Proposers turn a parent candidate plus critiqued failures into a child candidate.

Contract: ``await proposer.apropose(parent, cases, context) -> Proposal``.
A proposal that fails the guards is shown its reason and retried up to
``max_attempts`` times; if none passes, ``Proposal.child`` is None and
``rejections`` says why (data, not an exception). LLM failures propagate as
LLMCallError / StructuredOutputError and the loop records them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from pydantic import BaseModel, Field, create_model

from ._templating import _SIMPLE_VAR, escape_markers, format_inputs, placeholders, render
from .config import DEFAULT_MAX_NEW_RULES, DEFAULT_MAX_RULES, DEFAULT_PROPOSAL_ATTEMPTS
from .contracts import FORMAT_FAILURES, AnswerContract
from .guards import check_prompt, check_rule
from .llm import LLM, usage_scope
from .prompts import load_meta_prompt
from .records import Candidate, Critique, Example, Proposal, Provenance, Rollout, Rule
from .vetting import RuleVetter

DEFAULT_PROPOSER_MAX_TOKENS = 700
DEFAULT_RETRY_TEMPERATURE = 0.8
MAX_CASE_CHARS = 600
MAX_GROUP_KEY_CHARS = 60  # longer references are answers, not labels: do not group by them


@dataclass(frozen=True)
class Case:
    """One critiqued failure the rewriter learns from."""

    example: Example
    rollout: Rollout
    critiques: tuple[Critique, ...]
    score: float
    failure: str | None = None  # the contract's verdict: "content" or a format failure (see contracts.py)
    component: str | None = None  # the component being edited, when the candidate has several
    train_scores: Mapping[str, float] = field(default_factory=dict)  # the parent's known scores on training examples
    # The parent's most frequent label mix-ups on the training examples it has answered: (expected, answered, count)
    confusions: tuple[tuple[str, str, int], ...] = ()

    @property
    def is_format_failure(self) -> bool:
        return self.failure in FORMAT_FAILURES

    @property
    def critique_text(self) -> str:
        texts = [c.explanation for c in self.critiques if c.explanation and c.error is None]
        return " ".join(dict.fromkeys(texts)) or "The output was judged wrong."

    def as_template_data(self) -> dict[str, str]:
        text = format_inputs(self.example)
        output = self.rollout.output if self.rollout.error is None else f"(failed: {self.rollout.error})"
        ref = self.example.reference
        expected = "" if ref is None or len(str(ref)) > MAX_CASE_CHARS else escape_markers(str(ref))
        steps = self.rollout.steps(self.component) if self.component else []
        step = steps[-1] if steps else {}
        return {"input": escape_markers(text[:MAX_CASE_CHARS]), "output": escape_markers((output or "")[:MAX_CASE_CHARS]),
                "expected": expected, "critique": escape_markers(self.critique_text[:MAX_CASE_CHARS]),
                "step_input": escape_markers(str(step.get("input", ""))[:MAX_CASE_CHARS]),
                "step_output": escape_markers(str(step.get("output", ""))[:MAX_CASE_CHARS])}


_WRAPPERS = re.compile(r"^\s*(?:```\w*\s*)?<(system_prompt|instructions)>\s*(.*?)\s*</\1>\s*(?:```)?\s*$", re.S)


def unwrap(prompt: str) -> str:
    """A rewrite without the meta-prompt's own wrapper around it: small rewriters echo the
    ``<system_prompt>`` tags they were shown (seen with the 1.5B on a DSPy program), and the agent
    would then read those tags as part of its instructions."""
    text = prompt.strip()
    while (found := _WRAPPERS.match(text)) is not None:
        text = found.group(2).strip()
    return text


_PLACEHOLDER = re.compile(r"[ \t]*" + _SIMPLE_VAR.pattern)  # a simple placeholder and the blanks before it
_LABEL_ONLY = re.compile(r"\s*[\w ]{0,30}:?\s*")


def drop_added_placeholders(parent: str, child: str) -> str:
    """The rewrite without the simple placeholders (``{{ sentence }}``) that the parent does not have.

    Small rewriters end the prompt with the agent's own template ("... plausible? {{ sentence }}",
    "Input: {{ input }}"): 9 of the 45 rewrite attempts in the core suite's promptlearn cells were rejected for that
    alone. The user message already carries the input, so the placeholder goes ("the sentence" where
    a sentence goes on after it), and so does a line left holding only a label ("Input:"). Other markup
    (``{% %}``, expressions) stays for the guard to reject.
    """
    keep = placeholders(parent)

    def swap(found: re.Match[str]) -> str:
        name = found.group(1)
        if name in keep:
            return found.group(0)
        goes_on = re.match(r"\s*\w", found.string[found.end():]) is not None
        return f" the {name.replace('_', ' ')}" if goes_on else ""

    lines = []
    for line in child.splitlines():
        cleaned = _PLACEHOLDER.sub(swap, line)
        if cleaned == line:
            lines.append(line)
        elif not _LABEL_ONLY.fullmatch(cleaned) or not cleaned.strip():
            lines.append(cleaned.rstrip())
    return "\n".join(lines).strip()


def critique_words(cases: Sequence[Case]) -> str:
    """What the judges said about these failures, in their own words (not the quoted inputs)."""
    return " ".join(c.critique_text for c in cases)


def group_cases(cases: Sequence[Case]) -> list[tuple[str | None, list[Case]]]:
    """Failures grouped by expected answer, largest group first, each with the answer it shares.

    Seeing several inputs that share an answer lets a small rewriter name what they have in
    common; one case at a time it copies the input instead (measured on SNIPS with the 1.5B).
    Without short references (free-form tasks) everything is one group with no shared answer.
    """
    refs = [c.example.reference for c in cases]
    if any(r is None or len(str(r)) > MAX_GROUP_KEY_CHARS for r in refs):
        return [(None, list(cases))]
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(str(case.example.reference), []).append(case)
    return sorted(groups.items(), key=lambda item: len(item[1]), reverse=True)


@dataclass(frozen=True)
class ProposalContext:
    """What a proposer may know besides the parent and its failures.

    ``train`` is the training split only: demonstrations and leak checks never see validation or
    test data. ``pool`` holds the validation scores of validated candidates (for merging).
    """

    iteration: int
    train: Sequence[Example]
    task_description: str
    output_contract: str | None
    contract: AnswerContract | None = None
    candidates: Mapping[str, Candidate] = field(default_factory=dict)
    pool: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    reasoning_room: bool = False  # the agent extracts a final "Answer:" line and has tokens to reason
    component: str | None = None  # the component being edited, when the candidate has several
    train_scores: Mapping[str, float] = field(default_factory=dict)  # the parent's known scores on training examples
    # The parent's most frequent label mix-ups on the training examples it has answered: (expected, answered, count)
    confusions: tuple[tuple[str, str, int], ...] = ()
    data_summary: str = ""  # data.summarize_examples of the training split, when OptimizeConfig.data_summary


class Proposer(Protocol):
    """Turns a parent and its critiqued failures into a child (see the module docstring).

    ``name`` labels the strategy in the history. An optional ``applicable(parent, cases, context)``
    says whether the strategy has anything to offer this round (default: always).
    """

    name: str

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal: ...


class NewRule(BaseModel):
    """A conditional rule. Asking for "when" and "then" separately makes a small rewriter name a
    concrete sign and a concrete action instead of writing "always answer correctly"."""

    group: int = Field(description="the number of the group of cases this rule is written for")
    when: str = Field(max_length=200, description="the kind of input this rule is about: topic, key words, phrasing")
    then: str = Field(max_length=200, description="exactly what the assistant must do for such inputs")

    @property
    def text(self) -> str:
        when = self.when.strip().rstrip(".,")
        then = self.then.strip()
        first = when.split(" ", 1)[0]
        if first[:1].isupper() and first[1:].islower() and first != "I":
            when = when[0].lower() + when[1:]
        for prefix in ("when ", "if "):
            if when.lower().startswith(prefix):
                when = when[len(prefix):]
        first = then.split(" ", 1)[0]
        if first[:1].isupper() and first[1:].islower():  # "Answer ..." -> "answer ...", but keep "RateBook"
            then = then[0].lower() + then[1:]
        if then and " " not in then:  # a bare answer such as a label
            then = f"answer {then.strip(chr(39) + chr(34))}"
        if when.lower() in {"any input", "all inputs", "every input", "always", "any case", "all cases"}:
            sentence = f"Always {then}"
        else:
            sentence = f"When {when}, {then}"
        return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


class RuleEdits(BaseModel):
    # Rules come first: the 1.5B's up-front "analysis" only restated the instructions and cost ~10 s.
    new_rules: list[NewRule] = Field(max_length=5, description="new rules, most important first")
    delete: list[int] = Field(max_length=5, description="numbers of current rules to delete")
    analysis: str = Field(max_length=200, description="in one sentence, why these rules fix the failures")


class PromptRewrite(BaseModel):
    analysis: str = Field(max_length=400, description="what the failures have in common, in one or two sentences")
    new_prompt: str = Field(max_length=4000, description="the complete improved system prompt")


log = logging.getLogger("promptlearn")
Built = tuple[Candidate | None, str | None, str]  # child, why parts were rejected, rationale


class _LLMProposer:
    name = ""
    template_name = ""
    schema: type[BaseModel]

    def schema_for(self, cases: Sequence[Case]) -> type[BaseModel]:
        return self.schema

    def __init__(self, llm: LLM, *, max_attempts: int = DEFAULT_PROPOSAL_ATTEMPTS,
                 max_tokens: int = DEFAULT_PROPOSER_MAX_TOKENS, meta_prompt_dir: str | Path | None = None,
                 retry_temperature: float = DEFAULT_RETRY_TEMPERATURE, vetter: RuleVetter | None = None):
        self.llm = llm.for_role("optimizer")
        self.retry_temperature = retry_temperature
        self.max_attempts = max_attempts
        self.max_tokens = max_tokens
        self.template = load_meta_prompt(self.template_name, meta_prompt_dir)
        self.vetter = vetter

    def preflight(self, seed: Candidate, train: Sequence[Example], context: ProposalContext) -> None:
        """Render the meta-prompt as the first round would, with the seed and a few training examples as its
        cases: a template error, or a seed or task description too large to render, is a ConfigError now,
        not after the first rollouts (issue 29: a 1 MB seed prompt failed after 20 model calls)."""
        cases = [Case(example=e, rollout=Rollout(example_id=e.id, candidate_id=seed.id, output="?"),
                      critiques=(), score=0.0) for e in train[:2]]
        render(self.template, self._variables(seed, cases, context), what=f"{self.name} meta-prompt")
        if self.vetter is not None:
            self.vetter.prompt("a rule", task=context.task_description, base_prompt=seed.system_prompt)

    async def _vetted(self, parent: Candidate, child: Candidate, context: ProposalContext
                      ) -> tuple[Candidate | None, str | None]:
        """The child without the new rules (or rewritten prompt) the vetter judges planted by task data."""
        assert self.vetter is not None
        task = context.task_description
        if child.system_prompt != parent.system_prompt:
            reason = await self.vetter.avet(child.system_prompt, task=task, base_prompt=parent.system_prompt)
            if reason:
                return None, f"the new prompt: {reason}"
        old = {r.text for r in parent.rules}
        kept, reasons = [], []
        for rule in child.rules:
            reason = None if rule.text in old else await self.vetter.avet(rule.text, task=task,
                                                                        base_prompt=parent.system_prompt)
            if reason:
                reasons.append(f"rule {rule.text[:60]!r}: {reason}")
            else:
                kept.append(rule)
        if not reasons:
            return child, None
        vetted = Candidate.create(child.system_prompt, tuple(kept), child.demos, parent_ids=child.parent_ids,
                                  iteration=child.iteration, rationale=child.rationale)
        return (None if vetted.id == parent.id else vetted), "; ".join(reasons)

    def _variables(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> dict[str, Any]:
        return {"task_description": context.task_description, "output_contract": context.output_contract,
                "component": context.component, "data_summary": escape_markers(context.data_summary),
                "base_prompt": escape_markers(parent.system_prompt), "rules": [r.text for r in parent.rules],
                "cases": [c.as_template_data() for c in cases], "variables": sorted(placeholders(parent.prompt))}

    def _build(self, parent: Candidate, parsed: BaseModel, cases: Sequence[Case], context: ProposalContext) -> Built:
        """(child or None, why parts were rejected or None, rationale)."""
        raise NotImplementedError

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        meta_prompt = render(self.template, self._variables(parent, cases, context), what="meta-prompt")
        messages = [{"role": "user", "content": meta_prompt}]
        rejections: list[str] = []
        with usage_scope() as scope:
            for attempt in range(self.max_attempts):
                # Attempt > 0 differs by the feedback turn, so the cache never replays a rejected answer.
                # A rejected answer at temperature 0 comes back unchanged (measured: the 1.5B repeated
                # the same duplicate rules three times), so retries sample, each with its own seed.
                retry: dict[str, Any] = {} if attempt == 0 else {"temperature": self.retry_temperature, "seed": attempt}
                parsed = await self.llm.astructured(messages, self.schema_for(cases), max_tokens=self.max_tokens,
                                                    **retry)
                child, reason, rationale = self._build(parent, parsed, cases, context)
                if child is not None and self.vetter is not None:
                    child, vet_reason = await self._vetted(parent, child, context)
                    reason = "; ".join(r for r in (reason, vet_reason) if r) or None
                if child is not None:
                    if reason:  # some parts were dropped; keep why, for the report
                        rejections.append(reason)
                    return Proposal(child=child.model_copy(update={"strategy": self.name}), rationale=rationale,
                                    rejections=tuple(rejections), cost=scope.cost, meta_prompt=meta_prompt,
                                    strategy=self.name)
                rejections.append(reason or "rejected")
                log.info("proposal rejected by the guards (attempt %d): %s", attempt + 1, reason)
                messages = [*messages, {"role": "assistant", "content": parsed.model_dump_json()},
                            {"role": "user", "content": f"That proposal was rejected: {reason}. Try again."}]
        return Proposal(child=None, rejections=tuple(rejections), cost=scope.cost, meta_prompt=meta_prompt,
                        strategy=self.name)


class RulesetProposer(_LLMProposer):
    """Keeps the base prompt and adds or deletes numbered rules; each rule records its provenance.

    Targeted edits suit small rewriters: asked for a full rewrite, a 1.5B model drops template
    variables and restates its instructions instead of the task.
    """

    name = "rules"
    template_name = "ruleset"
    schema = RuleEdits

    def __init__(self, llm: LLM, *, max_new_rules: int = DEFAULT_MAX_NEW_RULES, max_rules: int = DEFAULT_MAX_RULES,
                 **kwargs: Any):
        super().__init__(llm, **kwargs)
        self.max_new_rules = max_new_rules
        self.max_rules = max_rules

    def _variables(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> dict[str, Any]:
        groups = [{"expected": "" if key is None else escape_markers(key),
                   "cases": [c.as_template_data() for c in group]} for key, group in group_cases(cases)]
        confusions = [{"expected": escape_markers(expected), "answered": escape_markers(answered), "count": count}
                      for expected, answered, count in context.confusions]
        return {**super()._variables(parent, cases, context), "max_new_rules": self.max_new_rules,
                "groups": groups, "confusions": confusions}

    def schema_for(self, cases: Sequence[Case]) -> type[BaseModel]:
        # Small rewriters stop after one rule; a grammar-enforced minimum (one per group of failures,
        # capped) makes them cover the batch. minItems lives only in the JSON schema, so it steers
        # generation without failing validation when an API model returns fewer rules.
        low = max(1, min(self.max_new_rules, len(group_cases(cases))))
        return create_model("RuleEdits", __base__=RuleEdits,
                            new_rules=(list[NewRule], Field(max_length=self.max_new_rules,
                                                            json_schema_extra={"minItems": low},
                                                            description="new rules, most important first")))

    def _build(self, parent: Candidate, parsed: BaseModel, cases: Sequence[Case], context: ProposalContext) -> Built:
        edits = parsed if isinstance(parsed, RuleEdits) else RuleEdits.model_validate(parsed.model_dump())
        delete = {i for i in edits.delete if 1 <= i <= len(parent.rules)}
        kept = [r for i, r in enumerate(parent.rules, start=1) if i not in delete]
        next_id = max((r.id for r in parent.rules), default=0) + 1
        groups = group_cases(cases)
        added: list[Rule] = []
        reasons: list[str] = []
        for new in edits.new_rules[: self.max_new_rules]:
            text = " ".join(new.text.split())
            reason = check_rule(text, [r.text for r in kept + added], context.train, parent=parent.prompt,
                                critiques=critique_words(cases))
            if reason:
                reasons.append(f"rule {text[:60]!r}: {reason}")
                continue
            fixed = groups[new.group - 1][1] if 1 <= new.group <= len(groups) else list(cases)
            provenance = tuple(Provenance(example_id=c.example.id, judge=",".join(x.judge for x in c.critiques),
                                          critique=c.critique_text[:300]) for c in fixed)
            added.append(Rule(id=next_id, text=text, provenance=provenance, iteration=context.iteration))
            next_id += 1
        if not added and not delete:
            return None, "; ".join(reasons) or "no new rule and nothing deleted", ""
        rules = (kept + added)[-self.max_rules:]
        child = Candidate.create(parent.system_prompt, tuple(rules), parent.demos, parent_ids=(parent.id,),
                                 iteration=context.iteration, rationale=edits.analysis.strip())
        if child.id == parent.id:
            return None, "the edits leave the prompt unchanged", ""
        return child, "; ".join(reasons) or None, edits.analysis.strip()


class RewriteProposer(_LLMProposer):
    """Rewrites the whole system prompt (rules are folded in). Best with a capable rewriter."""

    name = "rewrite"
    template_name = "rewrite"
    schema = PromptRewrite

    def _variables(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> dict[str, Any]:
        variables = super()._variables(parent, cases, context)
        variables["base_prompt"] = escape_markers(parent.prompt)  # rules become part of the text to rewrite
        return variables

    def _build(self, parent: Candidate, parsed: BaseModel, cases: Sequence[Case], context: ProposalContext) -> Built:
        rewrite = parsed if isinstance(parsed, PromptRewrite) else PromptRewrite.model_validate(parsed.model_dump())
        new_prompt = drop_added_placeholders(parent.prompt, unwrap(rewrite.new_prompt))
        reason = check_prompt(parent.prompt, new_prompt, context.train, critiques=critique_words(cases))
        if reason:
            return None, reason, ""
        child = Candidate.create(new_prompt, (), parent_ids=(parent.id,), iteration=context.iteration,
                                 rationale=rewrite.analysis.strip())
        if child.id == parent.id:
            return None, "the rewrite is identical to the current prompt", ""
        return child, None, rewrite.analysis.strip()
