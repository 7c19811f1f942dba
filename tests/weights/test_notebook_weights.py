"""notebooks/02_prompt_vs_weights.ipynb runs top to bottom in quick mode."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.weights, pytest.mark.local]

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "02_prompt_vs_weights.ipynb"


def test_prompt_vs_weights_notebook_executes(tmp_path, monkeypatch):
    import json

    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("PROMPTLEARN_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "held-out score per arm" in outputs and "chart written to" in outputs
    arms = [json.loads(line) for line in (tmp_path / "runs/prompt-vs-weights/comparison.jsonl").read_text().splitlines()]
    assert {a["method"] for a in arms} == {"seed", "promptlearn", "sft", "grpo", "promptlearn+sft"}
    assert len({a["engine"].split("+")[0] for a in arms}) == 1  # one engine, one base model
    assert all(a["adapter"] for a in arms if a["method"] in {"sft", "grpo", "promptlearn+sft"})
    assert (tmp_path / "runs/prompt-vs-weights/score_vs_rollouts.png").exists()
