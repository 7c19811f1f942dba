"""Labelled data for judge calibration, from real model outputs whose truth is known.

    python benchmarks/judges/make_calibration_data.py snips RUN_DIR [--n 30]

Reads the rollouts a benchmark run stored (``benchmarks/optimizer/runs/<name>/events.jsonl``: real
0.5B outputs, truth = exact match with the gold label) and writes a balanced JSONL of
correct and incorrect outputs to ``benchmarks/judges/calibration/<task>.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "optimizer"))  # tasks.py

from tasks import TASKS  # noqa: E402

from promptlearn.store import read_events  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("run_dir")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train, val, test = TASKS[args.task].load(args.seed)
    by_id = {e.id: e for e in train + val + test}
    seen, good, bad = set(), [], []
    for event in read_events(args.run_dir):
        if event["type"] != "result":
            continue
        result = event["result"]
        rollout, eid = result["rollout"], result["rollout"]["example_id"]
        if rollout["output"] is None or (eid, rollout["output"]) in seen:
            continue
        seen.add((eid, rollout["output"]))
        example = by_id[eid]
        item = {"id": f"{eid}:{len(seen)}", "inputs": example.inputs, "output": rollout["output"],
                "reference": example.reference, "label": result["score"] >= 1.0}
        (good if item["label"] else bad).append(item)
    rng = random.Random(args.seed)
    rng.shuffle(good)
    rng.shuffle(bad)
    half = args.n // 2
    items = good[:half] + bad[: args.n - half]
    rng.shuffle(items)
    out = Path(__file__).parent / "calibration" / f"{args.task}.jsonl"
    out.parent.mkdir(exist_ok=True)
    out.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    print(f"{out}: {len(items)} items ({sum(i['label'] for i in items)} correct)")


if __name__ == "__main__":
    main()
