"""``benchmarks/val_evidence.py`` pairs a cell's validation evidence with its test gain from real run folders:
a change to the results files' layout or to ``result.json`` must fail here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bench_fakes import bench_llm_factory, write_parity_task

from promptlearn.bench import resolve_methods, run_bench
from promptlearn.bench.cell import BenchConfig
from promptlearn.bench.task import load_task

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "val_evidence.py"


def _script():
    spec = importlib.util.spec_from_file_location("val_evidence", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_cell_pairs_its_validation_gain_with_its_test_gain(tmp_path, capsys, monkeypatch):
    task = load_task(write_parity_task(tmp_path / "t"))
    records = run_bench([task], resolve_methods(["seed", "promptlearn"]), results=tmp_path / "r.jsonl",
                        config=BenchConfig(budget=60, seeds=(0,), progress=False), make_llm=bench_llm_factory())
    learned = next(r for r in records if r["method"] == "promptlearn")
    assert learned["status"] == "ok" and learned["gain"] > 0, learned.get("error")

    (row,) = _script().cells(str(tmp_path / "*.jsonl"))  # the seed method has no run folder
    assert row["task"] == task.name and row["test_gain"] == learned["gain"]
    gain = row["val_gain"]
    assert gain.n == learned["sizes"]["val"] and gain.better > 0 and gain.worse == 0
    assert abs(gain.gain - learned["details"]["val_gain"]["gain"]) < 1e-4  # the record says what the run says
    assert row["trail"] and row["trail"][-1].after == gain.after

    monkeypatch.setattr("sys.argv", ["val_evidence.py", str(tmp_path / "*.jsonl"), "--steps"])
    _script().main()
    out = capsys.readouterr().out
    assert "| validation gain outside the noise | 1 |" in out and "steps to a new best" in out
