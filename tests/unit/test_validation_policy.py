"""Validation policies: a full pass, or a pass stopped part-way when the child clearly trails the best."""

import json
import random

import pytest
from fakes import GOOD_RULE, GOOD_THEN, GOOD_WHEN, JUDGE, parity_examples

from promptlearn import ChatAgent, FakeLLM, OptimizeConfig, optimize
from promptlearn.bench.registry import builtin_methods
from promptlearn.strategies import VALIDATIONS, FullPass, FutilityStop

# A rule that is right on every training number (all below 100) and wrong on every validation number: it passes
# the minibatch test and then loses on validation.
OVERFIT_WHEN, OVERFIT_THEN = "the number is below one hundred", "answer by its parity, and flip it above"
TRAIN, VAL = parity_examples(20), parity_examples(20, 100)


def agent_handler(request):
    system = request.messages[0]["content"]
    number = int(request.messages[-1]["content"].split()[-1])
    right = "even" if number % 2 == 0 else "odd"
    if "below one hundred" in system:
        return right if number < 100 else ("odd" if right == "even" else "even")
    if GOOD_WHEN in system:
        return right
    return "even"  # the seed: right half of the time


def rewriter(when: str, then: str):
    def handler(request):
        if request.params.get("response_format", {}).get("name") == "RuleEdits":
            return json.dumps({"analysis": "odd numbers were called even",
                               "new_rules": [{"group": 1, "when": when, "then": then}], "delete": []})
        return json.dumps({"sign": "the number is odd", "instruction": "Check divisibility by two."})
    return handler


def run(validation: str, when: str = OVERFIT_WHEN, then: str = OVERFIT_THEN):
    agent_llm = FakeLLM(agent_handler, role="agent")
    agent = ChatAgent(agent_llm, user_template="Is this number even or odd? {{ number }}")
    config = OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=4, validation=validation)
    result = optimize(agent, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, config=config, progress=False,
                      optimizer_llm=FakeLLM(rewriter(when, then), role="optimizer"))
    val_numbers = {str(e.inputs["number"]) for e in VAL}
    child_val_calls = [r for r in agent_llm.requests if "below one hundred" in r.messages[0]["content"]
                       and r.messages[-1]["content"].split()[-1] in val_numbers]
    return result, child_val_calls


def test_a_child_that_trails_on_the_first_half_is_stopped_there(tmp_path):
    result, child_val_calls = run("futility")
    (record,) = result.history
    assert record["accepted"] and record["child_minibatch"] == 1.0  # it won the minibatch test
    assert record["outcome"].startswith("stopped after 10 of 20 validation examples")
    assert record["val_reached"] == 10 and record["child_val"] == 0.0
    assert len(child_val_calls) == 10  # half a pass, not a whole one
    assert record["child"] not in result.val_scores  # it joins no pool
    assert result.best.id == result.seed.id
    page = result.report(tmp_path / "report.html").read_text()
    assert "<th>val_reached</th>" in page and "stopped after 10 of 20" in page


def test_the_full_pass_runs_the_same_child_on_every_validation_example():
    result, child_val_calls = run("full")
    (record,) = result.history
    assert record["outcome"] == "accepted, no validation gain" and record.val_reached is None
    assert len(child_val_calls) == 20
    assert record["child"] in result.val_scores


def test_a_child_ahead_of_the_best_runs_the_whole_pass_and_becomes_the_best():
    result, _ = run("futility", GOOD_WHEN, GOOD_THEN)
    (record,) = result.history
    assert GOOD_RULE in result.best_prompt and result.best_val == 1.0
    assert record.val_reached is None and len(result.val_scores[record["child"]]) == len(VAL)


def test_the_stages_look_at_half_and_three_quarters_unless_the_set_is_small():
    futility = FutilityStop()
    assert futility.stages(60) == [30, 45, 60]
    assert futility.stages(35) == [17, 26, 35]
    assert futility.stages(12) == [9, 12]  # half (6) is too few examples to stop on
    assert futility.stages(10) == [10]
    assert FullPass().stages(60) == [60]


def test_the_order_is_fixed_by_id_and_mixes_a_split_stored_label_by_label():
    ids = [f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)]
    order = FutilityStop().order(ids)
    assert order == FutilityStop().order(list(reversed(ids)))  # the same for every child, whatever it is given
    assert {eid[0] for eid in order[:10]} == {"a", "b"}
    assert FullPass().order(ids) == ids


def test_giving_up_needs_the_child_behind_with_confidence():
    rng = random.Random(0)
    futility = FutilityStop(alpha=0.1)
    best = [1.0] * 6 + [0.0] * 4
    clearly_behind = futility.give_up(best, [0.0] * 10, rng)
    assert clearly_behind.stop and clearly_behind.margin == -0.6 and clearly_behind.evidence < 0.1
    one_behind = futility.give_up(best, [1.0] * 5 + [0.0] * 5, rng)  # one loss in ten: could be luck
    assert not one_behind.stop and one_behind.margin == pytest.approx(-0.1)
    ahead = futility.give_up(best, [1.0] * 10, rng)
    assert not ahead.stop and ahead.evidence == 1.0
    assert not FullPass().give_up(best, [0.0] * 10, rng).stop
    with pytest.raises(ValueError, match="paired"):
        futility.give_up(best, [0.0], rng)
    with pytest.raises(ValueError, match="alpha"):
        FutilityStop(alpha=0.7)


def test_config_names_the_policies_and_the_bench_method_uses_futility():
    assert set(VALIDATIONS) == {"full", "futility"}
    assert OptimizeConfig().validation == "full"
    methods = builtin_methods()
    for name, twin in (("promptlearn-futility", "promptlearn-cover"), ("promptlearn-glossary-futility",
                                                                       "promptlearn-glossary")):
        config = methods[name].config
        assert config.validation == "futility" and config.strategies == methods[twin].config.strategies
        assert config.model_copy(update={"validation": "full"}) == methods[twin].config  # nothing else differs
