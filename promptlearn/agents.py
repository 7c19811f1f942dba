"""Agents: what runs a candidate prompt on an example.

Contract: ``Agent.arun(candidate, example) -> Rollout`` never raises for a
failure of the task itself (model error, timeout, bad output): it returns a
Rollout with ``error`` set, which judges score as a failure and the run goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Awaitable, Callable, Protocol, runtime_checkable

from .llm import LLM, usage_scope
from .records import Candidate, Cost, Example, Rollout
from .templating import render

DEFAULT_ROLLOUT_TIMEOUT_S = 300.0


@runtime_checkable
class Agent(Protocol):
    async def arun(self, candidate: Candidate, example: Example) -> Rollout: ...


def _cost(scope) -> Cost:
    return Cost(**scope.as_dict())


class ChatAgent:
    """One chat call: the candidate's prompt as system message, ``user_template`` rendered with the inputs.

    ``parse`` may post-process the raw text (e.g. take the first line); if it raises,
    the rollout records the error.
    """

    def __init__(self, llm: LLM, user_template: str = "{{ input }}", *, max_tokens: int | None = None,
                 parse: Callable[[str], str] | None = None, timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S):
        self.llm = llm.for_role("agent")
        self.user_template = user_template
        self.max_tokens = max_tokens
        self.parse = parse
        self.timeout_s = timeout_s

    def messages(self, candidate: Candidate, example: Example) -> list[dict[str, str]]:
        prompt = candidate.prompt
        # Render only real jinja markup: prompts often hold literal JSON braces.
        system = render(prompt, example.inputs, what="system prompt") if ("{{" in prompt or "{%" in prompt) \
            else prompt
        user = render(self.user_template, example.inputs, what="user template")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    async def arun(self, candidate: Candidate, example: Example) -> Rollout:
        start = time.perf_counter()
        trace: tuple[dict[str, Any], ...] = ()
        with usage_scope() as scope:
            try:
                messages = self.messages(candidate, example)
                trace = tuple(messages)
                completion = await asyncio.wait_for(
                    self.llm.acomplete(messages, max_tokens=self.max_tokens), self.timeout_s)
                output = self.parse(completion.text) if self.parse else completion.text
                return Rollout(example_id=example.id, candidate_id=candidate.id, output=output,
                               trace=(*trace, {"role": "assistant", "content": completion.text}),
                               latency_s=time.perf_counter() - start, cost=_cost(scope))
            except Exception as exc:  # a failed rollout is a record, not a crash
                return Rollout(example_id=example.id, candidate_id=candidate.id, trace=trace,
                               error=f"{type(exc).__name__}: {exc}", latency_s=time.perf_counter() - start,
                               cost=_cost(scope))


class FunctionAgent:
    """Any callable ``fn(candidate, example) -> output`` (sync or async) as an agent.

    Use it for tool-using or multi-step agents: read ``candidate.prompt`` for the
    system prompt and make model calls through an ``LLM`` so usage is counted.
    Sync functions run in a worker thread.
    """

    def __init__(self, fn: Callable[[Candidate, Example], Any | Awaitable[Any]], *,
                 timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S):
        self.fn = fn
        self.timeout_s = timeout_s

    async def arun(self, candidate: Candidate, example: Example) -> Rollout:
        start = time.perf_counter()
        with usage_scope() as scope:
            try:
                if inspect.iscoroutinefunction(self.fn):
                    result = await asyncio.wait_for(self.fn(candidate, example), self.timeout_s)
                else:
                    result = await asyncio.wait_for(asyncio.to_thread(self.fn, candidate, example), self.timeout_s)
                return Rollout(example_id=example.id, candidate_id=candidate.id,
                               output=None if result is None else str(result),
                               error=None if result is not None else "agent returned None",
                               latency_s=time.perf_counter() - start, cost=_cost(scope))
            except Exception as exc:
                return Rollout(example_id=example.id, candidate_id=candidate.id,
                               error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                               latency_s=time.perf_counter() - start, cost=_cost(scope))


def as_agent(agent: Any) -> Agent:
    """Accept an Agent or a plain callable."""
    if hasattr(agent, "arun"):
        return agent
    if callable(agent):
        return FunctionAgent(agent)
    raise TypeError(f"expected an Agent or a callable (candidate, example) -> output, got {type(agent).__name__}")
