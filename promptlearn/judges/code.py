"""Code judges: exact, cheap, and they explain their verdicts too."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import string
from pathlib import Path
from typing import Any, Callable, Sequence

from ..data import parse_number
from ..errors import ConfigError, JudgeError
from ..records import Critique, Example, Rollout
from .base import failed_rollout_critique

_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?")


def normalize_text(text: str, *, case: bool = False, punctuation: bool = False) -> str:
    text = " ".join(str(text).split())
    if not case:
        text = text.lower()
    if not punctuation:
        text = text.strip(string.punctuation + " ")
    return text


def _reference(example: Example, judge: str) -> Any:
    if example.reference is None:
        raise ConfigError(f"judge {judge!r} needs a reference answer but example {example.id!r} has none")
    return example.reference


def _require_references(examples: Sequence[Example], judge: str) -> None:
    missing = [e.id for e in examples if e.reference is None or str(e.reference).strip() == ""]
    if missing:
        raise ConfigError(f"judge {judge!r} needs a reference answer, but {len(missing)} example(s) have none "
                          f"(e.g. {missing[:3]}); set reference= when loading the data")


class ExactMatch:
    """Score 1 when the output equals the reference (whitespace, case and outer punctuation ignored by default)."""

    def __init__(self, name: str = "exact_match", *, case_sensitive: bool = False, strict_punctuation: bool = False):
        self.name = name
        self.case_sensitive = case_sensitive
        self.strict_punctuation = strict_punctuation

    def _norm(self, text: str) -> str:
        return normalize_text(text, case=self.case_sensitive, punctuation=self.strict_punctuation)

    def preflight(self, examples: Sequence[Example]) -> None:
        _require_references(examples, self.name)

    async def acritique(self, example: Example, rollout: Rollout) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        expected = str(_reference(example, self.name))
        output = rollout.output or ""
        if self._norm(output) == self._norm(expected):
            return Critique(judge=self.name, score=1.0, label="correct", explanation=f"Output matches {expected!r}.")
        hint = ""
        if self._norm(expected) in self._norm(output):
            hint = " The right answer appears inside the output, but the output must be only the answer."
        elif len(output) > 3 * len(expected) + 20:
            hint = " The output is an explanation, not an answer: it must be only the answer, with no working."
        return Critique(judge=self.name, score=0.0, label="incorrect",
                        explanation=f"Expected {expected!r} but the output was {output[:200]!r}.{hint}")


class RegexMatch:
    """Score 1 when ``pattern`` is found in the output (or, with ``fullmatch``, is the whole output)."""

    def __init__(self, pattern: str, name: str = "regex", *, fullmatch: bool = False, flags: int = 0):
        self.name = name
        if isinstance(pattern, str) and not pattern and not fullmatch:
            raise ConfigError(f"regex judge {name!r}: an empty pattern is found in every output, so it would pass "
                              f"everything; give the pattern a passing output must contain")
        try:
            self.pattern = re.compile(pattern, flags)
        except (re.error, TypeError) as exc:
            raise ConfigError(f"regex judge {name!r}: {pattern!r} is not a valid regular expression ({exc})") from None
        self.fullmatch = fullmatch

    async def acritique(self, example: Example, rollout: Rollout) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        text = (rollout.output or "").strip()
        ok = bool(self.pattern.fullmatch(text) if self.fullmatch else self.pattern.search(text))
        how = "match" if self.fullmatch else "contain a match for"
        return Critique(judge=self.name, score=float(ok), label="pass" if ok else "fail",
                        explanation=f"The output {'does' if ok else 'does not'} {how} /{self.pattern.pattern}/.")


def all_numbers(text: str) -> list[float]:
    values = []
    for raw in _NUMBER.findall(text or ""):
        try:
            values.append(float(raw.replace(",", "").rstrip(".")))
        except ValueError:
            continue
    return values


def last_number(text: str) -> float | None:
    values = all_numbers(text)
    return values[-1] if values else None


class NumericTolerance:
    """Compare the last number in the output with the reference, within ``abs_tol`` / ``rel_tol``."""

    def __init__(self, name: str = "numeric", *, abs_tol: float = 1e-6, rel_tol: float = 0.0):
        finite = all(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in (abs_tol, rel_tol))
        if not finite or abs_tol < 0 or rel_tol < 0:
            raise ConfigError(f"numeric judge {name!r}: tolerances must be >= 0 and finite, "
                              f"got abs_tol={abs_tol}, rel_tol={rel_tol}")
        self.name = name
        self.abs_tol = abs_tol
        self.rel_tol = rel_tol

    def preflight(self, examples: Sequence[Example]) -> None:
        _require_references(examples, self.name)
        bad = [(e.id, e.reference) for e in examples if parse_number(e.reference) is None]
        if bad:
            raise ConfigError(f"judge {self.name!r} compares numbers, but {len(bad)} reference(s) are not numbers, "
                              f"e.g. example {bad[0][0]!r}: {bad[0][1]!r}")

    async def acritique(self, example: Example, rollout: Rollout) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        expected = parse_number(_reference(example, self.name))
        if expected is None:
            raise JudgeError(f"reference {example.reference!r} of example {example.id!r} is not a number")
        got = last_number(rollout.output or "")
        if got is None:
            return Critique(judge=self.name, score=0.0, label="no_number",
                            explanation=f"No number found in the output; expected {expected:g}.")
        ok = math.isclose(got, expected, abs_tol=self.abs_tol, rel_tol=self.rel_tol)
        return Critique(judge=self.name, score=float(ok), label="correct" if ok else "incorrect",
                        explanation=f"Final number {got:g} {'equals' if ok else 'differs from'} the expected {expected:g}.")


class JSONSchemaJudge:
    """Score 1 when the output parses as JSON and validates against ``schema``."""

    def __init__(self, schema: dict[str, Any], name: str = "json_schema"):
        import jsonschema

        if not isinstance(schema, dict):
            raise ConfigError(f"json_schema judge {name!r}: schema must be a JSON object, got {type(schema).__name__}")
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(map(str, exc.path)) or "(root)"
            raise ConfigError(f"json_schema judge {name!r}: invalid JSON schema at {where}: {exc.message}") from None
        self.name = name
        self.validator = jsonschema.Draft202012Validator(schema)

    async def acritique(self, example: Example, rollout: Rollout) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        try:
            data = json.loads(rollout.output or "")
        except json.JSONDecodeError as exc:
            return Critique(judge=self.name, score=0.0, label="invalid_json",
                            explanation=f"The output is not valid JSON ({exc.msg} at position {exc.pos}).")
        errors = sorted(self.validator.iter_errors(data), key=lambda e: list(e.path))
        if errors:
            problems = "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])
            return Critique(judge=self.name, score=0.0, label="schema_violation",
                            explanation=f"The JSON does not match the schema: {problems}.")
        return Critique(judge=self.name, score=1.0, label="valid", explanation="Valid JSON matching the schema.")


class FunctionJudge:
    """Wrap ``fn(example, output) -> bool | float | (score, explanation) | Critique``."""

    def __init__(self, fn: Callable[[Example, str], Any], name: str | None = None):
        if not callable(fn):
            raise ConfigError(f"FunctionJudge needs a function (example, output) -> score, got {type(fn).__name__}")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", "function"))

    async def acritique(self, example: Example, rollout: Rollout) -> Critique:
        if rollout.error:
            return failed_rollout_critique(self.name, rollout)
        result = self.fn(example, rollout.output or "")
        if isinstance(result, Critique):
            return result
        explanation = ""
        if isinstance(result, tuple):
            result, explanation = result
        try:
            score = float(result)
        except (TypeError, ValueError):
            raise JudgeError(f"judge {self.name!r} returned {result!r}; return a score in [0, 1], "
                             f"(score, explanation) or a Critique") from None
        if not 0.0 <= score <= 1.0:  # NaN fails this too
            raise JudgeError(f"judge {self.name!r} returned score {score}; scores must be in [0, 1]")
        return Critique(judge=self.name, score=score, label="pass" if score >= 0.5 else "fail",
                        explanation=explanation or f"{self.name} scored {score:g}.")


def function_path(spec: str, base: Path) -> tuple[Path, str] | None:
    """``'path/to/file.py:name'`` as (the file, a relative path taken from ``base``; the name), or None when
    ``spec`` has no ``path:name`` shape. One parser for code metrics, function judges and the task loader."""
    path_text, _, name = spec.rpartition(":")
    if not path_text or not name:
        return None
    path = Path(os.path.expandvars(path_text))
    return (path if path.is_absolute() else base / path), name


# A task's function judge is checked when the task loads and built again when the run starts: executing the
# user's module once per file version keeps its import-time side effects to one (the mtime key picks up an
# edit made in the same notebook session).
_MODULES: dict[tuple[str, int], Any] = {}


def code_function(spec: str, base: Path, *, field: str = "metric", choices: str = "") -> Callable[[Example, str], Any]:
    """The function ``spec`` names (``'path/to/file.py:name'``, a relative path taken from ``base``): a task's
    code metric or a function judge. ``field`` names the YAML field in the errors, ``choices`` the other values
    it may take."""
    found = function_path(spec, base)
    if found is None or found[0].suffix != ".py":
        raise ConfigError(f"{field} {spec!r}: use {choices}'path/to/file.py:function'")
    path, name = found
    if not path.exists():
        raise ConfigError(f"{field} {spec!r}: {path} does not exist")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    module = _MODULES.get(key)
    if module is None:
        module_spec = importlib.util.spec_from_file_location(f"promptlearn_metric_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ConfigError(f"{field} {spec!r}: cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's module: any error it raises is theirs to fix
            raise ConfigError(f"{field} {spec!r}: importing {path} failed: {type(exc).__name__}: {exc}") from None
        _MODULES[key] = module
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"{field} {spec!r}: {path} has no function {name!r}")
    return fn  # type: ignore[no-any-return]
