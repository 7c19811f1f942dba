"""What each proposal strategy bought, over the run logs of bench cells: rounds, rollouts spent, new bests and the
validation gain they made, per strategy.

    python benchmarks/strategy_yield.py 'benchmarks/results/*/results_cells/*/*/seed*/run/events.jsonl'
    python benchmarks/strategy_yield.py 'benchmarks/results/*/results_cells/good_snips/*/seed*/run/events.jsonl' --by-task

Reads the ``round`` rows of each run's ``events.jsonl`` (the loop's own log; run folders are not committed, so
this reads the cells on this machine). A round's rollouts are what the run's meter moved since the round before
(the minibatch, the child's screening and its validation pass), so a run's first round is left out: what came
before it includes the seed's validation pass. Gain: the best validation score after a new-best round minus
before it. Strategy outcomes are the loop's own words (``outcome``), grouped by their first clause.
"""

from __future__ import annotations

import argparse
import glob
import json
from collections import Counter, defaultdict


def outcome_kind(outcome: str) -> str:
    if outcome.startswith("new best"):
        return "new best"
    if outcome.startswith("stopped after"):
        return "stopped part-way"
    return outcome.split(":")[0].split(" before ")[0][:40]


def tally(paths: list[str], by_task: bool) -> dict[str, dict[str, Counter]]:
    tables: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for path in paths:
        parts = path.split("/")  # a cell's run log: <results file stem>_cells/<task>/<method>/<cell>/run/events.jsonl
        task = next((parts[i + 1] for i in range(len(parts) - 1) if parts[i].endswith("_cells")), path)
        group = task if by_task else "all"
        before = best = None
        with open(path) as lines:
            for line in lines:
                event = json.loads(line)
                if event.get("type") != "round":
                    continue
                row = event["row"]
                if before is None:  # what came before the first round includes the seed's validation pass
                    before, best = row["rollouts"], row.get("best_val")
                    continue
                counts = tables[group][row.get("strategy") or "(none)"]
                counts["rounds"] += 1
                counts["rollouts"] += row["rollouts"] - before
                counts[outcome_kind(row["outcome"])] += 1
                if row["outcome"].startswith("new best") and best is not None:
                    counts["gain_milli"] += round(1000 * (row["best_val"] - best))
                before, best = row["rollouts"], row.get("best_val")
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pattern", help="a glob of events.jsonl files (quote it)")
    parser.add_argument("--by-task", action="store_true", help="one table per task instead of one for all")
    args = parser.parse_args()
    paths = sorted(glob.glob(args.pattern))
    if not paths:
        raise SystemExit(f"no file matches {args.pattern}")
    print(f"{len(paths)} runs")
    for group, table in sorted(tally(paths, args.by_task).items()):
        print(f"\n{group}\n| strategy | rounds | rollouts | new bests | validation gain | gain per 100 rollouts |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, c in sorted(table.items(), key=lambda kv: -kv[1]["rounds"]):
            gain = c["gain_milli"] / 10  # points
            print(f"| {name} | {c['rounds']} | {c['rollouts']} | {c['new best']} | {gain:+.1f} pts | "
                  f"{100 * gain / max(1, c['rollouts']):.1f} |")


if __name__ == "__main__":
    main()
