"""``judges: [{type: function, function: file.py:name}]``: a user's scoring function as the optimizer's judge, and
the extraction task of the good-seed suite that uses one (slot F1 on SNIPS GetWeather requests)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
import yaml
from bench_fakes import write_parity_task

from promptlearn import ConfigError, FakeLLM
from promptlearn.bench import resolve_methods, run_bench
from promptlearn.bench.cell import BenchConfig
from promptlearn.bench.task import load_suite, load_task, metric_judge
from promptlearn.judges.code import code_function
from promptlearn.records import Example, Rollout
from promptlearn.task import task_judges

SCORER = ("def parity(example, output):\n"
          "    right = output.strip() == example.reference\n"
          "    return float(right), 'right' if right else f'said {output.strip()!r}, the number is {example.reference}'\n")


def _critique(judge, example: Example, output: str):
    return asyncio.run(judge.acritique(example, Rollout(example_id=example.id, candidate_id="c", output=output)))


def test_a_function_judge_is_read_beside_the_task_and_its_explanation_is_the_critique(tmp_path):
    (tmp_path / "t" / "scoring").mkdir(parents=True)
    (tmp_path / "t" / "scoring" / "s.py").write_text(SCORER)
    task = load_task(write_parity_task(tmp_path / "t", judges=[{"type": "function", "function": "scoring/s.py:parity"}]))
    assert task.judges[0]["function"] == f"{(tmp_path / 't' / 'scoring' / 's.py').resolve()}:parity"
    (judge,), weights = task_judges(task, FakeLLM(lambda r: "unused"))
    assert judge.name == "parity" and weights == [1.0]
    example = Example(id="n3", inputs={"number": 3}, reference="odd")
    wrong, right = _critique(judge, example, "even"), _critique(judge, example, "odd")
    assert (wrong.score, wrong.label, wrong.explanation) == (0.0, "fail", "said 'even', the number is odd")
    assert (right.score, right.label) == (1.0, "pass")


def test_the_users_module_runs_once_per_version_though_load_checks_it_and_the_run_builds_it(tmp_path):
    (tmp_path / "t").mkdir()
    log = tmp_path / "imports.txt"
    module = tmp_path / "t" / "s.py"
    module.write_text(f"open({str(log)!r}, 'a').write('x')\n" + SCORER)
    task = load_task(write_parity_task(tmp_path / "t", judges=[{"type": "function", "function": "s.py:parity"}]))
    task_judges(task, FakeLLM(lambda r: "unused"))
    task_judges(task, FakeLLM(lambda r: "unused"))
    assert log.read_text() == "x"
    module.write_text(f"open({str(log)!r}, 'a').write('y')\n" + SCORER)  # an edit is picked up
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))
    task_judges(task, FakeLLM(lambda r: "unused"))
    assert log.read_text() == "xy"


@pytest.mark.parametrize("function, message", [
    ("nowhere.py:parity", "does not exist"),
    ("s.py:missing", "has no function 'missing'"),
    ("s.py", "path/to/file.py:function"),
    (None, "path/to/file.py:function"),
])
def test_a_function_judge_that_cannot_be_loaded_fails_at_load(tmp_path, function, message):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "s.py").write_text(SCORER)
    entry = {"type": "function", **({"function": function} if function else {})}
    with pytest.raises(ConfigError, match=rf"judges\[0\]\.function.*{message}"):
        load_task(write_parity_task(tmp_path / "t", judges=[entry]))


def _slot_task(suites_dir: Path):
    return load_task(suites_dir / "tasks" / "snips_weather_slots.yaml")


def test_slot_f1_scores_pairs_and_names_what_is_wrong(suites_dir):
    task = _slot_task(suites_dir)
    metric = metric_judge(task)
    gold = Example(id="g", inputs={"text": "Will it rain in Paris tomorrow?"},
                   reference=json.dumps({"city": "Paris", "timeRange": "tomorrow", "condition_description": "rain"}))
    assert _critique(metric, gold, '{"city": "paris", "timeRange": "Tomorrow", "condition_description": "rain"}').score == 1.0
    partial = _critique(metric, gold, 'Here: {"country": "Paris", "timeRange": "tomorrow"} done')
    assert partial.score == pytest.approx(2 * 1 / (2 + 3))
    assert "missing city='paris'" in partial.explanation and "extra country='paris'" in partial.explanation
    assert "missing condition_description='rain'" in partial.explanation
    wrong_value = _critique(metric, gold, '{"city": "Paris", "timeRange": "today", "condition_description": "rain"}')
    assert "timeRange='today' should be 'tomorrow'" in wrong_value.explanation
    broken = _critique(metric, gold, '{"city": "Paris",')
    assert broken.score == 0.0 and "not a JSON object" in broken.explanation


def test_the_slot_task_has_every_reference_as_a_json_object_and_a_json_contract(suites_dir):
    from promptlearn.contracts import infer_contract

    task = _slot_task(suites_dir)
    train, val, test = task.splits(0)
    assert (len(train), len(val), len(test)) == (40, 40, 120)
    assert not {e.id for e in train} & {e.id for e in val + test}
    assert all(isinstance(json.loads(str(e.reference)), dict) for e in task.examples())
    contract = infer_contract(train)  # JSON answers, no label set: the format repair asks for bare JSON
    assert contract is not None and contract.kind == "json" and not contract.labels
    good = {t.name: t for t in load_suite([suites_dir / "good_seed.yaml"])}["good_snips_weather_slots"]
    assert good.seed_prompt == task.seed_prompt and good.judges == task.judges


def test_the_slot_task_runs_a_tiny_budget_and_its_critiques_reach_the_rewriter(tmp_path, suites_dir):
    task = {t.name: t for t in load_suite([suites_dir / "good_seed.yaml"])}["good_snips_weather_slots"]
    seen: list[str] = []

    def agent(request):
        return '{"city": "Paris", "timeRange": "tomorrow"}'

    def rewriter(request):
        seen.append("\n".join(m["content"] for m in request.messages))
        return "Here is a better instruction:\n```\nExtract the slots as JSON; leave out slots not mentioned.\n```"

    def make(model, role, usage, cache):
        return FakeLLM(agent if role == "agent" else rewriter, model=model, role=role, usage=usage)

    records = run_bench([task], resolve_methods(["seed", "promptlearn-cover"]), results=tmp_path / "r.jsonl",
                        config=BenchConfig(budget=120, seeds=(0,), progress=False), make_llm=make)
    assert [r["status"] for r in records] == ["ok", "ok"], [r.get("error") for r in records]
    assert all(0.0 <= r["test"] <= 1.0 and len(r["test_scores"]) == 120 for r in records)
    assert any("should be" in text or "missing " in text for text in seen)  # slot_f1's explanations, not a bare score
    assert yaml.safe_load((suites_dir / "good_seed.yaml").read_text())["tasks"].count(
        "good_seed/snips_weather_slots.yaml") == 1


def test_answer_f1_normalises_like_squad_and_says_what_is_extra_or_missing(suites_dir):
    answer_f1 = code_function("metrics.py:answer_f1", suites_dir)  # loaded as a task's function judge is
    example = Example(id="q", inputs={"question": "?"}, reference="the Guards Division")
    assert answer_f1(example, "Guards division.") == (1.0, "Right answer.")
    score, why = answer_f1(example, "It was the Guards Division")
    assert score == pytest.approx(2 * 2 / (2 + 4)) and "2 word(s) beyond the answer" in why
    score, why = answer_f1(example, "Guards")
    assert score == pytest.approx(2 / 3) and "1 of its words missing" in why
    assert answer_f1(example, "Navy")[0] == 0.0 and answer_f1(example, " ")[0] == 0.0


def test_the_hotpot_task_shows_a_passage_holding_every_answer_and_splits_without_overlap(suites_dir, tmp_path):
    import sys

    sys.path.insert(0, str(suites_dir))
    try:
        import make_hotpot_task
    finally:
        sys.path.remove(str(suites_dir))
    rows = make_hotpot_task.rows_of()
    assert len(rows) == 98 and len({r["id"] for r in rows}) == 98
    assert all(r["answer"].lower() in r["passages"].lower() and r["answer"].lower() not in {"yes", "no"} for r in rows)
    spec = yaml.safe_load((suites_dir / "good_seed" / "hotpotqa_short.yaml").read_text())
    (tmp_path / "data").mkdir()
    make_hotpot_task.main(tmp_path / "data" / "hotpotqa_short.jsonl")
    (tmp_path / "good_seed").mkdir()
    spec["judges"][0]["function"] = spec["metric"] = str(suites_dir / "metrics.py") + ":answer_f1"
    (tmp_path / "good_seed" / "t.yaml").write_text(yaml.safe_dump(spec))
    train, val, test = load_task(tmp_path / "good_seed" / "t.yaml").splits(0)
    assert (len(train), len(val), len(test)) == (30, 24, 44)
    assert not {e.id for e in train} & {e.id for e in val + test}
