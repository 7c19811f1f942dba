"""Paired test difference between two methods' bench records kept in different results files or task names.

    python benchmarks/pair_records.py benchmarks/results/good_seed/results.jsonl good_snips promptlearn-cover \
        benchmarks/results/core_head/results.jsonl snips gepa

``promptlearn bench report`` pairs methods of one file and one task name; the good-seed classification tasks
are the core tasks under another name (same data, splits, seed prompt, contract), so their cells pair with the
core suite's over the same test examples. Refuses when a seed's test examples differ.
"""

from __future__ import annotations

import sys

import pandas as pd

from promptlearn.bench.report import head_to_head, load_results


def scores(path: str, task: str, method: str) -> dict[int, dict[str, float]]:
    """Per seed, the test scores of ``method``'s finished cells of ``task`` (the report's reading: latest record wins)."""
    frame = load_results(path)
    return {r.seed: r.test_scores for r in frame[(frame.task == task) & (frame.method == method)].itertuples()}


def main() -> None:
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    mine, theirs = scores(*sys.argv[1:4]), scores(*sys.argv[4:7])
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        sys.exit("no seed in common")
    for s in seeds:
        if set(mine[s]) != set(theirs[s]):
            sys.exit(f"seed {s}: the two records score different test examples")
    # One frame under one task name, so the report's own paired test (``bench report``) decides.
    frame = pd.DataFrame([{"task": "pair", "method": side, "seed": s, "test_scores": by_seed[s]}
                          for side, by_seed in (("mine", mine), ("theirs", theirs)) for s in seeds])
    r = head_to_head(frame, "mine", "theirs").iloc[0]
    print(f"seeds {seeds}: {100 * r['diff']:+.1f} pts [{100 * r['ci_lo']:+.1f}, {100 * r['ci_hi']:+.1f}] {r['outcome']}")


if __name__ == "__main__":
    main()
