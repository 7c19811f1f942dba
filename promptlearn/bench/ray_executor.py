"""Bench cells as Ray tasks (the ``ray`` extra): ``promptlearn bench run ... --executor ray [--address ADDR]``.

The driver submits every unfinished cell as a task asking for ``cpus_per_cell`` CPUs (and a GPU for the
weight methods), and appends each record to the results store as it arrives, so a killed driver, rerun,
continues exactly as the local executor does: finished cells are skipped, an interrupted cell resumes from
its run folder. A worker that dies fails its cell as a record. Workers must see the results file's cell
folder (a shared filesystem on a cluster): each cell writes its model-call cache and run folder there.

Ray reuses a worker process for the next task, and the embedded models are loaded once per process
(``llm.backends.load_llama``), so a worker keeps its models: about 0.7 GB for the 0.5B and 2 GB for the
1.5B, ~3 GB a worker with both; a 16 GB machine holds four or five workers. Ray sets a task's
``OMP_NUM_THREADS`` to its ``num_cpus``, and the embedded models take their thread count from it
(``llm.backends.llama_threads``), so workers on one machine do not oversubscribe its CPUs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .._extras import require

if TYPE_CHECKING:
    from .cell import BenchConfig, LLMFactory
    from .methods import Method
    from .task import TaskSpec

DEFAULT_CPUS_PER_CELL = 1


def _run_remote(task: "TaskSpec", method: "Method", seed: int, config: "BenchConfig", results: str,
                make_llm: "LLMFactory") -> dict[str, Any]:
    from .cell import run_cell
    from .store import ResultsStore

    return run_cell(task, method, seed, config=config, store=ResultsStore(results), make_llm=make_llm)


def run_cells_on_ray(cells: Sequence[tuple["TaskSpec", "Method", int]], *, config: "BenchConfig", results: str,
                     make_llm: "LLMFactory", on_record: Callable[[dict[str, Any]], None]) -> None:
    """Run ``cells`` as Ray tasks writing into ``results``' cell folder; ``on_record`` gets each record (in the
    order they finish)."""
    ray = require("ray", "ray", what="--executor ray")
    from .cell import WEIGHT_METHODS

    if not ray.is_initialized():
        ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=False)
    # Progress bars and driver-side hooks stay with the driver; a worker only computes its record.
    worker_config = replace(config, progress=False, extra_callbacks=(), on_record=None)
    remote = ray.remote(_run_remote)
    pending: dict[Any, tuple[TaskSpec, Method, int]] = {}
    for task, method, seed in cells:
        gpus = 1 if method.name in WEIGHT_METHODS and config.engine == "transformers" else 0
        ref = remote.options(num_cpus=config.cpus_per_cell, num_gpus=gpus, max_retries=0).remote(
            task, method, seed, worker_config, results, make_llm)
        pending[ref] = (task, method, seed)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        task, method, seed = pending.pop(done[0])
        try:
            record = ray.get(done[0])
        except ray.exceptions.RayError as exc:  # the worker died or the task could not run: a failed cell
            record = _failed(task, method, seed, config, f"{type(exc).__name__}: {exc}")
        on_record(record)


def _failed(task: "TaskSpec", method: "Method", seed: int, config: "BenchConfig", error: str) -> dict[str, Any]:
    from .._redaction import redact
    from .cell import cell_header, now_iso

    return {**cell_header(task, method, seed, config), "status": "failed", "error": redact(error)[:2000],
            "finished_at": now_iso()}
