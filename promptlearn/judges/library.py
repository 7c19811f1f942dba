"""The judge library: definitions in ``promptlearn/prompts/judges/*.yaml``, loaded by name.

``load("correctness", llm)`` returns a Judge; ``load("my_judge.yaml", llm)`` loads a
definition of your own (same fields as the library's). A definition says what it needs
(reference, context, criteria, rules, instructions); a missing field raises ConfigError
naming it, before any model call.
"""

from __future__ import annotations

import asyncio
import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model

from .._templating import escape_markers, format_inputs, render
from ..data import read_text, yaml_load
from ..errors import ConfigError
from ..llm import LLM, usage_scope
from ..records import Critique, Example, Rollout
from .base import failed_rollout_critique
from .code import all_numbers, last_number, normalize_text
from .llm import MAX_EXPLANATION_CHARS, BinaryVerdict, GradedVerdict, clean_text, verdict_critique

DEFAULT_LIBRARY_MAX_TOKENS = 320


class JudgeDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    needs: list[Literal["reference", "context", "criteria", "rules", "instructions"]] = []
    output: Literal["binary", "graded", "per_rule", "pairwise", "extract"]
    rubric: str
    template: str
    # Verifiable constraints (length, JSON, keywords, case) are checked by code before the LLM.
    code_checks: bool = False


@lru_cache(maxsize=None)
def _definitions() -> dict[str, JudgeDefinition]:
    folder = resources.files("promptlearn.prompts").joinpath("judges")
    out = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            definition = JudgeDefinition.model_validate(yaml.safe_load(entry.read_text()))
            out[definition.name] = definition
    return out


def available() -> list[str]:
    return sorted(_definitions())


def definition(name: str) -> JudgeDefinition:
    """A library judge by name, or a definition file of your own (a path ending in .yaml/.yml)."""
    if name.endswith((".yaml", ".yml")):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConfigError(f"judge definition file not found: {path}")
        try:
            return JudgeDefinition.model_validate(yaml_load(read_text(path)))
        except (yaml.YAMLError, ValueError) as exc:
            raise ConfigError(f"judge definition {path} is not valid: {exc}") from None
    try:
        return _definitions()[name]
    except KeyError:
        raise ConfigError(f"unknown judge {name!r}; known judges: {', '.join(available())} "
                          "(or pass the path of a .yaml definition)") from None


def _field(example: Example, params: dict[str, Any], name: str, judge: str) -> Any:
    """A field a template needs: from the judge's params, the example's inputs or metadata, or its reference."""
    if name in params:
        return params[name]
    if name == "reference" and example.reference is not None:
        return example.reference
    for source in (example.inputs, example.metadata):
        if name in source:
            return source[name]
    raise ConfigError(f"judge {judge!r} needs {name!r}, but example {example.id!r} has no such field "
                      f"(pass {name}=... to load(), or add it to the example's inputs or metadata)")


class TemplateJudge:
    """A library judge with a binary or 1-5 verdict, explanation first."""

    def __init__(self, spec: JudgeDefinition, llm: LLM, *, name: str | None = None,
                 max_tokens: int = DEFAULT_LIBRARY_MAX_TOKENS, **params: Any):
        self.spec = spec
        self.name = name or spec.name
        self.llm = llm.for_role("judge")
        self.params = params
        self.max_tokens = max_tokens

    def preflight(self, examples: Sequence[Example]) -> None:
        """Every field the definition needs, for every example: a missing one fails before any call."""
        for example in examples:
            for need in self.spec.needs:
                _field(example, self.params, need, self.name)

    def variables(self, example: Example, rollout: Rollout) -> dict[str, Any]:
        values: dict[str, Any] = {"input": escape_markers(format_inputs(example)),
                                  "output": escape_markers(rollout.output or "")}
        for need in self.spec.needs:
            value = _field(example, self.params, need, self.name)
            values[need] = [escape_markers(v) for v in value] if isinstance(value, list) else escape_markers(value)
        values.update({k: v for k, v in self.params.items() if k not in values})
        values["rubric"] = render(self.spec.rubric, values, what=f"judge {self.name!r} rubric")
        return values

    def prompt(self, example: Example, rollout: Rollout, **extra: Any) -> str:
        return render(self.spec.template, {**self.variables(example, rollout), **extra}, what=f"judge {self.name!r}")

    async def acritique(self, example: Example, rollout: Rollout, *, temperature: float | None = None,
                        seed: int | None = None) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        graded = self.spec.output == "graded"
        prompt = self.prompt(example, rollout)
        with usage_scope() as scope:
            schema: type[BinaryVerdict | GradedVerdict] = GradedVerdict if graded else BinaryVerdict
            verdict = await self.llm.astructured([{"role": "user", "content": prompt}], schema,
                                                 max_tokens=self.max_tokens, temperature=temperature, seed=seed)
        return verdict_critique(self.name, verdict, scope.cost)


