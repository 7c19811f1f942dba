"""``RunSpec``: what ``promptlearn optimize CONFIG.yaml`` runs: a task, the models, ``OptimizeConfig``.

The task is the one task schema (``promptlearn/task.py``, the same YAML ``promptlearn bench`` runs),
so a config file is one of:

* a task file alone (``promptlearn optimize benchmarks/suites/tasks/snips.yaml``): the local models run it;
* a task's fields plus any of ``models:``, ``optimize:``, ``split_seed:``, ``run_dir:`` in one file;
* ``task: path/to/task.yaml`` (relative to the config) plus those run settings;
* the layout before the task schema was shared (``data:`` with ``split:`` inside, ``agent: {model: ...}``,
  ``optimizer:``), read by ``_from_run_layout`` so configs written for earlier versions keep working.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..config import DEFAULT_AGENT_MODEL, DEFAULT_REWRITER_MODEL, OptimizeConfig
from ..errors import ConfigError
from ..task import TaskSpec, load_task, read_mapping, task_agent, task_from_mapping, task_judges

if TYPE_CHECKING:
    from ..optimizer import PromptOptimizer
    from ..records import Example

#: Keys a config file may hold beside a task's own fields.
RUN_KEYS = ("models", "optimize", "split_seed", "run_dir")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    model: str
    api_base: str | None = None
    temperature: float = Field(0.0, ge=0)
    deadline_s: float | None = Field(None, gt=0, description="seconds one call may take, retries included")


class Models(_Strict):
    """Who runs the task: ``agent`` answers, ``optimizer`` explains failures and rewrites (and is the
    default model of LLM judges). Each is a model string or a ModelSpec mapping."""

    agent: ModelSpec = ModelSpec(model=DEFAULT_AGENT_MODEL)
    optimizer: ModelSpec = ModelSpec(model=DEFAULT_REWRITER_MODEL)

    @field_validator("agent", "optimizer", mode="before")
    @classmethod
    def _model_string(cls, value: Any) -> Any:
        return {"model": value} if isinstance(value, str) else value


class RunSpec(_Strict):
    task: TaskSpec
    models: Models = Models()
    optimize: OptimizeConfig = Field(default_factory=OptimizeConfig)
    split_seed: int = Field(0, description="which examples of data.path go to train / val / test")
    run_dir: str | None = None

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunSpec:
        path = Path(path)
        raw = read_mapping(path, kind="config", hint="a task's name:, data:, ... or task:")
        if _is_run_layout(raw):
            raw = _from_run_layout(raw)
        run = {k: raw.pop(k) for k in RUN_KEYS if k in raw}
        if "task" in raw:
            entry = raw.pop("task")
            if raw:
                raise ConfigError(f"{path}: with task: the other keys must be run settings ({', '.join(RUN_KEYS)}); "
                                  f"got {sorted(raw)}")
            if isinstance(entry, str):
                task_path = Path(entry) if Path(entry).is_absolute() else path.parent / entry
                task = load_task(task_path)
            elif isinstance(entry, dict):
                task = task_from_mapping(entry, path)
            else:
                raise ConfigError(f"{path}: task: must be a task YAML path or a task mapping")
        else:
            task = task_from_mapping(raw, path)
        try:
            return cls.model_validate({"task": task, **run})
        except ValidationError as exc:
            problems = "\n".join(f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{path} is not a valid promptlearn config:\n{problems}") from None

    def with_models(self, *, agent: str | None = None, optimizer: str | None = None) -> RunSpec:
        """This spec with the named models swapped in (the CLI's ``--agent`` / ``--rewriter``)."""
        update = {role: ModelSpec(model=model) for role, model in (("agent", agent), ("optimizer", optimizer)) if model}
        return self.model_copy(update={"models": self.models.model_copy(update=update)}) if update else self

    @property
    def seed_prompt(self) -> str | dict[str, str]:
        return self.task.seed_prompt

    def build(self, *, deadline_s: float | None = None
              ) -> tuple[PromptOptimizer, list[Example], list[Example], list[Example]]:
        """The optimizer and the (train, val, test) examples this spec describes.

        ``deadline_s`` (the CLI's ``--deadline``) bounds every model call unless a model section sets its own.
        """
        from ..llm import LLM, Usage
        from ..optimizer import PromptOptimizer

        train, val, test = self.task.splits(self.split_seed)
        usage = Usage()

        def llm(spec: ModelSpec, role: str) -> LLM:
            return LLM(spec.model, role=role, api_base=spec.api_base, temperature=spec.temperature, usage=usage,
                       deadline_s=spec.deadline_s or deadline_s)

        opt_llm = llm(self.models.optimizer, "optimizer")
        judges, weights = task_judges(self.task, opt_llm, usage, deadline_s=deadline_s)
        optimizer = PromptOptimizer(task_agent(self.task, llm(self.models.agent, "agent")), judges,
                                    judge_weights=weights, optimizer_llm=opt_llm, config=self.optimize)
        return optimizer, train, val, test


def _is_run_layout(raw: dict[str, Any]) -> bool:
    """The layout before the shared task schema: models inside ``agent:``, an ``optimizer:`` section."""
    agent = raw.get("agent")
    return "optimizer" in raw or (isinstance(agent, dict) and "model" in agent)


def _from_run_layout(raw: dict[str, Any]) -> dict[str, Any]:
    """That layout as a task plus run settings; every field keeps its meaning (and its old default)."""
    raw = dict(raw)
    data = dict(raw.pop("data", None) or {})
    split = dict(data.pop("split", None) or {})
    agent = dict(raw.pop("agent", None) or {})
    model_keys = ("model", "api_base", "temperature", "deadline_s")
    models = {"agent": {k: agent.pop(k) for k in model_keys if k in agent}}
    if "optimizer" in raw:
        optimizer = raw.pop("optimizer")
        if isinstance(optimizer, dict):  # its max_tokens was accepted and never used
            optimizer = {k: v for k, v in optimizer.items() if k != "max_tokens"}
        models["optimizer"] = optimizer
    if "split_seed" not in raw and "seed" in split:
        raw["split_seed"] = split.pop("seed")
    if data.get("path"):
        raw["split"] = {"train": 0.4, "val": 0.3, "test": 0.3, "stratify": False, **split}
    if "first_line_only" in agent:
        agent["parse"] = "first_line" if agent.pop("first_line_only") else "whole"
    agent = {"max_tokens": None, "parse": "whole", **agent}
    metric = {} if data.get("reference") else {"metric": None}
    models.update(raw.pop("models", None) or {})
    return {**raw, **metric, "data": data, "agent": agent, "models": models}
