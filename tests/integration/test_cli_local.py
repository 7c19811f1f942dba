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
    spec["data"]["split"] = {"train": 14, "val": 7, "test": 7, "seed": 0, "stratify": True}
    spec["optimize"].update(max_iterations=1, minibatch_size=6, budget={"max_rollouts": 40})
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(spec))
    assert main(["optimize", str(cfg), "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "Best prompt:" in out and "Test score (7 examples)" in out
    assert (tmp_path / "run" / "report.html").exists()
