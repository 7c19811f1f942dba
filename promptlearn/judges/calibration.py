"""How far to trust a judge: agreement with ground truth on labelled data.

A calibration file is JSONL, one item per line: ``inputs`` (dict) or ``input`` (str),
``output`` (the model output to judge), ``label`` (true/false or pass/fail: the truth),
and optionally ``id``, ``reference``, and the fields a judge needs (``context``,
``criteria``, ``rules``, ``instructions``, ``format_checks``).

- ``rule_labels`` (one true/false per rule) makes the per-rule verdicts of
  ``rule_compliance`` the unit of agreement: each rule verdict is one item.
- Pairwise files have ``output_a``, ``output_b`` and ``label`` ``a``/``b``/``tie``
  (:func:`load_pairwise_items`, :func:`acalibrate_pairwise`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any, Coroutine, Hashable, Sequence, TypeVar

from ..data import read_jsonl
from ..errors import ConfigError, LLMCallError, StructuredOutputError
from ..llm import usage_scope
from ..records import Critique, Example, Rollout
from ..stats import mean
from .base import safe_critique

T = TypeVar("T")
_TRUE = {"true", "pass", "correct", "yes", "1"}
_FALSE = {"false", "fail", "incorrect", "no", "0"}


def cohen_kappa(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Agreement beyond chance for any labels (bools, or ``a``/``b``/``tie``); 1 = perfect, 0 = chance."""
    n = len(truth)
    if n == 0:
        return 0.0
    p_o = sum(t == p for t, p in zip(truth, pred)) / n
    truth_counts, pred_counts = Counter(truth), Counter(pred)
    p_e = sum(truth_counts[c] * pred_counts[c] for c in truth_counts) / (n * n)
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


_FIELDS = ("context", "criteria", "rules", "instructions", "format_checks")


def _rows(path: str | Path, needs: tuple[str, ...]) -> list[tuple[int, dict[str, Any], Example]]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"calibration file not found: {path}")
    rows = []
    for i, row in read_jsonl(path):
        missing = [k for k in needs if k not in row] + ([] if "inputs" in row or "input" in row else ["input"])
        if missing:
            raise ConfigError(f"{path} line {i} needs input(s), {', '.join(needs)}; missing {missing}")
        metadata = {k: row[k] for k in _FIELDS if k in row}
        example = Example(id=str(row.get("id", i)), inputs=row.get("inputs") or {"input": row["input"]},
                          reference=row.get("reference"), metadata=metadata)
        rows.append((i, row, example))
    if not rows:
        raise ConfigError(f"calibration file {path} is empty")
    return rows


def load_calibration_items(path: str | Path) -> list[tuple[Example, str, bool]]:
    """Items of a JSONL calibration file as (example, output, truth); ``rule_labels`` go to metadata."""
    items = []
    for i, row, example in _rows(path, ("output", "label")):
        if "rule_labels" in row:
            labels = [_truth(v, i) for v in row["rule_labels"]]
            if len(labels) != len(row.get("rules", [])):
                raise ConfigError(f"calibration item {i}: {len(labels)} rule_labels for {len(row.get('rules', []))} rules")
            example = example.model_copy(update={"metadata": {**example.metadata, "rule_labels": labels}})
        items.append((example, str(row["output"]), _truth(row["label"], i)))
    return items


def load_pairwise_items(path: str | Path) -> list[tuple[Example, str, str, str]]:
    """Items of a pairwise calibration file as (example, output_a, output_b, truth in a/b/tie)."""
    items = []
    for i, row, example in _rows(path, ("output_a", "output_b", "label")):
        truth = str(row["label"]).strip().lower()
        if truth not in ("a", "b", "tie"):
            raise ConfigError(f"pairwise calibration item {i}: label {row['label']!r} is not a, b or tie")
        items.append((example, str(row["output_a"]), str(row["output_b"]), truth))
    return items


async def _gather(coroutines: list[Coroutine[Any, Any, T]], progress: bool, what: str) -> list[T]:
    if not progress:
        return await asyncio.gather(*coroutines)
    from tqdm.auto import tqdm

    with tqdm(total=len(coroutines), desc=what, unit="verdict") as bar:
        async def tick(coroutine: Coroutine[Any, Any, T]) -> T:
            try:
                return await coroutine
            finally:
                bar.update(1)

        return await asyncio.gather(*(tick(c) for c in coroutines))