class RuleVerdict(BaseModel):
    explanation: str = Field(max_length=240)
    verdict: Literal["followed", "broken"]


class RuleComplianceJudge(TemplateJudge):
    """One verdict per rule; the score is the share of rules followed; the critique names broken rules."""

    async def acritique(self, example: Example, rollout: Rollout, *, temperature: float | None = None,
                        seed: int | None = None) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        rules = list(_field(example, self.params, "rules", self.name))
        if not rules:
            raise ConfigError(f"judge {self.name!r} needs a non-empty list of rules")
        schema: type[RuleVerdicts] = create_model(
            "RuleVerdicts", __base__=RuleVerdicts,
            verdicts=(list[RuleVerdict], Field(min_length=len(rules), max_length=len(rules))))
        with usage_scope() as scope:
            out = await self.llm.astructured([{"role": "user", "content": self.prompt(example, rollout)}], schema,
                                             max_tokens=self.max_tokens + 80 * len(rules), temperature=temperature,
                                             seed=seed)
        broken = [(i, rule, v) for i, (rule, v) in enumerate(zip(rules, out.verdicts), start=1) if v.verdict == "broken"]
        score = 1 - len(broken) / len(rules)
        text = ("Breaks " + "; ".join(f"rule {i} ({rule}): {clean_text(v.explanation)}" for i, rule, v in broken)
                if broken else "Follows every rule.")
        return Critique(judge=self.name, score=score, label="pass" if not broken else f"broke {len(broken)}",
                        explanation=text[: 4 * MAX_EXPLANATION_CHARS], cost=scope.cost,
                        per_rule=tuple(v.verdict == "followed" for v in out.verdicts))


class RuleVerdicts(BaseModel):
    verdicts: list[RuleVerdict]


class ExtractedAnswer(BaseModel):
    final_answer: str = Field(max_length=160, description="the output's final answer, copied exactly; "
                                                           "empty if it gives none")
    explanation: str = Field(max_length=MAX_EXPLANATION_CHARS,
                             description="what makes the output's answer hard to find, and which instruction "
                                         "would have made it clear")


def appears_in(answer: str, output: str) -> bool:
    """Whether an extracted answer was really copied from the output: as text, or as a number's value."""
    if normalize_text(answer) in normalize_text(output, punctuation=True):
        return True
    value = last_number(answer)
    return value is not None and any(_same_value(n, value) for n in all_numbers(output))


def _same_value(got: float, expected: float) -> bool:
    return abs(got - expected) <= 1e-6 * max(1.0, abs(expected))


def answers_match(answer: str, reference: Any) -> bool:
    """Numbers by value (last number in each), anything else by normalised text."""
    expected = last_number(str(reference))
    if expected is not None and re.fullmatch(r"[\s$€£%\d.,-]*", str(reference)):
        got = last_number(answer)
        return got is not None and _same_value(got, expected)
    return bool(answer.strip()) and normalize_text(answer) == normalize_text(str(reference))


