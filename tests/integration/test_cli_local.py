"""`promptlearn optimize CONFIG.yaml` end to end on the real local models (tiny budget)."""

from pathlib import Path

import pytest
import yaml

from promptlearn.app.cli import main

pytestmark = pytest.mark.local

CONFIG = Path(__file__).parents[2] / "benchmarks" / "configs" / "snips_local.yaml"


def test_optimize_command_with_the_example_config(tmp_path, capsys):
    spec = yaml.safe_load(CONFIG.read_text())
    spec["data"]["path"] = str((CONFIG.parent / spec["data"]["path"]).resolve())
    spec["split"] = {"train": 14, "val": 7, "test": 7, "stratify": True}
    spec["optimize"].update(max_iterations=1, minibatch_size=6, budget={"max_rollouts": 40})
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(spec))
    assert main(["optimize", str(cfg), "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "Best prompt:" in out and "Test score (7 examples)" in out
    assert (tmp_path / "run" / "report.html").exists()


def test_optimize_command_logs_the_real_run_to_mlflow(tmp_path, capsys, monkeypatch):
    import mlflow  # the dev extra installs it

    monkeypatch.chdir(tmp_path)  # MLflow writes artifacts to ./mlruns beside a sqlite store: not into the checkout
    spec = yaml.safe_load(CONFIG.read_text())
    spec["data"]["path"] = str((CONFIG.parent / spec["data"]["path"]).resolve())
    spec["split"], spec["split_seed"] = {"train": 10, "val": 6, "stratify": True}, 1  # no test set
    spec["optimize"].update(max_iterations=1, minibatch_size=4, budget={"max_rollouts": 20})
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(spec))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert main(["optimize", str(cfg), "--run-dir", str(tmp_path / "run"), "--mlflow", uri]) == 0
    out = capsys.readouterr().out
    run_id = out.split("mlflow: run ")[1].split(",")[0]
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny" and "seed_val" in run.data.metrics
    best = client.get_prompt_version("promptlearn-best", 1)
    assert best.template.strip() and best.tags["promptlearn_run"] == run_id
    assert {a.path for a in client.list_artifacts(run_id)} == {"events.jsonl", "report.html"}
