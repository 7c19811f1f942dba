"""A tiny parity task with fake models: the agent answers right only once the prompt has the parity rule."""

from __future__ import annotations

import json

from promptlearn import ChatAgent, ExactMatch, Example, FakeLLM

GOOD_RULE = "Numbers divisible by two are even; all other numbers are odd."
BAD_RULE = "Always answer odd, whatever the number."


def parity_examples(n: int, offset: int = 0) -> list[Example]:
    return [Example(id=f"n{i}", inputs={"number": i}, reference="even" if i % 2 == 0 else "odd")
            for i in range(offset, offset + n)]


def agent_handler(request):
    system = request.messages[0]["content"]
    number = int(request.messages[-1]["content"].split()[-1])
    if "Always answer odd" in system:
        return "odd"
    if "divisible by two" in system:
        return "even" if number % 2 == 0 else "odd"
    return "even"  # the weak seed: right half of the time


def optimizer_handler(rules: list[str]):
    """Proposes ``rules`` one per call (cycling); explains failures in one line."""
    calls = {"n": 0}

    def handler(request):
        content = request.messages[0]["content"]
        if "write at most" in content.lower() or "rules" in request.params.get("response_format", {}).get("name", "").lower():
            rule = rules[calls["n"] % len(rules)]
            calls["n"] += 1
            return json.dumps({"analysis": "odd numbers were called even", "new_rules": [{"rule": rule, "fixes": [1]}],
                               "delete": []})
        return json.dumps({"explanation": "The assistant called an odd number even; it should check divisibility."})

    return handler


def make_agent(**kw):
    llm = FakeLLM(agent_handler, role="agent", **kw)
    return ChatAgent(llm, user_template="Is this number even or odd? {{ number }}"), llm


def make_optimizer_llm(rules, **kw):
    return FakeLLM(optimizer_handler(rules), role="optimizer", **kw)


JUDGE = ExactMatch()
