"""Which recorded promptlearn cells does the format-repair tie rule (47a5e1f) change? Reads run directories only.

    python benchmarks/optimizer/format_tie_cells.py benchmarks/results/core_head/results_cells \\
        benchmarks/results/bbh_sample/results_cells benchmarks/results/core/results_cells

For each cell's run: the first round whose child was rejected on the minibatch but would now pass
(``edits.repairs_format`` on the recorded minibatch outputs, with the contract of the cell's training split).
The loop is deterministic given its cached model answers, so a cell with no such round replays unchanged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from promptlearn.bench.task import load_task
from promptlearn.contracts import FORMAT_FAILURES, AnswerContract, infer_contract
from promptlearn.edits import repairs_format
from promptlearn.records import Example

TASKS = Path(__file__).parents[1] / "suites" / "tasks"


def marked(results: dict[tuple[str, str], Any], candidate: str, batch: list[str], by_id: dict[str, Example],
           contract: AnswerContract) -> list[tuple[float, bool]]:
    """(score, broke the answer format) per minibatch example, as ``Steps.format_repaired`` computes them."""
    out = []
    for eid in batch:
        result = results[(candidate, eid)]
        kind = contract.verdict(result["rollout"].get("output"), by_id[eid].reference, score=result["score"],
                                error=result["rollout"].get("error"))
        out.append((result["score"], kind in FORMAT_FAILURES))
    return out


def first_changed_round(run: Path) -> dict[str, Any] | None:
    task_name, cell = run.parts[-4], run.parts[-2]
    seed = int(cell.split("-")[0].removeprefix("seed"))
    train, val, _ = load_task(TASKS / f"{task_name}.yaml").splits(seed)
    contract = infer_contract(train)
    if contract is None:
        return None
    by_id = {e.id: e for e in [*train, *val]}
    results = {}
    for line in (run / "events.jsonl").open():
        event = json.loads(line)
        if event["type"] == "result":
            rollout = event["result"]["rollout"]
            results[(rollout["candidate_id"], rollout["example_id"])] = event["result"]
    for row in json.loads((run / "result.json").read_text())["history"]:
        if row.get("accepted") is False and repairs_format(marked(results, row["parent"], row["batch"], by_id, contract),
                                                           marked(results, row["child"], row["batch"], by_id, contract)):
            return dict(row)
    return None


def main() -> None:
    for stem in sys.argv[1:]:
        for run in sorted(Path(stem).glob("*/promptlearn/*/run")):
            row = first_changed_round(run)
            where = f"{run.parts[-4]:45} {run.parts[-2]}"
            if row is None:
                print(f"{where}: unchanged")
            else:
                print(f"{where}: round {row['iteration']} ({row['strategy']}, minibatch {row['parent_minibatch']} "
                      f"-> {row['child_minibatch']}) now goes to validation")


if __name__ == "__main__":
    main()
