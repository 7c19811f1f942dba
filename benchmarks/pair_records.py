"""Paired test difference between two methods' bench records kept in different results files or task names.

    python benchmarks/pair_records.py benchmarks/results/good_seed/results.jsonl good_snips promptlearn-cover \
        benchmarks/results/core_head/results.jsonl snips gepa

``promptlearn bench report`` pairs methods of one file and one task name; the good-seed classification tasks
are the core tasks under another name (same data, splits, seed prompt, contract), so their cells pair with the
core suite's over the same test examples. Refuses when a seed's test examples differ.
"""

from __future__ import annotations

import json
import random
import sys

from promptlearn.stats import bootstrap_ci, mean


def scores(path: str, task: str, method: str) -> dict[int, dict[str, float]]:
    rows = (json.loads(line) for line in open(path) if line.strip())
    return {r["seed"]: r["test_scores"] for r in rows if r["task"] == task and r["method"] == method}


def main() -> None:
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    mine, theirs = scores(*sys.argv[1:4]), scores(*sys.argv[4:7])
    seeds = sorted(set(mine) & set(theirs))
    for s in seeds:
        if set(mine[s]) != set(theirs[s]):
            sys.exit(f"seed {s}: the two records score different test examples")
    diffs = [mine[s][i] - theirs[s][i] for s in seeds for i in mine[s]]
    if not diffs:
        sys.exit("no seed in common")
    lo, hi = bootstrap_ci(diffs, rng=random.Random(0))
    outcome = "win" if lo > 0 else "loss" if hi < 0 else "tie"
    print(f"seeds {seeds}: {100 * mean(diffs):+.1f} pts [{100 * lo:+.1f}, {100 * hi:+.1f}] {outcome}")


if __name__ == "__main__":
    main()
