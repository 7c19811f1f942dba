"""Checks every proposal must pass before it costs a single rollout.

Small rewriters fail in recognisable ways (DESIGN.md, "Lessons"): they drop
template variables, describe the optimisation job instead of the task, copy
training data into the prompt, or balloon the prompt. Each check returns a
reason string (rejected) or None (fine); the proposer shows the reason to
the rewriter and asks again.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

from .records import Example
from .templating import placeholders

LEAK_NGRAM_WORDS = 6
LABEL_MAX_WORDS = 3
MAX_GROWTH_FACTOR = 4.0
MIN_PROMPT_CHARS = 10
MAX_RULE_CHARS = 400
CONTRACT_MAX_LABELS = 30

_META_TASK = re.compile(r"\b(system prompt|the prompt|critique|the judge|rewriter|case number|case \d|cases? \d|"
                        r"<case|assistant_output|this editing)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")


def missing_template_variables(parent: str, child: str) -> set[str]:
    return placeholders(parent) - placeholders(child)


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def training_leak(text: str, examples: Iterable[Example], *, ngram: int = LEAK_NGRAM_WORDS) -> str | None:
    """A training input span (``ngram`` words) or a long reference answer found verbatim in ``text``.

    Short references (labels like "PlayMusic" or "(B)") are allowed: naming
    the label set is legitimate instruction, copying answers is not.
    """
    grams = _ngrams(text, ngram)
    lowered = " ".join(_WORD.findall(text.lower()))
    for example in examples:
        for value in example.inputs.values():
            hit = grams & _ngrams(str(value), ngram)
            if hit:
                return "copies training input text: '" + " ".join(sorted(hit)[0]) + "'"
        ref = example.reference
        if ref is not None and len(_WORD.findall(str(ref))) > LABEL_MAX_WORDS:
            ref_norm = " ".join(_WORD.findall(str(ref).lower()))
            if ref_norm and ref_norm in lowered:
                return f"copies a training answer: {str(ref)[:80]!r}"
    return None


def meta_task_language(text: str) -> str | None:
    match = _META_TASK.search(text)
    return f"talks about the optimisation job ({match.group(0)!r}) instead of the task" if match else None


def check_prompt(parent: str, child: str, train: Sequence[Example]) -> str | None:
    if len(child.strip()) < MIN_PROMPT_CHARS:
        return "the new prompt is empty or too short"
    if len(child) > MAX_GROWTH_FACTOR * max(len(parent), 200):
        return f"the new prompt is {len(child)} characters, more than {MAX_GROWTH_FACTOR:g}x the current one"
    missing = missing_template_variables(parent, child)
    if missing:
        return "the new prompt drops template variable(s) " + ", ".join("{{ %s }}" % v for v in sorted(missing))
    return meta_task_language(child) or training_leak(child, train)


def check_rule(rule: str, existing: Sequence[str], train: Sequence[Example]) -> str | None:
    if len(rule.strip()) < MIN_PROMPT_CHARS:
        return "the rule is empty or too short"
    if len(rule) > MAX_RULE_CHARS:
        return f"the rule is longer than {MAX_RULE_CHARS} characters"
    norm = " ".join(_WORD.findall(rule.lower()))
    if any(norm == " ".join(_WORD.findall(e.lower())) for e in existing):
        return "the rule repeats an existing rule"
    if "{{" in rule or "{%" in rule:
        return "the rule contains template markup"
    return meta_task_language(rule) or training_leak(rule, train)


def infer_output_contract(examples: Sequence[Example]) -> str | None:
    """For classification-like data (a few short distinct references), the label set as a contract."""
    refs = [str(e.reference) for e in examples if e.reference is not None]
    if not refs:
        return None
    counts = Counter(refs)
    if len(counts) > CONTRACT_MAX_LABELS or len(counts) >= max(3, len(refs) // 2):
        return None
    if any(len(_WORD.findall(r)) > LABEL_MAX_WORDS for r in counts):
        return None
    labels = ", ".join(sorted(counts))
    return f"reply with exactly one of these labels and nothing else: {labels}"
