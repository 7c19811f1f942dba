"""Suites: task YAMLs, folders of them, and suite YAMLs listing them.

The task schema itself (``TaskSpec``, ``load_task``, ``metric_judge``) is ``promptlearn/task.py``,
shared with ``promptlearn optimize``; it is re-exported here for the bench's callers.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..data import read_text, yaml_load
from ..errors import ConfigError
from ..task import TaskSpec, load_task, metric_judge

__all__ = ["TaskSpec", "load_task", "load_suite", "metric_judge"]


def _bench_ready(task: TaskSpec) -> TaskSpec:
    """The bench scores every method on a held-out test set by the task's metric: both must exist."""
    if task.metric is None:
        raise ConfigError(f"task {task.name!r} ({task.source}): the bench scores the test set by metric:, "
                          f"and it is null")
    if not (task.data.test_path or (task.split is not None and task.split.test)):
        raise ConfigError(f"task {task.name!r} ({task.source}): the bench needs a test set (split.test, or "
                          f"data.test_path)")
    return task


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
            tasks.append(_bench_ready(load_task(path)))
    names = [t.name for t in tasks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"task names must be unique within a run; repeated: {duplicates}")
    return tasks
