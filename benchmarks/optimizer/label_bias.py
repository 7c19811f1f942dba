"""Label bias of a one-example-per-label prompt, and whether the demos' order or choice fixes it.

    python benchmarks/optimizer/label_bias.py benchmarks/suites/tasks/banking77_15.yaml --seed 0

Takes the one-example-per-label sets ``demo_choice.py --policies any --size K`` drew (its rows in
``results/optimizer/demo_choice.jsonl``; the dev scores replay from the shared cache), measures how often each
label is *answered* against how often it is *right* on the training split, and scores on the same dev set:

- ``as drawn``: the set in its drawn order;
- ``bias last``: the same examples ordered so the labels the prompt over-answers on training come first and the
  ones it under-answers come last, next to the input (small models copy recent labels);
- ``short``: the shortest training input of every label, in the bias-last order.

One JSON line per (set, variant) goes to ``results/optimizer/label_bias.jsonl``.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from probe import append_row, commit, task_optimizer, train_and_dev

from promptlearn.bench.task import load_task
from promptlearn.edits import as_demo, demo_input
from promptlearn.records import Candidate, Example

ROOT = Path(__file__).parents[1] / "results" / "optimizer"


def over_answered(evaluation, examples: list[Example]) -> dict[str, float]:
    """Per label: (times answered + 1) / (times right answer + 1) on ``examples``; > 1 means over-answered."""
    answered = collections.Counter((evaluation.results[e.id].rollout.output or "").strip().lower() for e in examples)
    gold = collections.Counter(str(e.reference).strip().lower() for e in examples)
    return {label: (answered[label] + 1) / (gold[label] + 1) for label in gold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-dev", type=int, default=100)
    args = parser.parse_args()
    task = load_task(args.task)
    train, dev = train_and_dev(task, args.seed, args.n_dev)
    by_id = {e.id: e for e in train}
    optimizer = task_optimizer(task, args.seed)
    rows = [json.loads(line) for line in (ROOT / "demo_choice.jsonl").open()]
    labels = {str(e.reference) for e in train}
    sets = [r for r in rows if r["task"] == task.name and r["seed"] == args.seed and r["policy"] == "any"
            and r["size"] == len(labels) and "per_label" not in r]
    at = commit()
    for row in sets:
        drawn = [by_id[i] for i in row["demos"]]
        cover = Candidate.create(task.seed_prompt, demos=tuple(as_demo(e) for e in drawn))
        bias = over_answered(optimizer.evaluate(cover, train), train)
        ordered = sorted(drawn, key=lambda e: -bias[str(e.reference).strip().lower()])
        shortest = {}
        for e in train:
            key = str(e.reference)
            if key not in shortest or len(demo_input(e)) < len(demo_input(shortest[key])):
                shortest[key] = e
        short = sorted(shortest.values(), key=lambda e: -bias[str(e.reference).strip().lower()])
        for variant, demos in (("as drawn", drawn), ("bias last", ordered), ("short", short)):
            evaluation = optimizer.evaluate(Candidate.create(task.seed_prompt, demos=tuple(as_demo(e) for e in demos)), dev)
            dev_bias = over_answered(evaluation, dev)
            worst_label = max(dev_bias, key=dev_bias.get)
            worst = dev_bias[worst_label]
            append_row(ROOT / "label_bias.jsonl", {"task": task.name, "seed": args.seed, "draw": row["draw"],
                                                  "variant": variant, "n_dev": len(dev), "dev": evaluation.mean,
                                                  "dev_max_over_answer": round(worst, 2),
                                                  "dev_most_over_answered": worst_label,
                                                  "demos": [e.id for e in demos], "commit": at})
            print(f"draw {row['draw']} {variant:10s} dev {evaluation.mean:.1%}  most over-answered {worst_label} x{worst:.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
