"""A two-predictor DSPy program (notes, then answer) optimised by promptlearn and by dspy.GEPA.

One contract for every method: the same ``dspy.Module`` run through DSPy's own ChatAdapter on the
same models (0.5B agent through our LLM layer, 1.5B rewriter), the same split of a bench task, the
same metric feedback (our ExactMatch critique), the same budget (one rollout = one program run on
one train/val example = one DSPy metric call), and the same held-out test scoring (the task's
ground-truth metric on the program's ``answer``; an adapter failure scores 0).

    python benchmarks/dspy_program/run.py benchmarks/suites/tasks/bbh_sports_understanding.yaml \
        --seed 0 --budget 150 --test 60 --methods seed,promptlearn,dspy-gepa

Results append to ``benchmarks/dspy_program/results.jsonl``; a (task, method, seed, budget) already
there is skipped, and model calls are cached, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from promptlearn import LLM, Budget, ExactMatch, OptimizeConfig, Rollout
from promptlearn.agents import first_line
from promptlearn.bench.task import load_task, metric_judge
from promptlearn.dspy import dspy_lm, optimize_program
from promptlearn.stats import bootstrap_ci

HERE = Path(__file__).parent
NOTES_INSTRUCTION = "Write brief notes on how to answer the question."
MAX_TOKENS = 96  # notes need room; DSPy's field markers take ~20 of these


class NotesThenAnswer(dspy.Module):
    def __init__(self, answer_instruction: str):
        super().__init__()
        self.think = dspy.Predict(dspy.Signature("question -> notes", NOTES_INSTRUCTION))
        self.decide = dspy.Predict(dspy.Signature("question, notes -> answer", answer_instruction))

    def forward(self, question: str) -> Any:
        return self.decide(question=question, notes=self.think(question=question).notes)


def as_dspy(examples: list[Any], field: str) -> list[Any]:
    return [dspy.Example(question=str(e.inputs[field]), answer=str(e.reference), pl_id=e.id).with_inputs("question")
            for e in examples]


def feedback_metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
    """Our ExactMatch critique on the program's answer (first line), as a GEPA-style score + feedback."""
    from promptlearn import Example

    output = first_line(str(getattr(pred, "answer", "") or ""))
    critique = asyncio.run(ExactMatch().acritique(Example(id=gold.pl_id, inputs={}, reference=gold.answer),
                                                  Rollout(example_id=gold.pl_id, candidate_id="p", output=output)))
    return dspy.Prediction(score=critique.score, feedback=critique.explanation)


