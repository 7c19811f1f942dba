"""One (task, method, seed) cell: its setup, its method's run, its test scoring and its record.

Each cell: split the task by seed, give the method a ``CellSetup`` (same splits, seed prompt,
agent, judges, rewriter and rollout budget for every method), then score the seed prompt and
the method's prompt on the held-out test set with the same agent code and the task's
ground-truth metric. Optimization calls are cached per cell (a resumed cell replays its own
calls); test calls are cached per (task, seed), so the seed prompt's test run is shared by
every method of that seed. A failed cell is a record with its error; the suite goes on.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from .._redaction import redact
from .._version import __version__
from ..callbacks import Callback, ProgressBar
from ..config import DEFAULT_AGENT_MODEL, DEFAULT_REWRITER_MODEL
from ..errors import ConfigError
from ..judges.calibration import calibrate_verdicts
from ..llm import LLM, Usage
from ..optimizer import PromptOptimizer
from ..records import Example, Rollout
from ..retrieval import RetrievalAgent
from ..stats import bootstrap_ci, mean
from ..task import TaskSpec, metric_judge, task_agent, task_judges
from .methods import CellSetup, CountingAgent, Method
from .store import ResultsStore, cell_key, copy_cache

log = logging.getLogger("promptlearn")

DEFAULT_BENCH_BUDGET = 200
DEFAULT_BENCH_SEEDS = (0, 1, 2)
#: Judge types scored by code; any other optimization judge gets its agreement with the truth reported.
CODE_JUDGES = ("exact_match", "regex", "numeric", "json_schema", "function")

#: ``(model, role, usage, cache_path) -> LLM``; tests pass one that builds FakeLLMs.
LLMFactory = Callable[[str, str, Usage, Path | None], LLM]


def default_llm_factory(deadline_s: float | None = None, *, api_base: str | None = None, api_key: str | None = None,
                        max_concurrency: int | None = None) -> LLMFactory:
    """LLMs for the bench's cells. ``api_base`` (with ``api_key``) points every model that is not an embedded
    ``local/...`` one at an OpenAI-compatible server (vLLM, llama.cpp's server, a provider's endpoint);
    ``max_concurrency`` bounds the calls in flight per model (default: the LLM layer's)."""
    def make(model: str, role: str, usage: Usage, cache: Path | None) -> LLM:
        served = not model.startswith("local/")
        extra: dict[str, Any] = {"max_concurrency": max_concurrency} if max_concurrency else {}
        return LLM(model, role=role, usage=usage, cache=cache, deadline_s=deadline_s,
                   api_base=api_base if served else None, api_key=api_key if served else None, **extra)
    return make


@dataclass(frozen=True)
class BenchConfig:
    """One bench run's settings; the CLI's flags map onto these fields."""

    agent_model: str = DEFAULT_AGENT_MODEL
    rewriter_model: str = DEFAULT_REWRITER_MODEL
    budget: int = DEFAULT_BENCH_BUDGET
    seeds: tuple[int, ...] = DEFAULT_BENCH_SEEDS
    engine: Literal["llama.cpp", "transformers"] = "llama.cpp"  # what scores the test set (weight methods: transformers)
    progress: bool = True
    command: str = ""
    #: An earlier results file: a cell with no model-call cache of its own starts from that file's cell
    #: cache (and test cache), so rerunning a suite after a code change only pays for the calls that changed.
    warm_from: str | None = None
    extra_callbacks: tuple[Callback, ...] = field(default=())
    #: Called with each new cell's record once it is in the results file (e.g. tracking.log_bench_cell).
    on_record: Callable[[dict[str, Any]], None] | None = None
    #: "local": cells one after another in this process; "ray": cells as Ray tasks (bench/ray_executor.py).
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None  # a running Ray cluster ("auto", "ray://host:10001"); None starts a local one
    cpus_per_cell: int = 1


WEIGHT_METHODS = ("sft", "grpo", "promptlearn+sft")


def _transformers_agent(task: TaskSpec, model: str, adapter: str | None, cache: Path | None = None) -> Any:
    """The task's ChatAgent on the transformers backend (``model`` + ``adapter``), caching into ``cache``."""
    from ..weights import transformers_agent

    if task.agent.steps:
        raise ConfigError(f"--engine transformers scores single-prompt tasks; {task.name!r} has steps")
    return transformers_agent(model, task.agent.user_template, adapter=adapter, max_tokens=task.agent.token_cap,
                              parse=task.agent.parser,
                              answer_pattern=task.agent.answer_pattern, cache=cache if cache is not None else "off")


def _cell_dir(store: ResultsStore, task: str, method: str, seed: int, budget: int) -> Path:
    """Where one cell keeps its run state; always inside the store's cell folder (TaskSpec names are
    checked, but a TaskSpec built in code is not: ``../x`` must not write outside, issue 29)."""
    safe = [re.sub(r"[^A-Za-z0-9._+-]", "_", part).lstrip(".") or "_" for part in (task, method)]
    path = store.cells_dir / safe[0] / safe[1] / f"seed{seed}-budget{budget}"
    if not path.resolve().is_relative_to(store.cells_dir.resolve()):
        raise ConfigError(f"task {task!r} / method {method!r} would write outside {store.cells_dir}")
    return path


def cell_key_of(task: TaskSpec, method: Method, seed: int, config: BenchConfig) -> str:
    """The key a cell's records carry: what ran (task fingerprint, method, seed, budget, models, engine)."""
    return cell_key(task=task.name, task_fingerprint=task.fingerprint(), method=method.name, seed=seed,
                    budget=config.budget, agent=config.agent_model, rewriter=config.rewriter_model, engine=config.engine)


def cell_header(task: TaskSpec, method: Method, seed: int, config: BenchConfig) -> dict[str, Any]:
    """What every record of a cell starts with, finished or failed: its key, what ran, and with which code."""
    return {
        "key": cell_key_of(task, method, seed, config), "task": task.name, "kind": task.kind, "method": method.name,
        "seed": seed,
        "budget": config.budget, "agent": config.agent_model, "rewriter": config.rewriter_model, "engine": config.engine,
        "task_fingerprint": task.fingerprint(), "promptlearn_version": __version__, "commit": _commit(),
        "command": config.command}


def run_cell(task: TaskSpec, method: Method, seed: int, *, config: BenchConfig, store: ResultsStore,
             make_llm: LLMFactory) -> dict[str, Any]:
    """One cell's record (``status`` ok or failed); raises only on KeyboardInterrupt."""
    record = cell_header(task, method, seed, config)
    missing = method.missing()
    if missing:
        return {**record, "status": "failed", "error": f"method {method.name!r} needs an extra: {missing}"}
    work_dir = _cell_dir(store, task.name, method.name, seed, config.budget)
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        if config.warm_from is not None:  # inside: an unreadable source cache fails this cell, not the suite
            record["warmed_from"] = _warm(store, ResultsStore(config.warm_from), task.name, method.name, seed,
                                          config.budget)
        train, val, test = task.splits(seed)
        usage = Usage()
        agent_llm = make_llm(config.agent_model, "agent", usage, work_dir / "cache.sqlite")
        rewriter = make_llm(config.rewriter_model, "optimizer", usage, work_dir / "cache.sqlite")
        judges, weights = task_judges(task, rewriter, usage)
        agent = CountingAgent(task_agent(task, agent_llm))
        callbacks = [*([ProgressBar()] if config.progress else []), *config.extra_callbacks]
        setup = CellSetup(task=task, seed=seed, budget=config.budget, train=train, val=val, agent=agent,
                          judges=judges, judge_weights=weights, rewriter=rewriter, work_dir=work_dir,
                          callbacks=callbacks,
                          engine_model=config.agent_model if config.engine == "transformers" else None)
        start = time.perf_counter()
        outcome = method.run(setup)
        optimize_s = time.perf_counter() - start
        optimize_usage, optimize_total = usage.snapshot(), usage.total()
        start = time.perf_counter()
        test_part = _score_test(task, seed, outcome.best_prompt, test, store=store, make_llm=make_llm,
                                config=config, judges=(judges, weights), adapter=outcome.adapter,
                                retrieval=(train, outcome.retrieved_demos) if outcome.retrieved_demos else None)
        own = _metric_score(task, outcome.own_adapter_outputs(test), test) if outcome.own_adapter_outputs else None
        eval_s = time.perf_counter() - start
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a failed cell is a record; the suite goes on
        log.warning("cell %s / %s / seed %d failed: %s", task.name, method.name, seed, exc)
        return {**record, "status": "failed", "error": redact(f"{type(exc).__name__}: {exc}")[:2000],
                "finished_at": now_iso()}
    return {**record, "status": "ok", "error": None,
            "sizes": {"train": len(train), "val": len(val), "test": len(test)},
            **test_part, "own_adapter_test": own,
            "val": outcome.val_score, "rollouts": agent.rollouts if outcome.rollouts is None else outcome.rollouts,
            "adapter": outcome.adapter, "usage_by_role": optimize_usage,
            "llm_calls": optimize_total.calls, "tokens": optimize_total.tokens, "cost_usd": optimize_total.cost_usd,
            "optimize_wall_s": round(optimize_s, 2), "eval_wall_s": round(eval_s, 2),
            "seed_prompt": task.seed_prompt, "best_prompt": outcome.best_prompt,
            "details": {**outcome.details, **({"retrieved_demos": outcome.retrieved_demos} if outcome.retrieved_demos else {})},
            "finished_at": now_iso()}


def _warm(store: ResultsStore, source: ResultsStore, task: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    """Copy the source's caches for this cell where the cell has none; which ones came from where.

    Kept in the cell (``warmed_from.json``) so a resumed cell's record still says so. Cached answers
    are keyed by the whole request, so a warm cell gets the answers a cold one would, only faster. A
    source cell run at another budget serves too (a run at a smaller budget mostly repeats the start of
    a larger one's): the same budget if the source has it, else its largest.
    """
    work_dir = _cell_dir(store, task, method, seed, budget)
    marker = work_dir / "warmed_from.json"
    warmed: dict[str, Any] = json.loads(marker.read_text()) if marker.exists() else {"source": str(source.path)}
    same = _cell_dir(source, task, method, seed, budget) / "cache.sqlite"
    others = sorted(same.parent.parent.glob(f"seed{seed}-budget*/cache.sqlite"),
                    key=lambda p: int(p.parent.name.rsplit("budget", 1)[1]))
    copied = {"cell_cache": (same if same.exists() or not others else others[-1], work_dir / "cache.sqlite"),
              "test_cache": (source.cells_dir / task / f"test-seed{seed}.sqlite",
                             store.cells_dir / task / f"test-seed{seed}.sqlite")}
    for name, (src, dst) in copied.items():
        if copy_cache(src, dst):
            warmed[name] = str(src)
    marker.write_text(json.dumps(warmed, indent=1))
    return warmed


@functools.cache
def _commit() -> str:
    """The git commit of the promptlearn code that ran ('' outside a checkout), '+dirty' if edited. Read once per
    process, at its first cell: the code a long run loaded is what it had then, and a commit made while it runs
    must not relabel its later records (the retrieval cells of issue 26 were stamped with commits made after
    their process started)."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "."], cwd=here.parent, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if head and dirty else "")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _score_test(task: TaskSpec, seed: int, prompt: str | dict[str, str], test: Sequence[Example], *, store: ResultsStore,
                make_llm: LLMFactory, config: BenchConfig, judges: tuple[list[Any], list[float]],
                adapter: str | None = None, retrieval: tuple[Sequence[Example], int] | None = None) -> dict[str, Any]:
    """Seed and method prompts (or the seed prompt on base + ``adapter``) on the test set, by the run's engine:
    ground-truth scores, CIs, paired gain, judge agreement. ``retrieval``: (training pool, k) the method's
    prompt is scored with (``RetrievalAgent``); the seed is always scored without."""
    cache = store.cells_dir / task.name / f"test-seed{seed}.sqlite"
    usage = Usage()
    llm = make_llm(config.agent_model, "agent", usage, cache)

    def scorer_of(agent: Any) -> PromptOptimizer:
        if retrieval is not None:
            agent = RetrievalAgent(agent, *retrieval)
        return PromptOptimizer(agent, metric_judge(task), optimizer_llm=llm)

    def test_agent(with_adapter: str | None) -> Any:
        """The task's agent on the run's engine (transformers: base weights, + ``with_adapter``)."""
        if config.engine == "transformers":
            return _transformers_agent(task, config.agent_model, with_adapter, cache)
        if with_adapter is not None:
            raise ConfigError("a LoRA adapter can only be scored with --engine transformers")
        return task_agent(task, llm)

    seed_scorer = PromptOptimizer(test_agent(None), metric_judge(task), optimizer_llm=llm)
    scorer = seed_scorer if adapter is None and retrieval is None else scorer_of(test_agent(adapter))
    seed_eval = seed_scorer.evaluate(task.seed_prompt, test)
    same = prompt == task.seed_prompt and adapter is None and retrieval is None
    best_eval = seed_eval if same else scorer.evaluate(prompt, test)
    seed_scores = [seed_eval.results[e.id].score for e in test]
    scores = [best_eval.results[e.id].score for e in test]
    diffs = [b - a for a, b in zip(seed_scores, scores)]
    rng = random.Random(seed)
    part: dict[str, Any] = {
        "test": mean(scores), "test_ci95": list(bootstrap_ci(scores, rng=rng)),
        "seed_test": mean(seed_scores), "gain": mean(diffs), "gain_ci95": list(bootstrap_ci(diffs, rng=rng)),
        "test_scores": {e.id: s for e, s in zip(test, scores)},
        "test_failed_rollouts": sum(1 for e in test if best_eval.results[e.id].rollout.error),
        "judge_agreement": None}
    if any(isinstance(j, dict) and j.get("type") not in CODE_JUDGES for j in task.judges):
        part["judge_agreement"] = _agreement(judges, best_eval, test)
    return part


def _metric_score(task: TaskSpec, outputs: dict[str, str | None], test: Sequence[Example]) -> float:
    """The task's ground-truth metric on outputs some other agent code produced (None: failed, scored 0)."""
    from ..judges.base import JudgePanel

    panel = JudgePanel([metric_judge(task)])

    async def scores() -> list[float]:
        rollouts = [Rollout(example_id=e.id, candidate_id="own-adapter", output=outputs.get(e.id),
                            error=None if outputs.get(e.id) is not None else "no output") for e in test]
        scored = await asyncio.gather(*(panel.acritique(e, r) for e, r in zip(test, rollouts)))
        return [score for _, score in scored]

    return mean(asyncio.run(scores()))


def _agreement(judges: tuple[list[Any], list[float]], evaluation: Any, test: Sequence[Example]) -> dict[str, Any]:
    """How often the optimization judges' verdict (score >= 0.5) matches the truth on the test outputs."""
    from ..judges.base import JudgePanel

    panel = JudgePanel(*judges)

    async def verdicts() -> list[float]:
        scored = await asyncio.gather(*(panel.acritique(e, evaluation.results[e.id].rollout) for e in test))
        return [score for _, score in scored]

    judged = asyncio.run(verdicts())
    truth = [evaluation.results[e.id].score >= 0.5 for e in test]
    return calibrate_verdicts(truth, [s >= 0.5 for s in judged])
