"""Benchmark tasks as data: a YAML file anyone can write, and suites of them.

A task names its data (paths relative to the YAML file; ``${VAR}`` is expanded), the fields
the agent sees, the seed prompt, the agent's template and answer parsing, the judges the
optimizer gets (``judges:`` entries as in ``promptlearn optimize``), the ground-truth
``metric`` the test set is scored with, and the split. Every problem is a ConfigError naming
the file and the field; nothing here calls a model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from .._templating import render
from ..data import load_examples, read_text, split_examples, yaml_load
from ..errors import ConfigError
from ..records import Example

#: ``metric:`` names with a built-in meaning; anything else is ``path/to/file.py:function``.
BUILTIN_METRICS = ("exact_match", "numeric", "contains")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskData(_Strict):
    path: str = Field(description="JSONL, CSV, or JSON list (BBH's {examples: [...]} too), relative to the YAML")
    inputs: list[str] | str
    reference: str | None = Field(None, description="the truth column; none for judge-only tasks")
    id_column: str | None = None
    metadata: list[str] = Field(default_factory=list, description="columns a code metric or judge reads")
    labels: list[str] | None = Field(None, description="keep only rows whose reference is one of these")
    reference_pattern: str | None = Field(None, description=r"regex whose group 1 is the truth, e.g. '####\s*(.+)$'")


class TaskSplit(_Strict):
    train: int = Field(gt=0)
    val: int = Field(gt=0)
    test: int = Field(gt=0)
    stratify: bool = True


class TaskStep(_Strict):
    """One step of a multi-step agent (``PipelineAgent``): its component and user template."""

    component: str
    user_template: str
    max_tokens: int | None = Field(None, ge=1)


class TaskAgent(_Strict):
    user_template: str = "{{ input }}"
    max_tokens: int = Field(16, ge=1)
    parse: Literal["first_line", "whole"] = "first_line"
    answer_pattern: str | None = Field(None, description=r"regex with one group, e.g. 'Answer:\s*(.+)'")
    steps: list[TaskStep] | None = Field(None, description="several prompts, one chat call each (seed_prompt then "
                                                            "maps each component to its seed)")


#: A task name becomes a folder under the results' cell folder: a name like ``../../x`` must not
#: write outside it (issue 29), so names are plain words.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,99}$")


class TaskSpec(_Strict):
    """One benchmark task. ``source`` is the YAML it came from (set by ``load_task``)."""

    name: str = Field(pattern=SAFE_NAME.pattern,
                      description="letters, digits, '.', '_' and '-' (it names the task's folder of cells)")
    description: str
    data: TaskData
    split: TaskSplit
    agent: TaskAgent = Field(default_factory=TaskAgent)
    seed_prompt: str | dict[str, str]
    judges: list[Any] = Field(default_factory=lambda: [{"type": "exact_match"}])
    metric: str = "exact_match"
    metric_abs_tol: float = 1e-6
    kind: str = Field("", description="free label for reports: classification, multiple_choice, numeric, ...")
    source: str = ""
    _fingerprints: tuple[str, ...] | None = PrivateAttr(None)  # the data file is hashed once per loaded task

    def examples(self) -> list[Example]:
        d = self.data
        rows = load_examples(d.path, inputs=d.inputs, reference=d.reference, id_column=d.id_column, metadata=d.metadata)
        if d.reference_pattern:
            rows = [_extract_reference(e, d.reference_pattern, self.name) for e in rows]
        if d.labels is not None:
            keep = set(d.labels)
            rows = [e for e in rows if str(e.reference) in keep]
            if not rows:
                raise ConfigError(f"task {self.name!r}: no rows of {d.path} have a reference in labels {d.labels}")
        return rows

    def splits(self, seed: int) -> tuple[list[Example], list[Example], list[Example]]:
        """The (train, val, test) of ``seed``: every method of a cell gets exactly these."""
        s = self.split
        try:
            train, val, test = split_examples(self.examples(), [s.train, s.val, s.test], seed=seed,
                                              stratify=s.stratify and self.data.reference is not None)
        except ConfigError as exc:
            raise ConfigError(f"task {self.name!r}: {exc}") from None
        return train, val, test

    def check(self) -> None:
        """What can be checked without a model: data, split sizes, templates against the data, the metric."""
        examples = self.examples()
        needed = self.split.train + self.split.val + self.split.test
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
        metric_judge(self)
        if self.metric in BUILTIN_METRICS and self.data.reference is None:
            raise ConfigError(f"task {self.name!r}: metric {self.metric!r} needs data.reference (the truth column)")

    def fingerprint(self) -> str:
        """Changes when anything that decides a score changes: the data file's bytes, the split, templates,
        seed prompt, judges and metric; not where the data file lies, nor an optional field left unset
        (a new TaskSpec field must default to None, or every recorded cell stops matching its task)."""
        return self.fingerprints()[0]

    def fingerprints(self) -> tuple[str, ...]:
        """This task's fingerprint, then the ones earlier versions computed for the same task, so their
        results files still resume and compare: until ``abb80cb`` the hash took the absolute data path
        and unset fields; before ``d6ff750`` the agent had no ``steps`` field."""
        if self._fingerprints is None:
            data = Path(self.data.path).read_bytes()
            canonical = self.model_dump(exclude={"source"}, exclude_none=True)
            del canonical["data"]["path"]
            with_path = self.model_dump(exclude={"source"})
            before_steps = self.model_dump(exclude={"source"})
            if before_steps["agent"].get("steps") is None:
                del before_steps["agent"]["steps"]
            self._fingerprints = tuple(dict.fromkeys(_digest(body, data) for body in (canonical, with_path, before_steps)))
        return self._fingerprints


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


def _code_metric(spec: str, base: Path) -> Callable[[Example, str], Any]:
    path_text, _, name = spec.rpartition(":")
    path = Path(os.path.expandvars(path_text))
    path = path if path.is_absolute() else base / path
    if not path_text or not name or path.suffix != ".py":
        raise ConfigError(f"metric {spec!r}: use one of {BUILTIN_METRICS} or 'path/to/file.py:function'")
    if not path.exists():
        raise ConfigError(f"metric {spec!r}: {path} does not exist")
    module_spec = importlib.util.spec_from_file_location(f"promptlearn_metric_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"metric {spec!r}: cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module: any error it raises is theirs to fix
        raise ConfigError(f"metric {spec!r}: importing {path} failed: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"metric {spec!r}: {path} has no function {name!r}")
    return fn  # type: ignore[no-any-return]


def metric_judge(task: TaskSpec) -> Any:
    """The ground-truth scorer of ``task`` as a Judge (its name is ``metric``)."""
    from ..judges import ExactMatch, FunctionJudge, NumericTolerance

    if task.metric == "exact_match":
        return ExactMatch(name="metric")
    if task.metric == "numeric":
        return NumericTolerance(name="metric", abs_tol=task.metric_abs_tol)
    if task.metric == "contains":
        def contains(example: Example, output: str) -> float:
            return float(str(example.reference).strip().lower() in output.lower())
        return FunctionJudge(contains, name="metric")
    base = Path(task.source).parent if task.source else Path.cwd()
    return FunctionJudge(_code_metric(task.metric, base), name="metric")


def load_task(path: str | Path) -> TaskSpec:
    """Read and check one task YAML (no model calls). Relative paths are taken from the YAML's folder."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"task file not found: {path}")
    try:
        raw = yaml_load(read_text(path)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a YAML mapping (name:, data:, ...), got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    try:
        task = TaskSpec.model_validate({**raw, "source": str(path.resolve())})
    except ValidationError as exc:
        problems = "\n".join(f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path} is not a valid task:\n{problems}") from None
    data_path = Path(os.path.expandvars(task.data.path))
    data_path = data_path if data_path.is_absolute() else (path.parent / data_path)
    if not data_path.exists():
        raise ConfigError(f"{path}: data file {data_path} does not exist")
    judges = [_beside(j, path.parent) for j in task.judges]
    task = task.model_copy(update={"data": task.data.model_copy(update={"path": str(data_path.resolve())}),
                                   "judges": judges})
    _check_judge_entries(task, path)
    task.check()
    return task


def _beside(entry: Any, base: Path) -> Any:
    """Library judges given as a .yaml path are read from beside the task file."""
    if isinstance(entry, dict) and str(entry.get("judge", "")).endswith((".yaml", ".yml")):
        judge = Path(entry["judge"])
        return {**entry, "judge": str(judge if judge.is_absolute() else (base / judge).resolve())}
    return entry


def _check_judge_entries(task: TaskSpec, path: Path) -> None:
    from ..judges.spec import JudgeSpec

    if not task.judges:
        raise ConfigError(f"{path}: judges: needs at least one entry (the optimizer's signal)")
    for i, entry in enumerate(task.judges):
        try:
            JudgeSpec.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{path}: judges[{i}] is not a valid judge entry ({problems})") from None


def load_suite(targets: list[str | Path], _within: tuple[Path, ...] = ()) -> list[TaskSpec]:
    """Tasks from task YAMLs, folders of them, and suite YAMLs (``tasks:`` a list of paths).

    A suite that lists itself, or two that list each other, is a ConfigError naming the cycle.
    """
    tasks: list[TaskSpec] = []
    for target in targets:
        path = Path(target)
        if path.exists() and path.resolve() in _within:
            cycle = " -> ".join(str(p) for p in (*_within, path.resolve()))
            raise ConfigError(f"suite {path} includes itself ({cycle})")
        if path.is_dir():
            files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not files:
                raise ConfigError(f"suite folder {path} holds no .yaml task files")
            tasks.extend(load_suite(list(files), (*_within, path.resolve())))
            continue
        if not path.exists():
            raise ConfigError(f"task or suite file not found: {path}")
        try:
            raw = yaml_load(read_text(path)) if path.suffix in (".yaml", ".yml") else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if isinstance(raw, dict) and set(raw) <= {"tasks", "description"} and "tasks" in raw:
            entries = raw["tasks"]
            if not isinstance(entries, list) or not entries:
                raise ConfigError(f"suite {path}: tasks: must be a non-empty list of task YAML paths")
            if any(not isinstance(p, str) for p in entries):
                raise ConfigError(f"suite {path}: tasks: must list task YAML paths (strings)")
            tasks.extend(load_suite([p if Path(p).is_absolute() else path.parent / p for p in entries],
                                    (*_within, path.resolve())))
        else:
            tasks.append(load_task(path))
    names = [t.name for t in tasks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"task names must be unique within a run; repeated: {duplicates}")
    return tasks
