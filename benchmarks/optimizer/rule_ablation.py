"""Do the rules the loop keeps help on the test set? Each final prompt scored with and without its rules.

    python benchmarks/optimizer/rule_ablation.py 'benchmarks/results/*/results.jsonl' \
        --tasks good_snips,good_banking77_15 [--methods promptlearn,promptlearn-cover] [--each-rule] [--limit N]
    python benchmarks/optimizer/rule_ablation.py --summary      # the tables, from the rows already written
    python benchmarks/optimizer/rule_ablation.py 'benchmarks/results/*/results.jsonl' --refuted --methods ALL

Every bench record (status ok, a method in ``--methods``, scored by llama.cpp) whose best prompt has a "Rules:"
block is taken once per distinct (task, seed, prompt). Its prompt is scored on the cell's own test split twice
in this process -- as kept, and with the Rules block removed (its demos and wording untouched) -- and, with
``--each-rule``, once more without each single rule (the rest renumbered). The loop kept every one of these rules
on validation, where most rule steps were within the noise (benchmarks/README "How sure the validation choice
was"); this measures what they are worth on examples no choice saw. Scoring is the bench's own (the task's
agent and ground-truth metric, ``bench.cell``); model calls are cached per task and seed under
``results/optimizer/rule_ablation_cells/``, so a rerun or a resumed run costs nothing for what it has done.
One JSON line per (prompt, variant) goes to ``results/optimizer/rule_ablation.jsonl``; the summary pairs each
variant with the prompt as kept over the test examples (95% bootstrap interval), per prompt and pooled, and
``--summary`` prints the same from the rows alone: all prompts, those whose only rules state the answer contract
(``contracts.infer_contract``'s instruction, which format repair and ``cover`` add), and those the rewriter wrote.
A contract that ``cover`` restates as the prompt's last line (``Rule.placement == "end"``, since 2410c5c) is not in
the Rules block, so it stays in both variants: for such prompts this measures the numbered rules alone.
``--refuted`` scores nothing: it lists the distinct rules of those final prompts that the training-data check
(``guards.contradicted_by_data``, run on the cell's own training split) refuses today.
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import re
from pathlib import Path
from typing import Any

from probe import append_row, commit, metric_scorer

from promptlearn.bench.task import load_suite
from promptlearn.stats import bootstrap_ci

ROOT = Path(__file__).parents[1]
OUT = ROOT / "results" / "optimizer" / "rule_ablation.jsonl"
CELLS = ROOT / "results" / "optimizer" / "rule_ablation_cells"
SUITES = ("suites/good_seed.yaml", "suites/core.yaml")
CONTRACT_RULE = "reply with exactly one of these labels and nothing else"  # contracts.infer_contract's labels wording
RULES = re.compile(r"\n\nRules:\n(?P<block>(?:\d+\. .*(?:\n|$))+)")


def split_rules(prompt: str) -> tuple[str, list[str], str] | None:
    """(text before the Rules block, its rules without numbers, text after it), or None when it has none."""
    match = RULES.search(prompt)
    if match is None:
        return None
    rules = [re.sub(r"^\d+\. ", "", line) for line in match["block"].rstrip("\n").split("\n")]
    return prompt[:match.start()], rules, prompt[match.end():].lstrip("\n")


def join_rules(before: str, rules: list[str], after: str) -> str:
    """The prompt with ``rules`` as its Rules block, numbered as ``records.render_prompt`` numbers them."""
    text = before
    if rules:
        text += "\n\nRules:\n" + "\n".join(f"{i}. {rule}" for i, rule in enumerate(rules, 1))
    return f"{text}\n\n{after}" if after else text


def records(pattern: str, tasks: set[str], methods: set[str]) -> list[dict[str, Any]]:
    """One record per distinct (task, seed, best prompt) with rules, oldest file first."""
    seen: dict[tuple[str, int, str], dict[str, Any]] = {}
    for path in sorted(glob.glob(pattern)):
        for line in open(path):
            record = json.loads(line)
            prompt = record.get("best_prompt")
            if (record.get("status") != "ok" or ("ALL" not in methods and record.get("method") not in methods)
                    or (tasks and record.get("task") not in tasks) or record.get("engine") == "transformers"
                    or not isinstance(prompt, str) or split_rules(prompt) is None):
                continue
            if join_rules(*split_rules(prompt)) != prompt:  # type: ignore[misc]
                print(f"skipped ({record['task']} seed {record['seed']}): its Rules block does not parse back")
                continue
            seen.setdefault((record["task"], record["seed"], prompt), {**record, "source": path})
    return list(seen.values())


def paired(kept: dict[str, float], other: dict[str, float], rng: random.Random) -> tuple[float, list[float]]:
    diffs = [other[i] - kept[i] for i in kept]
    return sum(diffs) / len(diffs), list(bootstrap_ci(diffs, rng=rng))


def refuted(chosen: list[dict[str, Any]], specs: dict[str, Any]) -> None:
    """Each distinct rule of the ``chosen`` final prompts that ``contradicted_by_data`` refuses, and why."""
    from promptlearn.guards import contradicted_by_data

    seen: set[tuple[str, int, str]] = set()
    for record in chosen:
        train = specs[record["task"]].splits(record["seed"])[0]
        for rule in split_rules(record["best_prompt"])[1]:  # type: ignore[index]
            if (record["task"], record["seed"], rule) not in seen:
                seen.add((record["task"], record["seed"], rule))
                why = contradicted_by_data(rule, train)
                if why:
                    print(f"{record['task']} seed {record['seed']} {record['method']} ({record['source']}): {rule}\n    {why}")
    print(f"{len(seen)} distinct rules checked")


def summary(rng: random.Random) -> None:
    """Each variant paired with its prompt as kept, from the rows in ``OUT``; pooled over groups of prompts."""
    rows = [json.loads(line) for line in OUT.open()]
    kept = {(r["task"], r["seed"], r["best_prompt"]): r["scores"] for r in rows if r["variant"] == "as kept"}
    contract_only = [r for r in rows if all(rule.startswith(CONTRACT_RULE) for rule in r["rules"])]
    groups = {"all": rows, "contract rule only": contract_only, "rewriter's rules": [r for r in rows if r not in contract_only]}
    for group, members in groups.items():
        for variant in ("no rules", "without one rule"):
            diffs: list[float] = []
            prompts = 0
            for row in members:
                if row["variant"] == variant or (variant == "without one rule" and row["variant"].startswith("without")):
                    base = kept[(row["task"], row["seed"], row["best_prompt"])]
                    diffs += [row["scores"][i] - base[i] for i in base]
                    prompts += 1
            if diffs:
                low, high = bootstrap_ci(diffs, rng=rng)
                print(f"{group}, {variant} - as kept: {sum(diffs) / len(diffs) * 100:+.1f} [{low * 100:+.1f}, "
                      f"{high * 100:+.1f}] over {prompts} ablation(s), {len(diffs)} paired test answers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", help="a glob of bench results files")
    parser.add_argument("--summary", action="store_true", help="only print the summary of the rows already written")
    parser.add_argument("--refuted", action="store_true", help="only list the kept rules the training data refutes")
    parser.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    parser.add_argument("--methods", default="promptlearn,promptlearn-cover", help="comma-separated, or ALL")
    parser.add_argument("--each-rule", action="store_true", help="also score the prompt without each single rule")
    parser.add_argument("--limit", type=int, default=0, help="at most this many prompts (0: all)")
    args = parser.parse_args()
    if args.summary or not args.results:
        summary(random.Random(0))
        return
    specs = {t.name: t for t in load_suite([ROOT / s for s in SUITES])}
    chosen = records(args.results, {t for t in args.tasks.split(",") if t}, set(args.methods.split(",")))
    chosen = [r for r in chosen if r["task"] in specs][: args.limit or None]
    if args.refuted:
        refuted(chosen, specs)
        return
    print(f"{len(chosen)} prompts with rules")
    done = {(r["task"], r["seed"], r["prompt"]) for r in map(json.loads, OUT.open())} if OUT.exists() else set()
    at, rng = commit(), random.Random(0)
    pooled: dict[str, list[float]] = {}
    for record in chosen:
        task = specs[record["task"]]
        test = task.splits(record["seed"])[2]
        scorer = metric_scorer(task, CELLS / f"{task.name}-seed{record['seed']}.sqlite")
        before, rules, after = split_rules(record["best_prompt"])  # type: ignore[misc]
        variants = {"as kept": record["best_prompt"], "no rules": join_rules(before, [], after)}
        if args.each_rule and len(rules) > 1:
            variants |= {f"without rule {i}": join_rules(before, rules[:i - 1] + rules[i:], after)
                         for i in range(1, len(rules) + 1)}
        scores: dict[str, dict[str, float]] = {}
        for name, prompt in variants.items():
            evaluation = scorer.evaluate(prompt, test)
            scores[name] = {e.id: evaluation.results[e.id].score for e in test}
            if (task.name, record["seed"], prompt) not in done:
                append_row(OUT, {"task": task.name, "seed": record["seed"], "method": record["method"],
                                 "source": record["source"], "record_commit": record.get("commit"),
                                 "recorded_test": record["test"], "rules": rules, "variant": name, "prompt": prompt,
                                 "best_prompt": record["best_prompt"],
                                 "test": evaluation.mean, "scores": scores[name], "commit": at})
        line = f"{task.name} seed {record['seed']} ({len(rules)} rule(s), {record['source'].split('/')[-2]}): " \
               f"as kept {evaluation_mean(scores['as kept']):.1%} (recorded {record['test']:.1%})"
        for name in variants:
            if name != "as kept":
                gain, ci = paired(scores["as kept"], scores[name], rng)
                pooled.setdefault(name if name == "no rules" else "without one rule", []).extend(
                    scores[name][i] - scores["as kept"][i] for i in scores["as kept"])
                line += f"; {name} {gain * 100:+.1f} [{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]"
        print(line, flush=True)
    for name, diffs in pooled.items():
        ci = bootstrap_ci(diffs, rng=rng)
        print(f"pooled, {name} - as kept: {sum(diffs) / len(diffs) * 100:+.1f} "
              f"[{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}] over {len(diffs)} paired test answers")


def evaluation_mean(scores: dict[str, float]) -> float:
    return sum(scores.values()) / len(scores)


if __name__ == "__main__":
    main()
