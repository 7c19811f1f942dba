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


SECTION_TYPES = {"header", "text", "image", "productGrid", "gallery", "form", "button", "footer", "embed"}


def _objects(value: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(value, dict):
        found.append(value)
        for v in value.values():
            found.extend(_objects(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(_objects(v))
    return found


def json_webpage(example: Any, output: str) -> float:
    """The code-checkable part of Arize's first JSON-webpage rule set: the output is valid JSON (a fenced block
    allowed); every object with a ``type`` uses the fixed section vocabulary; every image has ``src`` and ``alt``;
    every URL is HTTPS."""
    import json
    import re

    fenced = re.search(r"```(?:json)?\s*(.*?)```", output, flags=re.S)
    try:
        page = json.loads(fenced.group(1) if fenced else output)
    except json.JSONDecodeError:
        return 0.0
    objects = _objects(page)
    if not objects:
        return 0.0
    typed = [o for o in objects if isinstance(o.get("type"), str)]
    if any(o["type"] not in SECTION_TYPES for o in typed):
        return 0.0
    if any(not ({"src", "alt"} <= set(o)) for o in typed if o["type"] == "image"):
        return 0.0
    urls = re.findall(r"\b[a-z]+://[^\s\"']+", json.dumps(page))
    return float(all(u.startswith("https://") for u in urls))
