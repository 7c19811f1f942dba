"""Ground-truth metrics for suite tasks that code can check (``metric: ../metrics.py:NAME`` in a task YAML)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "judges"))

from ifeval_checks import check  # noqa: E402


def ifeval(example: Any, output: str) -> float:
    """1 when the output follows every instruction of the IFEval prompt (IFEval's strict, prompt-level)."""
    ids = example.metadata["instruction_id_list"]
    kwargs = example.metadata["kwargs"]
    return float(all(check(i, output, k or {}) for i, k in zip(ids, kwargs)))
