"""``PipelineAgent``: an agent with several prompts, one chat call per step.

Each step's system prompt is one component of the candidate (``candidate["plan"]``); its user
message is a template over the example's inputs and the earlier steps' outputs, by component
name. The last step's reply is the answer. Every step lands in the rollout's trace as
``{"component", "input", "output"}``, so when the loop edits one component the rewriter sees
what that step got and gave. A shipped two-step example: plan, then answer.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ._templating import has_markup, placeholders, render
from .agents import DEFAULT_ROLLOUT_TIMEOUT_S, _error_text, compile_answer_pattern, extract_answer
from .errors import ConfigError
from .llm import LLM, usage_scope
from .records import Candidate, Example, Rollout


@dataclass(frozen=True)
class Step:
    """One chat call: the candidate's ``component`` as system prompt, ``user_template`` as user message.

    The template sees the example's inputs and, under their component names, the outputs of the
    steps before it (``{{ plan }}``).
    """

    component: str
    user_template: str
    max_tokens: int | None = None


PLAN_THEN_ANSWER = (Step("plan", "{{ input }}", max_tokens=160),
                    Step("answer", "{{ input }}\n\nNotes:\n{{ plan }}", max_tokens=32))
PLAN_THEN_ANSWER_SEED = {"plan": "Think about the question below and write short notes on how to answer it.",
                         "answer": "Answer the question, using the notes. Give only the answer."}


class PipelineAgent:
    """Runs ``steps`` in order with one LLM; the last reply, through ``answer_pattern``/``parse``, is the output.

    A failed step fails the rollout (recorded as data, like any agent failure), with the steps
    that did run kept in the trace.
    """

    def __init__(self, llm: LLM, steps: Sequence[Step], *, parse: Callable[[str], str] | None = None,
                 answer_pattern: str | None = None, timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S):
        steps = tuple(steps)
        if not steps:
            raise ConfigError("a PipelineAgent needs at least one Step")
        names = [s.component for s in steps]
        if len(set(names)) != len(names):
            raise ConfigError(f"each step needs its own component, got {names}")
        if bad := [n for n in names if not n.isidentifier()]:
            raise ConfigError(f"component names must be identifiers (later templates read them as variables): {bad}")
        self.llm = llm.for_role("agent")
        self.steps = steps
        self.parse = parse
        self.timeout_s = timeout_s
        self.answer_pattern = answer_pattern
        self.max_tokens = steps[-1].max_tokens  # the loop's reasoning-room check reads the answering step
        self._answer_re = compile_answer_pattern(answer_pattern)

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(s.component for s in self.steps)

    def _messages(self, step: Step, candidate: Candidate, variables: dict[str, Any]) -> list[dict[str, str]]:
        try:
            prompt = candidate[step.component]
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
        system = render(prompt, variables, what=f"{step.component} prompt") if has_markup(prompt) else prompt
        return [{"role": "system", "content": system},
                {"role": "user", "content": render(step.user_template, variables, what=f"{step.component} template")}]

    def preflight(self, candidate: Candidate, examples: Sequence[Example]) -> None:
        """Every step's component exists and its template renders (earlier outputs stand in as "...");
        a component no step reads gets a warning: optimising it cannot change anything."""
        if missing := [c for c in self.components if c not in candidate.components]:
            raise ConfigError(f"the seed has no component {missing} for these steps; it has {list(candidate.names)}")
        if unread := [c for c in candidate.names if c not in self.components]:
            warnings.warn(f"no step reads component(s) {unread}: optimising them cannot change anything",
                          stacklevel=3)
        for example in examples:
            variables = dict(example.inputs)
            for step in self.steps:
                unknown = placeholders(step.user_template) - set(variables)
                if unknown:
                    raise ConfigError(f"example {example.id!r}: step {step.component!r} reads {sorted(unknown)}, "
                                      f"which are neither inputs nor earlier steps")
                self._messages(step, candidate, variables)
                variables[step.component] = "..."

    async def arun(self, candidate: Candidate, example: Example) -> Rollout:
        start = time.perf_counter()
        trace: list[dict[str, Any]] = []
        with usage_scope() as scope:
            try:
                variables = dict(example.inputs)
                reply = ""
                for step in self.steps:
                    messages = self._messages(step, candidate, variables)
                    completion = await asyncio.wait_for(
                        self.llm.acomplete(messages, max_tokens=step.max_tokens), self.timeout_s)
                    reply = completion.text
                    trace.append({"component": step.component, "input": messages[1]["content"], "output": reply})
                    variables[step.component] = reply.strip()
                answer = extract_answer(self._answer_re, reply)
                output = self.parse(answer) if self.parse else answer
                if not isinstance(output, str):
                    raise ConfigError(f"parse returned {type(output).__name__}, not a string")
                error = None
            except Exception as exc:  # a failed rollout is a record, not a crash
                output, error = None, _error_text(exc)
        return Rollout(example_id=example.id, candidate_id=candidate.id, output=output, error=error,
                       trace=tuple(trace), latency_s=time.perf_counter() - start, cost=scope.cost,
                       components_read=tuple(t["component"] for t in trace))
