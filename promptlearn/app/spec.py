"""``RunSpec``: the YAML config of ``promptlearn optimize``. It embeds ``OptimizeConfig`` unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import OptimizeConfig
from ..data import read_text, yaml_load
from ..errors import ConfigError
from ..judges.spec import JudgeSpec, build_judges

if TYPE_CHECKING:
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
