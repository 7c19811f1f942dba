"""Run a suite's (task, method, seed) cells, skipping finished ones, and store one record per cell.

Cells run one after another in this process, or as Ray tasks (``ray_executor.py``); either way each is
``cell.run_cell`` and this process alone appends records to the results file, so a killed run resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError
from .cell import (
    DEFAULT_BENCH_BUDGET,
    DEFAULT_BENCH_SEEDS,
    WEIGHT_METHODS,
    BenchConfig,
    LLMFactory,
    cell_key_of,
    default_llm_factory,
    run_cell,
)
from .methods import Method
from .ray_executor import run_cells_on_ray
from .store import ResultsStore
from .task import TaskSpec

__all__ = ["DEFAULT_BENCH_BUDGET", "DEFAULT_BENCH_SEEDS", "BenchConfig", "LLMFactory", "default_llm_factory",
           "run_bench", "run_cell"]


def run_bench(tasks: Sequence[TaskSpec], methods: Sequence[Method], *, results: str | Path,
              config: BenchConfig | None = None, make_llm: LLMFactory | None = None) -> list[dict[str, Any]]:
    """Run every (task, method, seed) cell not already finished in ``results``; return this call's records."""
    config = config or BenchConfig()
    if not tasks or not methods or not config.seeds:
        raise ConfigError("a bench run needs at least one task, one method and one seed")
    if config.budget < 1:
        raise ConfigError(f"budget must be at least 1 rollout, got {config.budget}")
    if config.engine != "transformers" and (tuned := [m.name for m in methods if m.name in WEIGHT_METHODS]):
        raise ConfigError(f"{tuned} tune weights: add --engine transformers, so every method's test set is scored by "
                          f"the same engine and base weights")
    store = ResultsStore(results)
    if config.warm_from is not None:
        source = ResultsStore(config.warm_from)
        if not source.cells_dir.is_dir():
            raise ConfigError(f"--warm-from {config.warm_from}: no cell caches beside it ({source.cells_dir} is missing)")
        if source.cells_dir.resolve() == store.cells_dir.resolve():
            raise ConfigError("--warm-from names the results file being written; give an earlier run's results file")
    make_llm = make_llm or default_llm_factory()
    with store.exclusive():
        return _run_cells(tasks, methods, store=store, config=config, make_llm=make_llm)


def _run_cells(tasks: Sequence[TaskSpec], methods: Sequence[Method], *, store: ResultsStore, config: BenchConfig,
               make_llm: LLMFactory) -> list[dict[str, Any]]:
    done = store.finished()
    cells = [(t, m, s) for t in tasks for s in config.seeds for m in methods]
    out: list[dict[str, Any]] = []

    def finished(task: TaskSpec, method: Method, seed: int) -> dict[str, Any] | None:
        return done.get(cell_key_of(task, method, seed, config))

    def keep(record: dict[str, Any]) -> None:  # this process is the only writer of the results file
        store.append(record)
        out.append(record)
        if config.on_record is not None:
            config.on_record(record)

    if config.executor == "ray":
        todo = []
        for cell in cells:
            if (record := finished(*cell)) is not None:
                out.append(record)
            else:
                todo.append(cell)
        run_cells_on_ray(todo, config=config, results=str(store.path), make_llm=make_llm, on_record=keep)
        return out
    bar = _bar(len(cells), config.progress)
    try:
        for task, method, seed in cells:
            bar.set_description(f"{task.name} / {method.name} / seed {seed}")
            if (record := finished(task, method, seed)) is not None:
                out.append(record)
            else:
                keep(run_cell(task, method, seed, config=config, store=store, make_llm=make_llm))
            bar.update(1)
    finally:
        bar.close()
    return out


def _bar(total: int, show: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="cell", disable=not show, position=0)
