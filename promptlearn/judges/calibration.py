"""How far to trust a judge: agreement with ground truth on labelled data.

A calibration file is JSONL, one item per line: ``inputs`` (dict) or ``input`` (str),
``output`` (the model output to judge), ``label`` (true/false or pass/fail: the truth),
and optionally ``reference``, ``context``, ``id``.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError
from ..llm import usage_scope
from ..records import Example, Rollout

_TRUE = {"true", "pass", "correct", "yes", "1"}
_FALSE = {"false", "fail", "incorrect", "no", "0"}


def cohen_kappa(truth: Sequence[bool], pred: Sequence[bool]) -> float:
    n = len(truth)
    if n == 0:
        return 0.0
    p_o = sum(t == p for t, p in zip(truth, pred)) / n
    t1, p1 = sum(truth) / n, sum(pred) / n
    p_e = t1 * p1 + (1 - t1) * (1 - p1)
    if p_e == 1.0:
        return 1.0 if p_o == 1.0 else 0.0
    return (p_o - p_e) / (1 - p_e)


def calibrate_verdicts(truth: Sequence[bool], pred: Sequence[bool]) -> dict[str, Any]:
    tp = sum(t and p for t, p in zip(truth, pred))
    tn = sum(not t and not p for t, p in zip(truth, pred))
    fp = sum(not t and p for t, p in zip(truth, pred))
    fn = sum(t and not p for t, p in zip(truth, pred))
    n = len(truth)
    return {"n": n, "accuracy": (tp + tn) / n if n else 0.0, "kappa": cohen_kappa(truth, pred),
            "confusion": {"tp": tp, "fn": fn, "fp": fp, "tn": tn}}


def _truth(value: Any, line: int) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"calibration item {line}: label {value!r} is not true/false or pass/fail")


def load_calibration_items(path: str | Path) -> list[tuple[Example, str, bool]]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"calibration file not found: {path}")
    items = []
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = [k for k in ("output", "label") if k not in row]
        if missing or ("inputs" not in row and "input" not in row):
            raise ConfigError(f"calibration item {i} needs input(s), output and label; missing {missing or ['input']}")
        inputs = row.get("inputs") or {"input": row["input"]}
        metadata = {k: row[k] for k in ("context", "criteria", "rules", "instructions") if k in row}
        example = Example(id=str(row.get("id", i)), inputs=inputs, reference=row.get("reference"), metadata=metadata)
        items.append((example, str(row["output"]), _truth(row["label"], i)))
    if not items:
        raise ConfigError(f"calibration file {path} is empty")
    return items


async def acalibrate(judge, items: Sequence[tuple[Example, str, bool]], *, concurrency: int = 4) -> dict[str, Any]:
    """Run ``judge`` on each item; agreement with the truth, confusion matrix, cost per verdict."""
    sem = asyncio.Semaphore(concurrency)

    async def one(item):
        example, output, _ = item
        async with sem:
            return await judge.acritique(example, Rollout(example_id=example.id, candidate_id="calibration",
                                                          output=output))

    start = time.perf_counter()
    with usage_scope() as scope:
        critiques = await asyncio.gather(*(one(it) for it in items))
    wall = time.perf_counter() - start
    ok = [(it, c) for it, c in zip(items, critiques) if c.error is None]
    report = calibrate_verdicts([it[2] for it, _ in ok], [c.score >= 0.5 for _, c in ok])
    n = max(1, len(items))
    report.update({"judge": judge.name, "failed_verdicts": len(items) - len(ok),
                   "calls_per_verdict": scope.calls / n,
                   "tokens_per_verdict": (scope.prompt_tokens + scope.completion_tokens) / n,
                   "seconds_per_verdict": wall / n, "cost_usd_per_verdict": scope.cost_usd / n})
    agreements = [c.agreement for _, c in ok if c.agreement is not None]
    if agreements:
        report["mean_self_agreement"] = sum(agreements) / len(agreements)
    return report
