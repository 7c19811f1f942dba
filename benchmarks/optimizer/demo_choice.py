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
pools); ``--per-label K`` draws K examples of every label in the first pool (``any``: the training split;
``typical``: the K most typical of each label in it, one draw).
One JSON line per (task, seed, policy, size, draw) goes to ``benchmarks/results/optimizer/demo_choice.jsonl``;
model calls go through the shared cache, so a rerun costs nothing.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from probe import append_row, commit, task_optimizer, train_and_dev

from promptlearn.bench.task import load_task
from promptlearn.edits import as_demo
from promptlearn.records import Candidate, Example

OUT = Path(__file__).parents[1] / "results" / "optimizer" / "demo_choice.jsonl"
POLICIES = ("wrong", "right", "mixed", "any", "typical")


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


def draw_per_label(pool: list[Example], per_label: int, rng: random.Random) -> list[Example]:
    """``per_label`` examples of every reference in ``pool`` (all of a label's when it has fewer), shuffled."""
    by_label: dict[str, list[Example]] = {}
    for e in pool:
        by_label.setdefault(str(e.reference), []).append(e)
    picked = [e for label in sorted(by_label) for e in rng.sample(by_label[label], min(per_label, len(by_label[label])))]
    rng.shuffle(picked)
    return picked


def typical_per_label(pool: list[Example], per_label: int) -> list[Example]:
    """The ``per_label`` most typical examples of every reference in ``pool``: most like the label's other
    examples and least like other labels' (mean BM25 over the inputs, as a share of the example's score with
    itself so long inputs do not win by length; same label minus other labels), in the pool's order.
    Deterministic: one draw."""
    from promptlearn.edits import demo_input
    from promptlearn.retrieval import BM25Index

    index = BM25Index([demo_input(e) for e in pool])

    def typicality(i: int) -> float:
        scores = index.scores(demo_input(pool[i]))
        scores = [s / (scores[i] or 1.0) for s in scores]
        same = [s for j, s in enumerate(scores) if j != i and pool[j].reference == pool[i].reference]
        other = [s for j, s in enumerate(scores) if pool[j].reference != pool[i].reference]
        return (sum(same) / len(same) if same else 0.0) - (sum(other) / len(other) if other else 0.0)

    ranked = sorted(range(len(pool)), key=lambda i: -typicality(i))
    kept: list[int] = []
    for i in ranked:
        if sum(pool[j].reference == pool[i].reference for j in kept) < per_label:
            kept.append(i)
    return [pool[i] for i in sorted(kept)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--n-dev", type=int, default=100)
    parser.add_argument("--size", type=int, default=2, help="demos per draw (2: a pair, as the demos strategy adds)")
    parser.add_argument("--per-label", type=int, default=0,
                        help="draw this many examples of every label instead of --size (0: off)")
    parser.add_argument("--policies", default=",".join(POLICIES), help="comma-separated subset of " + ",".join(POLICIES))
    args = parser.parse_args()
    if bad := [p for p in args.policies.split(",") if p not in POLICIES]:
        parser.error(f"unknown policies {bad}; choose from {list(POLICIES)}")
    if args.size < 1:
        parser.error("--size must be >= 1")
    task = load_task(args.task)
    train, dev = train_and_dev(task, args.seed, args.n_dev)
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
        pools = {"wrong": (wrong, wrong), "right": (right, right), "mixed": (wrong, right), "any": (train, train),
                 "typical": (train, train)}[policy]
        # Pairs keep the draws (and so the cached calls) of the rows made before --size existed.
        policy_rng = random.Random(f"{args.seed}/{policy}" + ("" if args.size == 2 else f"/{args.size}")
                                   + (f"/per-label{args.per_label}" if args.per_label else ""))
        for draw in range(args.draws):
            if policy == "typical":
                if not args.per_label or draw:
                    break  # needs --per-label; deterministic, so one draw
                pair = typical_per_label(pools[0], args.per_label)
            elif args.per_label:
                pair = draw_per_label(pools[0], args.per_label, policy_rng)
            else:
                pair = draw_pair(*pools, policy_rng) if args.size == 2 else draw_set(*pools, args.size, policy_rng)
            if pair is None:
                print(f"  {policy}: not {args.size} examples with different references")
                break
            demos = tuple(as_demo(e) for e in pair)  # rendered as the demos strategy renders them
            score = optimizer.evaluate(Candidate.create(task.seed_prompt, demos=demos), dev).mean
            row = {"task": task.name, "seed": args.seed, "policy": policy, "size": len(demos), "draw": draw,
                   **({"per_label": args.per_label} if args.per_label else {}), "n_dev": len(dev),
                   "seed_dev": base, "dev": score, "demos": [d.example_id for d in demos], "commit": at}
            append_row(OUT, row)
            print(f"  {policy} draw {draw}: dev {score:.1%} ({score - base:+.1%})  {[str(e.reference) for e in pair]}")


if __name__ == "__main__":
    main()