async def acalibrate(judge: Any, items: Sequence[tuple[Example, str, bool]], *, concurrency: int = 4,
                     progress: bool = False) -> dict[str, Any]:
    """Run ``judge`` on each item; agreement with the truth, confusion matrix, cost per verdict."""
    sem = asyncio.Semaphore(concurrency)

    async def one(item: tuple[Example, str, bool]) -> Critique:
        example, output, _ = item
        async with sem:
            # a failed verdict is data, not a crash; a ConfigError still stops calibration
            return await safe_critique(judge, example, Rollout(example_id=example.id, candidate_id="calibration",
                                                               output=output))

    start = time.perf_counter()
    with usage_scope() as scope:
        critiques = await _gather([one(it) for it in items], progress, f"calibrating {judge.name}")
    wall = time.perf_counter() - start
    ok = [(it, c) for it, c in zip(items, critiques) if c.error is None]
    report = calibrate_verdicts([it[2] for it, _ in ok], [c.score >= 0.5 for _, c in ok])
    per_rule = [(truth, pred) for (example, _, _), c in ok if c.per_rule and "rule_labels" in example.metadata
                for truth, pred in zip(example.metadata["rule_labels"], c.per_rule)]
    if per_rule:  # per-rule judges: each rule verdict is one unit of agreement; the item level stays too
        report = {**calibrate_verdicts([t for t, _ in per_rule], [p for _, p in per_rule]),
                  "unit": "rule", "items": report}
    n = max(1, len(items))
    report.update({"judge": judge.name, "failed_verdicts": len(items) - len(ok),
                   "calls_per_verdict": scope.cost.calls / n,
                   "tokens_per_verdict": scope.cost.tokens / n,
                   "seconds_per_verdict": wall / n, "cost_usd_per_verdict": scope.cost.cost_usd / n})
    agreements = [c.agreement for _, c in ok if c.agreement is not None]
    if agreements:
        report["mean_self_agreement"] = mean(agreements)
    # Each verdict with its explanation, so disagreements with the truth can be read, not just counted.
    report["verdicts"] = [{"id": example.id, "truth": truth, "score": c.score, "label": c.label,
                           "explanation": c.explanation, "error": c.error,
                           **({"per_rule": list(c.per_rule)} if c.per_rule else {})}
                          for (example, _, truth), c in zip(items, critiques)]
    return report


async def acalibrate_pairwise(judge: Any, items: Sequence[tuple[Example, str, str, str]], *,
                              concurrency: int = 4, progress: bool = False) -> dict[str, Any]:
    """Run a pairwise judge (both orders) on each item; agreement of its winner with the truth.

    Also reports what a single order would have scored (``first_order_accuracy``: the verdict
    with output a shown first), how often both orders agreed, and how often a single verdict
    picked whichever output was shown first (position bias; 0.5 = none, on a/b truths).
    """
    sem = asyncio.Semaphore(concurrency)

    async def one(item: tuple[Example, str, str, str]) -> Any:
        example, a, b, _ = item
        async with sem:
            try:
                return await judge.acompare(example, a, b)
            except (LLMCallError, StructuredOutputError) as exc:  # a failed verdict is data, not a crash
                return exc

    start = time.perf_counter()
    with usage_scope() as scope:
        results = await _gather([one(it) for it in items], progress, f"calibrating {judge.name}")
    wall = time.perf_counter() - start
    ok = [(it[3], r) for it, r in zip(items, results) if not isinstance(r, Exception)]
    truth, winners = [t for t, _ in ok], [r.winner for _, r in ok]
    first_order = [{"1": "a", "2": "b", "tie": "tie"}[r.orders[0]] for _, r in ok]
    single = [o for _, r in ok for o in r.orders if o != "tie"]
    n, m = max(1, len(items)), max(1, len(ok))
    verdicts = [{"id": it[0].id, "truth": it[3], **({"error": str(r)} if isinstance(r, Exception) else
                                                      {"winner": r.winner, "orders": list(r.orders),
                                                       "explanations": list(r.explanations)})}
                for it, r in zip(items, results)]
    return {"judge": judge.name, "n": len(ok), "accuracy": sum(t == w for t, w in zip(truth, winners)) / m,
            "kappa": cohen_kappa(truth, winners),
            "confusion": {f"{t}->{w}": c for (t, w), c in sorted(Counter(zip(truth, winners)).items())},
            "first_order_accuracy": sum(t == f for t, f in zip(truth, first_order)) / m,
            "consistent_rate": sum(r.consistent for _, r in ok) / m,
            "tie_rate": winners.count("tie") / m,
            "shown_first_preference": (single.count("1") / len(single)) if single else None,
            "failed_verdicts": len(items) - len(ok), "calls_per_verdict": scope.cost.calls / n,
            "tokens_per_verdict": scope.cost.tokens / n,
            "seconds_per_verdict": wall / n, "cost_usd_per_verdict": scope.cost.cost_usd / n, "verdicts": verdicts}
