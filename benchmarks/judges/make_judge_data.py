"""Labelled judge-calibration data from real model outputs whose truth is known by code.

    python benchmarks/judges/make_judge_data.py gsm8k        # correctness (numeric)
    python benchmarks/judges/make_judge_data.py ifeval       # rule_compliance, format_compliance, criteria
    python benchmarks/judges/make_judge_data.py hotpotqa     # faithfulness
    python benchmarks/judges/make_judge_data.py snips_pairs  # pairwise

- gsm8k: the 0.5B agent answers GSM8K test questions (greedy, 400 tokens); truth = the number
  on its "Answer:" line (or the last number of an output that ended by itself) equals the gold
  number; an output cut off by the token limit has no answer. Balanced right/wrong.
- ifeval: the 0.5B answers IFEval prompts whose instructions all have a deterministic checker
  (``ifeval_checks.py``); truth per instruction = the checker; label = all followed.
- hotpotqa: context = the retrieved passage that contains the gold answer (Arize's HotpotQA
  traces, ELv2: used here for benchmarks only, never shipped in the package). A faithful output
  is a sentence copied from the context; an unfaithful one is the same sentence with the answer
  entity swapped for another question's answer of the same shape (a hallucinated fact). Balanced.
- snips_pairs: a right and a wrong intent label that the 0.5B gave the same request under
  different candidate prompts in a benchmark run; truth = the right one (a/b order randomised).

Files go to ``benchmarks/judges/calibration/``. Generations use the LLM cache, so re-running is cheap.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "optimizer"))  # tasks.py

import ifeval_checks  # noqa: E402
from tasks import SHARED_DATA  # noqa: E402

from promptlearn import LLM  # noqa: E402

OUT = Path(__file__).parent / "calibration"
AGENT = "local/qwen2.5-coder-0.5b"
GSM8K_SYSTEM = ("Solve the math word problem. Reason in at most three short steps, then end with a line "
                "'Answer: <number>'. Be brief.")


def _write(name: str, rows: list[dict]) -> None:
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    counts = Counter(str(r["label"]) for r in rows)
    print(f"{path}: {len(rows)} items, labels {dict(sorted(counts.items()))}")


def final_number(text: str, finished: bool = True) -> float | None:
    """The number on the 'Answer:' line the prompt asks for, else the last number of an output that
    ended by itself. A cut-off output has none: its last number is usually an operand."""
    if "Answer:" in text:
        text = text.split("Answer:")[-1]
    elif not finished:
        return None
    numbers = re.findall(r"-?\d[\d,]*\.?\d*", text)
    if not numbers:
        return None
    try:
        return float(numbers[-1].replace(",", "").rstrip("."))
    except ValueError:
        return None


async def gsm8k(n_questions: int, seed: int, max_tokens: int) -> None:
    rows = [json.loads(line) for line in (SHARED_DATA / "gsm8k" / "test_lines_0000-0499.jsonl").open()]
    llm = LLM(AGENT, role="agent")
    rng = random.Random(seed)
    graded = []
    for done, index in enumerate(rng.sample(range(len(rows)), n_questions), start=1):
        row = rows[index]
        gold = float(row["answer"].split("####")[-1].strip().replace(",", ""))
        completion = await llm.acomplete([{"role": "system", "content": GSM8K_SYSTEM},
                                          {"role": "user", "content": row["question"]}],
                                         temperature=0.0, max_tokens=max_tokens)
        text = completion.text.strip()
        right = final_number(text, completion.finish_reason != "length") == gold
        graded.append({"id": f"gsm8k_{index}", "input": row["question"], "output": text,
                       "reference": f"{gold:g}", "label": right})
        print(f"gsm8k {done}/{n_questions}: {sum(g['label'] for g in graded)} right", flush=True)
    right = [g for g in graded if g["label"]]
    wrong = [g for g in graded if not g["label"]]
    half = min(len(right), len(wrong))
    balanced = right[:half] + wrong[:half]
    rng.shuffle(balanced)
    _write("gsm8k.jsonl", balanced)


def snips_pairs(run_dir: str, n_pairs: int, seed: int) -> None:
    """Pairs of a right and a wrong label that the 0.5B gave the same request under different
    candidate prompts during a benchmark run (``benchmarks/optimizer/runs/<name>``)."""
    from tasks import TASKS

    from promptlearn.store import read_events

    train, val, test = TASKS["snips"].load(0)
    by_id = {e.id: e for e in train + val + test}
    outputs: dict[str, dict[str, bool]] = {}
    for event in read_events(run_dir):
        if event["type"] == "result" and event["result"]["rollout"]["output"] is not None:
            rollout = event["result"]["rollout"]
            outputs.setdefault(rollout["example_id"], {})[rollout["output"]] = event["result"]["score"] >= 1.0
    rng = random.Random(seed)
    pairs = []
    for eid in sorted(outputs):
        right = [o for o, ok in outputs[eid].items() if ok]
        wrong = [o for o, ok in outputs[eid].items() if not ok]
        if right and wrong:
            good, bad = right[0], rng.choice(wrong)
            a, b, label = (good, bad, "a") if rng.random() < 0.5 else (bad, good, "b")
            pairs.append({"id": eid, "inputs": by_id[eid].inputs, "output_a": a, "output_b": b, "label": label})
    rng.shuffle(pairs)
    _write("snips_pairwise.jsonl", pairs[:n_pairs])


async def ifeval(n_prompts: int, seed: int, max_tokens: int) -> None:
    rows = [json.loads(line) for line in (SHARED_DATA / "ifeval" / "input_data_shared.jsonl").open()]
    usable = [r for r in rows if set(r["instruction_id_list"]) <= set(ifeval_checks.CHECKERS)
              and len(r["prompt"]) < 600]
    # Prefer prompts with two or more instructions: they exercise per-rule verdicts.
    usable.sort(key=lambda r: (-min(len(r["instruction_id_list"]), 2), r["key"]))
    chosen = usable[: n_prompts * 2]
    random.Random(seed).shuffle(chosen)
    chosen = chosen[:n_prompts]
    llm = LLM(AGENT, role="agent")
    items = []
    for done, row in enumerate(chosen, start=1):
        completion = await llm.acomplete([{"role": "user", "content": row["prompt"]}], temperature=0.0,
                                         max_tokens=max_tokens)
        text = completion.text.strip()
        kwargs = [{k: v for k, v in kw.items() if v is not None} for kw in row["kwargs"]]
        ids = row["instruction_id_list"]
        rule_labels = [ifeval_checks.check(i, text, kw) for i, kw in zip(ids, kwargs)]
        checks: dict = {}
        for i, kw in zip(ids, kwargs):
            checks.update(ifeval_checks.format_checks(i, kw))
        items.append({"id": f"ifeval_{row['key']}", "input": row["prompt"], "output": text,
                      "instructions": row["prompt"],
                      "criteria": " ".join(ifeval_checks.rule_text(i, kw) for i, kw in zip(ids, kwargs)),
                      "rules": [ifeval_checks.rule_text(i, kw) for i, kw in zip(ids, kwargs)],
                      "rule_labels": rule_labels, "format_checks": checks, "label": all(rule_labels)})
        print(f"ifeval {done}/{n_prompts}: {sum(i['label'] for i in items)} fully compliant", flush=True)
    _write("ifeval.jsonl", items)


def _shape(text: str) -> tuple[bool, int]:
    return any(c.isdigit() for c in text), len(text.split())


def hotpotqa(n_items: int, seed: int) -> None:
    rows = json.loads((SHARED_DATA / "arize_hotpotqa_traces" / "questions_train_150.json").read_text())
    rng = random.Random(seed)
    rng.shuffle(rows)
    answers = [r["gold_answer"] for r in rows if 2 < len(r["gold_answer"]) < 40
               and re.fullmatch(r"[\w .,'&-]+", r["gold_answer"]) and r["gold_answer"].lower() not in {"yes", "no"}]
    items = []
    for row in rows:
        gold = row["gold_answer"]
        if len(items) >= n_items or not 2 < len(gold) < 40 or gold.lower() in {"yes", "no"}:
            continue
        mention = re.compile(r"\b" + re.escape(gold) + r"\b")
        passages = [p for p in row["passages_1"] + row["passages_2"] if mention.search(p["content"])]
        if not passages:
            continue
        content = passages[0]["content"]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", content) if mention.search(s) and len(s) < 300]
        if not sentences:
            continue
        sentence = sentences[0]
        start = max(0, content.find(sentence) - 500)
        context = f"{passages[0]['title']}: {content[start:start + 1000]}"
        faithful = len(items) % 2 == 0
        if faithful:
            output = sentence
        else:
            swaps = [a for a in answers if a != gold and a not in content and a.lower() not in context.lower()]
            # Same shape (digits or not, word count) so the swap reads naturally: a plausible
            # hallucination, not an obvious non-sequitur.
            same_shape = [a for a in swaps if _shape(a) == _shape(gold)]
            swap = rng.choice(same_shape or swaps)
            output = mention.sub(lambda _, swap=swap: swap, sentence)
        items.append({"id": f"hotpotqa_{row['question_id']}", "input": row["question"], "context": context,
                      "output": output, "label": faithful})
    _write("hotpotqa_faithfulness.jsonl", items)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", choices=["gsm8k", "ifeval", "hotpotqa", "snips_pairs"])
    parser.add_argument("--run-dir", default="benchmarks/optimizer/runs/snips-seed0-head", help="snips_pairs: a benchmark run")
    parser.add_argument("--n", type=int, default=None, help="questions / prompts / items")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=None, help="output budget (ifeval 200, gsm8k 400)")
    args = parser.parse_args()
    if args.source == "gsm8k":
        asyncio.run(gsm8k(args.n or 24, args.seed, args.max_tokens or 400))
    elif args.source == "ifeval":
        asyncio.run(ifeval(args.n or 20, args.seed, args.max_tokens or 200))
    elif args.source == "snips_pairs":
        snips_pairs(args.run_dir, args.n or 20, args.seed)
    else:
        hotpotqa(args.n or 20, args.seed)


if __name__ == "__main__":
    main()
