"""jinja2 in its sandbox: templates may come from users and data must never run code."""

from __future__ import annotations

import functools
import re
import time
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from .errors import ConfigError

if TYPE_CHECKING:
    from .records import Example

# Bounds on what rendering may produce: a template like {{ 'x' * 10**7 }} must fail, not
# write a 10 MB prompt per rollout (found with a rewrite-mode proposal).
MAX_RENDERED_CHARS = 200_000
MAX_OPERAND = 100_000
# Bounds on the work and memory of one render (issue 29): nested empty loops hung the pre-run check, a
# namespace string doubled in a loop built 93 MB behind an 8-character output, and |center(30000000)
# allocated 111 MB before the output-size check could refuse it. A prompt template needs none of that.
MAX_LOOP_STEPS = 1_000_000
MAX_RENDER_SECONDS = 5.0
_ITER = "__promptlearn_bounded_iter"
_JOIN = "__promptlearn_bounded_join"

_SIMPLE_VAR = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")
_MARKUP = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # anything that could open or close a section
# Field widths in printf-style ("%30000000s") and str.format ("{:>30000000}") specs.
_PRINTF_WIDTH = re.compile(r"%[#0\- +]*(\d+|\*)")
_FORMAT_WIDTH = re.compile(r"{[^{}]*:[^{}0-9]*(\d+)[^{}]*}")


class _Work:
    """One render's budget of loop steps and seconds (see ``render``)."""

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_LOOP_STEPS:
            raise SecurityError(f"the template's loops ran more than {MAX_LOOP_STEPS:,} steps")
        if time.monotonic() > self.deadline:
            raise SecurityError(f"the template took more than {MAX_RENDER_SECONDS:g} s to render")


_WORK: ContextVar[_Work | None] = ContextVar("promptlearn_render_work", default=None)


def _bounded_iter(iterable: Any) -> Iterator[Any]:
    work = _WORK.get()
    for item in iterable:
        if work is not None:
            work.step()
        yield item


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple, dict)) else 0


def _too_big(size: int) -> None:
    if size > MAX_RENDERED_CHARS:
        raise SecurityError(f"a value in the template would exceed {MAX_RENDERED_CHARS:,} characters")


def _bounded_join(*parts: Any) -> str:
    texts = [p if isinstance(p, str) else str(p) for p in parts]
    _too_big(sum(map(len, texts)))
    work = _WORK.get()
    if work is not None:
        work.step()
    return "".join(texts)


def _check_widths(fmt: Any, args: Any = ()) -> None:
    """Refuse a format string whose field widths would allocate past the size bound before any check."""
    if not isinstance(fmt, str):
        return
    for width in [*_PRINTF_WIDTH.findall(fmt), *_FORMAT_WIDTH.findall(fmt)]:
        if width == "*":
            values = args if isinstance(args, tuple) else (args,)
            if any(isinstance(v, int) and abs(v) > MAX_RENDERED_CHARS for v in values):
                raise SecurityError("a field width in the template is too large")
        elif int(width) > MAX_RENDERED_CHARS:
            raise SecurityError(f"field width {width} in the template is too large")


def _check_call_args(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """Arguments that make a string method or filter allocate without bound: a width or count past the
    size limit (center, ljust, zfill, indent, expandtabs...), or a replace whose result would be too big."""
    for value in [*args, *kwargs.values()]:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_RENDERED_CHARS:
            raise SecurityError(f"{name}: argument {value} is too large for a template")


def _replace_size(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = len(text) + 1 if old == "" else text.count(old)
        _too_big(len(text) + count * (len(new) - len(old)))


def _bounded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    offset = 2 if hasattr(fn, "jinja_pass_arg") else 1  # (context or environment,) value, then the arguments

    @functools.wraps(fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_call_args(f"|{name}", args[offset:], kwargs)
        if name == "replace" and len(args) >= offset + 2:
            _replace_size(str(args[offset - 1]), args[offset], args[offset + 1])
        if name == "format" and len(args) >= offset:
            _check_widths(args[offset - 1], tuple(args[offset:]))
        result = fn(*args, **kwargs)
        _too_big(_size(result))
        return result

    return bounded


class _Guards(NodeTransformer):
    """Routes every loop and every ``~`` concatenation of a parsed template through the bounded helpers."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)  # type: ignore[assignment]
        node.iter = nodes.Call(nodes.Name(_ITER, "load", lineno=node.lineno), [node.iter], [], None, None,
                               lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)  # type: ignore[assignment]
        return nodes.Call(nodes.Name(_JOIN, "load", lineno=node.lineno), list(node.nodes), [], None, None,
                          lineno=node.lineno)


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox (immutable: no list.append or dict.update from a template), plus bounds on repetition,
    concatenation, powers, field widths, loop steps and render time, so a template cannot allocate or
    run without bound."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.filters = {name: _bounded_filter(name, fn) for name, fn in self.filters.items()}
        self.globals[_ITER] = _bounded_iter
        self.globals[_JOIN] = _bounded_join

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
        if operator == "+":
            _too_big(_size(left) + _size(right))
        if operator == "%":
            _check_widths(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        work = _WORK.get()
        if work is not None:  # a macro that calls itself twice per level does 2**depth calls and no loop step
            work.step()
        if __obj not in (_bounded_iter, _bounded_join):
            name = getattr(__obj, "__name__", "call")
            _check_call_args(name, args, kwargs)
            # The sandbox hands str.format out wrapped (its own formatter); the string is on the wrapped method.
            owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
            if name == "replace" and len(args) >= 2:
                _replace_size(owner, args[0], args[1])
            if name in ("format", "format_map"):
                _check_widths(owner)
        result = super().call(__context, __obj, *args, **kwargs)
        _too_big(_size(result))
        return result


_ENV = _BoundedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


@lru_cache(maxsize=512)
def _compile(source: str) -> Template:
    tree = _ENV.parse(source)
    tree = _Guards().visit(tree)
    tree.set_environment(_ENV)
    return _ENV.from_string(tree)


def render(source: str, variables: dict[str, Any], *, what: str = "template") -> str:
    """Render ``source``; a variable the template needs but ``variables`` lacks raises ConfigError naming it.

    Syntax errors, sandbox violations, output longer than MAX_RENDERED_CHARS and work past the loop-step
    and time bounds are ConfigErrors too.
    """
    token = _WORK.set(_Work())
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
    except (TypeError, ValueError, ArithmeticError, OverflowError, RecursionError, MemoryError) as exc:
        raise ConfigError(f"{what} failed to render: {type(exc).__name__}: {exc}") from None
    finally:
        _WORK.reset(token)


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
