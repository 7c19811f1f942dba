"""A task as data: the one YAML schema ``promptlearn optimize`` and ``promptlearn bench`` read.

A task names its data (paths relative to the YAML file; ``${VAR}`` is expanded): one file split by
``split:``, or files already split (``train_path``, ``val_path``, ``test_path``); the fields the agent
sees, the seed prompt, the agent's template and answer parsing, the judges the optimizer gets, and
the ground-truth ``metric`` the bench scores the test set with. Which models run it is not part of
the task (``promptlearn optimize``'s ``models:``, ``promptlearn bench``'s flags). Every problem is a
ConfigError naming the file and the field; nothing here calls a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ._templating import render
from .data import load_examples, read_text, split_examples, yaml_load
from .errors import ConfigError
from .records import Example

if TYPE_CHECKING:
    from .agents import Agent
    from .judges.base import Judge
    from .llm import LLM, Usage

#: ``metric:`` names with a built-in meaning; anything else is ``path/to/file.py:function``.
BUILTIN_METRICS = ("exact_match", "numeric", "contains")
#: Data fields that name files; read relative to the task YAML.
DATA_FILES = ("path", "train_path", "val_path", "test_path")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskData(_Strict):
    path: str | None = Field(None, description="one file to split by split: (JSONL, CSV, or JSON list, BBH's "
                                                "{examples: [...]} too), relative to the YAML")
    train_path: str | None = Field(None, description="files already split: train_path and val_path (test_path "
                                                      "optional) instead of path")
    val_path: str | None = None
    test_path: str | None = None
    inputs: list[str] | str
    reference: str | None = Field(None, description="the truth column; none for judge-only tasks")
    id_column: str | None = None
    metadata: list[str] = Field(default_factory=list, description="columns a code metric or judge reads")
    labels: list[str] | None = Field(None, description="keep only rows whose reference is one of these")
    reference_pattern: str | None = Field(None, description=r"regex whose group 1 is the truth, e.g. '####\s*(.+)$'")

    def files(self) -> list[str]:
        return [f for f in (getattr(self, k) for k in DATA_FILES) if f]


class TaskSplit(_Strict):
    """Counts, or fractions in (0, 1], of the one data file; a seed decides which examples go where."""

    train: int | float = Field(gt=0)
    val: int | float = Field(gt=0)
    test: int | float = Field(0, ge=0, description="0: no test set (promptlearn bench needs one)")
    stratify: bool = True


class TaskStep(_Strict):
    """One step of a multi-step agent (``PipelineAgent``): its component and user template."""

    component: str
    user_template: str
    max_tokens: int | None = Field(None, ge=1)


#: What engines that need a number (transformers' generate, GRPO) generate for ``max_tokens: null``.
UNSET_MAX_TOKENS_CAP = 256


class TaskAgent(_Strict):
    user_template: str = "{{ input }}"
    max_tokens: int | None = Field(16, ge=1, description="null: the model's own limit")

    @property
    def parser(self) -> Callable[[str], str] | None:
        """``parse`` as the callable agents take: ``first_line``, or None for the whole reply."""
        from .agents import first_line

        return first_line if self.parse == "first_line" else None

    @property
    def token_cap(self) -> int:
        """``max_tokens``, or a fixed cap where it is unset, for engines that need a number."""
        return self.max_tokens or UNSET_MAX_TOKENS_CAP

    parse: Literal["first_line", "whole"] = "first_line"
    answer_pattern: str | None = Field(None, description=r"regex with one group, e.g. 'Answer:\s*(.+)'")
    steps: list[TaskStep] | None = Field(None, description="several prompts, one chat call each (seed_prompt then "
                                                            "maps each component to its seed)")


#: A task name becomes a folder under the results' cell folder: a name like ``../../x`` must not
#: write outside it (issue 29), so names are plain words.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,99}$")


class TaskSpec(_Strict):
    """One task. ``source`` is the YAML it came from (set by ``load_task``)."""

    name: str = Field(pattern=SAFE_NAME.pattern,
                      description="letters, digits, '.', '_' and '-' (it names the task's folder of cells)")
    description: str = ""
    data: TaskData
    split: TaskSplit | None = Field(None, description="how data.path is split; not used with train_path/val_path")
    agent: TaskAgent = Field(default_factory=TaskAgent)
    seed_prompt: str | dict[str, str]
    judges: list[Any] = Field(default_factory=lambda: [{"type": "exact_match"}])
    metric: str | None = Field("exact_match", description="what the bench scores the test set with; null for a "
                                                           "task only promptlearn optimize runs (judges only)")
    metric_abs_tol: float = 1e-6
    kind: str = Field("", description="free label for reports: classification, multiple_choice, numeric, ...")
    source: str = ""
    _fingerprint: str | None = PrivateAttr(None)  # the data files are hashed once per loaded task

    def _rows(self, path: str) -> list[Example]:
        d = self.data
        rows = load_examples(path, inputs=d.inputs, reference=d.reference, id_column=d.id_column, metadata=d.metadata)
        if d.reference_pattern:
            rows = [_extract_reference(e, d.reference_pattern, self.name) for e in rows]
        if d.labels is not None:
            keep = set(d.labels)
            rows = [e for e in rows if str(e.reference) in keep]
            if not rows:
                raise ConfigError(f"task {self.name!r}: no rows of {path} have a reference in labels {d.labels}")
        return rows

    def examples(self) -> list[Example]:
        """Every example of the task: the one data file, or the split files one after another."""
        return [e for path in self.data.files() for e in self._rows(path)]

    def splits(self, seed: int) -> tuple[list[Example], list[Example], list[Example]]:
        """The (train, val, test) of ``seed``: every method of a cell gets exactly these. Files already
        split are the same for every seed; test is empty when the task has none."""
        d, s = self.data, self.split
        if d.path is None:
            return (self._rows(d.train_path or ""), self._rows(d.val_path or ""),
                    self._rows(d.test_path) if d.test_path else [])
        assert s is not None  # _check_layout: a data.path comes with a split
        sizes = [s.train, s.val, *([s.test] if s.test else [])]
        try:
            parts = split_examples(self.examples(), sizes, seed=seed,
                                   stratify=s.stratify and self.data.reference is not None)
        except ConfigError as exc:
            raise ConfigError(f"task {self.name!r}: {exc}") from None
        return parts[0], parts[1], parts[2] if s.test else []

    def check(self) -> None:
        """What can be checked without a model: data, split sizes, templates against the data, the metric."""
        self._check_layout()
        examples = self.examples()
        s = self.split
        if s is not None and all(isinstance(n, int) for n in (s.train, s.val, s.test)):
            needed = s.train + s.val + s.test
            if needed > len(examples):
                raise ConfigError(f"task {self.name!r}: split sizes need {needed} examples; {self.data.path} has "
                                  f"{len(examples)}")
        steps = self.agent.steps or []
        if steps and (not isinstance(self.seed_prompt, dict) or
                      sorted(self.seed_prompt) != sorted(s.component for s in steps)):
            raise ConfigError(f"task {self.name!r}: agent.steps needs seed_prompt to map each step's component to its "
                              f"seed prompt ({[s.component for s in steps]})")
        if not steps and not isinstance(self.seed_prompt, str):
            raise ConfigError(f"task {self.name!r}: seed_prompt with several components needs agent.steps")
        seeds = self.seed_prompt if isinstance(self.seed_prompt, dict) else {"seed_prompt": self.seed_prompt}
        for example in examples[:50]:
            variables = dict(example.inputs)
            templates: list[tuple[str, str, str | None]] = [
                (f"agent.steps[{s.component}].user_template", s.user_template, s.component) for s in steps] \
                or [("agent.user_template", self.agent.user_template, None)]
            templates += [(f"seed_prompt[{name}]" if steps else name, text, None) for name, text in seeds.items()]
            for what, template, produces in templates:
                try:
                    render(template, variables, what=what)
                except ConfigError as exc:
                    raise ConfigError(f"task {self.name!r}, example {example.id!r}: {exc}") from None
                if produces:
                    variables[produces] = "..."  # later steps read this step's output
        if self.metric is not None:
            metric_judge(self)
            if self.metric in BUILTIN_METRICS and self.data.reference is None:
                raise ConfigError(f"task {self.name!r}: metric {self.metric!r} needs data.reference (the truth "
                                  f"column), or metric: null for a judge-only task")

    def _check_layout(self) -> None:
        d = self.data
        if d.path and (d.train_path or d.val_path or d.test_path):
            raise ConfigError(f"task {self.name!r}: data needs either path (split by split:) or train_path and "
                              f"val_path, not both")
        if d.path and self.split is None:
            raise ConfigError(f"task {self.name!r}: data.path needs split: (train, val, test sizes)")
        if not d.path and not (d.train_path and d.val_path):
            raise ConfigError(f"task {self.name!r}: data needs either path (split by split:) or train_path and "
                              f"val_path")
        if not d.path and self.split is not None:
            raise ConfigError(f"task {self.name!r}: split: applies to data.path; train_path and val_path are "
                              f"already split")

    def fingerprint(self) -> str:
        """Changes when anything that decides a score changes: the data files' bytes, the split, templates,
        seed prompt, judges and metric; not where the data files lie, nor an optional field left unset
        (a new TaskSpec field must default to None, or every recorded cell stops matching its task).
        Results recorded under earlier forms of it: ``benchmarks/migrate_results.py`` rewrites them."""
        if self._fingerprint is None:
            data = b"".join(Path(f).read_bytes() for f in self.data.files())
            canonical = self.model_dump(exclude={"source"}, exclude_none=True)
            for key in DATA_FILES:
                canonical["data"].pop(key, None)
            self._fingerprint = _digest(canonical, data)
        return self._fingerprint


def _digest(body: dict[str, Any], data: bytes) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode())
    digest.update(data)
    return digest.hexdigest()[:16]


def _extract_reference(example: Example, pattern: str, task: str) -> Example:
    try:
        match = re.search(pattern, str(example.reference), flags=re.S)
    except re.error as exc:
        raise ConfigError(f"task {task!r}: data.reference_pattern {pattern!r} is not a valid regex ({exc})") from None
    if match is None or not match.groups():
        raise ConfigError(f"task {task!r}: data.reference_pattern {pattern!r} finds no group in the reference of "
                          f"example {example.id!r}")
    return example.model_copy(update={"reference": match.group(1).strip()})


def metric_judge(task: TaskSpec) -> Any:
    """The ground-truth scorer of ``task`` as a Judge (its name is ``metric``)."""
    from .judges import ExactMatch, FunctionJudge, NumericTolerance
    from .judges.code import code_function

    if task.metric is None:
        raise ConfigError(f"task {task.name!r} has no metric: (the test set is scored by it)")
    if task.metric == "exact_match":
        return ExactMatch(name="metric")
    if task.metric == "numeric":
        return NumericTolerance(name="metric", abs_tol=task.metric_abs_tol)
    if task.metric == "contains":
        def contains(example: Example, output: str) -> float:
            return float(str(example.reference).strip().lower() in output.lower())
        return FunctionJudge(contains, name="metric")
    base = Path(task.source).parent if task.source else Path.cwd()
    return FunctionJudge(code_function(task.metric, base, choices=f"one of {BUILTIN_METRICS} or "), name="metric")


def task_agent(task: TaskSpec, llm: LLM) -> Agent:
    """The agent ``task`` describes over ``llm``: a ChatAgent, or a PipelineAgent for ``agent.steps``."""
    from .agents import ChatAgent
    from .pipeline import PipelineAgent, Step

    parse = task.agent.parser
    if task.agent.steps:
        steps = [Step(s.component, s.user_template, s.max_tokens or task.agent.max_tokens) for s in task.agent.steps]
        return PipelineAgent(llm, steps, parse=parse, answer_pattern=task.agent.answer_pattern)
    return ChatAgent(llm, task.agent.user_template, max_tokens=task.agent.max_tokens, parse=parse,
                     answer_pattern=task.agent.answer_pattern)


def task_judges(task: TaskSpec, rewriter: LLM, usage: Usage | None = None, *, deadline_s: float | None = None
                ) -> tuple[list[Judge], list[float]]:
    """The optimizer's judges and their weights; LLM judges without a ``model`` use ``rewriter``."""
    from .judges.spec import JudgeSpec, build_judges

    specs = [JudgeSpec.model_validate(j) for j in task.judges]
    return build_judges(specs, default_llm=rewriter, usage=usage, deadline_s=deadline_s)


