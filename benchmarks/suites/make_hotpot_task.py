"""data/hotpotqa_short.jsonl (not committed): short-answer reading comprehension from Arize's HotpotQA traces
(../shared/data/arize_hotpotqa_traces, Elastic License 2.0: a benchmark input, never shipped in the package and
not committed here; run this script before the task ``good_seed/hotpotqa_short.yaml``).

    python benchmarks/suites/make_hotpot_task.py

Each row is one of the 150 HotpotQA training questions with two of the passages Arize's pipeline retrieved for it:
the first that contains the gold answer (case-blind) and the first other passage of the first hop, in the order
they were retrieved. Questions whose answer no passage contains (yes/no comparisons among them) are left out,
so every question can be answered from its passages. ``metrics.py:answer_f1`` scores an answer against the gold.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SOURCE = HERE.parents[2] / "shared" / "data" / "arize_hotpotqa_traces" / "questions_train_150.json"
OUT = HERE / "data" / "hotpotqa_short.jsonl"
MAX_WORDS = 50  # per passage: two passages and the question stay under the 800 characters a worked example may hold


def passages(value: Any) -> list[dict[str, str]]:
    """The file stores some passage lists as JSON and some as Python-repr strings (its SOURCE.md)."""
    return ast.literal_eval(value) if isinstance(value, str) else list(value)


def clip(text: str) -> str:
    words = text.split()
    return " ".join(words[:MAX_WORDS]) + (" ..." if len(words) > MAX_WORDS else "")


def rows_of(source: Path = SOURCE) -> list[dict[str, str]]:
    """One task row per answerable question of ``source``, in the file's order."""
    rows = json.loads(source.read_text())
    out = []
    for row in rows:
        gold = row["gold_answer"].strip()
        first = passages(row["passages_1"])
        retrieved = first + passages(row["passages_2"])
        with_answer = [p for p in retrieved if gold.lower() in clip(p["content"]).lower()]
        if gold.lower() in {"yes", "no"} or not with_answer:
            continue
        other = [p for p in first if p["title"] != with_answer[0]["title"]]
        shown = sorted([with_answer[0], *other[:1]], key=retrieved.index)
        text = "\n\n".join(f"{p['title']}: {clip(p['content'])}" for p in shown)
        out.append({"id": row["question_id"], "question": row["question"], "passages": text, "answer": gold})
    return out


def main(out: Path = OUT) -> None:
    rows = rows_of()
    out.parent.mkdir(exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} questions to {out}")


if __name__ == "__main__":
    main()
