"""Which training examples make good demonstrations? The seed prompt plus two demos, by how they are picked.

    python benchmarks/optimizer/demo_choice.py benchmarks/suites/tasks/snips.yaml --seed 0 --draws 4 --n-dev 100
    python benchmarks/optimizer/demo_choice.py benchmarks/suites/tasks/snips.yaml --size 4 --policies wrong,right

The seed prompt runs on the cell's training split (the bench split of ``--seed``); each policy then
draws ``--draws`` pairs of training examples with different references from its pool -- ``wrong``: ones
the seed got wrong (how the demos strategy picks them), ``right``: ones it got right
(MIPROv2's bootstrapped demos), ``mixed``: one of each, ``any``: the whole training split -- and the seed
plus that pair is scored on a dev set: examples of the task's data in none of the cell's splits, so no test
example informs the choice.
``--size K`` draws K examples with different references instead of a pair (``mixed`` alternates the
pools). One JSON line per (task, seed, policy, size, draw) goes to ``benchmarks/results/optimizer/demo_choice.jsonl``;
model calls go through the shared cache, so a rerun costs nothing.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from probe import append_row, commit, task_optimizer

from promptlearn.bench.task import load_task
from promptlearn.edits import as_demo
from promptlearn.records import Candidate, Example

OUT = Path(__file__).parents[1] / "results" / "optimizer" / "demo_choice.jsonl"
POLICIES = ("wrong", "right", "mixed", "any")


def draw_pair(first: list[Example], second: list[Example], rng: random.Random) -> list[Example] | None:
    """One example from each pool, with different references; None when no such pair exists."""
    pairs = [(a, b) for a in first for b in second if a.id != b.id and str(a.reference) != str(b.reference)]
    return list(rng.choice(pairs)) if pairs else None


def draw_set(first: list[Example], second: list[Example], size: int, rng: random.Random) -> list[Example] | None:
    """``size`` examples with different references, alternately from each pool; None when there are not enough."""
    picked: list[Example] = []
    for i in range(size):
        pool = [e for e in (first if i % 2 == 0 else second)
                if all(e.id != p.id and str(e.reference) != str(p.reference) for p in picked)]
        if not pool:
            return None
        picked.append(rng.choice(pool))
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--n-dev", type=int, default=100)
    parser.add_argument("--size", type=int, default=2, help="demos per draw (2: a pair, as the demos strategy adds)")
    parser.add_argument("--policies", default=",".join(POLICIES), help="comma-separated subset of " + ",".join(POLICIES))
    args = parser.parse_args()
    if bad := [p for p in args.policies.split(",") if p not in POLICIES]:
        parser.error(f"unknown policies {bad}; choose from {list(POLICIES)}")
    if args.size < 1:
        parser.error("--size must be >= 1")
    task = load_task(args.task)
    train, val, test = task.splits(args.seed)
    used = {e.id for e in [*train, *val, *test]}
    rng = random.Random(args.seed)
    dev = rng.sample([e for e in task.examples() if e.id not in used], args.n_dev)
    optimizer = task_optimizer(task, args.seed)
    assert isinstance(task.seed_prompt, str), "single-prompt tasks only"
    seed = Candidate.create(task.seed_prompt)
    on_train = optimizer.evaluate(seed, train)
    right = [e for e in train if on_train.results[e.id].score >= 1.0]
    wrong = [e for e in train if on_train.results[e.id].score < 1.0]
    base = optimizer.evaluate(seed, dev).mean
    at = commit()
    print(f"{task.name} seed {args.seed}: seed prompt train {on_train.mean:.1%} ({len(wrong)} wrong), "
          f"dev {base:.1%} on {len(dev)}")
    for policy in args.policies.split(","):
        pools = {"wrong": (wrong, wrong), "right": (right, right), "mixed": (wrong, right), "any": (train, train)}[policy]
        # Pairs keep the draws (and so the cached calls) of the rows made before --size existed.
        policy_rng = random.Random(f"{args.seed}/{policy}" + ("" if args.size == 2 else f"/{args.size}"))
        for draw in range(args.draws):
            pair = draw_pair(*pools, policy_rng) if args.size == 2 else draw_set(*pools, args.size, policy_rng)
            if pair is None:
                print(f"  {policy}: not {args.size} examples with different references")
                break
            demos = tuple(as_demo(e) for e in pair)  # rendered as the demos strategy renders them
            score = optimizer.evaluate(Candidate.create(task.seed_prompt, demos=demos), dev).mean
            row = {"task": task.name, "seed": args.seed, "policy": policy, "size": len(demos), "draw": draw, "n_dev": len(dev),
                   "seed_dev": base, "dev": score, "demos": [d.example_id for d in demos], "commit": at}
            append_row(OUT, row)
            print(f"  {policy} draw {draw}: dev {score:.1%} ({score - base:+.1%})  {[str(e.reference) for e in pair]}")


if __name__ == "__main__":
    main()
