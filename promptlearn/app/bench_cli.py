"""``promptlearn bench``: run task suites against several methods, and report on the results."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any, Callable

from ..config import DEFAULT_AGENT_MODEL, DEFAULT_REWRITER_MODEL
from ..errors import ConfigError

DEFAULT_RESULTS = "bench-results/results.jsonl"


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.replace(",", " ").split())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"expected non-negative seeds like 0,1,2, got {text!r}")
    return seeds


def cmd_bench_run(args: argparse.Namespace) -> int:
    from ..bench import BenchConfig, load_suite, resolve_methods, run_bench, write_report
    from ..bench.runner import default_llm_factory

    methods = resolve_methods([m.strip() for m in args.methods.split(",") if m.strip()])
    tasks = load_suite(args.targets)
    if args.tasks:
        wanted = set(args.tasks.split(","))
        unknown = wanted - {t.name for t in tasks}
        if unknown:
            raise ConfigError(f"--tasks names tasks not in the suite: {sorted(unknown)}")
        tasks = [t for t in tasks if t.name in wanted]
    missing = [f"{m.name}: {need}" for m in methods if (need := m.missing())]
    if missing and not args.keep_going:
        raise ConfigError("methods need extras that are not installed: " + "; ".join(missing) +
                          " (or pass --keep-going to record those cells as failed)")
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not api_key:
        raise ConfigError(f"--api-key-env names {args.api_key_env}, which is not set")
    config = BenchConfig(agent_model=args.agent, rewriter_model=args.rewriter, budget=args.budget, seeds=args.seeds,
                         progress=not args.quiet, command="promptlearn " + shlex.join(args.argv), engine=args.engine,
                         warm_from=args.warm_from, on_record=_mlflow_logger(args.mlflow), executor=args.executor,
                         ray_address=args.address, cpus_per_cell=args.cpus_per_cell)
    print(f"{len(tasks)} task(s) x {len(methods)} method(s) x {len(args.seeds)} seed(s); results: {args.results}")
    records = run_bench(tasks, methods, results=args.results, config=config,
                        make_llm=default_llm_factory(args.deadline, api_base=args.api_base, api_key=api_key,
                                                     max_concurrency=args.max_concurrency))
    failed = [r for r in records if r["status"] != "ok"]
    for r in records:
        if r["status"] == "ok":
            print(f"  {r['task']:<28} {r['method']:<16} seed {r['seed']}: test {r['test']:.3f} "
                  f"(seed prompt {r['seed_test']:.3f}, gain {r['gain'] * 100:+.1f} pts), {r['rollouts']} rollouts")
        else:
            print(f"  {r['task']:<28} {r['method']:<16} seed {r['seed']}: FAILED {r['error']}")
    if len(failed) < len(records):
        paths = write_report(args.results, args.report or Path(args.results).parent / "report")
        print(f"report: {paths['markdown']} (plot {paths['plot']}, page {paths['html']})")
    return 1 if failed else 0


def _mlflow_logger(uri: str | None) -> Callable[[dict[str, Any]], None] | None:
    """``--mlflow URI``: each new cell becomes an MLflow run (experiment promptlearn-bench)."""
    if uri is None:
        return None
    from ..tracking import log_bench_cell

    return lambda record: print(f"  mlflow run {log_bench_cell(record, uri)} ({record['task']}/{record['method']})")


def cmd_bench_report(args: argparse.Namespace) -> int:
    from ..bench import write_report

    paths = write_report(args.results, args.out or Path(args.results).parent / "report", method=args.method)
    print(paths["markdown"].read_text(encoding="utf-8"))
    print(f"report: {paths['markdown']} (plot {paths['plot']}, page {paths['html']})")
    return 0


def cmd_bench_compare(args: argparse.Namespace) -> int:
    from ..bench.report import compare_markdown, compare_runs

    table = compare_runs(args.new, args.old, method=args.method)
    print(compare_markdown(table, method=args.method, new=args.new, old=args.old), end="")
    return 0


def add_bench_parser(sub: argparse._SubParsersAction, positive_int: object, positive_float: object) -> None:  # type: ignore[type-arg]
    bench = sub.add_parser("bench", help="benchmark suites: promptlearn vs gepa, DSPy and the seed prompt",
                           description="promptlearn bench TASK.yaml|SUITE.yaml|FOLDER ... runs a suite; "
                                       "promptlearn bench report RESULTS.jsonl renders one; "
                                       "promptlearn bench compare NEW.jsonl OLD.jsonl compares two runs of a method.")
    bsub = bench.add_subparsers(dest="sub", required=True)
    run = bsub.add_parser("run", help="run (task, method, seed) cells; a killed run continues where it stopped")
    run.add_argument("targets", nargs="+", help="task YAMLs, suite YAMLs (tasks: [...]) or folders of task YAMLs")
    run.add_argument("--methods", default="seed,promptlearn,gepa",
                     help="comma-separated: seed, promptlearn, promptlearn-rules, promptlearn-rewrite, gepa, "
                          "dspy-gepa, dspy-miprov2, promptlearn:CONFIG.yaml")
    run.add_argument("--seeds", type=_seeds, default=(0, 1, 2), help="e.g. 0,1,2 (each seed is its own split)")
    run.add_argument("--budget", type=positive_int, default=200,
                     help="rollouts per cell: agent calls on train or val examples")
    run.add_argument("--tasks", default=None, help="only these task names (comma-separated)")
    run.add_argument("--results", default=DEFAULT_RESULTS, help="append-only JSONL results file")
    run.add_argument("--report", default=None, help="report folder (default: beside the results)")
    run.add_argument("--warm-from", default=None, metavar="RESULTS.jsonl",
                     help="an earlier results file: cells without a model-call cache start from its cells' caches "
                          "(rerun a suite after a code change paying only for the calls that changed)")
    run.add_argument("--agent", default=DEFAULT_AGENT_MODEL)
    run.add_argument("--rewriter", default=DEFAULT_REWRITER_MODEL, help="rewriter, reflection and judge model")
    run.add_argument("--engine", choices=["llama.cpp", "transformers"], default="llama.cpp",
                     help="what scores every method's test set; weight methods (sft, grpo, promptlearn+sft) need "
                          "transformers (the weights extra)")
    run.add_argument("--api-base", default=None, metavar="URL",
                     help="an OpenAI-compatible server (vLLM, llama.cpp's server) for every model not named local/...; "
                          "e.g. --agent openai/qwen2.5-0.5b --api-base http://127.0.0.1:8000/v1")
    run.add_argument("--api-key-env", default=None, metavar="VAR",
                     help="environment variable holding that server's API key (the key never goes on the command line)")
    run.add_argument("--max-concurrency", type=positive_int, default=None,
                     help="model calls in flight at once, per model (a served model's capacity)")
    run.add_argument("--deadline", type=positive_float, default=None, help="seconds one model call may take")
    run.add_argument("--keep-going", action="store_true", help="record methods with missing extras as failed")
    run.add_argument("--executor", choices=["local", "ray"], default="local",
                     help="local: cells one after another here; ray: cells as Ray tasks (the ray extra)")
    run.add_argument("--address", default=None,
                     help="with --executor ray: a running cluster (auto, ray://HOST:10001); default: a local one")
    run.add_argument("--cpus-per-cell", type=positive_int, default=1, help="with --executor ray: CPUs each cell asks for")
    run.add_argument("--mlflow", default=None, metavar="URI",
                     help="log each new cell to this MLflow tracking store (e.g. sqlite:///mlflow.db; the mlflow extra)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(fn=cmd_bench_run)
    rep = bsub.add_parser("report", help="markdown table, head-to-head tests, plot and HTML from a results file")
    rep.add_argument("results")
    rep.add_argument("--out", default=None, help="folder (default: report/ beside the results)")
    rep.add_argument("--method", default=None, help="the method compared head-to-head with every other")
    rep.set_defaults(fn=cmd_bench_report)
    cmp = bsub.add_parser("compare", help="one method in two results files (after vs before a change), paired per task")
    cmp.add_argument("new", help="results file of the new run")
    cmp.add_argument("old", help="results file of the earlier run")
    cmp.add_argument("--method", default="promptlearn", help="the method compared (default: promptlearn)")
    cmp.set_defaults(fn=cmd_bench_compare)


def normalize_argv(argv: list[str]) -> list[str]:
    """``promptlearn bench TASK.yaml`` means ``promptlearn bench run TASK.yaml``."""
    if len(argv) >= 2 and argv[0] == "bench" and argv[1] not in ("run", "report", "compare", "-h", "--help"):
        return ["bench", "run", *argv[1:]]
    return argv
