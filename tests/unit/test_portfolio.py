"""Auto mode: answer contracts, format repair, demonstrations, merge, reasoning room, strategy choice."""

import asyncio
import json
import random

from fakes import parity_examples

from promptlearn import ChatAgent, ExactMatch, Example, FakeLLM, OptimizeConfig, optimize
from promptlearn.contracts import infer_contract
from promptlearn.edits import (
    ANSWER_LINE_PATTERN,
    REASONING_INSTRUCTION,
    DemoProposer,
    FormatRepairProposer,
    MergeProposer,
    ReasoningProposer,
    as_demo,
    repairs_format,
)
from promptlearn.proposers import Case, ProposalContext
from promptlearn.records import Candidate, Critique, Demo, Rollout, Rule
from promptlearn.strategies import RoundRobinChooser, ThompsonChooser

TRAIN, VAL = parity_examples(20), parity_examples(10, 100)
LABELS_RULE = "reply with exactly one of these labels and nothing else: even, odd"


def chatty_agent(request):
    """Explains unless told the answer format; knows parity once shown a worked example or the rule."""
    system, user = request.messages[0]["content"], request.messages[-1]["content"]
    number = int(user.split()[-1])
    right = "even" if number % 2 == 0 else "odd"
    guess = right if ("Examples:" in system or "divisible" in system) else "even"
    if "exactly one of these labels" in system:
        return guess
    return f"Let me think about {number}. I believe the number is {guess}, because of its last digit."


def silent_rewriter(request):
    raise AssertionError("format repair must not call the rewriter")


def test_format_broken_seed_is_repaired_first_without_a_rewriter_call():
    agent = ChatAgent(FakeLLM(chatty_agent, role="agent"), "Is this number even or odd? {{ number }}")
    result = optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(),
                      optimizer_llm=FakeLLM(silent_rewriter), config=OptimizeConfig(max_iterations=1, minibatch_size=6),
                      progress=False)
    row = result.history[0]
    assert result.seed_val == 0.0
    assert row["strategy"] == "format" and row["format_failures"] == 6 and row["accepted"]
    assert result.best.rules[-1].text == LABELS_RULE
    assert "broke the answer format" in result.best.rules[-1].provenance[0].critique
    assert result.best_val == 0.5 and result.best.strategy == "format"


def test_auto_mode_learns_demonstrations_after_the_format_fix(tmp_path):
    agent = ChatAgent(FakeLLM(chatty_agent, role="agent"), "Is this number even or odd? {{ number }}")
    rewriter = FakeLLM(lambda r: json.dumps({"analysis": "a", "new_rules": [], "delete": []}))
    result = optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=rewriter,
                      config=OptimizeConfig(max_iterations=8, minibatch_size=6, strategy_chooser="round_robin",
                                            patience=8), progress=False)
    strategies = [r["strategy"] for r in result.history if "strategy" in r]
    assert strategies[0] == "format" and "demos" in strategies
    assert result.best_val == 1.0 and result.best.demos
    train_ids = {e.id for e in TRAIN}
    assert all(d.example_id in train_ids for c in result.candidates.values() for d in c.demos)
    text = result.report(tmp_path / "r.html").read_text()
    assert "Proposal strategies" in text and "Worked examples in the prompt" in text


def case(example, output="wrong", failure="content"):
    return Case(example=example, rollout=Rollout(example_id=example.id, candidate_id="c", output=output),
                critiques=(Critique(judge="exact_match", score=0.0, explanation="wrong"),), score=0.0, failure=failure)


def context(**kw):
    base = dict(iteration=1, train=TRAIN, task_description="parity", output_contract=None)
    return ProposalContext(**{**base, **kw})


