"""Content learning: demo-set search (the proposer's sets, the loop's successive-halving screen, its accounting and
replay) and the label mix-ups the rules meta-prompt names."""

import asyncio

import pytest
from fakes import parity_examples
from pydantic import ValidationError

from promptlearn import ChatAgent, ExactMatch, FakeLLM, OptimizeConfig, optimize
from promptlearn.bench.registry import BEFORE_COVER, builtin_methods
from promptlearn.config import DEFAULT_STRATEGIES
from promptlearn.demo_sets import DemoSearchProposer, distinct_answers
from promptlearn.optimizer import build_proposers
from promptlearn.proposers import Case, ProposalContext
from promptlearn.records import Candidate, Critique, Example, Rollout

TRAIN, VAL = parity_examples(20), parity_examples(10, 100)


def case(example):
    return Case(example=example, rollout=Rollout(example_id=example.id, candidate_id="c", output="wrong"),
                critiques=(Critique(judge="exact_match", score=0.0, explanation="wrong"),), score=0.0)


def context(**kw):
    return ProposalContext(**{"iteration": 1, "train": TRAIN, "task_description": "parity", "output_contract": None,
                              **kw})


def propose(parent, cases, ctx, sets=4):
    return asyncio.run(DemoSearchProposer(sets=sets).apropose(parent, cases, ctx))


def test_sets_differ_in_size_and_source_and_replace_the_parents_demos():
    parent = Candidate.create("Is it even or odd?")
    solved = {e.id: 1.0 for e in TRAIN[:6]} | {e.id: 0.0 for e in TRAIN[6:10]}
    proposal = propose(parent, [case(e) for e in TRAIN[6:10]], context(train_scores=solved), sets=4)
    sets = [proposal.child, *proposal.screen]
    assert [len(c.demos) for c in sets] == [2, 4, 1, 3]
    assert all(c.parent_ids == (parent.id,) and c.strategy == "demo_search" for c in sets)
    # bootstrapped sets (the 2nd, 4th) show only examples the parent answers right
    assert all(d.example_id in {e.id for e in TRAIN[:6]} for c in sets[1::2] for d in c.demos)
    # the failures-first sets start from the parent's failures
    assert sets[0].demos[0].example_id in {e.id for e in TRAIN[6:10]}
    assert {d.answer for d in sets[0].demos} == {"even", "odd"}  # two demos, two different answers
    assert propose(parent, [case(e) for e in TRAIN[6:10]], context(train_scores=solved)) == proposal  # replays


def test_sets_never_show_validation_examples_and_need_two_usable_ones():
    parent = Candidate.create("Is it even or odd?")
    proposal = propose(parent, [case(e) for e in VAL[:4]], context())
    train_ids = {e.id for e in TRAIN}
    assert all(d.example_id in train_ids for c in (proposal.child, *proposal.screen) for d in c.demos)
    lonely = context(train=TRAIN[:1])
    assert not DemoSearchProposer().applicable(parent, [], lonely)
    assert not DemoSearchProposer(sets=1).applicable(parent, [], context())


def test_distinct_answers_fills_up_with_repeats_only_when_it_must():
    examples = [Example(id=str(i), inputs={"x": i}, reference=ref) for i, ref in enumerate("aabab")]
    assert [e.id for e in distinct_answers(examples, 2)] == ["0", "2"]
    assert [e.id for e in distinct_answers(examples, 3)] == ["0", "2", "1"]


def four_demo_agent(request):
    """Right only when the prompt shows exactly four worked examples; otherwise always "even"."""
    system, user = request.messages[0]["content"], request.messages[-1]["content"]
    number = int(user.split()[-1])
    if system.count("Input:") == 4:
        return "even" if number % 2 == 0 else "odd"
    return "even"


def run(tmp_path=None, **config):
    agent_llm = FakeLLM(four_demo_agent, role="agent")
    agent = ChatAgent(agent_llm, "Even or odd? {{ number }}")
    settings = dict(strategies=("demo_search",), max_iterations=1, minibatch_size=6, infer_contract=False,
                    explain_failures=0)
    result = optimize(agent, "Say even or odd.", TRAIN, VAL, judges=ExactMatch(),
                      optimizer_llm=FakeLLM(lambda r: pytest.fail("demo search needs no rewriter")),
                      config=OptimizeConfig(**{**settings, **config}), progress=False,
                      run_dir=None if tmp_path is None else str(tmp_path), resume=tmp_path is not None)
    return result, agent_llm


