"""zero_tie_extensions: a child and parent that both score zero on every minibatch example run on fresh ones."""

import json

from promptlearn import ChatAgent, ExactMatch, Example, FakeLLM, OptimizeConfig, optimize

# A hard task: the agent is right only on multiples of seven once it has a rule, never without one.
TRAIN = [Example(id=f"n{i}", inputs={"number": i}, reference="even" if i % 2 == 0 else "odd") for i in range(1, 41)]
VAL = [Example(id=f"n{i}", inputs={"number": i}, reference="even" if i % 2 == 0 else "odd") for i in range(100, 130)]
RULE = {"group": 1, "when": "the number is given", "then": "read its last digit"}


def rare_agent(request):
    system, number = request.messages[0]["content"], int(request.messages[-1]["content"].split()[-1])
    right = "even" if number % 2 == 0 else "odd"
    wrong = {"even": "odd", "odd": "even"}[right]
    return right if "Rules:" in system and number % 7 == 0 else wrong


def run(extensions: int, seed: int):
    agent = ChatAgent(FakeLLM(rare_agent, role="agent"), "Is this number even or odd? {{ number }}")
    rewriter = FakeLLM(lambda r: json.dumps({"analysis": "a", "new_rules": [RULE], "delete": []}))
    config = OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=4, seed=seed, sampler="epoch",
                            zero_tie_extensions=extensions, explain_failures=0)
    return optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=rewriter,
                    config=config, progress=False)


def blank_first_minibatch_seed() -> int:
    """A config seed whose first minibatch holds no multiple of seven (so both score zero on it)."""
    for seed in range(50):
        row = run(0, seed).history[0]
        if all(int(e[1:]) % 7 for e in row["batch"]):
            return seed
    raise AssertionError("no seed draws a minibatch without a multiple of seven")


def test_without_extensions_a_zero_tie_is_rejected_untested():
    row = run(0, blank_first_minibatch_seed()).history[0]
    assert row["parent_minibatch"] == row["child_minibatch"] == 0.0
    assert row["outcome"] == "rejected on minibatch" and row.extended is None and len(row["batch"]) == 4


def test_extensions_run_both_on_fresh_examples_until_one_scores():
    seed = blank_first_minibatch_seed()
    first = run(0, seed).history[0]["batch"]
    row = run(9, seed).history[0]  # 4 + 9 x 4 = every training example, if need be
    assert row["batch"][:4] == first and len(row["batch"]) == 4 * (1 + row.extended)
    assert len(set(row["batch"])) == len(row["batch"])  # fresh examples, never one already run
    assert any(int(e[1:]) % 7 == 0 for e in row["batch"][4:])  # stopped once some example was answered right
    assert row["child_minibatch"] > 0.0 and row["parent_minibatch"] == 0.0
    assert row["accepted"] and row["outcome"] == "new best"


def test_extensions_stop_at_the_configured_count():
    def never_right(request):
        return "maybe"
    agent = ChatAgent(FakeLLM(never_right, role="agent"), "Is this number even or odd? {{ number }}")
    rewriter = FakeLLM(lambda r: json.dumps({"analysis": "a", "new_rules": [RULE], "delete": []}))
    config = OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=4, zero_tie_extensions=2,
                            explain_failures=0, infer_contract=False)
    row = optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=rewriter,
                   config=config, progress=False).history[0]
    assert row.extended == 2 and len(row["batch"]) == 12 and row["outcome"] == "rejected on minibatch"