def test_demos_are_never_drawn_from_validation_or_test():
    parent = Candidate.create("Answer even or odd.")
    val_cases = [case(e) for e in VAL[:3]]
    assert not DemoProposer().applicable(parent, val_cases, context())
    mixed = val_cases + [case(TRAIN[1]), case(TRAIN[2])]
    proposal = asyncio.run(DemoProposer().apropose(parent, mixed, context()))
    assert {d.example_id for d in proposal.child.demos} <= {e.id for e in TRAIN}
    assert len({d.answer for d in proposal.child.demos}) == 2  # different answers, not one label twice


def test_a_demo_retry_tries_a_pair_no_candidate_has_shown():
    parent = Candidate.create("Answer even or odd.")
    failures = [case(e) for e in TRAIN[:6]]  # alternate even/odd references
    first = asyncio.run(DemoProposer().apropose(parent, failures, context())).child
    assert [d.example_id for d in first.demos] == [TRAIN[0].id, TRAIN[1].id]  # worst first, different answers
    # The first pair's child was tested (and, say, rejected): the same failures now give another pair.
    retry = asyncio.run(DemoProposer().apropose(parent, failures, context(candidates={first.id: first}))).child
    assert [d.example_id for d in retry.demos] == [TRAIN[2].id, TRAIN[3].id]
    # Once every failure has been shown somewhere, they are used again rather than nothing.
    everything = Candidate.create("x", demos=tuple(as_demo(e) for e in TRAIN[:6]))
    again = asyncio.run(DemoProposer().apropose(parent, failures, context(candidates={everything.id: everything})))
    assert [d.example_id for d in again.child.demos] == [TRAIN[0].id, TRAIN[1].id]


def test_a_demos_round_adds_up_to_per_round_failures_with_different_answers():
    intents = ["weather", "music", "weather", "book", "rate", "play", "search"]
    train = [Example(id=f"t{i}", inputs={"text": f"request {i}"}, reference=label) for i, label in enumerate(intents)]
    parent = Candidate.create("Name the intent.")
    cases = [case(e) for e in train]
    child = asyncio.run(DemoProposer().apropose(parent, cases, context(train=train))).child
    assert [d.answer for d in child.demos] == ["weather", "music"]  # the default: two
    four = asyncio.run(DemoProposer(per_round=4).apropose(parent, cases, context(train=train))).child
    assert [d.answer for d in four.demos] == ["weather", "music", "book", "rate"]


def test_format_repair_needs_a_contract_and_mostly_format_failures():
    parent = Candidate.create("Answer.")
    contract = infer_contract(TRAIN)
    content = [case(e, failure="content") for e in TRAIN[:4]]
    explained = [case(e, failure="explanation") for e in TRAIN[:4]]
    repair = FormatRepairProposer()
    assert not repair.applicable(parent, explained, context())  # no contract
    assert not repair.applicable(parent, content, context(contract=contract))
    assert repair.applicable(parent, explained, context(contract=contract))
    ruled = Candidate.create("Answer.", (Rule(id=1, text=contract.instruction),))
    assert not repair.applicable(ruled, explained, context(contract=contract))  # already a rule


def test_a_format_the_prompt_states_but_answers_break_is_restated_as_a_rule():
    """A competent seed that says the format, with answers that still break it: the contract becomes a rule."""
    contract = infer_contract(TRAIN)
    stated = Candidate.create("Answer even or odd. " + contract.instruction)
    explained = [case(e, failure="explanation") for e in TRAIN[:4]]
    repair = FormatRepairProposer()
    assert not repair.applicable(stated, [case(e) for e in TRAIN[:4]], context(contract=contract))  # content: no
    proposal = asyncio.run(repair.apropose(stated, explained, context(contract=contract)))
    assert proposal.child.system_prompt == stated.system_prompt
    assert [r.text for r in proposal.child.rules] == [contract.instruction]
    assert "restated as a rule" in proposal.rationale


def weak_agent(request):
    """Explains unless told the answer format; in format it gets every training number wrong and every
    validation number (>= 100) right: a format fix that ties at zero on the minibatch, and helps on validation."""
    system, number = request.messages[0]["content"], int(request.messages[-1]["content"].split()[-1])
    if "exactly one of these labels" not in system:
        return f"Let me think about {number}: the answer depends on its last digit."
    right = "even" if number % 2 == 0 else "odd"
    return right if number >= 100 else {"even": "odd", "odd": "even"}[right]


