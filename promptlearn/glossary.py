"""Strategy ``glossary``: one line per label saying when it applies, written by the rewriter from training inputs
of that label and added to the prompt as a block.

Why: a seed that lists the labels tells a small agent *which* answers exist, not *when* each applies. On 100-example
dev sets the shipped lines lift the bare competent SNIPS seed by 5-11 points but add nothing beside one worked
example per label (-2 to 0), and cost 4-9 points beside them on banking77-15 (a first, unguarded draft whose lines
quoted inputs added 8-9 points beside the examples on SNIPS). So, like ``cover``, its child skips the minibatch
test and validation decides (``validate_directly``), and the strategy is opt-in: in the good-seed bench cells
validation kept it in one SNIPS cell of three and no banking77-15 cell (benchmarks/README "A label glossary").

Each line is checked like a rule (``guards.check_rule``: no template markup, no copied training input, no
instruction planted in the data); a rejected line is asked for again with the reason (``max_attempts`` in all), and
a label whose line still fails, or that has no usable training input, is left out.
The rewriter reads up to ``examples_per_label`` training inputs per label (training split only), one call per
label. Deterministic given the parent: a resumed run replays it from the run's memo of proposals.
"""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path
from typing import Any, Sequence

from ._templating import escape_markers, render
from .config import COVER_MAX_LABELS, COVER_MIN_LABELS, DEFAULT_PROPOSAL_ATTEMPTS
from .demo_sets import usable_by_label
from .edits import demo_input
from .guards import check_rule
from .llm import LLM
from .llm.usage import usage_scope
from .prompts import load_meta_prompt
from .proposers import DEFAULT_RETRY_TEMPERATURE, Case, ProposalContext
from .records import Candidate, Example, Proposal

GLOSSARY_HEADER = "When each label applies:"
GLOSSARY_EXAMPLES_PER_LABEL = 4
GLOSSARY_MAX_WORDS = 30  # the meta-prompt asks for 30 and longer answers are cut there: a line, not a paragraph
GLOSSARY_INPUT_CHARS = 300  # of each training input the rewriter reads
GLOSSARY_MAX_TOKENS = 96
_LEAD = re.compile(r"^[\s\-*•\"'`]+")


