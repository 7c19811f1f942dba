"""jinja2 in its sandbox: templates may come from users and data must never run code."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from .errors import ConfigError

if TYPE_CHECKING:
    from .records import Example

# Bounds on what rendering may produce: a template like {{ 'x' * 10**7 }} must fail, not
# write a 10 MB prompt per rollout (found with a rewrite-mode proposal).
MAX_RENDERED_CHARS = 200_000
MAX_OPERAND = 100_000

_SIMPLE_VAR = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")
_MARKUP = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # anything that could open or close a section


class _BoundedEnvironment(SandboxedEnvironment):
    """The sandbox, plus limits on repetition and powers so a template cannot allocate without bound."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError(f"exponent {right} is too large for a template")
        if operator == "*":
            sizes = [len(x) for x in (left, right) if isinstance(x, (str, list, tuple))]
            counts = [x for x in (left, right) if isinstance(x, int) and not isinstance(x, bool)]
            if sizes and counts and sizes[0] * abs(counts[0]) > MAX_RENDERED_CHARS:
                raise SecurityError("a repetition in the template would exceed the size limit")
            if any(abs(c) > MAX_OPERAND for c in counts) and sizes:
                raise SecurityError("a repetition count in the template is too large")
        return super().call_binop(context, operator, left, right)


_ENV = _BoundedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


@lru_cache(maxsize=512)
def _compile(source: str) -> Template:
    return _ENV.from_string(source)


def render(source: str, variables: dict[str, Any], *, what: str = "template") -> str:
    """Render ``source``; a variable the template needs but ``variables`` lacks raises ConfigError naming it.

    Syntax errors, sandbox violations and output longer than MAX_RENDERED_CHARS are ConfigErrors too.
    """
    try:
        template = _compile(source)
        parts, size = [], 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                raise ConfigError(f"{what} renders to more than {MAX_RENDERED_CHARS:,} characters")
            parts.append(chunk)
        return "".join(parts)
    except UndefinedError as exc:
        needed = sorted(template_variables(source) - set(variables))
        raise ConfigError(f"{what} needs {needed or exc.message}; available: {sorted(variables)}") from None
    except TemplateSyntaxError as exc:
        raise ConfigError(f"{what} is not a valid jinja2 template (line {exc.lineno}: {exc.message})") from None
    except SecurityError as exc:
        raise ConfigError(f"{what} was refused by the template sandbox: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, OverflowError) as exc:
        raise ConfigError(f"{what} failed to render: {type(exc).__name__}: {exc}") from None


def template_variables(source: str) -> set[str]:
    """The undeclared variables a template uses (``{{ question }}`` -> {"question"})."""
    try:
        return set(meta.find_undeclared_variables(_ENV.parse(source)))
    except TemplateSyntaxError as exc:
        raise ConfigError(f"not a valid jinja2 template (line {exc.lineno}: {exc.message})") from None


def has_markup(text: str) -> bool:
    """Whether ``text`` holds jinja2 markup (``{{``, ``{%`` or ``{#``) that rendering would act on."""
    return "{{" in text or "{%" in text or "{#" in text


def markup_segments(text: str) -> set[str]:
    """Every ``{{ ... }}``, ``{% ... %}`` and ``{# ... #}`` segment, whitespace removed (``{{x}}`` == ``{{ x }}``)."""
    return {"".join(m.split()) for m in _MARKUP.findall(text)}


def placeholders(text: str) -> set[str]:
    """Simple ``{{ name }}`` placeholders, found without parsing (safe on any text)."""
    return set(_SIMPLE_VAR.findall(text))


def format_inputs(example: Example) -> str:
    """An example's inputs as text: the value alone when there is one, else "key: value" lines."""
    if len(example.inputs) == 1:
        return str(next(iter(example.inputs.values())))
    return "\n".join(f"{k}: {v}" for k, v in example.inputs.items())


def escape_markers(text: str) -> str:
    """Neutralise marker-like tags inside data so data cannot close its own section."""
    return _TAG_START.sub("<\u200b", str(text))
