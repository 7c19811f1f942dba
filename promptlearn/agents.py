"""Agents: what runs a candidate prompt on an example.

Contract: ``Agent.arun(candidate, example) -> Rollout`` never raises for a
failure of the task itself (model error, timeout, bad output): it returns a
Rollout with ``error`` set, which judges score as a failure and the run goes on.
An agent may also offer ``preflight(candidate, examples)``: cheap checks (templates
render, variables exist) run before the first model call, raising ConfigError.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import re
import threading
import time
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Protocol, Sequence, runtime_checkable

from ._async import LoopSemaphore
from ._redaction import redact
from ._templating import has_markup, render
from .errors import ConfigError
from .llm import LLM, usage_scope
from .records import MAIN_COMPONENT, Candidate, Example, Rollout, reading_components

DEFAULT_ROLLOUT_TIMEOUT_S = 300.0
DEFAULT_SYNC_WORKERS = 8
# Hung sync calls cannot be killed, only abandoned; past this many, fail fast instead of piling up threads.
MAX_ABANDONED_CALLS = 64


log = logging.getLogger("promptlearn")
_STEPS: ContextVar[list[dict[str, Any]] | None] = ContextVar("promptlearn_steps", default=None)


def record_step(component: str, input: str, output: str) -> None:
    """Inside an agent function: record what one step (the one that uses prompt ``component``) got and
    gave. The rollout's trace keeps it, and the rewriter sees it when it edits that component.
    Outside a rollout this does nothing."""
    record_trace({"component": component, "input": str(input), "output": str(output)})


def record_trace(entry: dict[str, Any]) -> None:
    """Inside an agent function: add any JSON-able entry to the rollout's trace (judges can read it)."""
    steps = _STEPS.get()
    if steps is not None:
        steps.append(entry)


def component_for(candidate: Candidate, name: str | None) -> str:
    """The component a one-prompt agent reads: ``name`` if given, else the only one, else ``"system"``."""
    if name is not None:
        return name
    if len(candidate.components) == 1:
        return candidate.main
    if MAIN_COMPONENT in candidate.components:
        return MAIN_COMPONENT
    raise ConfigError(f"this agent reads one prompt, but the candidate has components {list(candidate.names)} "
                      f"and none is named {MAIN_COMPONENT!r}; pass component= to the agent")


def _error_text(exc: BaseException) -> str:
    """A failed rollout's error as stored and logged (redacted): the failure becomes data, and a log line."""
    text = redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    log.info("rollout failed (recorded, scored 0): %s", text)
    return text


class SyncCallRunner:
    """Runs blocking agent functions on daemon threads, at most ``max_workers`` at once.

    A call that times out gives its slot back at once and its thread is abandoned: daemon
    threads are joined neither by asyncio's shutdown nor at interpreter exit, so a hung
    agent cannot keep ``optimize()`` from returning or starve the rollouts after it
    (``asyncio.to_thread`` uses the loop's default executor, which is joined at exit).
    """

    def __init__(self, max_workers: int = DEFAULT_SYNC_WORKERS, max_abandoned: int = MAX_ABANDONED_CALLS):
        self.max_workers = max_workers
        self.max_abandoned = max_abandoned
        self._abandoned = 0
        self._count_lock = threading.Lock()
        self._slots = LoopSemaphore(max_workers)

    @property
    def abandoned(self) -> int:
        """Calls that timed out and are still running."""
        return self._abandoned

    async def run(self, fn: Callable[..., Any], *args: Any, timeout_s: float) -> Any:
        if self._abandoned >= self.max_abandoned:
            raise RuntimeError(f"{self._abandoned} earlier agent calls timed out and are still running; "
                               f"not starting more (the agent function seems to hang)")
        async with self._slots.get():
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Any] = loop.create_future()
            context = contextvars.copy_context()  # usage_scope and other context travel with the call
            state = {"abandoned": False}

            def settle(ok: bool, value: Any) -> None:
                if not future.done():
                    future.set_result(value) if ok else future.set_exception(value)

            def target() -> None:
                try:
                    outcome = (True, context.run(fn, *args))
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                    outcome = (False, exc)
                with self._count_lock:
                    if state["abandoned"]:
                        self._abandoned -= 1
                        return
                try:
                    loop.call_soon_threadsafe(settle, *outcome)
                except RuntimeError:  # the loop is gone; nobody is waiting
                    pass

            threading.Thread(target=target, daemon=True, name="promptlearn-agent").start()
            try:
                return await asyncio.wait_for(future, timeout_s)
            except asyncio.TimeoutError:
                with self._count_lock:
                    state["abandoned"] = True
                    self._abandoned += 1
                raise