class ExtractThenCompareJudge(TemplateJudge):
    """The LLM only finds the output's final answer (and explains); code decides if it equals the reference.

    Built after calibration (judges/README.md): asked to compare, the 1.5B wrote "the final answer (14)
    matches the reference (6277)"; finding an answer is within its reach, comparing is code's job.
    """

    async def acritique(self, example: Example, rollout: Rollout, *, temperature: float | None = None,
                        seed: int | None = None) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        reference = _field(example, self.params, "reference", self.name)
        with usage_scope() as scope:
            out = await self.llm.astructured([{"role": "user", "content": self.prompt(example, rollout)}],
                                             ExtractedAnswer, max_tokens=self.max_tokens, temperature=temperature,
                                             seed=seed)
        answer = clean_text(out.final_answer)
        found = f"Final answer {answer!r}" if answer else "No final answer found"
        # copy_check=false only reproduces the calibration row measured without it.
        if answer and self.params.get("copy_check", True) and not appears_in(answer, rollout.output or ""):
            # Asked to copy, the 1.5B solved cut-off outputs itself (judges/README.md, calibration); a copy is checkable.
            answer, found = "", f"No final answer found (the extractor proposed {answer!r}, which the output does not contain)"
        if answers_match(answer, reference):
            return Critique(judge=self.name, score=1.0, label="pass", cost=scope.cost,
                            explanation=f"Final answer {answer!r} matches the reference.")
        return Critique(judge=self.name, score=0.0, label="fail", cost=scope.cost,
                        explanation=f"{found}; the reference is {str(reference)!r}. {clean_text(out.explanation)}"
                        [: 2 * MAX_EXPLANATION_CHARS])


def code_format_findings(output: str, *, max_words: int | None = None, min_words: int | None = None,
                         json_object: bool = False, required_keywords: list[str] | None = None,
                         forbidden_keywords: list[str] | None = None, case: str | None = None) -> list[str]:
    """Verifiable constraints checked by code; returns what is broken (empty = all fine)."""
    problems = []
    words = len(re.findall(r"\S+", output))
    if max_words is not None and words > max_words:
        problems.append(f"has {words} words, more than the limit of {max_words}")
    if min_words is not None and words < min_words:
        problems.append(f"has {words} words, fewer than the minimum of {min_words}")
    if json_object:
        # A markdown fence around the JSON is accepted, as IFEval's checker does.
        fenced = re.fullmatch(r"\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*", output, flags=re.S | re.I)
        try:
            if not isinstance(json.loads(fenced.group(1) if fenced else output), dict):
                problems.append("is JSON but not an object")
        except json.JSONDecodeError:
            problems.append("is not valid JSON")
    for keyword in required_keywords or []:
        if keyword.lower() not in output.lower():
            problems.append(f"does not contain the keyword {keyword!r}")
    for keyword in forbidden_keywords or []:
        if keyword.lower() in output.lower():
            problems.append(f"contains the forbidden word {keyword!r}")
    if case == "lower" and output != output.lower():
        problems.append("is not all lower case")
    if case == "upper" and output != output.upper():
        problems.append("is not all upper case")
    return problems


_FORMAT_KEYS = ("max_words", "min_words", "json_object", "required_keywords", "forbidden_keywords", "case")


class FormatComplianceJudge(TemplateJudge):
    """Code checks the verifiable constraints; the LLM is asked only when they all pass.

    The checks come from ``load(..., max_words=..., case=...)`` or, per example, from a
    ``format_checks`` dict in the example's metadata (load-time values win).
    """

    async def acritique(self, example: Example, rollout: Rollout, *, temperature: float | None = None,
                        seed: int | None = None) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        per_example = example.metadata.get("format_checks") or {}
        unknown = set(per_example) - set(_FORMAT_KEYS)
        if unknown:
            raise ConfigError(f"example {example.id!r}: unknown format checks {sorted(unknown)}; "
                              f"known: {', '.join(_FORMAT_KEYS)}")
        checks = {**per_example, **{k: self.params[k] for k in _FORMAT_KEYS if k in self.params}}
        problems = code_format_findings(rollout.output or "", **checks)
        if problems:
            return Critique(judge=self.name, score=0.0, label="fail",
                            explanation="The output " + "; ".join(problems) + ".")
        return await super().acritique(example, rollout, temperature=temperature, seed=seed)


