"""Does a cell's validation evidence predict its test gain? For every promptlearn cell on this machine whose run
folder is kept, the final prompt's paired validation gain over the seed (``OptimizationResult.val_gain``: 95%
bootstrap interval over the validation examples) beside the record's test gain over the seed.

    python benchmarks/val_evidence.py 'benchmarks/results/*/results.jsonl' [--rows] [--steps]

``--steps``: every change of the best on the way (``OptimizationResult.gain_trail``), by the strategy that made
it: how many such steps a stricter validation gate (the interval clear of zero) would have refused.

Run folders are not committed, so this reads the cells on this machine. A record's cell is
``<results stem>_cells/<task>/<method>/seed<seed>-budget<budget>/run``; the latest record of a cell whose
validation score is the run's wins (a row appended from a rerun's file names the folder too), and a
cell counts once however many results files name it, and cells of one task, seed and budget that ended on the same
prompt count once (warm replays of a cell are run folders of their own). Cells that kept the seed prompt are
counted apart: they claim no gain.
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

from promptlearn import OptimizationResult
from promptlearn.errors import ConfigError
from promptlearn.stats import mean


def cells(pattern: str) -> list[dict]:
    found: dict[Path, list[dict]] = {}
    for path in sorted(glob.glob(pattern)):
        results = Path(path)
        for line in results.read_text().splitlines():
            record = json.loads(line)
            if record.get("status") != "ok" or not str(record.get("method", "")).startswith("promptlearn"):
                continue
            run = (results.parent / f"{results.stem}_cells" / record["task"] / record["method"]
                   / f"seed{record['seed']}-budget{record['budget']}" / "run")
            if (run / "result.json").exists():
                found.setdefault(run.resolve(), []).append({**record, "run": run})
    rows, seen = [], set()
    for run, records in found.items():
        try:
            result = OptimizationResult.load(run)
        except ConfigError as exc:  # written by a version whose config this one no longer reads
            print(f"skipped: {exc}".splitlines()[0][:200])
            continue
        # A row appended from another results file (a rerun's, so that its file reads it) names this folder
        # too: the run's own record is the last one whose validation score is the run's.
        mine = [r for r in records if abs(r.get("val", -1) - result.best_val) < 1e-9]
        if not mine:
            continue
        record = mine[-1]
        replay = (record["task"], record["seed"], record["budget"], result.best.id)
        if replay in seen:
            continue
        seen.add(replay)
        gain = result.val_gain()
        rows.append({"cell": str(record["run"]), "task": record["task"], "method": record["method"],
                     "seed": record["seed"], "val_gain": gain, "test_gain": record["gain"],
                     "trail": result.gain_trail()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pattern", help="a glob of results.jsonl files (quote it)")
    parser.add_argument("--rows", action="store_true", help="print every cell, not only the table")
    parser.add_argument("--steps", action="store_true", help="tally every change of the best by strategy")
    args = parser.parse_args()
    rows = cells(args.pattern)
    if not rows:
        raise SystemExit(f"no promptlearn cell with a kept run folder under {args.pattern}")
    groups = {"seed prompt kept": [r for r in rows if r["val_gain"] is None],
              "validation gain outside the noise": [r for r in rows if r["val_gain"] and not r["val_gain"].within_noise],
              "validation gain within the noise": [r for r in rows if r["val_gain"] and r["val_gain"].within_noise]}
    print(f"{len(rows)} cells\n\n| final prompt | cells | mean validation gain | mean test gain | test gain < 0 |")
    print("|---|---:|---:|---:|---:|")
    for name, group in groups.items():
        val = mean([r["val_gain"].gain for r in group]) * 100 if group and group[0]["val_gain"] else 0.0
        test = [r["test_gain"] * 100 for r in group]
        print(f"| {name} | {len(group)} | {val:+.1f} | {mean(test):+.1f} | {sum(t < 0 for t in test)} |")
    if args.steps:
        steps = [step for r in rows for step in r["trail"]]
        print("\n| strategy | steps to a new best | within the noise | mean gain (pts) | mean gain within the noise |")
        print("|---|---:|---:|---:|---:|")
        for name in sorted({s.strategy or "(none)" for s in steps}):
            mine = [s for s in steps if (s.strategy or "(none)") == name]
            thin = [s for s in mine if s.within_noise]
            print(f"| {name} | {len(mine)} | {len(thin)} | {100 * mean([s.gain for s in mine]):+.1f} | "
                  f"{100 * mean([s.gain for s in thin]):+.1f} |")
    if args.rows:
        for r in sorted(rows, key=lambda r: r["cell"]):
            g = r["val_gain"]
            print(f"{r['cell']}\t{g.describe() if g else 'seed kept'}\ttest {100 * r['test_gain']:+.1f}")


if __name__ == "__main__":
    main()
