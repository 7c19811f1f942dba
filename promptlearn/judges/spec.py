"""``JudgeSpec``: one ``judges:`` entry of a task YAML, and the judges such entries build.

Read through ``promptlearn/task.py`` (``task_judges``), the task schema ``promptlearn optimize`` and
``promptlearn bench`` share, so both read judges the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..llm import LLM
    from .base import Judge


class JudgeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["exact_match", "regex", "numeric", "json_schema", "llm", "library", "function"]
    weight: float = 1.0
    name: str | None = None
    pattern: str | None = None           # regex
    abs_tol: float = 1e-6                # numeric
    schema_: dict[str, Any] | None = Field(None, alias="schema")  # json_schema
    rubric: str | None = None            # llm
    model: str | None = None             # llm, library: defaults to the optimizer model
    judge: str | None = None             # library: a judges/ name or a .yaml path (relative to the config)
    params: dict[str, Any] = {}          # library: the fields it needs (criteria, rules, ...)
    function: str | None = None          # function: 'path/to/file.py:name', fn(example, output) -> score,
    #                                      (score, explanation) or Critique; the path relative to the task file


def build_judges(specs: list[JudgeSpec], *, default_llm: LLM, usage: Any = None, deadline_s: float | None = None
                 ) -> tuple[list[Judge], list[float]]:
    """The judges and weights that ``judges:`` entries describe; LLM judges default to ``default_llm``."""
    from ..llm import LLM
    from .code import ExactMatch, FunctionJudge, JSONSchemaJudge, NumericTolerance, RegexMatch, code_function
    from .llm import LLMJudge

    def judge_llm(j: JudgeSpec) -> LLM:
        return LLM(j.model, role="judge", usage=usage, deadline_s=deadline_s) if j.model \
            else default_llm.with_role("judge")

    judges: list[Judge] = []
    weights: list[float] = []
    for j in specs:
        judge: Judge
        if j.type == "exact_match":
            judge = ExactMatch(name=j.name or "exact_match")
        elif j.type == "regex":
            if not j.pattern:
                raise ConfigError("a regex judge needs pattern")
            judge = RegexMatch(j.pattern, name=j.name or "regex")
        elif j.type == "numeric":
            judge = NumericTolerance(name=j.name or "numeric", abs_tol=j.abs_tol)
        elif j.type == "json_schema":
            if not j.schema_:
                raise ConfigError("a json_schema judge needs schema")
            judge = JSONSchemaJudge(j.schema_, name=j.name or "json_schema")
        elif j.type == "library":
            judge = _library_judge(j, judge_llm(j))
        elif j.type == "function":
            if not j.function:
                raise ConfigError("a function judge needs function: 'path/to/file.py:name'")
            fn = code_function(j.function, Path.cwd(), field="function")
            judge = FunctionJudge(fn, name=j.name or j.function.rpartition(":")[2])
        else:
            if not j.rubric:
                raise ConfigError("an llm judge needs rubric")
            judge = LLMJudge(judge_llm(j), j.rubric, name=j.name or "llm_judge")
        judges.append(judge)
        weights.append(j.weight)
    return judges, weights


def _library_judge(j: JudgeSpec, llm: LLM) -> Judge:
    from .library import PairwiseJudge, load

    if not j.judge:
        raise ConfigError("a library judge needs judge: a name from `promptlearn judges list` or a .yaml path")
    judge = load(j.judge, llm, **({"name": j.name} if j.name else {}), **j.params)
    if isinstance(judge, PairwiseJudge):
        raise ConfigError(f"judge {j.judge!r} compares two outputs; a run's judges score one output each")
    return judge
