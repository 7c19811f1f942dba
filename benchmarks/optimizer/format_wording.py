"""Does the format repair's example letter get copied? Option-letter contract wordings, scored without optimisation.

    python benchmarks/optimizer/format_wording.py benchmarks/suites/tasks/bbh_snarks.yaml --seed 1 --n-dev 60

The format repair adds the answer contract as a rule; for option letters it reads "Answer with only the
letter of the correct option, in parentheses, like (E)." with the most common training reference as the
example. On bbh_sample tracking_shuffled_objects_five_objects seed 1 that child answered "E" to 6 of its 8
minibatch questions (none of which had (E) as the answer) and was rejected. This scores the seed prompt
plus each wording of that rule on a dev set -- examples of the task outside the seed's test split, so no
test example informs it -- and reports accuracy, how many outputs keep the contract's shape, and how
many give the example's letter (against how many references have it). One JSON line per (task, seed,
wording) goes to ``benchmarks/results/optimizer/format_wording.jsonl``; model calls go through the
shared cache, so a rerun costs nothing.
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from probe import append_row, commit, task_optimizer

from promptlearn.bench.task import load_task
from promptlearn.contracts import infer_contract
from promptlearn.records import Candidate, Rule

OUT = Path(__file__).parents[1] / "results" / "optimizer" / "format_wording.jsonl"
BASE = "Answer with only the letter of the correct option, in parentheses"


def wordings(example: str, labels: tuple[str, ...]) -> dict[str, str]:
    return {"like most common (shipped)": f"{BASE}, like {example}.",
            "like (A)": f"{BASE}, like (A).",
            "no example": f"{BASE}.",
            "every label": f"{BASE}: one of {', '.join(labels)}."}


def letter(output: str) -> str | None:
    found = re.match(r"\s*\(?([A-Za-z])\)?(?:\W|$)", output)
    return found.group(1).upper() if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-dev", type=int, default=60)
    args = parser.parse_args()
    task = load_task(args.task)
    train, val, test = task.splits(args.seed)
    contract = infer_contract(train)
    if contract is None or contract.kind != "option_letter":
        parser.error(f"{task.name}: the training references are not option letters")
    example = re.search(r"like (\(\w\))", contract.instruction)
    assert example is not None, contract.instruction
    testing = {e.id for e in test}
    pool = [e for e in task.examples() if e.id not in testing]
    dev = random.Random(args.seed).sample(pool, min(args.n_dev, len(pool)))
    optimizer = task_optimizer(task, args.seed)
    assert isinstance(task.seed_prompt, str), "single-prompt tasks only"
    at = commit()
    shown = example.group(1)[1]
    gold_shown = sum(letter(str(e.reference)) == shown for e in dev)
    print(f"{task.name} seed {args.seed}: {len(dev)} dev examples, shipped example {example.group(1)} "
          f"(the answer to {gold_shown} of them)")
    for name, text in wordings(example.group(1), contract.labels).items():
        candidate = Candidate.create(task.seed_prompt, (Rule(id=1, text=text),))
        scored = optimizer.evaluate(candidate, dev)
        outputs = [scored.results[e.id].rollout.output or "" for e in dev]
        in_shape = sum(contract.format_ok(o) for o in outputs)
        copied = sum(letter(o) == shown for o in outputs)
        row = {"task": task.name, "seed": args.seed, "wording": name, "rule": text, "n_dev": len(dev),
               "dev": scored.mean, "in_shape": in_shape, "gave_example_letter": copied,
               "gold_example_letter": gold_shown, "commit": at}
        append_row(OUT, row)
        print(f"  {name:<28} dev {scored.mean:6.1%}  in shape {in_shape}/{len(dev)}  "
              f"gave {example.group(1)}: {copied} (answer {gold_shown})")


if __name__ == "__main__":
    main()
