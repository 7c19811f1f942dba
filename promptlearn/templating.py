"""jinja2 in its sandbox: templates may come from users and data must never run code."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, meta
from jinja2.exceptions import UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from .errors import ConfigError

_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
_SIMPLE_VAR = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # anything that could open or close a section


@lru_cache(maxsize=512)
def _compile(source: str):
    return _ENV.from_string(source)


def render(source: str, variables: dict[str, Any], *, what: str = "template") -> str:
    """Render ``source``; a variable the template needs but ``variables`` lacks raises ConfigError naming it."""
    try:
        return _compile(source).render(**variables)
    except UndefinedError as exc:
        needed = sorted(template_variables(source) - set(variables))
        raise ConfigError(f"{what} needs {needed or exc.message}; available: {sorted(variables)}") from exc


def template_variables(source: str) -> set[str]:
    """The undeclared variables a template uses (``{{ question }}`` -> {"question"})."""
    return set(meta.find_undeclared_variables(_ENV.parse(source)))


def placeholders(text: str) -> set[str]:
    """Simple ``{{ name }}`` placeholders, found without parsing (safe on any text)."""
    return set(_SIMPLE_VAR.findall(text))


def format_inputs(example) -> str:
    """An example's inputs as text: the value alone when there is one, else "key: value" lines."""
    if len(example.inputs) == 1:
        return str(next(iter(example.inputs.values())))
    return "\n".join(f"{k}: {v}" for k, v in example.inputs.items())


def escape_markers(text: str) -> str:
    """Neutralise marker-like tags inside data so data cannot close its own section."""
    return _TAG_START.sub("<\u200b", str(text))
