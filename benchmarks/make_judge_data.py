"""Labelled judge-calibration data from real model outputs whose truth is known by code.

    python benchmarks/make_judge_data.py gsm8k      # correctness (numeric) + pairwise
    python benchmarks/make_judge_data.py ifeval     # rule_compliance, format_compliance, criteria
    python benchmarks/make_judge_data.py hotpotqa   # faithfulness

- gsm8k: the 0.5B agent answers GSM8K test questions twice (temperature 0 and 0.9); truth =
  its final number equals the gold number. Pairs of one right and one wrong answer to the same
  question make the pairwise file (truth = the right one is better; a/b order randomised); where
  both samples were wrong, the reference solution (calculator notes removed, "Answer: N" added)
  is paired with the agent's wrong answer.
- ifeval: the 0.5B answers IFEval prompts whose instructions all have a deterministic checker
  (``ifeval_checks.py``); truth per instruction = the checker; label = all followed.
- hotpotqa: context = the retrieved passage that contains the gold answer (Arize's HotpotQA
  traces, ELv2: used here for benchmarks only, never shipped in the package). A faithful output
  is a sentence copied from the context; an unfaithful one is the same sentence with the answer
  entity swapped for another question's answer (a hallucinated fact). Balanced.

Files go to ``benchmarks/calibration/``. Generations use the LLM cache, so re-running is cheap.
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

import ifeval_checks  # noqa: E402
from tasks import SHARED_DATA  # noqa: E402

from promptlearn import LLM  # noqa: E402

OUT = Path(__file__).parent / "calibration"
AGENT = "local/qwen2.5-coder-0.5b"
GSM8K_SYSTEM = ("Solve the math word problem. Reason in at most three short steps, then end with a line "
                "'Answer: <number>'.")


def _write(name: str, rows: list[dict]) -> None:
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    counts = Counter(str(r["label"]) for r in rows)
    print(f"{path}: {len(rows)} items, labels {dict(sorted(counts.items()))}")


def final_number(text: str) -> float | None:
    tail = text.split("Answer:")[-1] if "Answer:" in text else text
    numbers = re.findall(r"-?\d[\d,]*\.?\d*", tail)
    if not numbers:
        return None
    try:
        return float(numbers[-1].replace(",", "").rstrip("."))
    except ValueError:
        return None


def _gold_pair(index: int, row: dict, wrong: str, rng: random.Random) -> dict:
    working, final = row["answer"].split("####")
    right = re.sub(r"<<[^>]*>>", "", working).strip() + f"\nAnswer: {final.strip()}"
    a, b, label = (right, wrong, "a") if rng.random() < 0.5 else (wrong, right, "b")
    return {"id": f"gsm8k_{index}", "input": row["question"], "output_a": a, "output_b": b, "label": label,
            "source": "reference solution vs agent"}


async def gsm8k(n_questions: int, seed: int) -> None:
    rows = [json.loads(line) for line in (SHARED_DATA / "gsm8k" / "test_lines_0000-0499.jsonl").open()]
    llm = LLM(AGENT, role="agent")
    rng = random.Random(seed)
    chosen = rng.sample(range(len(rows)), n_questions)
    graded, pairs, gold_pairs = [], [], []
    pair_rng = random.Random(seed + 1)  # apart from rng, so gsm8k.jsonl does not depend on the pairs
    for done, index in enumerate(chosen, start=1):
        row = rows[index]
        gold = float(row["answer"].split("####")[-1].strip().replace(",", ""))
        messages = [{"role": "system", "content": GSM8K_SYSTEM}, {"role": "user", "content": row["question"]}]
        outputs = []
        for temperature, sample_seed in ((0.0, None), (0.9, 1)):
            completion = await llm.acomplete(messages, temperature=temperature, seed=sample_seed, max_tokens=200)
            text = completion.text.strip()
            outputs.append((text, final_number(text) == gold))
        for k, (text, right) in enumerate(outputs):
            graded.append({"id": f"gsm8k_{index}:{k}", "input": row["question"], "output": text,
                           "reference": f"{gold:g}", "label": right})
        (a, a_ok), (b, b_ok) = outputs
        if a_ok != b_ok:
            if rng.random() < 0.5:
                a, b, a_ok = b, a, b_ok
            pairs.append({"id": f"gsm8k_{index}", "input": row["question"], "output_a": a, "output_b": b,
                          "label": "a" if a_ok else "b", "source": "two samples"})
        elif not a_ok:
            gold_pairs.append(_gold_pair(index, row, a, pair_rng))
        print(f"gsm8k {done}/{n_questions}: {sum(g['label'] for g in graded)} right of {len(graded)}, "
              f"{len(pairs)} pairs", flush=True)
    right = [g for g in graded if g["label"]]
    wrong = [g for g in graded if not g["label"]]
    half = min(len(right), len(wrong), 15)
    balanced = right[:half] + wrong[:half]
    rng.shuffle(balanced)
    _write("gsm8k.jsonl", balanced)
    # Sampled right-vs-wrong pairs first; then, where both samples were wrong, the reference
    # solution (rewritten into the agent's answer format) against the agent's wrong answer.
    _write("gsm8k_pairwise.jsonl", pairs + gold_pairs)


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
            output = mention.sub(lambda _: swap, sentence)
        items.append({"id": f"hotpotqa_{row['question_id']}", "input": row["question"], "context": context,
                      "output": output, "label": faithful})
    _write("hotpotqa_faithfulness.jsonl", items)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", choices=["gsm8k", "ifeval", "hotpotqa"])
    parser.add_argument("--n", type=int, default=None, help="questions / prompts / items")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=200, help="ifeval output budget")
    args = parser.parse_args()
    if args.source == "gsm8k":
        asyncio.run(gsm8k(args.n or 30, args.seed))
    elif args.source == "ifeval":
        asyncio.run(ifeval(args.n or 20, args.seed, args.max_tokens))
    else:
        hotpotqa(args.n or 20, args.seed)


if __name__ == "__main__":
    main()
