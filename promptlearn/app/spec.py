"""``RunSpec``: the YAML config of ``promptlearn optimize``. It embeds ``OptimizeConfig`` unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import OptimizeConfig
from ..data import read_text, yaml_load
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..judges.base import Judge
    from ..llm import LLM
    from ..optimizer import PromptOptimizer
    from ..records import Example


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSpec(_Strict):
    train: int | float = 0.4
    val: int | float = 0.3
    test: int | float = 0.3
    seed: int = 0
    stratify: bool = False


class DataSpec(_Strict):
    path: str | None = Field(None, description="one file to split (jsonl, json, csv)")
    train_path: str | None = None
    val_path: str | None = None
    test_path: str | None = None
    inputs: list[str] | str
    reference: str | None = None
    id_column: str | None = None
    split: SplitSpec = Field(default_factory=SplitSpec)


class ModelSpec(_Strict):
    model: str
    api_base: str | None = None
    temperature: float = Field(0.0, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    deadline_s: float | None = Field(None, gt=0, description="seconds one call may take, retries included")


class AgentSpec(ModelSpec):
    user_template: str = "{{ input }}"
    first_line_only: bool = False


class JudgeSpec(_Strict):
    type: Literal["exact_match", "regex", "numeric", "json_schema", "llm", "library"]
    weight: float = 1.0
    name: str | None = None
    pattern: str | None = None           # regex
    abs_tol: float = 1e-6                # numeric
    schema_: dict[str, Any] | None = Field(None, alias="schema")  # json_schema
    rubric: str | None = None            # llm
    model: str | None = None             # llm, library: defaults to the optimizer model
    judge: str | None = None             # library: a judges/ name or a .yaml path (relative to the config)
    params: dict[str, Any] = {}          # library: the fields it needs (criteria, rules, ...)


class RunSpec(_Strict):
    data: DataSpec
    agent: AgentSpec
    optimizer: ModelSpec
    seed_prompt: str
    judges: list[JudgeSpec]
    optimize: OptimizeConfig = Field(default_factory=OptimizeConfig)
    run_dir: str | None = None

    @classmethod
    def from_yaml(cls, path: str | Path) -> "RunSpec":
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        if path.is_dir():
            raise ConfigError(f"{path} is a directory; give the path of a YAML config file")
        try:
            raw = yaml_load(read_text(path)) or {}
            if not isinstance(raw, dict):
                raise ConfigError(f"{path} must hold a YAML mapping (data:, agent:, ...), got {type(raw).__name__}")
            spec = cls.model_validate(raw)
        except ValidationError as exc:
            problems = "\n".join(f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{path} is not a valid promptlearn config:\n{problems}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None

        def beside_config(p: str | None) -> str | None:
            return str((path.parent / p).resolve()) if p and not Path(p).is_absolute() else p

        data = spec.data
        fix = {k: beside_config(getattr(data, k)) for k in ("path", "train_path", "val_path", "test_path")}
        judges = [j.model_copy(update={"judge": beside_config(j.judge)})
                  if j.judge and j.judge.endswith((".yaml", ".yml")) else j for j in spec.judges]
        return spec.model_copy(update={"data": data.model_copy(update=fix), "judges": judges})

    def build(self, *, deadline_s: float | None = None
              ) -> tuple[PromptOptimizer, list[Example], list[Example], list[Example]]:
        """Examples, optimizer and seed prompt described by this spec.

        ``deadline_s`` (the CLI's ``--deadline``) bounds every model call unless a model section sets its own.
        """
        from ..agents import ChatAgent, first_line
        from ..data import load_examples, split_examples
        from ..llm import LLM, Usage
        from ..optimizer import PromptOptimizer

        d = self.data

        def load(path: str) -> list[Example]:
            return load_examples(path, inputs=d.inputs, reference=d.reference, id_column=d.id_column)

        if d.path:
            s = d.split
            train, val, test = split_examples(load(d.path), [s.train, s.val, s.test], seed=s.seed, stratify=s.stratify)
        elif d.train_path and d.val_path:
            train, val = load(d.train_path), load(d.val_path)
            test = load(d.test_path) if d.test_path else []
            train, val = list(train), list(val)
        else:
            raise ConfigError("data needs either path (split by seed) or train_path and val_path")
        usage = Usage()
        agent_llm = LLM(self.agent.model, role="agent", api_base=self.agent.api_base,
                        temperature=self.agent.temperature, usage=usage, deadline_s=self.agent.deadline_s or deadline_s)
        agent = ChatAgent(agent_llm, self.agent.user_template, max_tokens=self.agent.max_tokens,
                          parse=first_line if self.agent.first_line_only else None)
        opt_llm = LLM(self.optimizer.model, role="optimizer", api_base=self.optimizer.api_base,
                      temperature=self.optimizer.temperature, usage=usage,
                      deadline_s=self.optimizer.deadline_s or deadline_s)

        judges, weights = build_judges(self.judges, default_llm=opt_llm, usage=usage, deadline_s=deadline_s)
        optimizer = PromptOptimizer(agent, judges, judge_weights=weights, optimizer_llm=opt_llm, config=self.optimize)
        return optimizer, train, val, test


def build_judges(specs: list[JudgeSpec], *, default_llm: LLM, usage: Any = None, deadline_s: float | None = None
                 ) -> tuple[list[Judge], list[float]]:
    """The judges and weights that ``judges:`` entries describe; LLM judges default to ``default_llm``."""
    from ..judges import ExactMatch, JSONSchemaJudge, LLMJudge, NumericTolerance, RegexMatch
    from ..llm import LLM

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
        else:
            if not j.rubric:
                raise ConfigError("an llm judge needs rubric")
            judge = LLMJudge(judge_llm(j), j.rubric, name=j.name or "llm_judge")
        judges.append(judge)
        weights.append(j.weight)
    return judges, weights


def _library_judge(j: JudgeSpec, llm: LLM) -> Judge:
    from ..judges import PairwiseJudge, load

    if not j.judge:
        raise ConfigError("a library judge needs judge: a name from `promptlearn judges list` or a .yaml path")
    judge = load(j.judge, llm, **({"name": j.name} if j.name else {}), **j.params)
    if isinstance(judge, PairwiseJudge):
        raise ConfigError(f"judge {j.judge!r} compares two outputs; a run's judges score one output each")
    return judge