@runtime_checkable
class Agent(Protocol):
    async def arun(self, candidate: Candidate, example: Example) -> Rollout: ...


# What an agent may also offer, declared (issue 27) rather than probed for by name. Wrappers (the bench's
# CountingAgent, RetrievalAgent) pass their inner agent's attributes through, so they offer what it offers.

@runtime_checkable
class Preflight(Protocol):
    """Cheap checks before the first model call (templates render, variables exist); raises ConfigError."""

    def preflight(self, candidate: Candidate, examples: Sequence[Example]) -> None: ...


@runtime_checkable
class AnswerLine(Protocol):
    """An agent whose reply may reason before a final answer the judges see: ``answer_pattern`` (a regex with
    one group; None: the whole reply is the answer) and its token limit. With both, ``auto`` mode may try the
    "work it out, then answer" strategy (``Steps.reasoning_room``)."""

    answer_pattern: str | None
    max_tokens: int | None


def first_line(text: str) -> str:
    """The first non-empty line: small models often add an explanation after the answer."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()


def compile_answer_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """An ``answer_pattern`` checked: a valid regex with one group around the answer (ConfigError if not)."""
    if not pattern:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"answer_pattern {pattern!r} is not a valid regular expression ({exc})") from None
    if compiled.groups < 1:
        raise ConfigError(f"answer_pattern {pattern!r} needs one group around the answer, like r'Answer:\\s*(.+)'")
    return compiled


def extract_answer(pattern: re.Pattern[str] | None, text: str) -> str:
    """The last match's group, else the whole reply (judged as it is)."""
    if pattern is None:
        return text
    matches = list(pattern.finditer(text))
    return matches[-1].group(1).strip() if matches else text


