"""Fingerprints of what a run's stored records depend on, so resume can refuse to mix runs.

A resumed run replays stored rollouts, critiques and proposals as a memo keyed by
candidate and example id. If the examples, seed prompt, judges, agent, rewriter or
loop settings changed since, those records answer a different question: resume
compares each part's fingerprint with the one in ``run.json`` and names what changed.
The budget and concurrency are left out on purpose: resuming with a larger budget is
how a user continues a run that stopped on budget.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
from types import CodeType
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
        code = getattr(value, "__code__", None)
        return type(value).__qualname__ if code is None else {"function": value.__qualname__, "code": code_digest(code)}
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
    if isinstance(value, functools.partial):
        return {"partial": describe(value.func, depth + 1), "args": describe(list(value.args), depth + 1),
                "keywords": describe(value.keywords, depth + 1)}
    if inspect.ismethod(value):
        return {"method": describe(value.__func__, depth + 1), "of": describe(value.__self__, depth + 1)}
    if inspect.isroutine(value) or isinstance(value, type):
        name = f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
        code = getattr(value, "__code__", None)
        if code is None:  # a builtin or a class: its name is all there is to describe
            return name
        return {"function": name, "code": code_digest(code), "bound": _bound_values(value, depth)}
    attributes = {k: describe(v, depth + 1) for k, v in sorted(vars(value).items())
                  if not k.startswith("_") and k not in _SKIP_ATTRIBUTES} if hasattr(value, "__dict__") else {}
    return {"class": f"{type(value).__module__}.{type(value).__qualname__}", **_user_methods(type(value)),
            **attributes}


def _user_methods(cls: type) -> dict[str, Any]:
    """The code of the methods a user's own class defines (an agent's ``arun``, a judge's ``score``): an
    edited method body changes what the stored records mean as much as an edited function does."""
    methods = {}
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] in ("promptlearn", "builtins", "abc", "typing", "pydantic"):
            continue
        for name, member in vars(klass).items():
            code = getattr(member, "__code__", None) or getattr(getattr(member, "__func__", None), "__code__", None)
            if code is not None and f"method:{name}" not in methods:
                methods[f"method:{name}"] = code_digest(code)
    return {"methods": methods} if methods else {}


def code_digest(code: CodeType) -> str:
    """What a function's body does: its bytecode, constants (nested functions' code included) and the
    names it uses. The name alone let a ``FunctionJudge`` or a ``parse`` whose body changed resume
    silently (issue 29). Bytecode, not source, so a function typed in a notebook is described too; a
    new Python version compiles differently, and then resume refuses rather than guess."""
    consts = [code_digest(c) if isinstance(c, CodeType) else repr(c) for c in code.co_consts]
    blob = json.dumps([code.co_code.hex(), consts, list(code.co_names), list(code.co_varnames)])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _bound_values(func: Any, depth: int) -> dict[str, Any]:
    """The values a function closes over, its defaults, and the module constants it reads, described:
    a threshold in a closure or a module-level ``LABELS`` list changes what the function computes."""
    bound: dict[str, Any] = {}
    code = func.__code__
    for name, cell in zip(code.co_freevars, func.__closure__ or ()):
        try:
            bound[f"closure:{name}"] = describe(cell.cell_contents, depth + 1)
        except ValueError:  # an empty cell (a name assigned after the function was made)
            bound[f"closure:{name}"] = None
    if func.__defaults__:
        bound["defaults"] = describe(list(func.__defaults__), depth + 1)
    if func.__kwdefaults__:
        bound["kwdefaults"] = describe(func.__kwdefaults__, depth + 1)
    module_globals = getattr(func, "__globals__", {})
    for name in code.co_names:
        value = module_globals.get(name)
        helper = inspect.isfunction(value) and value is not func and value.__module__ == func.__module__
        if helper or isinstance(value, (str, int, float, bool, tuple, list, dict, frozenset, set, re.Pattern)):
            bound[f"global:{name}"] = describe(value, depth + 1)
    return bound


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
