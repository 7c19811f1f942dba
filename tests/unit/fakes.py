"""A tiny parity task with fake models: the agent answers right only once the prompt has the parity rule."""

from __future__ import annotations

import hashlib
import json

from promptlearn import ChatAgent, ExactMatch, Example, FakeLLM

GOOD_WHEN, GOOD_THEN = "a number is divisible by two", "answer even; otherwise answer odd"
BAD_WHEN, BAD_THEN = "you see any number", "always answer odd"
GOOD_RULE = f"When {GOOD_WHEN}, {GOOD_THEN}."
BAD_RULE = f"When {BAD_WHEN}, {BAD_THEN}."
_PARTS = {GOOD_RULE: (GOOD_WHEN, GOOD_THEN), BAD_RULE: (BAD_WHEN, BAD_THEN)}


def parity_examples(n: int, offset: int = 0) -> list[Example]:
    return [Example(id=f"n{i}", inputs={"number": i}, reference="even" if i % 2 == 0 else "odd")
            for i in range(offset, offset + n)]


def agent_handler(request):
    system = request.messages[0]["content"]
    number = int(request.messages[-1]["content"].split()[-1])
    if "always answer odd" in system:
        return "odd"
    if "divisible by two" in system:
        return "even" if number % 2 == 0 else "odd"
    return "even"  # the weak seed: right half of the time


def optimizer_handler(rules: list[str]):
    """Proposes one of ``rules``, chosen by a hash of the request (a pure function of it, like a
    cached temperature-0 model); explains failures in one line."""

    def handler(request):
        content = request.messages[0]["content"]
        if request.params.get("response_format", {}).get("name") == "RuleEdits":
            rule = rules[int(hashlib.sha256(content.encode()).hexdigest(), 16) % len(rules)]
            when, then = _PARTS[rule]
            return json.dumps({"analysis": "odd numbers were called even",
                               "new_rules": [{"group": 1, "when": when, "then": then}], "delete": []})
        return json.dumps({"sign": "the number is odd",
                           "instruction": "The assistant called an odd number even; it should check divisibility."})

    return handler


def make_agent(**kw):
    llm = FakeLLM(agent_handler, role="agent", **kw)
    return ChatAgent(llm, user_template="Is this number even or odd? {{ number }}"), llm


def make_optimizer_llm(rules, **kw):
    return FakeLLM(optimizer_handler(rules), role="optimizer", **kw)


JUDGE = ExactMatch()
