"""What the fixed-prompt probes (``demo_choice.py``, ``format_wording.py``, ``rule_ablation.py``, ...) share: the
bench's agent and judges (or its ground-truth metric) for a task on the local 0.5B, and appending a result row
stamped with the commit."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

from promptlearn import OptimizeConfig, PromptOptimizer
from promptlearn.bench.cell import default_llm_factory
from promptlearn.bench.task import TaskSpec
from promptlearn.config import DEFAULT_AGENT_MODEL
from promptlearn.llm import Usage
from promptlearn.records import Example
from promptlearn.task import metric_judge, task_agent, task_judges


def task_optimizer(task: TaskSpec, seed: int) -> PromptOptimizer:
    """An optimizer that scores prompts as the bench's cells do (model calls through the shared cache)."""
    usage = Usage()
    llm = default_llm_factory()(DEFAULT_AGENT_MODEL, "agent", usage, None)
    judges, weights = task_judges(task, llm, usage)
    return PromptOptimizer(task_agent(task, llm), judges, judge_weights=weights, optimizer_llm=llm,
                           config=OptimizeConfig(seed=seed))


def metric_scorer(task: TaskSpec, cache: Path) -> PromptOptimizer:
    """An optimizer that scores prompts as the bench scores a test set: the task's agent on the local 0.5B and its
    ground-truth metric (``bench.cell``), model calls cached at ``cache``."""
    llm = default_llm_factory()(DEFAULT_AGENT_MODEL, "agent", Usage(), cache)
    return PromptOptimizer(task_agent(task, llm), metric_judge(task), optimizer_llm=llm)


def train_and_dev(task: TaskSpec, seed: int, n_dev: int) -> tuple[list[Example], list[Example]]:
    """The cell's training split for ``seed``, and ``n_dev`` examples of the task's data in none of the cell's splits
    (drawn with ``random.Random(seed)``), so that no test example informs what a probe finds."""
    train, val, test = task.splits(seed)
    used = {e.id for e in [*train, *val, *test]}
    return train, random.Random(seed).sample([e for e in task.examples() if e.id not in used], n_dev)


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def append_row(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
