"""The parity task (tests/unit/fakes.py) as a bench task, and fake models that also speak DSPy's chat format."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fakes import GOOD_RULE, agent_handler, optimizer_handler

from promptlearn import FakeLLM

GOOD_INSTRUCTION = f"Answer even or odd. {GOOD_RULE}"


def write_parity_task(folder: Path, n: int = 40, **overrides: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"n{i}", "number": i, "label": "even" if i % 2 == 0 else "odd"} for i in range(n)]
    (folder / "parity.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = {"name": "parity", "description": "say whether a number is even or odd", "kind": "classification",
            "data": {"path": "parity.jsonl", "inputs": ["number"], "reference": "label", "id_column": "id"},
            "split": {"train": 10, "val": 10, "test": 16},
            "agent": {"user_template": "Is this number even or odd? {{ number }}", "max_tokens": 8},
            "seed_prompt": "Answer even or odd.", "judges": [{"type": "exact_match"}], "metric": "exact_match",
            **overrides}
    import yaml

    path = folder / "parity.yaml"
    path.write_text(yaml.safe_dump(task, sort_keys=False))
    return path


def _dspy_reply(request) -> str | None:
    """DSPy asks for ``[[ ## field ## ]]`` sections (ChatAdapter) or a JSON object (JSONAdapter): fill each
    field asked for, ``answer`` by the parity rule when the instruction has it, any other with the good rule."""
    last = request.messages[-1]["content"]
    wants_json = "Respond with a JSON object" in last
    if not wants_json and "[[ ## completed ## ]]" not in "\n".join(m["content"] for m in request.messages):
        return None
    asked = last.rsplit("Respond with", 1)[-1]
    fields = [f for f in dict.fromkeys(re.findall(r"`(?:\[\[ ## )?(\w+)(?: ## \]\])?`", asked)) if f != "completed"]
    number = re.search(r"(?:\[\[ ## number ## \]\]|\"number\": \"?)\s*(\d+)", last)
    good = "divisible by two" in request.messages[0]["content"]
    values = {}
    for field in fields:
        if field == "answer" and number:
            values[field] = ("even" if int(number.group(1)) % 2 == 0 else "odd") if good else "even"
        else:
            values[field] = GOOD_INSTRUCTION
    if wants_json:
        return json.dumps(values)
    return "\n\n".join(f"[[ ## {k} ## ]]\n{v}" for k, v in values.items()) + "\n\n[[ ## completed ## ]]"


def bench_llm_factory(calls: list[str] | None = None, made: list[FakeLLM] | None = None, caching: bool = False):
    """``make_llm`` for run_bench: FakeLLMs for the agent and the rewriter, recording roles in ``calls`` and the
    LLMs in ``made``; ``caching`` gives them the cell's cache file, as real runs have."""
    rules = optimizer_handler([GOOD_RULE])

    def agent(request):
        return _dspy_reply(request) or agent_handler(request)

    def rewriter(request):
        if request.params.get("response_format"):
            return rules(request)
        return _dspy_reply(request) or f"Here is a better instruction:\n```\n{GOOD_INSTRUCTION}\n```"

    def make(model, role, usage, cache):
        if calls is not None:
            calls.append(role)
        llm = FakeLLM(agent if role == "agent" else rewriter, model=model, role=role, usage=usage,
                      cache=cache if caching else None)
        if made is not None:
            made.append(llm)
        return llm

    return make
