"""Ground-truth metrics for suite tasks that code can check (``metric: ../metrics.py:NAME`` in a task YAML)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "judges"))

from ifeval_checks import check  # noqa: E402


def ifeval(example: Any, output: str) -> float:
    """1 when the output follows every instruction of the IFEval prompt (IFEval's strict, prompt-level)."""
    ids = example.metadata["instruction_id_list"]
    kwargs = example.metadata["kwargs"]
    return float(all(check(i, output, k or {}) for i, k in zip(ids, kwargs)))


SECTION_TYPES = {"header", "text", "image", "productGrid", "gallery", "form", "button", "footer", "embed"}


def _objects(value: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(value, dict):
        found.append(value)
        for v in value.values():
            found.extend(_objects(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(_objects(v))
    return found


def json_webpage(example: Any, output: str) -> float:
    """The code-checkable part of Arize's first JSON-webpage rule set: the output is valid JSON (a fenced block
    allowed); every object with a ``type`` uses the fixed section vocabulary; every image has ``src`` and ``alt``;
    every URL is HTTPS."""
    import json
    import re

    fenced = re.search(r"```(?:json)?\s*(.*?)```", output, flags=re.S)
    try:
        page = json.loads(fenced.group(1) if fenced else output)
    except json.JSONDecodeError:
        return 0.0
    objects = _objects(page)
    if not objects:
        return 0.0
    typed = [o for o in objects if isinstance(o.get("type"), str)]
    if any(o["type"] not in SECTION_TYPES for o in typed):
        return 0.0
    if any(not ({"src", "alt"} <= set(o)) for o in typed if o["type"] == "image"):
        return 0.0
    urls = re.findall(r"\b[a-z]+://[^\s\"']+", json.dumps(page))
    return float(all(u.startswith("https://") for u in urls))


def _slot_value(value: Any) -> str:
    import re

    return re.sub(r"\s+", " ", str(value)).strip().strip(".,;:!?\"'").lower()


def slot_f1(example: Any, output: str) -> tuple[float, str]:
    """F1 of the answer's (slot, value) pairs against the reference JSON object; values compare case- and
    whitespace-blind. The answer is the first {...} in the output; no JSON object there scores 0. The
    explanation names the missing, wrong and extra slots, so as a judge it gives the rewriter something to read."""
    import json
    import re

    gold = {k: _slot_value(v) for k, v in json.loads(example.reference).items()}
    found = re.search(r"\{.*\}", output, flags=re.S)
    try:
        answer = json.loads(found.group(0)) if found else None
    except json.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        return 0.0, f"The answer is not a JSON object of slots; expected {example.reference}."
    pred = {str(k): _slot_value(v) for k, v in answer.items() if v not in (None, "", [])}
    if not gold and not pred:
        return 1.0, "No slots, as expected."
    hits = sum(1 for k, v in pred.items() if gold.get(k) == v)
    score = 2 * hits / (len(pred) + len(gold))
    notes = [f"missing {k}={v!r}" for k, v in gold.items() if k not in pred]
    notes += [f"{k}={pred[k]!r} should be {v!r}" for k, v in gold.items() if k in pred and pred[k] != v]
    notes += [f"extra {k}={v!r}" for k, v in pred.items() if k not in gold]
    return score, ("; ".join(notes) or "All slots right.") + f" Expected {example.reference}."


def _answer_tokens(text: str) -> list[str]:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    import re
    import string

    text = "".join(ch for ch in str(text).lower() if ch not in set(string.punctuation))
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def answer_f1(example: Any, output: str) -> tuple[float, str]:
    """Token F1 of a short answer against the reference, after SQuAD's normalisation (so "The Guards." matches
    "guards"); as a judge the explanation says whether the answer missed the gold words, added others, or both."""
    gold, pred = _answer_tokens(example.reference), _answer_tokens(output)
    common = sum(min(gold.count(t), pred.count(t)) for t in set(gold))
    if not pred:
        return 0.0, f"The answer is empty; expected {example.reference!r}."
    if common == 0:
        return 0.0, f"Wrong answer {output.strip()!r}; expected {example.reference!r}."
    score = 2 * common / (len(gold) + len(pred))
    if score == 1.0:
        return 1.0, "Right answer."
    extra = len(pred) - common
    missing = len(gold) - common
    notes = [f"{extra} word(s) beyond the answer"] if extra else []
    notes += [f"{missing} of its words missing"] if missing else []
    return score, f"Partly right ({', '.join(notes)}): {output.strip()!r}; expected {example.reference!r}."
