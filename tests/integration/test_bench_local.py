"""promptlearn bench with the real local models: a tiny 2-task suite, seed vs promptlearn vs gepa.

Small budgets keep this a few minutes on 2 cores; it checks the product runs end to end on real
models (splits, budgets, scoring, report), not who wins (that is benchmarks/README's job).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import promptlearn
from promptlearn.app.cli import main
from promptlearn.bench import load_results

pytestmark = pytest.mark.local

SNIPS = Path(promptlearn.__file__).parent / "datasets" / "snips_intents.jsonl"
LABELS = "AddToPlaylist, BookRestaurant, GetWeather, PlayMusic, RateBook, SearchCreativeWork, SearchScreeningEvent"


def _suite(folder: Path) -> Path:
    rows = [{"id": f"q{a}_{b}", "question": f"Is {a} greater than {b}?", "answer": "yes" if a > b else "no"}
            for a, b in [(3, 7), (9, 2), (5, 5), (12, 4), (1, 8), (6, 3), (2, 11), (15, 14), (4, 9), (8, 1),
                         (7, 13), (10, 6), (3, 3), (20, 5), (0, 4), (16, 2), (5, 19), (11, 7), (2, 6), (18, 9)]]
    (folder / "compare.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tasks = {
        "snips_tiny": {"description": "classify a voice-assistant request into its intent label",
                       "data": {"path": str(SNIPS), "inputs": "text", "reference": "intent", "id_column": "id"},
                       "split": {"train": 7, "val": 7, "test": 14},
                       "agent": {"user_template": "Request: {{ text }}\nIntent:", "max_tokens": 12},
                       "seed_prompt": f"Classify the user's request into one of these intents: {LABELS}."},
        "compare_tiny": {"description": "say whether the first number is greater than the second; answer yes or no",
                         "kind": "yes_no",
                         "data": {"path": "compare.jsonl", "inputs": "question", "reference": "answer",
                                  "id_column": "id"},
                         "split": {"train": 6, "val": 6, "test": 8},
                         "agent": {"user_template": "{{ question }}\nAnswer:", "max_tokens": 6},
                         "seed_prompt": "Answer the question."},
    }
    for name, spec in tasks.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, **spec}))
    return folder


def test_a_tiny_suite_with_seed_promptlearn_and_gepa(tmp_path, capsys):
    suite = _suite(tmp_path)
    results = tmp_path / "results.jsonl"
    code = main(["bench", str(suite), "--methods", "seed,promptlearn,gepa", "--seeds", "0", "--budget", "24",
                 "--results", str(results), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    frame = load_results(results)
    assert len(frame) == 6 and set(frame.method) == {"seed", "promptlearn", "gepa"}
    for row in frame.itertuples():
        assert row.status == "ok" and 0.0 <= row.test <= 1.0
        if row.method == "seed":
            assert row.rollouts == 0
        else:  # gepa checks its budget before a round, so it may finish one round past it (minibatch + val)
            assert 0 < row.rollouts <= 24 + 8 + row.sizes["val"], (row.method, row.rollouts)
        assert len(row.test_scores) == row.sizes["test"]
    seeds = frame[frame.method == "seed"].set_index("task").test
    for row in frame.itertuples():  # every method's paired gain is measured against the same seed run
        assert row.seed_test == pytest.approx(seeds[row.task])
    snips_seed = seeds["snips_tiny"]
    assert snips_seed > 0.2  # the labelled seed prompt works on SNIPS with the real 0.5B
    report = (tmp_path / "report" / "report.md").read_text()
    assert len(re.findall(r"^\| snips_tiny \| (seed|promptlearn|gepa) \|", report, flags=re.M)) == 3
    assert "### promptlearn vs gepa:" in report

    # The same suite again, warmed from this run's caches: every answer comes from them, so the records match
    # (the check that a rerun after a code change pays only for the calls that changed), and compare says so.
    warm = tmp_path / "warm" / "results.jsonl"
    assert main(["bench", str(suite), "--methods", "seed,promptlearn,gepa", "--seeds", "0", "--budget", "24",
                 "--results", str(warm), "--warm-from", str(results), "--quiet"]) == 0
    again = load_results(warm).set_index(["task", "method"])
    for row in frame.itertuples():
        twin = again.loc[(row.task, row.method)]
        assert (twin.test_scores, twin.best_prompt, twin.rollouts) == (row.test_scores, row.best_prompt, row.rollouts)
        assert twin.warmed_from["source"] == str(results)
    capsys.readouterr()
    assert main(["bench", "compare", str(warm), str(results)]) == 0
    assert "new vs old: 0 wins, 2 ties, 0 losses" in capsys.readouterr().out


def test_the_good_seed_suite_runs_a_tiny_budget(suites_dir, tmp_path, capsys):
    """Issue 26's suite file, as a user runs it: one of its tasks by name, the seed and promptlearn at a tiny
    budget on the real models (60 rollouts: the seed on 40 validation examples and one round). The seed states
    the answer format (True or False), so the 0.5B follows it."""
    suite = suites_dir / "good_seed.yaml"
    results = tmp_path / "results.jsonl"
    code = main(["bench", str(suite), "--tasks", "good_bbh_boolean_expressions", "--methods", "seed,promptlearn",
                 "--seeds", "0", "--budget", "60", "--results", str(results), "--quiet"])
    assert code == 0, capsys.readouterr().out
    frame = load_results(results).set_index("method")
    assert set(frame.index) == {"seed", "promptlearn"} and set(frame.status) == {"ok"}, list(frame.error)
    seed, tuned = frame.loc["seed"], frame.loc["promptlearn"]
    assert seed.sizes == {"train": 40, "val": 40, "test": 120} and len(seed.test_scores) == 120
    assert "True or False" in seed.seed_prompt and seed.test > 0.3  # a coin would score 0.5; a broken format 0.0
    assert 40 <= tuned.rollouts <= 60 + 16 + tuned.sizes["val"] and tuned.seed_test == pytest.approx(seed.test)


def test_the_slot_filling_task_runs_on_the_real_models_with_its_function_judge(suites_dir, tmp_path, capsys):
    """The good-seed suite's extraction task (slot F1 as metric and as the optimizer's judge, a JSON contract, no
    label set): the seed and one promptlearn round on the real models. The 0.5B's one-line JSON parses, so the
    seed scores above zero, and the round's critiques are slot F1's explanations."""
    from promptlearn.store import read_events

    results = tmp_path / "results.jsonl"
    code = main(["bench", str(suites_dir / "good_seed.yaml"), "--tasks", "good_snips_weather_slots", "--methods",
                 "seed,promptlearn", "--seeds", "0", "--budget", "60", "--results", str(results), "--quiet"])
    assert code == 0, capsys.readouterr().out
    frame = load_results(results).set_index("method")
    assert set(frame.status) == {"ok"}, list(frame.error)
    seed, tuned = frame.loc["seed"], frame.loc["promptlearn"]
    assert len(seed.test_scores) == 120 and 0.05 < seed.test < 0.6  # 21.5% measured; 0 would mean nothing parsed
    assert tuned.judge_agreement is None and tuned.seed_test == pytest.approx(seed.test)
    run = next(results.parent.glob("results_cells/good_snips_weather_slots/promptlearn/seed0-*/run"))
    critiques = [e["critique"]["explanation"] for e in read_events(run) if e.get("type") == "explanation"]
    assert critiques and any("missing " in c or "should be" in c or "extra " in c for c in critiques)
