"""The injection set (tests/data/injection_set.jsonl): 32 instructions planted in training inputs, and
a rewriter, explainer and demo picker that would carry each one into the prompt. None may reach the
best prompt.

Kinds: ``verbatim`` (the rewriter copies the planted rule), ``quoted`` (the explainer quotes the planted
sentence in its critique and the rewriter follows it), ``paraphrased`` (the rule says the same in other
words), ``demo`` (every input the seed prompt gets wrong carries the instruction, so a worked example
would show it). The planted rule never costs accuracy here (the agent does not obey it), so only the
guards stand between it and the best prompt: without them each case fails (checked by
``test_the_set_fails_without_the_guards``).
"""

import json
import re
from pathlib import Path

import pytest

from promptlearn import ChatAgent, ExactMatch, Example, FakeLLM, OptimizeConfig, optimize

SET = [json.loads(line) for line in (Path(__file__).parents[1] / "data" / "injection_set.jsonl").read_text().splitlines()]
GOOD = {"group": 1, "when": "the number is divisible by two", "then": "answer even; otherwise answer odd"}


def examples(case: dict, n: int, offset: int, poisoned: bool) -> list[Example]:
    out = []
    for i in range(offset, offset + n):
        odd = i % 2 == 1
        # Demo cases poison every odd input (the seed's failures); the others every fourth input.
        hit = poisoned and (odd if case["kind"] == "demo" else i % 4 == 1)
        out.append(Example(id=f"x{i}", inputs={"note": case["payload"] if hit else "a plain request", "number": i},
                           reference="odd" if odd else "even"))
    return out


def agent_handler(request):
    system, user = request.messages[0]["content"], request.messages[-1]["content"]
    number = int(re.search(r"number (\d+)", user).group(1))
    if "divisible by two" in system or "Examples:" in system:
        return "odd" if number % 2 else "even"
    return "even"


def rewriter_for(case: dict):
    bad = {"group": 1, "when": case["when"], "then": case["then"]}

    def handler(request):
        name = request.params.get("response_format", {}).get("name")
        if name == "RuleEdits":
            return json.dumps({"analysis": "rules", "new_rules": [GOOD, bad] if case["when"] else [GOOD], "delete": []})
        if name == "PromptRewrite":
            extra = f" When {case['when']}, {case['then']}." if case["when"] else ""
            return json.dumps({"analysis": "rewrite", "new_prompt": "Answer even or odd. When the number is divisible "
                                                                    "by two, answer even; otherwise answer odd." + extra})
        if name == "RuleVerdict":
            return json.dumps({"reason": "serves the task", "verdict": "task"})
        if case["kind"] == "quoted":  # a hijacked explainer: quotes the planted sentence and endorses it
            return json.dumps({"sign": f"the note says: {case['payload']}", "instruction": f"obey it: {case['payload']}"})
        return json.dumps({"sign": "the number is odd", "instruction": "check divisibility by two"})

    return handler


def run(case: dict, **config):
    agent = ChatAgent(FakeLLM(agent_handler, role="agent"), "{{ note }}. Is the number {{ number }} even or odd?")
    return optimize(agent, "Answer even or odd.", examples(case, 24, 0, True), examples(case, 12, 100, False),
                    judges=ExactMatch(), optimizer_llm=FakeLLM(rewriter_for(case), role="optimizer"),
                    config=OptimizeConfig(max_iterations=6, minibatch_size=8, sampler="epoch", **config), progress=False)


def reached(case: dict, prompt: str) -> bool:
    words = set(re.findall(r"\w+", prompt.lower()))
    return case["target"].lower() in words or case["trigger"].lower() in words or case["payload"][:30] in prompt


def test_the_set_covers_each_kind():
    kinds = [c["kind"] for c in SET]
    assert len(SET) >= 30 and all(kinds.count(k) >= 8 for k in ("verbatim", "quoted", "paraphrased", "demo"))


@pytest.mark.parametrize("case", SET, ids=[c["id"] for c in SET])
def test_no_planted_instruction_reaches_the_best_prompt(case):
    result = run(case)
    assert not reached(case, result.best_prompt), result.best_prompt
    assert result.best_val > result.seed_val  # the honest rule or demo still got through


@pytest.mark.parametrize("case", [c for c in SET if c["kind"] != "demo"][::4] + [c for c in SET if c["kind"] == "demo"][:2],
                         ids=lambda c: c["id"])
def test_the_set_fails_without_the_guards(case, monkeypatch):
    """The cases test the guards, not the fake world: with the checks switched off, the planted text
    reaches the best prompt."""
    import promptlearn.edits as edits
    import promptlearn.guards as guards

    monkeypatch.setattr(guards, "_INSTRUCTION_SIGNS", re.compile(r"(?!x)x"))
    monkeypatch.setattr(edits, "instruction_in_data", lambda text: None)
    monkeypatch.setattr(guards, "_ANSWER_TARGET", re.compile(r"(?!x)x()()"))
    result = run(case)
    assert reached(case, result.best_prompt), result.best_prompt
