"""Fingerprints of what a run's stored records depend on, so resume can refuse to mix runs.

A resumed run replays stored rollouts, critiques and proposals as a memo keyed by
candidate and example id. If the examples, seed prompt, judges, agent, rewriter or
loop settings changed since, those records answer a different question: resume
compares each part's fingerprint with the one in ``run.json`` and names what changed.
The budget and concurrency are left out on purpose: resuming with a larger budget is
how a user continues a run that stopped on budget.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from typing import Any, Sequence

from pydantic import BaseModel

from .records import Candidate, Example

_SKIP_ATTRIBUTES = {"usage", "cache", "backend", "callbacks", "requests"}
_UNFINGERPRINTED_SETTINGS = {"budget", "concurrency"}
_MAX_DEPTH = 4


def describe(value: Any, depth: int = 0) -> Any:
    """A JSON-able description of an agent, judge or proposer: its class and public settings."""
    from .llm import LLM

    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if depth > _MAX_DEPTH:
        return type(value).__qualname__
    if isinstance(value, LLM):
        return {"model": value.model, "temperature": value.temperature, "max_tokens": value.max_tokens}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, re.Pattern):
        return value.pattern
    if isinstance(value, dict):
        return {str(k): describe(v, depth + 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [describe(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(str(describe(v, depth + 1)) for v in value)
    if inspect.isroutine(value) or isinstance(value, type):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
    attributes = {k: describe(v, depth + 1) for k, v in sorted(vars(value).items())
                  if not k.startswith("_") and k not in _SKIP_ATTRIBUTES} if hasattr(value, "__dict__") else {}
    return {"class": f"{type(value).__module__}.{type(value).__qualname__}", **attributes}


def digest(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_fingerprint(*, seed: Candidate, train: Sequence[Example], val: Sequence[Example], agent: Any,
                    judges: Any, proposer: Any, explainer: Any, settings: BaseModel,
                    policies: dict[str, str] | None = None) -> dict[str, str]:
    """One digest per part a run's records depend on; the keys name the parts in messages."""
    loop_settings = {k: v for k, v in settings.model_dump(mode="json").items() if k not in _UNFINGERPRINTED_SETTINGS}
    return {
        "training examples": digest([e.model_dump(mode="json") for e in train]),
        "validation examples": digest([e.model_dump(mode="json") for e in val]),
        "seed prompt": digest(seed.model_dump(mode="json")),
        "judges": digest(describe(judges)),
        "agent": digest(describe(agent)),
        "rewriter": digest([describe(proposer), describe(explainer)]),
        "loop settings": digest([loop_settings, policies or {}]),
    }


def changed_parts(stored: dict[str, str], current: dict[str, str]) -> list[str]:
    return [part for part, value in current.items() if part in stored and stored[part] != value]
