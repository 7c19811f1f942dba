"""One tiny bench cell on the real 0.5B through a real local Ray runtime (--executor ray)."""

import json

import pytest
import ray
import yaml

from promptlearn.app.cli import main
from promptlearn.app.quickstart import SNIPS_SEED_PROMPT, SNIPS_TASK, SNIPS_USER_TEMPLATE, snips_task
from promptlearn.bench import load_results

pytestmark = pytest.mark.local


def test_a_real_cell_runs_through_ray(tmp_path, capsys):
    train, val, test = snips_task(n_train=6, n_val=4, n_test=6, seed=0)
    (tmp_path / "snips.jsonl").write_text("".join(json.dumps({"id": e.id, "text": e.inputs["text"], "intent": e.reference})
                                                  + "\n" for e in [*train, *val, *test]))
    task = {"name": "snips_ray", "description": SNIPS_TASK,
            "data": {"path": "snips.jsonl", "inputs": "text", "reference": "intent", "id_column": "id"},
            "split": {"train": 6, "val": 4, "test": 6}, "agent": {"user_template": SNIPS_USER_TEMPLATE, "max_tokens": 12},
            "seed_prompt": SNIPS_SEED_PROMPT}
    (tmp_path / "task.yaml").write_text(yaml.safe_dump(task))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        code = main(["bench", str(tmp_path / "task.yaml"), "--methods", "seed,promptlearn", "--seeds", "0",
                     "--budget", "12", "--executor", "ray", "--results", str(tmp_path / "r.jsonl"), "--quiet"])
    finally:
        ray.shutdown()
    assert code == 0, capsys.readouterr().out
    frame = load_results(tmp_path / "r.jsonl")
    assert set(frame.method) == {"seed", "promptlearn"} and (frame.status == "ok").all()
    cell = frame[frame.method == "promptlearn"].iloc[0]
    assert 0 < cell.rollouts <= 12 and 0.0 <= cell.test <= 1.0
    assert (tmp_path / "r_cells" / "snips_ray" / "promptlearn" / "seed0-budget12" / "run" / "events.jsonl").exists()
