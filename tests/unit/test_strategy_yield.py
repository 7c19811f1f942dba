"""``benchmarks/strategy_yield.py`` reads the loop's own run logs: a schema change there must fail here."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from bench_fakes import write_parity_task

from promptlearn import FakeLLM
from promptlearn.bench import resolve_methods, run_bench
from promptlearn.bench.cell import BenchConfig
from promptlearn.bench.task import load_task

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "strategy_yield.py"


def _script():
    spec = importlib.util.spec_from_file_location("strategy_yield", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_yield_table_counts_every_round_after_the_first_of_a_real_run_log(tmp_path):
    task = load_task(write_parity_task(tmp_path / "t"))

    def make(model, role, usage, cache):  # the agent always says "even"; the rewriter has nothing useful to say
        return FakeLLM(lambda r: "even" if role == "agent" else "no idea", model=model, role=role, usage=usage)

    (record,) = run_bench([task], resolve_methods(["promptlearn"]), results=tmp_path / "r.jsonl",
                          config=BenchConfig(budget=80, seeds=(0,), progress=False), make_llm=make)
    assert record["status"] == "ok", record.get("error")
    logs = sorted(str(p) for p in (tmp_path / "r_cells").rglob("events.jsonl"))
    assert len(logs) == 1
    rows = [json.loads(line)["row"] for line in open(logs[0]) if json.loads(line).get("type") == "round"]
    assert len(rows) >= 2, rows  # something to count after the first round

    table = _script().tally(logs, by_task=False)["all"]
    assert sum(c["rounds"] for c in table.values()) == len(rows) - 1
    assert sum(c["rollouts"] for c in table.values()) == rows[-1]["rollouts"] - rows[0]["rollouts"]
    assert set(table) == {r["strategy"] or "(none)" for r in rows[1:]}
    by_task = _script().tally(logs, by_task=True)
    assert list(by_task) == ["parity"]