class PairwiseVerdict(BaseModel):
    explanation: str = Field(max_length=MAX_EXPLANATION_CHARS)
    better: Literal["1", "2", "tie"]


class PairwiseResult(BaseModel):
    winner: Literal["a", "b", "tie"]
    consistent: bool  # both orders agreed; False means position bias decided one of them
    explanations: tuple[str, str]
    orders: tuple[str, str] = ("", "")  # raw answers ("1", "2" or "tie"): (a shown first, b shown first)


class PairwiseJudge:
    """Compares two outputs, once in each order; disagreement between the orders is a tie."""

    def __init__(self, spec: JudgeDefinition, llm: LLM, *, name: str | None = None,
                 max_tokens: int = DEFAULT_LIBRARY_MAX_TOKENS, **params: Any):
        self.spec, self.name, self.params, self.max_tokens = spec, name or spec.name, params, max_tokens
        self.llm = llm.for_role("judge")

    async def _ask(self, example: Example, first: str, second: str) -> PairwiseVerdict:
        values = {"input": escape_markers(format_inputs(example)), "first": escape_markers(first),
                  "second": escape_markers(second), **self.params}
        values["rubric"] = render(self.spec.rubric, values)
        prompt = render(self.spec.template, values, what=f"judge {self.name!r}")
        return await self.llm.astructured([{"role": "user", "content": prompt}], PairwiseVerdict,
                                          max_tokens=self.max_tokens)

    async def acompare(self, example: Example, output_a: str, output_b: str) -> PairwiseResult:
        forward, backward = await asyncio.gather(self._ask(example, output_a, output_b),
                                                 self._ask(example, output_b, output_a))
        return combine_orders(forward.better, backward.better, (forward.explanation, backward.explanation))


def combine_orders(forward: str, backward: str, explanations: tuple[str, str] = ("", "")) -> PairwiseResult:
    """``forward`` compared (a, b), ``backward`` compared (b, a); map both to a/b and reconcile."""
    first = {"1": "a", "2": "b", "tie": "tie"}[forward]
    second = {"1": "b", "2": "a", "tie": "tie"}[backward]
    orders = (forward, backward)
    if first == second:
        return PairwiseResult(winner=first, consistent=True, explanations=explanations, orders=orders)
    if "tie" in (first, second):  # one order saw a tie: lean to the other, but it is not a clean win
        winner = first if second == "tie" else second
        return PairwiseResult(winner=winner, consistent=False, explanations=explanations, orders=orders)
    return PairwiseResult(winner="tie", consistent=False, explanations=explanations, orders=orders)


JUDGE_CLASSES: dict[str, type[TemplateJudge]] = {"binary": TemplateJudge, "graded": TemplateJudge,
                                                  "per_rule": RuleComplianceJudge, "extract": ExtractThenCompareJudge}


def load(judge: str, llm: LLM, **params: Any) -> "TemplateJudge | PairwiseJudge":
    """A library judge by name, e.g. ``load("criteria", llm, criteria="cites a source")``,
    or your own definition by path, e.g. ``load("judges/strict_correctness.yaml", llm)``.

    ``name=`` renames the instance (to use one definition twice in a panel); other keyword
    arguments fill the fields the definition needs (criteria, rules, instructions, ...).
    """
    spec = definition(judge)
    if spec.output == "pairwise":
        return PairwiseJudge(spec, llm, **params)
    cls = FormatComplianceJudge if spec.code_checks else JUDGE_CLASSES[spec.output]
    return cls(spec, llm, **params)
