"""The quickstart's SNIPS protocol at a fixed rollout budget, in any mode.

    python benchmarks/optimizer/quickstart_protocol.py --mode auto --budget 186 --n-test 140 --seed 0

The quickstart's models, seed prompt, agent and settings (minibatch 10, patience 6, no LLM
explanations), with ``mode`` and the rollout budget changed: the issue's SNIPS yardstick
(>= 75% with <= 186 rollouts). One JSON line per run is appended to
``benchmarks/results/optimizer/quickstart_protocol.jsonl``; model calls go through the shared
cache, so a rerun of a finished run costs no model calls.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import time
from pathlib import Path

from promptlearn import Budget
from promptlearn.app.quickstart import QUICKSTART_CONFIG, SNIPS_SEED_PROMPT, make_optimizer, snips_task
from promptlearn.stats import bootstrap_ci

OUT = Path(__file__).parents[1] / "results" / "optimizer" / "quickstart_protocol.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["auto", "rules", "rewrite"], default="auto")
    parser.add_argument("--budget", type=int, default=186)
    parser.add_argument("--n-test", type=int, default=140)
    parser.add_argument("--seed", type=int, default=0, help="split and loop seed")
    args = parser.parse_args()
    config = QUICKSTART_CONFIG.model_copy(update={
        "mode": args.mode, "seed": args.seed, "budget": Budget(max_rollouts=args.budget)})
    train, val, test = snips_task(n_test=args.n_test, seed=args.seed)
    optimizer = make_optimizer(config=config)
    start = time.time()
    result = optimizer.optimize(SNIPS_SEED_PROMPT, train, val)
    before, after = optimizer.evaluate(result.seed, test), optimizer.evaluate(result.best, test)
    gain = [after.results[e.id].score - before.results[e.id].score for e in test]
    low, high = bootstrap_ci(gain, rng=random.Random(args.seed))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    row = {"mode": args.mode, "budget": args.budget, "seed": args.seed, "n_test": len(test),
           "seed_test": before.mean, "test": after.mean, "gain_ci95": [low, high], "val": result.best_val,
           "rollouts": result.usage["rollouts"], "wall_s": round(time.time() - start),
           "strategies": [r.strategy for r in result.history], "best_prompt": result.best_prompt, "commit": commit}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(f"{args.mode} seed {args.seed}: test {before.mean:.1%} -> {after.mean:.1%} "
          f"(gain CI [{low * 100:+.1f}, {high * 100:+.1f}]), {row['rollouts']} rollouts, {row['wall_s']} s")


if __name__ == "__main__":
    main()
