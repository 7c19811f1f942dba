"""Answer contracts: what a right answer looks like, inferred from the training references.

A contract names the answer's kind (option letter, number, boolean, yes/no, a label set, short
text, JSON), says it in one sentence a prompt can carry (``instruction``), checks outputs
against it, and sorts a failure into a *format* failure (the answer is inside a longer output,
the output is an explanation, or it is off-contract) or a *content* failure (right format,
wrong answer). Format failures are what a one-line instruction fixes; content failures need
rules, demonstrations or reasoning.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from typing import Literal, Sequence

from pydantic import BaseModel, ConfigDict

from .records import Example

ContractKind = Literal["option_letter", "boolean", "yes_no", "integer", "number", "labels", "json", "short_text"]
FailureKind = Literal["content", "answer_inside", "explanation", "off_contract"]
FORMAT_FAILURES: frozenset[str] = frozenset({"answer_inside", "explanation", "off_contract"})

LABEL_MAX_WORDS = 3  # references this short are labels (naming them is instruction, not leakage)
# A repeating answer set is a label set up to this many words a label ("Terms of Service Question" in Arize's
# support-query task has four); longer repeating answers stay free text.
LABEL_SET_MAX_WORDS = 5
OPTION_SHARE = 0.95  # references that are option letters, for an option-letter contract
CONTRACT_MAX_LABELS = 30
SHORT_TEXT_MAX_WORDS = 6
EXPLANATION_MIN_WORDS = 12

_WORD = re.compile(r"\w+")
_OPTION = re.compile(r"\([A-Za-z]\)")
_INTEGER = re.compile(r"[-+]?\d[\d,]*")
_NUMBER = re.compile(r"[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?", re.IGNORECASE)


def _clean(text: str) -> str:
    return " ".join(str(text).split()).strip(string.punctuation.replace("(", "").replace(")", "") + " ")


class AnswerContract(BaseModel):
    """The shape of a right answer. ``instruction`` is one sentence, ready to go into a prompt."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ContractKind
    instruction: str
    labels: tuple[str, ...] = ()

    def with_reasoning(self) -> "AnswerContract":
        """The contract for an agent that reasons, then writes a last line "Answer: X" its answer pattern extracts.

        "Answer with only the number, with no working" would take away the room such an agent was given;
        this wording keeps the working and puts the contract's shape on the answer line.
        """
        return self.model_copy(update={"instruction": "Work the problem out step by step, then give the final answer "
                                                      f"on the last line as 'Answer: X', where X is {self.answer_form()}."})

    def answer_form(self) -> str:
        """What the answer itself looks like, as a phrase ("only the number, like 21")."""
        example = re.search(r"\blike (\S+?)[,.]", self.instruction)
        like = f", like {example.group(1)}" if example else ""
        if self.kind == "option_letter":
            return f"only the letter of the correct option, in parentheses{like}"
        if self.kind in ("boolean", "yes_no"):
            return "only " + " or ".join(self.labels)
        if self.kind in ("integer", "number"):
            return f"only the number{like}"
        if self.kind == "labels":
            return "exactly one of these labels: " + ", ".join(self.labels)
        if self.kind == "json":
            return "only the JSON value"
        return "only the answer itself, in a few words"

    def format_ok(self, output: str) -> bool:
        """Whether ``output`` has the contract's shape (not whether it is right)."""
        text = _clean(output)
        if not text or "\n" in text:
            return False
        if self.kind == "option_letter":
            return bool(re.fullmatch(r"\(?[A-Za-z]\)?", text))
        if self.kind in ("boolean", "yes_no", "labels"):
            return text.lower() in {label.lower() for label in self.labels}
        if self.kind == "integer":
            return bool(_INTEGER.fullmatch(text))
        if self.kind == "number":
            return bool(_NUMBER.fullmatch(text))
        if self.kind == "json":
            try:
                json.loads(output.strip())
            except ValueError:
                return False
            return True
        return len(_WORD.findall(text)) <= SHORT_TEXT_MAX_WORDS

    def verdict(self, output: str | None, reference: object, *, score: float, error: str | None = None) -> FailureKind | None:
        """:meth:`classify` for a scored rollout; None when there is nothing to classify (a right answer, a
        failed call, no reference)."""
        if error or reference is None or score >= 1.0:
            return None
        return self.classify(output, reference)

    def classify(self, output: str | None, reference: object) -> FailureKind:
        """Why a wrong ``output`` is wrong: a format failure (see module doc) or ``content``."""
        text = (output or "").strip()
        if text and self.format_ok(text):
            return "content"
        ref = _clean(str(reference)).lower()
        words = _WORD.findall(text.lower())
        if ref and re.search(rf"(?<!\w){re.escape(ref)}(?!\w)", text.lower()):
            return "answer_inside"
        if len(words) >= EXPLANATION_MIN_WORDS or "\n" in text:
            return "explanation"
        return "off_contract"


def _references(examples: Sequence[Example]) -> list[str]:
    return [str(e.reference).strip() for e in examples if e.reference is not None and str(e.reference).strip()]


def _is_json(text: str) -> bool:
    if not text.startswith(("{", "[")):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def infer_contract(examples: Sequence[Example]) -> AnswerContract | None:
    """The contract the training references share, or None when they share none (free-form answers)."""
    refs = _references(examples)
    if not refs:
        return None
    distinct = sorted(set(refs))
    lowered = {r.lower() for r in refs}
    letters = [r for r in refs if _OPTION.fullmatch(r)]
    # Nearly all: BBH ruin_names has 2 of 250 targets written out ("dearth, wind, & fire") instead of a letter.
    if len(letters) >= OPTION_SHARE * len(refs):
        example = Counter(letters).most_common(1)[0][0]
        return AnswerContract(kind="option_letter", labels=tuple(sorted(set(letters))),
                              instruction=f"Answer with only the letter of the correct option, in parentheses, "
                                          f"like {example}.")
    if lowered <= {"true", "false"}:
        return AnswerContract(kind="boolean", labels=tuple(distinct),
                              instruction=f"Answer with only {' or '.join(distinct)}.")
    if lowered <= {"yes", "no"}:
        return AnswerContract(kind="yes_no", labels=tuple(distinct),
                              instruction=f"Answer with only {' or '.join(sorted(distinct, key=str.lower, reverse=True))}.")
    if all(_INTEGER.fullmatch(r) for r in refs):
        return AnswerContract(kind="integer", instruction=f"Answer with only the final number, like {refs[0]}, "
                                                           f"with no words or working.")
    if all(_NUMBER.fullmatch(r) for r in refs):
        return AnswerContract(kind="number", instruction=f"Answer with only the final number, like {refs[0]}, "
                                                          f"with no words or working.")
    counts = Counter(refs)
    if len(counts) <= CONTRACT_MAX_LABELS and len(counts) < max(3, len(refs) // 2) \
            and all(len(_WORD.findall(r)) <= LABEL_SET_MAX_WORDS for r in counts):
        # Wording kept from the first label-set contract: the SNIPS benchmarks were measured with it.
        return AnswerContract(kind="labels", labels=tuple(distinct),
                              instruction="reply with exactly one of these labels and nothing else: "
                                          + ", ".join(distinct))
    if all(_is_json(r) for r in refs):
        return AnswerContract(kind="json", instruction="Answer with only the JSON value, with no text around it.")
    if all(len(_WORD.findall(r)) <= SHORT_TEXT_MAX_WORDS for r in refs):
        return AnswerContract(kind="short_text", instruction="Answer with only the answer itself, in a few words, "
                                                             "with no explanation.")
    return None
