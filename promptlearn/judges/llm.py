"""LLM judges that explain first, then decide, as structured output.

Writing the explanation before the verdict makes the model reason before it
commits (the verdict is conditioned on the explanation) and gives the
rewriter an English critique to act on.
"""

from __future__ import annotations

import re
from typing import Literal, Sequence

from pydantic import BaseModel, Field

from .._templating import escape_markers, format_inputs, render
from ..llm import LLM, usage_scope
from ..prompts import read_prompt
from ..records import Cost, Critique, Example, Rollout
from .base import failed_rollout_critique

DEFAULT_JUDGE_MAX_TOKENS = 256
DEFAULT_EXPLAIN_MAX_TOKENS = 160
# Bounded so a grammar-constrained local model cannot run out of tokens mid-JSON.
MAX_EXPLANATION_CHARS = 400
MAX_EXPLAIN_FIELD_CHARS = 600  # per field shown to the explainer, as the meta-prompt cuts its cases


class BinaryVerdict(BaseModel):
    explanation: str = Field(max_length=MAX_EXPLANATION_CHARS,
                             description="What is wrong with the output (or why it is right), and which "
                                         "instruction in the assistant's prompt would have prevented the mistake.")
    verdict: Literal["pass", "fail"] = Field(description="pass if the output meets the rubric, else fail")


class GradedVerdict(BaseModel):
    explanation: str = Field(max_length=MAX_EXPLANATION_CHARS,
                             description="What is wrong with the output (or why it is right), and which "
                                         "instruction in the assistant's prompt would have prevented the mistake.")
    # An enum, not ge/le bounds: llama.cpp's schema grammar enforces enums but not integer
    # bounds, and the 1.5B once wrote -5 (calibrating `criteria` on IFEval, judges/README.md).
    score: Literal[1, 2, 3, 4, 5] = Field(description="1 (fails the rubric) to 5 (fully meets it)")


JUDGE_TEMPLATE = read_prompt("judge.j2")

EXPLAIN_TEMPLATE = read_prompt("explain.j2")


class ExplainedError(BaseModel):
    sign: str = Field(max_length=160, description="the general sign in the input that shows the right answer")
    instruction: str = Field(max_length=240, description="what the assistant should do when it sees that sign")


_TRAILING_JUNK = re.compile(r"[\s`{}\"]+$")


def clean_text(text: str) -> str:
    """Strip the stray braces and code fences a grammar-constrained small model leaves at a string's end."""
    return _TRAILING_JUNK.sub("", text.strip())


def verdict_critique(judge: str, verdict: BinaryVerdict | GradedVerdict, cost: Cost) -> Critique:
    """A pass/fail verdict scores 1 or 0; a 1-5 grade maps linearly onto [0, 1]."""
    if isinstance(verdict, GradedVerdict):
        score, label = (verdict.score - 1) / 4, str(verdict.score)
    else:
        score, label = float(verdict.verdict == "pass"), verdict.verdict
    return Critique(judge=judge, score=score, label=label, explanation=clean_text(verdict.explanation), cost=cost)


class LLMJudge:
    """An LLM grading against a rubric. ``graded=False``: pass/fail; ``True``: 1-5 mapped to [0, 1]."""

    def __init__(self, llm: LLM, rubric: str, *, name: str = "llm_judge", graded: bool = False,
                 template: str = JUDGE_TEMPLATE, use_reference: bool = True,
                 max_tokens: int = DEFAULT_JUDGE_MAX_TOKENS):
        self.llm = llm.for_role("judge")
        self.rubric = rubric
        self.name = name
        self.graded = graded
        self.template = template
        self.use_reference = use_reference
        self.max_tokens = max_tokens

    def prompt(self, example: Example, rollout: Rollout) -> str:
        reference = example.reference if self.use_reference else None
        return render(self.template, {"rubric": self.rubric, "input": escape_markers(format_inputs(example)),
                                      "output": escape_markers(rollout.output or ""),
                                      "reference": None if reference is None else escape_markers(reference)},
                      what=f"judge {self.name!r} template")

    async def acritique(self, example: Example, rollout: Rollout) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        schema: type[BinaryVerdict | GradedVerdict] = GradedVerdict if self.graded else BinaryVerdict
        with usage_scope() as scope:
            verdict = await self.llm.astructured([{"role": "user", "content": self.prompt(example, rollout)}],
                                                 schema, max_tokens=self.max_tokens)
        return verdict_critique(self.name, verdict, scope.cost)


class LLMExplainer:
    """Explains *why* a rollout that code judges failed went wrong; it does not score.

    Scoring with code and asking the LLM only about failures is what makes
    judging affordable on a CPU: one LLM call per failure, none per success.
    """

    name = "explainer"

    def __init__(self, llm: LLM, *, task: str = "", max_tokens: int = DEFAULT_EXPLAIN_MAX_TOKENS,
                 template: str = EXPLAIN_TEMPLATE):
        self.llm = llm.for_role("judge")
        self.task = task
        self.max_tokens = max_tokens
        self.template = template

    def preflight(self, examples: Sequence[Example]) -> None:
        """Render the template for the first examples, as a failure would be explained: a template error or a
        task description too large to render is a ConfigError before the first model call."""
        for example in examples[:2]:
            self.prompt(example, Rollout(example_id=example.id, candidate_id="preflight", output="?"), ())

    def prompt(self, example: Example, rollout: Rollout, critiques: Sequence[Critique]) -> str:
        checker = " ".join(c.explanation for c in critiques if c.explanation)
        ref = example.reference
        expected = "" if ref is None or len(str(ref)) > MAX_EXPLAIN_FIELD_CHARS else escape_markers(str(ref))
        # Cut like the meta-prompt does: a 2 MB input must not become a 2 MB prompt.
        def cut(text: object) -> str:
            return escape_markers(str(text)[:MAX_EXPLAIN_FIELD_CHARS])

        prompt = render(self.template, {"task": self.task, "input": cut(format_inputs(example)),
                                        "output": cut(rollout.output or f"(error: {rollout.error})"),
                                        "expected": expected, "checker": cut(checker)},
                        what="explainer template")
        return prompt

    async def aexplain(self, example: Example, rollout: Rollout, critiques: Sequence[Critique], score: float) -> Critique:
        checker = " ".join(c.explanation for c in critiques if c.explanation)
        prompt = self.prompt(example, rollout, critiques)
        with usage_scope() as scope:
            result = await self.llm.astructured([{"role": "user", "content": prompt}], ExplainedError,
                                                max_tokens=self.max_tokens)
        text = f"{checker} Sign: {clean_text(result.sign)} Advice: {clean_text(result.instruction)}".strip()
        return Critique(judge=self.name, score=score, label="explained", explanation=text,
                        cost=scope.cost)