def load_task(path: str | Path) -> TaskSpec:
    """Read and check one task YAML (no model calls). Relative paths are taken from the YAML's folder."""
    path = Path(path)
    return task_from_mapping(read_mapping(path, kind="task", hint="name:, data:, ..."), path)


def read_mapping(path: Path, *, kind: str, hint: str) -> dict[str, Any]:
    """The YAML mapping in ``path``; a ConfigError naming the ``kind`` of file (and what it holds) otherwise."""
    if not path.exists():
        raise ConfigError(f"{kind} file not found: {path}")
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; give the path of a {kind} YAML file")
    try:
        raw = yaml_load(read_text(path)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a YAML mapping ({hint}), got {type(raw).__name__}")
    return raw


def task_from_mapping(raw: dict[str, Any], path: Path) -> TaskSpec:
    """A checked TaskSpec from a task's YAML mapping read from ``path`` (its name defaults to the file's
    stem; data files and judge YAMLs are read relative to the file's folder)."""
    raw = {"name": path.stem, **raw}
    try:
        task = TaskSpec.model_validate({**raw, "source": str(path.resolve())})
    except ValidationError as exc:
        problems = "\n".join(f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path} is not a valid task:\n{problems}") from None
    files = {}
    for key in DATA_FILES:
        if (value := getattr(task.data, key)) is None:
            continue
        data_path = Path(os.path.expandvars(value))
        data_path = data_path if data_path.is_absolute() else (path.parent / data_path)
        if not data_path.exists():
            raise ConfigError(f"{path}: dataset file not found: {data_path} (data.{key}); it does not exist")
        files[key] = str(data_path.resolve())
    judges = [_beside(j, path.parent) for j in task.judges]
    task = task.model_copy(update={"data": task.data.model_copy(update=files), "judges": judges})
    _check_judge_entries(task, path)
    task.check()
    return task


def _beside(entry: Any, base: Path) -> Any:
    """Library judges given as a .yaml path, and function judges' .py files, are read from beside the task file."""
    if isinstance(entry, dict) and str(entry.get("judge", "")).endswith((".yaml", ".yml")):
        judge = Path(entry["judge"])
        return {**entry, "judge": str(judge if judge.is_absolute() else (base / judge).resolve())}
    if isinstance(entry, dict) and entry.get("type") == "function" and isinstance(entry.get("function"), str):
        from .judges.code import function_path

        found = function_path(entry["function"], base)
        if found is not None:  # a malformed spec stays as written, for _check_judge_entries to report
            return {**entry, "function": f"{found[0].resolve()}:{found[1]}"}
    return entry


def _check_judge_entries(task: TaskSpec, path: Path) -> None:
    from .judges.spec import JudgeSpec

    if not task.judges:
        raise ConfigError(f"{path}: judges: needs at least one entry (the optimizer's signal)")
    for i, entry in enumerate(task.judges):
        try:
            JudgeSpec.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{path}: judges[{i}] is not a valid judge entry ({problems})") from None
        if entry.get("type") == "function":  # a missing file or name fails here, before any rollout
            from .judges.code import code_function

            code_function(str(entry.get("function") or ""), path.parent, field=f"judges[{i}].function")