def glossary_line(label: str, text: str, max_words: int = GLOSSARY_MAX_WORDS) -> str:
    """The rewriter's answer as ``"label: description"``: its first non-empty line, without a repeated label or
    bullet, cut to ``max_words`` words (at a sentence end when one falls within them). Empty: nothing usable."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _LEAD.sub("", line).strip()
    if line.lower().startswith(label.lower()):
        line = line[len(label):].lstrip(" \"'`*:-").strip()
    words = line.split()
    if len(words) > max_words:
        cut = " ".join(words[:max_words])
        end = max(cut.rfind(". "), cut.rfind("; "))
        line = cut[: end + 1] if end > len(cut) // 2 else cut.rstrip(",;:") + "."
    return f"{label}: {line}" if line else ""


class LabelGlossaryProposer:
    """Adds a ``GLOSSARY_HEADER`` block to the parent's prompt (see the module docstring). Applies while the
    contract is ``labels`` with ``COVER_MIN_LABELS`` to ``max_labels`` labels and the prompt has no glossary yet."""

    name = "glossary"

    def __init__(self, llm: LLM, *, examples_per_label: int = GLOSSARY_EXAMPLES_PER_LABEL,
                 max_labels: int = COVER_MAX_LABELS, max_attempts: int = DEFAULT_PROPOSAL_ATTEMPTS,
                 retry_temperature: float = DEFAULT_RETRY_TEMPERATURE, meta_prompt_dir: str | Path | None = None):
        self.llm = llm.for_role("optimizer")
        self.max_attempts = max_attempts
        self.retry_temperature = retry_temperature
        self.examples_per_label = examples_per_label
        self.max_labels = max_labels
        self.template = load_meta_prompt("glossary", meta_prompt_dir)

    def preflight(self, seed: Candidate, train: Sequence[Example], context: ProposalContext) -> None:
        """Render the meta-prompt once with placeholder data: a broken ``glossary.j2`` in ``meta_prompt_dir`` is a
        ConfigError before the first rollout, not in the round that first proposes a glossary."""
        self._meta_prompt("a", ["a", "b", "c"], [demo_input(e) for e in train[:2]] or ["an input"], "")

    def _meta_prompt(self, label: str, labels: list[str], inputs: list[str], task: str) -> str:
        return render(self.template, {
            "labels": [escape_markers(x) for x in labels], "label": escape_markers(label), "task_description": task,
            "inputs": [escape_markers(text[:GLOSSARY_INPUT_CHARS]) for text in inputs],
            "max_words": GLOSSARY_MAX_WORDS}, what="glossary meta-prompt")

    def _inputs(self, context: ProposalContext) -> dict[str, list[Example]]:
        """Usable training examples by label, in the contract's order and spelling (of labels that differ only in
        case, the last); {} when the strategy does not apply to the contract."""
        found = usable_by_label(context, self.max_labels)
        if not found or context.contract is None:
            return {}
        spelled = {label.lower(): label for label in context.contract.labels}
        return {label: found[label.lower()] for label in context.contract.labels
                if label.lower() in found and spelled[label.lower()] == label}

    def applicable(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> bool:
        return GLOSSARY_HEADER not in parent.system_prompt and len(self._inputs(context)) >= COVER_MIN_LABELS

    async def _describe(self, label: str, labels: list[str], examples: list[Example], context: ProposalContext,
                        parent: Candidate) -> tuple[str, str | None]:
        """(the label's line, None) or ("", why the last attempt was rejected). A rejected line is asked for again
        with the reason, sampled: on a SNIPS split the guard dropped the GetWeather line for quoting an input,
        and GetWeather is the intent the 0.5B misses most."""
        prompt = self._meta_prompt(label, labels, [demo_input(e) for e in examples], context.task_description)
        messages = [{"role": "user", "content": prompt}]
        reason: str | None = None
        for attempt in range(self.max_attempts):
            retry: dict[str, Any] = {} if attempt == 0 else {"temperature": self.retry_temperature, "seed": attempt}
            completion = await self.llm.acomplete(messages, max_tokens=GLOSSARY_MAX_TOKENS, **retry)
            line = glossary_line(label, completion.text)
            reason = "empty" if not line else check_rule(line, [], context.train, parent=parent.prompt)
            if reason is None:
                return line, None
            messages = [*messages, {"role": "assistant", "content": completion.text},
                        {"role": "user", "content": f"That line was rejected ({reason}). Write it again, in your "
                                                    f"own words. Start with: {escape_markers(label)}:"}]
        return "", reason

    async def apropose(self, parent: Candidate, cases: Sequence[Case], context: ProposalContext) -> Proposal:
        by_label = self._inputs(context)
        if GLOSSARY_HEADER in parent.system_prompt or not by_label:
            return Proposal(child=None, rejections=(f"{self.name}: the prompt has a glossary or no label to describe",),
                            strategy=self.name)
        rng = random.Random(f"glossary/{parent.id}")  # str seeds hash stably (sha512)
        shown = {label: rng.sample(examples, min(self.examples_per_label, len(examples)))
                 for label, examples in by_label.items()}
        labels = list(context.contract.labels) if context.contract else list(by_label)
        with usage_scope() as scope:
            described = await asyncio.gather(*(self._describe(label, labels, examples, context, parent)
                                               for label, examples in shown.items()))
        lines: list[str] = []
        rejections: list[str] = []
        for label, (line, reason) in zip(shown, described):
            if reason:
                rejections.append(f"{self.name}: the line for {label!r}: {reason}")
            else:
                lines.append(line)
        if len(lines) < COVER_MIN_LABELS:
            return Proposal(child=None, rejections=(*rejections, f"{self.name}: fewer than {COVER_MIN_LABELS} usable "
                                                                 f"lines"), cost=scope.cost, strategy=self.name)
        block = GLOSSARY_HEADER + "\n" + "\n".join(f"- {line}" for line in lines)
        rationale = (f"describe when each of {len(lines)} label(s) applies, from up to {self.examples_per_label} "
                     f"training inputs each ({', '.join(e.id for examples in shown.values() for e in examples)})")
        child = Candidate.create(f"{parent.system_prompt.rstrip()}\n\n{block}", parent.rules, parent.demos,
                                 parent_ids=(parent.id,), iteration=context.iteration, strategy=self.name,
                                 rationale=rationale[:2000])
        # Validation tests it, as it does the cover set: a prompt-wide change eight paired examples cannot resolve.
        return Proposal(child=child, strategy=self.name, rationale=child.rationale, rejections=tuple(rejections),
                        cost=scope.cost, validate_directly=True)
