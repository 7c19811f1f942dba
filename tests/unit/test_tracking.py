"""MLflow tracking against a real tracking store (sqlite in a temp folder), read back with MlflowClient."""

import json

import mlflow  # the dev extra installs it (the mlflow extra for users)
import pytest
from fakes import parity_examples

import promptlearn as pl
from promptlearn.records import Provenance, Rule

TRAIN, VAL = parity_examples(20), parity_examples(10, 100)


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(tmp_path, monkeypatch):
    # With a sqlite tracking URI MLflow puts artifacts in ./mlruns, relative to the working directory: keep them
    # out of the checkout (they were once committed by accident).
    monkeypatch.chdir(tmp_path)


def agent_handler(request):
    system, number = request.messages[0]["content"], int(request.messages[-1]["content"].split()[-1])
    return ("even" if number % 2 == 0 else "odd") if "divisible by two" in system else "even"


def rules_rewriter(request):
    return json.dumps({"analysis": "odd numbers fail", "delete": [], "new_rules": [
        {"group": 1, "when": "the number is not divisible by two", "then": "answer odd"}]})


def run(tmp_path, tracker, run_dir=True):
    agent = pl.ChatAgent(pl.FakeLLM(agent_handler, role="agent"), "Even or odd? {{ number }}")
    return pl.optimize(agent, "Say even or odd.", TRAIN, VAL, judges=pl.ExactMatch(),
                       optimizer_llm=pl.FakeLLM(rules_rewriter), callbacks=[tracker], progress=False,
                       config=pl.OptimizeConfig(mode="rules", max_iterations=2, minibatch_size=6, explain_failures=0),
                       run_dir=str(tmp_path / "run") if run_dir else None)


def test_a_run_is_logged_round_by_round_with_its_best_prompt_registered(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = pl.MLflowCallback(uri, experiment="parity", run_name="first")
    result = run(tmp_path, tracker)
    client = mlflow.MlflowClient(tracking_uri=uri)
    logged = client.get_run(tracker.run_id)
    assert logged.info.status == "FINISHED" and logged.info.run_name == "first"
    assert logged.data.params["mode"] == "rules" and "budget.max_rollouts" not in logged.data.params  # None: unset
    assert logged.data.params["minibatch_size"] == "6"
    history = client.get_metric_history(tracker.run_id, "best_val")
    assert [m.step for m in history] == [0, *[r.iteration for r in result.history]]
    assert history[-1].value == pytest.approx(result.best_val)
    assert [m.value for m in client.get_metric_history(tracker.run_id, "rollouts")] == \
        [float(r.rollouts) for r in result.history]
    assert logged.data.tags["stop_reason"] == result.stop_reason
    prompt = client.get_prompt_version("promptlearn-best", tracker.prompt_version)
    assert prompt.template == result.best_prompt
    rule_tags = {k: v for k, v in prompt.tags.items() if k.startswith("rule_")}
    assert len(rule_tags) == len(result.rules()) >= 1
    assert all(" | from: " in v for v in rule_tags.values())
    assert {a.path for a in client.list_artifacts(tracker.run_id)} == {"events.jsonl", "report.html"}


def test_a_run_without_a_run_dir_logs_metrics_and_prompt_but_no_artifacts(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = pl.MLflowCallback(uri)
    run(tmp_path, tracker, run_dir=False)
    client = mlflow.MlflowClient(tracking_uri=uri)
    assert client.list_artifacts(tracker.run_id) == [] and tracker.prompt_version == 1
    assert client.get_experiment_by_name("promptlearn") is not None


def test_rule_provenance_tag_names_the_failures():
    from promptlearn.tracking import _provenance

    rule = Rule(id=1, text="When odd, answer odd.", provenance=(Provenance(example_id="n3", judge="exact_match",
                                                                           critique="expected odd"),))
    assert _provenance(rule) == "When odd, answer odd. | from: n3 (exact_match): expected odd"


def test_bench_cells_are_logged_with_score_ci_gain_and_cost(tmp_path):
    from promptlearn.tracking import log_bench_cell

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    record = {"task": "snips", "method": "promptlearn", "seed": 0, "budget": 200, "status": "ok", "test": 0.7,
              "test_ci95": [0.6, 0.8], "seed_test": 0.55, "gain": 0.15, "rollouts": 200, "cost_usd": 0.0,
              "optimize_wall_s": 12.5, "gain_ci95": [0.05, 0.25], "tokens": float("nan")}
    run_id = log_bench_cell(record, uri)
    logged = mlflow.MlflowClient(tracking_uri=uri).get_run(run_id)
    assert logged.info.run_name == "snips/promptlearn/seed0" and logged.info.status == "FINISHED"
    assert logged.data.metrics == {"test": 0.7, "seed_test": 0.55, "gain": 0.15, "rollouts": 200.0, "cost_usd": 0.0,
                                   "optimize_wall_s": 12.5, "test_ci95_low": 0.6, "test_ci95_high": 0.8}
    failed = log_bench_cell({**record, "status": "failed", "error": "boom", "test": None}, uri)
    assert mlflow.MlflowClient(tracking_uri=uri).get_run(failed).info.status == "FAILED"


def test_the_bench_command_logs_each_new_cell(tmp_path, monkeypatch, capsys):
    import promptlearn.app.bench_cli as bench_cli

    logged = []
    monkeypatch.setattr("promptlearn.tracking.log_bench_cell", lambda record, uri: logged.append((record, uri)) or "r1")
    hook = bench_cli._mlflow_logger("sqlite:///x.db")
    assert hook is not None and bench_cli._mlflow_logger(None) is None
    hook({"task": "t", "method": "m"})
    assert logged == [({"task": "t", "method": "m"}, "sqlite:///x.db")] and "mlflow run r1 (t/m)" in capsys.readouterr().out
