"""``promptlearn.bench``: judge-based benchmark suites where methods meet on one contract.

Tasks are YAML files (``load_task`` / ``load_suite``); methods share one Protocol
(``Method``: seed, promptlearn and its named configs, gepa, dspy-gepa, dspy-miprov2);
``run_bench`` runs every (task, method, seed) cell into an append-only results file
that a killed run resumes; ``write_report`` renders the comparison.
"""

from .methods import CellSetup, CountingAgent, Method, MethodOutcome, PromptlearnMethod, SeedMethod
from .peers import DspyGepaMethod, DspyMiproMethod, GepaMethod
from .registry import builtin_methods, resolve_methods
from .report import (
    compare_runs,
    head_to_head,
    load_results,
    markdown,
    plot_score_vs_rollouts,
    strategy_use,
    summary,
    write_report,
)
from .runner import DEFAULT_BENCH_BUDGET, DEFAULT_BENCH_SEEDS, BenchConfig, run_bench, run_cell
from .store import ResultsStore
from .task import TaskSpec, load_suite, load_task

__all__ = [
    "TaskSpec", "load_task", "load_suite",
    "Method", "MethodOutcome", "CellSetup", "CountingAgent", "SeedMethod", "PromptlearnMethod", "GepaMethod",
    "DspyGepaMethod", "DspyMiproMethod", "resolve_methods", "builtin_methods",
    "BenchConfig", "run_bench", "run_cell", "DEFAULT_BENCH_BUDGET", "DEFAULT_BENCH_SEEDS", "ResultsStore",
    "load_results", "summary", "head_to_head", "compare_runs", "strategy_use", "markdown", "plot_score_vs_rollouts",
    "write_report",
]
