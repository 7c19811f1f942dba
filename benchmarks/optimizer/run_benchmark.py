"""Seed prompt vs optimised prompt on a held-out test set, with the local models.

    python benchmarks/optimizer/run_benchmark.py snips [--seed 0] [--max-rollouts 400] [--max-wall-s 900]

Writes benchmarks/results/optimizer/<task>-seed<seed>.json: test accuracy before and after with 95% bootstrap
CIs, the paired gain's CI, rollouts, LLM calls and tokens by role, wall time, the best prompt.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tasks import TASKS  # noqa: E402

from promptlearn import LLM, Budget, ChatAgent, OptimizeConfig, ProgressBar, PromptOptimizer, Usage  # noqa: E402
from promptlearn.agents import first_line  # noqa: E402
from promptlearn.stats import bootstrap_ci  # noqa: E402

AGENT = "local/qwen2.5-coder-0.5b"
REWRITER = "local/qwen2.5-coder-1.5b"


def _commit() -> str:
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "promptlearn"], capture_output=True, text=True).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rollouts", type=int, default=400)
    parser.add_argument("--max-wall-s", type=float, default=900)
    parser.add_argument("--max-iterations", type=int, default=12)
    parser.add_argument("--minibatch", type=int, default=10)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--confidence", type=float, default=0.7, help="bootstrap acceptance confidence")
    parser.add_argument("--explain", type=int, default=0, help="failures per round explained by the 1.5B")
    parser.add_argument("--mode", default="rules", choices=["auto", "rules", "rewrite"])
    parser.add_argument("--acceptance", default="bootstrap", choices=["bootstrap", "improvement", "sign"])
    parser.add_argument("--method", default="promptlearn", choices=["promptlearn", "gepa"],
                        help="gepa: gepa.optimize driving the same agent, judges, rewriter and budget (gepa_arm.py)")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()

    commit = _commit()  # the code this run imported (taken now: the tree may change while it runs)
    task = TASKS[args.task]
    train, val, test = task.load(args.seed)
    name = f"{args.task}-seed{args.seed}{'-' + args.tag if args.tag else ''}"
    run_dir = Path(__file__).parent / "runs" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = run_dir / "cache.sqlite"  # per run: timings are cold, and a resumed run reuses its own calls
    usage = Usage()
    agent = ChatAgent(LLM(AGENT, role="agent", usage=usage, cache=cache), task.user_template,
                      max_tokens=task.agent_max_tokens, parse=first_line)
    rewriter = LLM(REWRITER, role="optimizer", usage=usage, cache=cache)
    config = OptimizeConfig(seed=args.seed, mode=args.mode, minibatch_size=args.minibatch,
                            max_iterations=args.max_iterations, patience=args.patience, max_cases=8,
                            explain_failures=args.explain, acceptance=args.acceptance,
                            acceptance_confidence=args.confidence,
                            task_description=task.description,
                            budget=Budget(max_rollouts=args.max_rollouts, max_wall_s=args.max_wall_s))
    optimizer = PromptOptimizer(agent, task.judges, optimizer_llm=rewriter, config=config, callbacks=[ProgressBar()])
    start = time.time()
    if args.method == "gepa":
        from gepa_arm import run_gepa

        best_prompt, gepa_rollouts = run_gepa(optimizer, rewriter, task.seed_prompt, train, val,
                                              budget=args.max_rollouts, seed=args.seed, minibatch=args.minibatch,
                                              run_dir=str(run_dir / "gepa"))
        optimize_s = time.time() - start
        before = optimizer.evaluate(task.seed_prompt, test)
        after = optimizer.evaluate(best_prompt, test)
        val_before, val_after = optimizer.evaluate(task.seed_prompt, val).mean, optimizer.evaluate(best_prompt, val).mean
        summary = {"rollouts": gepa_rollouts, "llm_calls": None, "tokens": None, "usage_by_role": usage.snapshot(),
                   "rounds": None, "stop_reason": "max_metric_calls", "strategies": None,
                   "seed_prompt": task.seed_prompt, "best_prompt": best_prompt}
    else:
        result = optimizer.optimize(task.seed_prompt, train, val, run_dir=run_dir, resume=True)
        optimize_s = time.time() - start
        before = optimizer.evaluate(result.seed, test)
        after = optimizer.evaluate(result.best, test)
        val_before, val_after = result.seed_val, result.best_val
        summary = {"strategies": [r.strategy for r in result.history], "rollouts": result.usage["rollouts"],
                   "llm_calls": result.usage["llm_calls"], "tokens": result.usage["tokens"],
                   "usage_by_role": result.usage_by_role, "rounds": len(result.history),
                   "stop_reason": result.stop_reason, "seed_prompt": result.seed.prompt,
                   "best_prompt": result.best_prompt}
    rng = random.Random(args.seed)
    b = [before.results[e.id].score for e in test]
    a = [after.results[e.id].score for e in test]
    diff = [y - x for x, y in zip(b, a)]
    out = {
        "task": args.task, "method": args.method, "seed": args.seed, "agent": AGENT, "rewriter": REWRITER,
        "sizes": {"train": len(train), "val": len(val), "test": len(test)},
        "config": config.model_dump(),
        "test_before": sum(b) / len(b), "test_before_ci95": bootstrap_ci(b, rng=rng),
        "test_after": sum(a) / len(a), "test_after_ci95": bootstrap_ci(a, rng=rng),
        "gain": sum(diff) / len(diff), "gain_ci95_paired": bootstrap_ci(diff, rng=rng),
        "val_before": val_before, "val_after": val_after, **summary,
        "optimize_wall_s": round(optimize_s, 1),
        "command": "python benchmarks/optimizer/run_benchmark.py " + " ".join(sys.argv[1:]),
        "commit": commit,
    }
    path = Path(__file__).parents[1] / "results" / "optimizer" / f"{name}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ["task", "test_before", "test_after", "gain", "gain_ci95_paired",
                                           "rollouts", "optimize_wall_s", "stop_reason"]}, indent=2))
    print(out["best_prompt"])


if __name__ == "__main__":
    main()