def test_a_format_repair_that_ties_on_the_minibatch_goes_to_validation():
    agent = ChatAgent(FakeLLM(weak_agent, role="agent"), "Is this number even or odd? {{ number }}")
    result = optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(),
                      optimizer_llm=FakeLLM(silent_rewriter), config=OptimizeConfig(max_iterations=1, minibatch_size=6),
                      progress=False)
    row = result.history[0]
    assert row["strategy"] == "format" and row["parent_minibatch"] == row["child_minibatch"] == 0.0
    assert row["accepted"] and row["format_repaired"] and row["outcome"] == "new best"
    assert result.best_val == 1.0 and result.best.rules[-1].text == LABELS_RULE


def hopeless_agent(request):
    """Explains unless told the answer format; in format, a bare label that is always wrong: fixing the
    format gains nothing anywhere, so the repair ties the seed at zero on the minibatch and on validation."""
    system, number = request.messages[0]["content"], int(request.messages[-1]["content"].split()[-1])
    if "exactly one of these labels" not in system:
        return f"Let me think about {number}: the answer depends on its last digit."
    return "odd" if number % 2 == 0 else "even"


def test_a_validation_tie_goes_to_the_candidate_with_fewer_answers_off_the_contract():
    agent = ChatAgent(FakeLLM(hopeless_agent, role="agent"), "Is this number even or odd? {{ number }}")
    result = optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(),
                      optimizer_llm=FakeLLM(silent_rewriter), config=OptimizeConfig(max_iterations=1, minibatch_size=6),
                      progress=False)
    row = result.history[0]
    assert row["format_repaired"] and row["child_val"] == result.seed_val == 0.0
    assert row["outcome"] == f"new best (as good on validation with {len(VAL)} fewer answer(s) off the contract)"
    assert row.gained and result.best.rules[-1].text == LABELS_RULE


def one_rule_rewriter():
    """A rules rewriter that always proposes the same (useless) rule."""
    rule = {"group": 1, "when": "the number is given", "then": "read its last digit"}
    return FakeLLM(lambda r: json.dumps({"analysis": "a", "new_rules": [rule], "delete": []}))


def test_rounds_start_from_the_tie_winner_not_from_the_candidate_it_tied():
    agent = ChatAgent(FakeLLM(hopeless_agent, role="agent"), "Is this number even or odd? {{ number }}")
    result = optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=one_rule_rewriter(),
                      config=OptimizeConfig(mode="auto", max_iterations=5, minibatch_size=6, patience=9),
                      progress=False)
    repaired = result.history[0]["child"]
    assert result.history[0].gained and len(result.history) == 5
    assert [r["parent"] for r in result.history[1:]] == [repaired] * 4  # the seed tied it everywhere: it stands aside


def overfit_agent(request):
    """Always a bare label; right on training numbers (< 100) once given a rule, wrong on validation always."""
    system, number = request.messages[0]["content"], int(request.messages[-1]["content"].split()[-1])
    right = "even" if number % 2 == 0 else "odd"
    return right if "Rules:" in system and number < 100 else {"even": "odd", "odd": "even"}[right]


def test_a_validation_tie_without_a_format_difference_keeps_the_best():
    agent = ChatAgent(FakeLLM(overfit_agent, role="agent"), "Is this number even or odd? {{ number }}")
    result = optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=one_rule_rewriter(),
                      config=OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=6), progress=False)
    row = result.history[0]
    assert row["accepted"] and row["child_val"] == result.seed_val == 0.0
    assert row["outcome"] == "accepted, no validation gain" and result.best.id == result.seed.id