def test_the_screen_keeps_the_set_that_works_and_charges_every_rollout():
    result, agent_llm = run()
    row = result.history[0]
    assert row.strategy == "demo_search" and row.screened == 4 and row.accepted
    assert len(result.best.demos) == 4 and result.best_val == 1.0 and result.seed_val == 0.5
    # seed on validation 10; rung 1: four sets on the round's 6; rung 2: two sets on 6 fresh examples; the
    # parent on those 6 (the acceptance test pairs on all 12); the child's validation 10
    assert result.usage["rollouts"] == 10 + 6 + 4 * 6 + 2 * 6 + 6 + 10
    assert len(agent_llm.requests) == result.usage["rollouts"]
    assert len(row.batch) == 6  # the round's own minibatch; the screen's examples are in the rollouts


def test_a_resumed_run_replays_the_screen_without_calling_the_agent(tmp_path):
    first, _ = run(tmp_path)
    again, agent_llm = run(tmp_path)
    assert agent_llm.requests == [] and again.best.id == first.best.id
    def decisions(result):  # what the round did, without the wall clock and call counts of this process
        return [{k: v for k, v in r.as_row().items() if k not in ("wall_s", "llm_calls", "cache_hits", "tokens")}
                for r in result.history]

    assert decisions(again) == decisions(first) and again.usage["rollouts"] == first.usage["rollouts"]


def test_the_screen_stops_where_the_budget_does(tmp_path):
    from promptlearn import Budget

    result, agent_llm = run(budget=Budget(max_rollouts=30))  # the seed's 10, the parent's 6, then 14 of 24
    assert result.usage["rollouts"] == 30 == len(agent_llm.requests)
    assert result.best.id == result.seed.id and result.stop_reason == "max_rollouts"


def test_demo_search_is_opt_in_and_needs_demos_allowed():
    assert "demo_search" not in DEFAULT_STRATEGIES
    assert "demo_search" not in build_proposers(OptimizeConfig(), FakeLLM(lambda r: ""))
    assert "demo_search" in build_proposers(OptimizeConfig(strategies=("rules", "demo_search")), FakeLLM(lambda r: ""))
    with pytest.raises(ValidationError, match="leaves nothing to propose"):
        OptimizeConfig(strategies=("demo_search",), max_demos=0)
    with pytest.raises(ValidationError):
        OptimizeConfig(demo_sets=1)
    method = builtin_methods()["promptlearn-demosearch"]
    assert method.config is not None and method.config.strategies == (*BEFORE_COVER, "demo_search")
    assert "cover" not in BEFORE_COVER and set(BEFORE_COVER) < set(DEFAULT_STRATEGIES)


def test_the_rules_meta_prompt_names_the_parents_most_frequent_label_mix_ups():
    seen = []

    def rewriter(request):
        seen.append(request.messages[-1]["content"])
        return '{"analysis": "a", "new_rules": [], "delete": []}'

    agent = ChatAgent(FakeLLM(lambda r: "odd", role="agent"), "Even or odd? {{ number }}")
    optimize(agent, "Say even or odd.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=FakeLLM(rewriter),
             config=OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=8, explain_failures=0,
                                   proposal_attempts=1), progress=False)
    assert seen and "- it answered odd where even was right (" in seen[0]


def test_a_broken_format_is_not_a_label_mix_up():
    seen = []

    def rewriter(request):
        seen.append(request.messages[-1]["content"])
        return '{"analysis": "a", "new_rules": [], "delete": []}'

    agent = ChatAgent(FakeLLM(lambda r: "I think it is odd", role="agent"), "Even or odd? {{ number }}")
    optimize(agent, "Say even or odd.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=FakeLLM(rewriter),
             config=OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=8, explain_failures=0,
                                   proposal_attempts=1, infer_contract=False), progress=False)
    assert seen and "mix-ups" not in seen[0]


DIVISIBLE = "When the number is divisible by two, answer even; otherwise answer odd."


