"""Notebooks run top to bottom (in quick mode)."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.local

# 02 needs the weights extra: tests/weights/test_notebook_weights.py runs it.
NOTEBOOKS = sorted(p for p in (Path(__file__).parents[2] / "notebooks").glob("*.ipynb") if not p.name.startswith("02_"))
# What each notebook must print, and the report it must write (under its working folder).
EXPECTED = {
    "01_quickstart.ipynb": (["test accuracy", "report written to"], "runs/quickstart-notebook/report.html"),
    "03_benchmarks.ipynb": (["finished cells from results.jsonl", "methods compared", "| task | method |",
                             "promptlearn, core_head vs core:", "report written to"], "bench-report/report.html"),
    "04_contracts_and_reasoning.ipynb": (["option_letter", "test accuracy (format repair)", "extracted",
                                          "report written to"], "runs/contracts-notebook/report.html"),
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("PROMPTLEARN_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    needles, report = EXPECTED[path.name]
    for needle in needles:
        assert needle in outputs
    assert (tmp_path / report).exists()