def test_repairs_format_needs_most_answers_broken_fewer_after_and_no_lower_score():
    broken, zero, one = [(0.0, True)] * 4, [(0.0, False)] * 4, [(1.0, False)] + [(0.0, False)] * 3
    assert repairs_format(broken, zero) and repairs_format(broken, one)
    assert not repairs_format(zero, zero)  # the parent's format was fine
    assert not repairs_format(broken, [(0.0, True)] * 3 + [(0.0, False)])  # still mostly broken
    assert not repairs_format([(1.0, True)] * 4, zero)  # fixed the format, lost on score


def test_merge_takes_the_union_of_two_front_candidates_rules():
    seed = Candidate.create("Answer.")
    a = Candidate.create("Answer.", (Rule(id=1, text="When the number ends in 0, answer even."),))
    b = Candidate.create("Answer.", (Rule(id=1, text="When the number ends in 5, answer odd."),),
                         (Demo(example_id="n3", input="3", answer="odd"),))
    pool = {seed.id: {"x": 0, "y": 0}, a.id: {"x": 1, "y": 0}, b.id: {"x": 0, "y": 1}}
    ctx = context(candidates={c.id: c for c in (seed, a, b)}, pool=pool)
    merge = MergeProposer()
    assert merge.applicable(a, [], ctx)
    child = asyncio.run(merge.apropose(a, [], ctx)).child
    assert [r.text for r in child.rules] == [a.rules[0].text, b.rules[0].text]
    assert [r.id for r in child.rules] == [1, 2] and child.demos == b.demos
    assert set(child.parent_ids) == {a.id, b.id} and child.strategy == "merge"


def test_reasoning_room_only_where_the_agent_extracts_answers():
    parent = Candidate.create("Answer.")
    assert not ReasoningProposer().applicable(parent, [], context())
    child = asyncio.run(ReasoningProposer().apropose(parent, [case(TRAIN[1])], context(reasoning_room=True))).child
    assert child.rules[-1].text == REASONING_INSTRUCTION


def test_answer_extraction_takes_the_last_answer_line():
    agent = ChatAgent(FakeLLM(lambda r: "2 + 2 is 4.\nAnswer: 5\nWait, no.\nAnswer: 4", role="agent"),
                      answer_pattern=ANSWER_LINE_PATTERN, max_tokens=200)
    rollout = asyncio.run(agent.arun(Candidate.create("Add."), Example(id="1", inputs={"input": "2+2"})))
    assert rollout.output == "4"
    assert "Wait, no." in rollout.trace[-1]["content"]  # the whole reply stays in the trace
    plain = ChatAgent(FakeLLM(lambda r: "4", role="agent"), answer_pattern=ANSWER_LINE_PATTERN)
    assert asyncio.run(plain.arun(Candidate.create("Add."), Example(id="1", inputs={"input": "2+2"}))).output == "4"


def test_thompson_chooser_follows_acceptance_per_rollout():
    chooser, rng = ThompsonChooser(), random.Random(0)
    for _ in range(10):
        chooser.update("good", True, 8)
        chooser.update("bad", False, 8)
    picks = [chooser.choose(["good", "bad"], rng) for _ in range(50)]
    assert picks.count("good") >= 45
    for _ in range(10):
        chooser.update("cheap", True, 2)  # as accepted as "good" per try, and cheaper to test
    assert [chooser.choose(["good", "cheap"], rng) for _ in range(50)].count("cheap") > 25


def test_a_strategy_that_tests_nothing_does_not_look_cheap():
    chooser, rng = ThompsonChooser(priors={}), random.Random(0)
    chooser.update("rules", True, 8)
    chooser.update("rules", False, 8)
    chooser.update("merge", False, 0)  # its child repeated a candidate: nothing was tested
    assert chooser.cost("merge") == 8.0 and chooser.cost("never_tried") == 1.0
    assert [chooser.choose(["rules", "merge"], rng) for _ in range(60)].count("merge") < 25