def rules_agent(request):
    """Follows the divisibility rule (wrong on numbers ending in 7); "always answer odd" overrides it; else "even"."""
    system, number = request.messages[0]["content"].lower(), int(request.messages[-1]["content"].split()[-1])
    if "always answer odd" in system:
        return "odd"
    if "divisible by two" in system:
        right = "even" if number % 2 == 0 else "odd"
        return right if number % 10 != 7 else ("odd" if right == "even" else "even")
    return "even"


def prune(seed_rules, tmp_path=None, **config):
    from promptlearn.records import Rule

    seed = Candidate.create("Say even or odd.", tuple(Rule(id=i, text=t) for i, t in enumerate(seed_rules, start=1)))
    agent = ChatAgent(FakeLLM(rules_agent, role="agent"), "Even or odd? {{ number }}")
    settings = dict(strategies=("prune",), max_iterations=1, minibatch_size=6, infer_contract=False, explain_failures=0)
    return optimize(agent, seed, TRAIN, VAL, judges=ExactMatch(), config=OptimizeConfig(**{**settings, **config}),
                    optimizer_llm=FakeLLM(lambda r: pytest.fail("pruning needs no rewriter")), progress=False)


def test_prune_drops_the_rule_that_hurts_and_measures_every_rule():
    result = prune([DIVISIBLE, "Always answer odd."])
    row = result.history[0]
    assert row.strategy == "prune" and row.screened == 2 and row.accepted and not row.simplified
    assert [r.text for r in result.best.rules] == [DIVISIBLE]
    contributions = result.rule_contributions()
    assert contributions["Always answer odd."] < 0  # the prompt does better without it
    assert set(contributions) == {DIVISIBLE, "Always answer odd."}


def test_a_rule_that_earns_nothing_goes_on_a_tie(tmp_path):
    result = prune([DIVISIBLE, "Be polite."])
    row = result.history[0]
    assert row.accepted and row.simplified and result.best_val == result.seed_val
    assert row.outcome.startswith("new best (as good on validation with 1 rule(s) fewer)")
    assert [r.text for r in result.best.rules] == [DIVISIBLE]
    assert result.rule_contributions()["Be polite."] == 0.0 and result.rule_contributions()[DIVISIBLE] > 0
    html = result.report(tmp_path / "r.html").read_text()
    assert "measured contribution" in html and "pts</td>" in html


def test_prune_needs_two_rules():
    from promptlearn.edits import PruneProposer
    from promptlearn.records import Rule

    one = Candidate.create("p", (Rule(id=1, text="r"),))
    assert not PruneProposer().applicable(one, [], context())


def test_a_screen_on_validation_keeps_the_set_that_works_without_a_minibatch_test():
    result, agent_llm = run(screen_on="val")
    row = result.history[0]
    assert row.strategy == "demo_search" and row.screened == 4 and row.accepted and row.child_minibatch is None
    assert len(result.best.demos) == 4 and result.best_val == 1.0 and row.outcome == "new best"
    # seed on validation 10; the parent's minibatch 6; four sets on 6 validation examples; two on the other 4;
    # the survivor has then seen all 10, so its validation costs nothing more
    assert result.usage["rollouts"] == len(agent_llm.requests) == 10 + 6 + 4 * 6 + 2 * 4


def test_a_resumed_run_replays_a_validation_screen(tmp_path):
    first, _ = run(tmp_path, screen_on="val")
    again, agent_llm = run(tmp_path, screen_on="val")
    assert agent_llm.requests == [] and again.best.id == first.best.id and again.best_val == first.best_val


def test_prune_screened_on_validation_measures_rules_and_drops_one_that_earns_nothing():
    result = prune([DIVISIBLE, "Be polite."], screen_on="val")
    row = result.history[0]
    assert row.screened == 2 and row.accepted and row.child_minibatch is None
    assert row.outcome.startswith("new best (as good on validation with 1 rule(s) fewer)")
    assert [r.text for r in result.best.rules] == [DIVISIBLE] and result.best_val == result.seed_val
    assert result.rule_contributions()["Be polite."] == 0.0 and result.rule_contributions()[DIVISIBLE] > 0
