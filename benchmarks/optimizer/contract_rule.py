"""Is the answer contract worth stating as a rule when the agent already answers mostly in format?

    python benchmarks/optimizer/contract_rule.py benchmarks/suites/good_seed/snips.yaml --seeds 0,1,2 --draws 2

The ``format`` strategy adds the contract ("reply with exactly one of these labels and nothing else: ...") as a
rule only when most of a minibatch's failures break the format; with a competent seed and a cover set most
failures are wrong labels, so it rarely fires. Yet in the good-seed SNIPS cells that kept it, leaving that rule
out of the final prompt cost 2.9 to 12.1 points on test (``rule_ablation.py``). This asks the question on data
no choice saw: for each split seed, the seed prompt and ``--draws`` one-example-per-label sets (``cover``, as
``demo_choice.py --per-label 1`` draws them), each with and without the contract as rule 1, scored on 100
examples of the task's data in none of the cell's splits. One JSON line per variant goes to
``results/optimizer/contract_rule.jsonl``; model calls go through ``results/optimizer/contract_rule_cells/``.
``--place end`` asks where the sentence belongs: the same sentence, capitalised, as the prompt's last line (after
the worked examples, next to the input) instead of as rule 1 (before them); its rows say ``"place": "end"``.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from demo_choice import draw_per_label
from probe import append_row, commit, metric_scorer, train_and_dev

from promptlearn.bench.task import load_task
from promptlearn.contracts import infer_contract
from promptlearn.edits import as_demo, contract_rule
from promptlearn.records import Candidate
from promptlearn.stats import bootstrap_ci

ROOT = Path(__file__).parents[1] / "results" / "optimizer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--n-dev", type=int, default=100)
    parser.add_argument("--place", choices=("rule", "end"), default="rule",
                        help="rule: the contract as rule 1 (before the worked examples); end: the same sentence, "
                             "capitalised, as the prompt's last line, after the worked examples")
    args = parser.parse_args()
    task = load_task(args.task)
    assert isinstance(task.seed_prompt, str), "single-prompt tasks only"
    at, rng = commit(), random.Random(0)
    diffs: list[float] = []
    for seed in map(int, args.seeds.split(",")):
        train, dev = train_and_dev(task, seed, args.n_dev)
        contract = infer_contract(train)
        assert contract is not None, f"{task.name}: no answer contract inferred from its training references"
        # the loop's own contract rule (numbered, or the last line as cover adds it), so the probe scores its text
        rule = contract_rule(Candidate.create(task.seed_prompt), contract, 0, (),
                             placement="end" if args.place == "end" else "list")
        scorer = metric_scorer(task, ROOT / "contract_rule_cells" / f"{task.name}-seed{seed}.sqlite")
        sets = {"seed": ()} | {f"cover draw {d}": tuple(
            as_demo(e) for e in draw_per_label(train, 1, random.Random(f"{seed}/any/per-label1/{d}")))
            for d in range(args.draws)}
        for name, demos in sets.items():
            scores = {}
            for with_rule in (False, True):
                candidate = Candidate.create(task.seed_prompt, rules=(rule,) if with_rule else (), demos=demos)
                evaluation = scorer.evaluate(candidate, dev)
                scores[with_rule] = [evaluation.results[e.id].score for e in dev]
                append_row(ROOT / "contract_rule.jsonl", {
                    "task": task.name, "seed": seed, "set": name, "contract_rule": with_rule,
                    **({"place": args.place} if with_rule and args.place != "rule" else {}), "n_dev": len(dev),
                    "dev": evaluation.mean, "demos": [d.example_id for d in demos], "scores": scores[with_rule],
                    "off_contract": sum(1 for e in dev if not contract.format_ok(evaluation.results[e.id].rollout.output or "")),
                    "commit": at})
            pair = [b - a for a, b in zip(scores[False], scores[True])]
            diffs += pair
            where = "rule" if args.place == "rule" else "sentence last"
            print(f"{task.name} seed {seed} {name}: {sum(scores[False]) / len(dev):.1%} -> "
                  f"{sum(scores[True]) / len(dev):.1%} with the contract {where}", flush=True)
    low, high = bootstrap_ci(diffs, rng=rng)
    print(f"{task.name}, all: {sum(diffs) / len(diffs) * 100:+.1f} [{low * 100:+.1f}, {high * 100:+.1f}] "
          f"over {len(diffs)} paired dev answers")


if __name__ == "__main__":
    main()