def test_a_repeated_candidate_hands_the_round_to_the_next_strategy():
    """The format child fails on the minibatch; next round format repair would make it again. The round
    must test another strategy's child instead of ending as a duplicate (and counting toward patience)."""
    stubborn = FakeLLM(lambda r: f"Let me think. It is even, {r.messages[-1]['content']}.", role="agent")
    agent = ChatAgent(stubborn, "Is this number even or odd? {{ number }}")
    rule = {"group": 1, "when": "the number ends in 1, 3, 5, 7 or 9", "then": "answer odd"}
    rewriter = FakeLLM(lambda r: json.dumps({"new_rules": [rule], "delete": [], "analysis": "a"}))
    result = optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=rewriter,
                      config=OptimizeConfig(max_iterations=2, minibatch_size=6, strategy_chooser="round_robin"),
                      progress=False)
    first, second = result.history
    assert first["strategy"] == "format" and not first["accepted"]
    assert second["strategy"] != "format" and second["child"] not in (None, first["child"])
    assert any(r.startswith("format: duplicate of candidate") for r in second["rejections"])


def test_round_robin_chooser_cycles():
    chooser = RoundRobinChooser()
    assert [chooser.choose(["a", "b", "c"], random.Random(0)) for _ in range(4)] == ["a", "b", "c", "a"]


def test_rules_start_ahead_but_lose_the_lead_when_rejected():
    rng = random.Random(1)
    fresh = ThompsonChooser()
    assert [fresh.choose(["rules", "demos", "rewrite"], rng) for _ in range(60)].count("rules") > 30
    for _ in range(8):
        fresh.update("rules", False, 8)
    assert [fresh.choose(["rules", "demos"], rng) for _ in range(60)].count("demos") > 40


def test_merge_keeps_one_answer_per_condition():
    from promptlearn.edits import condition_and_answer

    assert condition_and_answer("When the input contains 'weather', answer GetWeather.") == \
        ("the input contains weather", "getweather")
    assert condition_and_answer("Prefer short answers.") is None
    seed = Candidate.create("Answer.")
    a = Candidate.create("Answer.", (Rule(id=1, text="When the input mentions a song, answer PlayMusic."),))
    b = Candidate.create("Answer.", (Rule(id=1, text="When the input mentions a song, answer AddToPlaylist."),
                                     Rule(id=2, text="When the input mentions rain, answer GetWeather.")))
    pool = {seed.id: {"x": 0, "y": 0}, a.id: {"x": 1, "y": 0}, b.id: {"x": 0, "y": 1}}
    ctx = context(candidates={c.id: c for c in (seed, a, b)}, pool=pool)
    child = asyncio.run(MergeProposer().apropose(a, [], ctx)).child
    assert [r.text for r in child.rules] == [a.rules[0].text, b.rules[1].text]  # the song rule is a's alone
    assert "1 of the other's give another answer" in child.rationale


def test_strategies_by_name_limit_the_portfolio():
    from promptlearn.config import AUTO_STRATEGIES, DEFAULT_STRATEGIES
    from promptlearn.optimizer import build_proposers

    rewriter = FakeLLM(lambda r: "{}")
    assert tuple(build_proposers(OptimizeConfig(), rewriter)) == DEFAULT_STRATEGIES
    assert tuple(build_proposers(OptimizeConfig(strategies=AUTO_STRATEGIES), rewriter)) == AUTO_STRATEGIES
    assert tuple(build_proposers(OptimizeConfig(strategies=("rewrite", "demos")), rewriter)) == ("demos", "rewrite")
    assert "demos" not in build_proposers(OptimizeConfig(max_demos=0), rewriter)
    agent = ChatAgent(FakeLLM(chatty_agent, role="agent"), "Is this number even or odd? {{ number }}")
    result = optimize(agent, "Answer the question.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=FakeLLM(silent_rewriter),
                      config=OptimizeConfig(strategies=("demos",), max_iterations=2, minibatch_size=6), progress=False)
    assert [r["strategy"] for r in result.history] == ["demos", "demos"]  # no format repair: it was not chosen