class ChatAgent:
    """One chat call: the candidate's prompt as system message, ``user_template`` rendered with the inputs.

    ``answer_pattern`` (a regex with one group, e.g. ``ANSWER_LINE_PATTERN`` for a last line
    "Answer: X") gives the agent room to reason: the judges see the last match's group, the
    trace keeps the whole reply, and a reply without a match is judged as it is. In ``auto``
    mode a pattern plus ``max_tokens >= 64`` lets the loop try a "work it out, then answer" rule.
    ``parse`` may post-process the answer (e.g. take the first line); if it raises, the
    rollout records the error. ``component`` names the candidate component used as the system
    prompt (default: the only one, or ``"system"``).
    """

    def __init__(self, llm: LLM, user_template: str = "{{ input }}", *, max_tokens: int | None = None,
                 parse: Callable[[str], str] | None = None, timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S,
                 answer_pattern: str | None = None, component: str | None = None):
        if not isinstance(llm, LLM):
            raise ConfigError(f"ChatAgent needs an LLM (e.g. LLM('local/qwen2.5-coder-0.5b') or "
                              f"LLM('openai/gpt-4o-mini')), got {type(llm).__name__} {str(llm)[:60]!r}")
        if not isinstance(user_template, str):
            raise ConfigError(f"user_template must be a jinja2 template string, got {type(user_template).__name__}")
        if parse is not None and not callable(parse):
            raise ConfigError(f"parse must be a function str -> str, got {type(parse).__name__}")
        self.llm = llm.for_role("agent")
        self.component = component
        self.user_template = user_template
        self.max_tokens = max_tokens
        self.parse = parse
        self.timeout_s = timeout_s
        self.answer_pattern = answer_pattern
        self._answer_re = compile_answer_pattern(answer_pattern)

    def answer(self, text: str) -> str:
        """The final answer in a reply: the last ``answer_pattern`` match, else the whole reply."""
        return extract_answer(self._answer_re, text)

    def messages(self, candidate: Candidate, example: Example) -> list[dict[str, str]]:
        try:
            prompt = candidate[component_for(candidate, self.component)]
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
        # Render only real jinja markup: prompts often hold literal JSON braces.
        system = render(prompt, example.inputs, what="system prompt") if has_markup(prompt) else prompt
        user = render(self.user_template, example.inputs, what="user template")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def preflight(self, candidate: Candidate, examples: Sequence[Example]) -> None:
        """Render both templates for every example: a variable no input has fails here, before any call."""
        for example in examples:
            try:
                self.messages(candidate, example)
            except ConfigError as exc:
                raise ConfigError(f"example {example.id!r}: {exc}") from None

    async def arun(self, candidate: Candidate, example: Example) -> Rollout:
        start = time.perf_counter()
        trace: tuple[dict[str, Any], ...] = ()
        with usage_scope() as scope:
            try:
                messages = self.messages(candidate, example)
                trace = tuple(messages)
                completion = await asyncio.wait_for(
                    self.llm.acomplete(messages, max_tokens=self.max_tokens), self.timeout_s)
                answer = self.answer(completion.text)
                output = self.parse(answer) if self.parse else answer
                if not isinstance(output, str):
                    raise ConfigError(f"parse returned {type(output).__name__}, not a string")
                return Rollout(example_id=example.id, candidate_id=candidate.id, output=output,
                               trace=(*trace, {"role": "assistant", "content": completion.text}),
                               latency_s=time.perf_counter() - start, cost=scope.cost,
                               components_read=(component_for(candidate, self.component),))
            except Exception as exc:  # a failed rollout is a record, not a crash
                return Rollout(example_id=example.id, candidate_id=candidate.id, trace=trace,
                               error=_error_text(exc), latency_s=time.perf_counter() - start,
                               cost=scope.cost)


class FunctionAgent:
    """Any callable ``fn(candidate, example) -> output`` (sync or async) as an agent.

    Use it for tool-using or multi-step agents: read ``candidate.prompt`` for the system
    prompt, or ``candidate["planner"]`` for one of several components, make model calls
    through an ``LLM`` so usage is counted, and call ``record_step`` so the rewriter sees
    what each step got and gave. The rollout records which components the function read.
    Sync functions run on worker threads (at most ``max_workers`` at once); one that
    hangs past ``timeout_s`` is recorded as a timeout and abandoned (see SyncCallRunner).
    """

    def __init__(self, fn: Callable[[Candidate, Example], Any | Awaitable[Any]], *,
                 timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S, max_workers: int = DEFAULT_SYNC_WORKERS):
        if not callable(fn):
            raise ConfigError(f"an agent function must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.timeout_s = timeout_s
        self._runner = SyncCallRunner(max_workers)

    async def arun(self, candidate: Candidate, example: Example) -> Rollout:
        start = time.perf_counter()
        steps: list[dict[str, Any]] = []
        token = _STEPS.set(steps)
        try:
            with usage_scope() as scope, reading_components() as read:
                try:
                    if inspect.iscoroutinefunction(self.fn):
                        result = await asyncio.wait_for(self.fn(candidate, example), self.timeout_s)
                    else:
                        result = await self._runner.run(self.fn, candidate, example, timeout_s=self.timeout_s)
                    output, error = (None, "agent returned None") if result is None else (str(result), None)
                except Exception as exc:
                    output, error = None, _error_text(exc)
                return Rollout(example_id=example.id, candidate_id=candidate.id, output=output, error=error,
                               trace=tuple(steps), latency_s=time.perf_counter() - start, cost=scope.cost,
                               components_read=tuple(sorted(read)))
        finally:
            _STEPS.reset(token)


def as_agent(agent: Any) -> Agent:
    """Accept an Agent or a plain callable."""
    if isinstance(agent, Agent):
        return agent
    if callable(agent):
        return FunctionAgent(agent)
    raise ConfigError(f"expected an Agent or a callable (candidate, example) -> output, got {type(agent).__name__}")