def test_scores(program: Any, test: list[Any], task: Any, field: str, lm: Any) -> tuple[list[float], dict[str, int]]:
    """Ground-truth scores on the test set, and how many runs failed, by exception type (each scores 0)."""
    judge = metric_judge(task)
    scores, failures = [], Counter[str]()
    with warnings.catch_warnings(), dspy.context(lm=lm):
        warnings.simplefilter("ignore", DeprecationWarning)
        for example in test:
            question = str(example.inputs[field])  # a KeyError here is a bug in this script, not a wrong answer
            try:
                output = first_line(str(program(question=question).answer))
            except (AdapterParseError, AttributeError) as exc:  # DSPy could not parse the reply into the fields
                failures[type(exc).__name__] += 1
                scores.append(0.0)
                continue
            rollout = Rollout(example_id=example.id, candidate_id="p", output=output)
            scores.append(asyncio.run(judge.acritique(example, rollout)).score)
    return scores, dict(failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=150)
    parser.add_argument("--methods", default="seed,promptlearn,dspy-gepa")
    parser.add_argument("--test", type=int, default=None, help="score on the first N test examples only")
    parser.add_argument("--out", default=str(HERE / "results.jsonl"))
    parser.add_argument("--agent", default="local/qwen2.5-coder-0.5b")
    parser.add_argument("--rewriter", default="local/qwen2.5-coder-1.5b")
    args = parser.parse_args(argv)

    task = load_task(args.task)
    train, val, test = task.splits(args.seed)
    test = test[: args.test] if args.test else test
    field = task.data.inputs if isinstance(task.data.inputs, str) else task.data.inputs[0]
    out = Path(args.out)
    done = set()
    if out.exists():
        done = {(r["task"], r["method"], r["seed"], r["budget"], r["sizes"]["test"], r.get("commit"))
                for r in map(json.loads, out.read_text().splitlines())}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip() or None
    cache = HERE / "cache.sqlite"
    agent_llm = LLM(args.agent, role="agent", cache=cache)
    rewriter = LLM(args.rewriter, role="optimizer", cache=cache, temperature=0.0)
    seed_program = NotesThenAnswer(task.seed_prompt)
    for method in args.methods.split(","):
        # A row counts as done for the code that made it: after a change to promptlearn, rerun to compare.
        if any(key[:5] == (task.name, method, args.seed, args.budget, len(test)) and (method != "promptlearn"
               or key[5] == commit) for key in done):
            print(f"{task.name} {method} seed {args.seed}: already in {out}")
            continue
        rollouts = {"n": 0}
        start = time.time()
        if method == "seed":
            program = seed_program
        elif method == "promptlearn":
            found = optimize_program(seed_program, as_dspy(train, field), as_dspy(val, field), metric=feedback_metric,
                                     lm=agent_llm, optimizer_llm=rewriter, max_tokens=MAX_TOKENS,
                                     run_dir=str(HERE / "runs" / f"{task.name}-s{args.seed}-b{args.budget}"),
                                     resume=True, config=OptimizeConfig(seed=args.seed, task_description=task.description,
                                                                        budget=Budget(max_rollouts=args.budget)))
            program, rollouts["n"] = found.program, int(found.result.usage.get("rollouts", 0))
        elif method == "dspy-gepa":
            def counted(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None,
                        tally: dict[str, int] = rollouts) -> Any:
                if pred_name is None:  # a program run scored; per-predictor feedback calls re-score the same run
                    tally["n"] += 1
                return feedback_metric(gold, pred, trace, pred_name, pred_trace)

            optimizer = dspy.GEPA(metric=counted, max_metric_calls=args.budget,
                                  reflection_lm=dspy_lm(rewriter, max_tokens=700),
                                  reflection_minibatch_size=8, num_threads=1, seed=args.seed,
                                  log_dir=str(HERE / "runs" / f"{task.name}-gepa-s{args.seed}-b{args.budget}"))
            with warnings.catch_warnings(), dspy.context(lm=dspy_lm(agent_llm, max_tokens=MAX_TOKENS)):
                warnings.simplefilter("ignore", DeprecationWarning)
                program = optimizer.compile(seed_program, trainset=as_dspy(train, field), valset=as_dspy(val, field))
        else:
            print(f"unknown method {method!r}", file=sys.stderr)
            return 2
        optimize_s = time.time() - start
        scores, failures = test_scores(program, test, task, field, dspy_lm(agent_llm, max_tokens=MAX_TOKENS))
        mean = sum(scores) / len(scores)
        low, high = bootstrap_ci(scores, rng=random.Random(args.seed))
        row = {"task": task.name, "method": method, "commit": commit, "seed": args.seed, "budget": args.budget, "test": mean,
               "test_ci95": [low, high], "rollouts": rollouts["n"], "optimize_wall_s": round(optimize_s, 1),
               "instructions": {n: str(p.signature.instructions) for n, p in program.named_predictors()},
               "sizes": {"train": len(train), "val": len(val), "test": len(test)}, "test_scores": scores,
               "test_failures": failures,
               "command": " ".join(["python", "benchmarks/dspy_program/run.py", *(argv or sys.argv[1:])])}
        with out.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(f"{task.name} {method} seed {args.seed}: test {mean:.3f} [{low:.3f}, {high:.3f}], "
              f"{rollouts['n']} rollouts, {optimize_s:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

