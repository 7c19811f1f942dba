import json
import random

import pytest
from fakes import BAD_RULE, GOOD_RULE, JUDGE, make_agent, make_optimizer_llm, parity_examples

from promptlearn import Budget, EventLog, FakeLLM, OptimizationResult, OptimizeConfig, PromptOptimizer, optimize
from promptlearn.errors import ConfigError, RunError
from promptlearn.store import read_events
from promptlearn.strategies import BootstrapAcceptance, SignTestAcceptance, StrictImprovement, pareto_front
from promptlearn.strategies.selection import ParetoSelector

TRAIN, VAL = parity_examples(20), parity_examples(10, 100)


def run(rules, config=None, **kw):
    agent, agent_llm = make_agent()
    opt = make_optimizer_llm(rules)
    cfg = config or OptimizeConfig(max_iterations=3, minibatch_size=4)
    result = optimize(agent, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, optimizer_llm=opt, config=cfg,
                      progress=False, **kw)
    return result, agent_llm, opt


def test_accepts_a_better_child():
    result, _, _ = run([GOOD_RULE])
    assert result.seed_val == 0.5
    assert result.best_val == 1.0
    assert GOOD_RULE in result.best_prompt
    accepted = [r for r in result.history if r.get("accepted")]
    assert accepted and accepted[0]["margin"] > 0


def test_rejects_a_worse_child():
    result, _, _ = run([BAD_RULE], OptimizeConfig(max_iterations=2, minibatch_size=4, sampler="epoch"))
    assert result.best.id == result.seed.id
    assert all(not r.get("accepted") for r in result.history if "accepted" in r)
    assert len(result.val_scores) == 1  # the worse child never reached validation


def test_no_pair_is_rolled_out_twice():
    result, agent_llm, _ = run([BAD_RULE, GOOD_RULE], OptimizeConfig(max_iterations=6, minibatch_size=6))
    pairs = [(r.messages[0]["content"], r.messages[-1]["content"]) for r in agent_llm.requests]
    assert len(pairs) == len(set(pairs))
    assert result.usage["rollouts"] == len(agent_llm.requests)


@pytest.mark.parametrize("budget,field,limit", [
    (Budget(max_rollouts=17), "rollouts", 17),
    (Budget(max_llm_calls=20), "llm_calls", 20),
    (Budget(max_tokens=300), "tokens", 300),
])
def test_respects_each_budget(budget, field, limit):
    cfg = OptimizeConfig(max_iterations=50, minibatch_size=4, patience=50, budget=budget)
    result, _, _ = run([BAD_RULE, GOOD_RULE], cfg)
    assert result.stop_reason == f"max_{field if field != 'llm_calls' else 'llm_calls'}"
    # rollouts are capped exactly; calls and tokens may overshoot by what was in flight
    slack = 0 if field == "rollouts" else cfg.concurrency * 60
    assert limit <= result.usage[field] <= limit + slack


def test_cost_budget(monkeypatch):
    from promptlearn.llm import Completion

    agent, agent_llm = make_agent()
    agent_llm.backend.handler = lambda r: "even"  # never improves, so every round proposes again
    opt = FakeLLM(lambda r: Completion(text=json.dumps({"analysis": "a", "new_rules": [{"group": 1, "when": "x", "then": "y z"}],
                                                          "delete": []}), model="m", cost_usd=0.4), role="optimizer")
    cfg = OptimizeConfig(max_iterations=20, minibatch_size=4, explain_failures=0, patience=20,
                         budget=Budget(max_cost_usd=1.0))
    result = optimize(agent, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, optimizer_llm=opt, config=cfg,
                      progress=False)
    assert result.stop_reason == "max_cost_usd"
    assert 1.0 <= result.usage["cost_usd"] <= 1.0 + 0.4 + 1e-9
    assert result.usage_by_role["optimizer"]["cost_usd"] == pytest.approx(result.usage["cost_usd"])


def test_wall_time_budget():
    cfg = OptimizeConfig(max_iterations=50, minibatch_size=4, patience=50, budget=Budget(max_wall_s=1e-9))
    result, _, _ = run([GOOD_RULE], cfg)
    assert result.stop_reason == "max_wall_s"
    assert result.best.id == result.seed.id  # stopped cleanly, still a result


def test_rollout_budget_smaller_than_validation_is_refused_up_front():
    cfg = OptimizeConfig(budget=Budget(max_rollouts=3))
    with pytest.raises(ConfigError, match="cannot even score the seed prompt on the 10 validation examples"):
        run([GOOD_RULE], cfg)


def test_budget_that_runs_out_during_seed_validation_says_so():
    cfg = OptimizeConfig(budget=Budget(max_wall_s=1e-9))
    result, _, _ = run([GOOD_RULE], cfg)
    assert result.stop_reason == "max_wall_s" and result.best.id == result.seed.id
    assert "before the seed prompt was scored on every validation example" in result.summary()


def test_patience_stops_early():
    cfg = OptimizeConfig(max_iterations=30, minibatch_size=4, patience=2, sampler="epoch")
    result, _, _ = run([BAD_RULE], cfg)
    assert result.stop_reason == "patience"
    assert len(result.history) == 2


def test_pareto_front_keeps_per_example_winners():
    pool = {"a": {"x": 1, "y": 0, "z": 0}, "b": {"x": 0, "y": 1, "z": 1}, "c": {"x": 0, "y": 1, "z": 0},
            "d": {"x": 1, "y": 1, "z": 0}}
    front = pareto_front(pool)
    # d dominates a and c; b is the only one winning z; d wins x and y
    assert set(front) == {"b", "d"}
    picks = {ParetoSelector().select(pool, random.Random(s)) for s in range(50)}
    assert picks == {"b", "d"}


def test_acceptance_rules():
    rng = random.Random(0)
    parent, better, worse = [0, 0, 0, 0, 1, 1, 0, 0], [1, 1, 1, 0, 1, 1, 1, 0], [0, 0, 0, 0, 1, 0, 0, 0]
    for rule in (StrictImprovement(), BootstrapAcceptance(0.8), SignTestAcceptance(0.25)):
        assert rule.decide(parent, better, rng).accepted
        assert not rule.decide(parent, worse, rng).accepted
        assert not rule.decide(parent, parent, rng).accepted
    # one lucky win in eight: GEPA's rule takes it, the noise-aware rules do not
    lucky = [1, 0, 0, 0, 1, 1, 0, 0]
    assert StrictImprovement().decide(parent, lucky, rng).accepted
    assert not BootstrapAcceptance(0.9).decide(parent, lucky, rng).accepted
    assert not SignTestAcceptance(0.25).decide(parent, lucky, rng).accepted


def test_same_seed_same_result():
    a, _, _ = run([BAD_RULE, GOOD_RULE], OptimizeConfig(max_iterations=5, minibatch_size=4, seed=7))
    b, _, _ = run([BAD_RULE, GOOD_RULE], OptimizeConfig(max_iterations=5, minibatch_size=4, seed=7))
    assert a.history == [{**r, "wall_s": a.history[i]["wall_s"]} for i, r in enumerate(b.history)]
    assert a.best.id == b.best.id


class Crash(BaseException):
    """Simulates kill -9: not an Exception, so nothing in the loop can swallow it."""


def test_resume_after_crash_gives_the_same_result(tmp_path):
    cfg = OptimizeConfig(max_iterations=6, minibatch_size=4, seed=3, patience=10)
    reference, _, _ = run([BAD_RULE, GOOD_RULE], cfg)

    agent, agent_llm = make_agent()
    opt = make_optimizer_llm([BAD_RULE, GOOD_RULE])
    calls = {"n": 0}
    original = agent.llm.backend.handler

    def crashing(request):
        calls["n"] += 1
        if calls["n"] == 25:
            raise Crash()
        return original(request)

    agent.llm.backend.handler = crashing
    with pytest.raises(Crash):
        optimize(agent, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, optimizer_llm=opt, config=cfg,
                 run_dir=tmp_path / "run", progress=False)
    # simulate a torn last line, as kill -9 mid-write leaves
    with (tmp_path / "run" / "events.jsonl").open("a") as fh:
        fh.write('{"type": "result", "key": "result/c-torn')
    stored = sum(1 for e in read_events(tmp_path / "run") if e["type"] == "result")
    assert 0 < stored < 24

    agent2, agent_llm2 = make_agent()
    opt2 = make_optimizer_llm([BAD_RULE, GOOD_RULE])
    with pytest.raises(ConfigError, match="resume"):
        optimize(agent2, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, optimizer_llm=opt2, config=cfg,
                 run_dir=tmp_path / "run", progress=False)
    resumed = optimize(agent2, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, optimizer_llm=opt2, config=cfg,
                       run_dir=tmp_path / "run", resume=True, progress=False)
    assert resumed.best.id == reference.best.id
    strip = lambda h: [{k: v for k, v in r.items() if k != "wall_s"} for r in h]  # noqa: E731
    assert strip(resumed.history) == strip(reference.history)
    assert resumed.usage["rollouts"] == reference.usage["rollouts"]
    # the resumed run re-made only what was lost: stored results were not rolled out again
    assert len(agent_llm2.requests) == reference.usage["rollouts"] - stored
    loaded = OptimizationResult.load(tmp_path / "run")
    assert loaded.best.id == resumed.best.id


def test_failed_rollouts_are_records_not_crashes():
    from fakes import agent_handler

    def sometimes_broken(request):
        if int(request.messages[-1]["content"].split()[-1]) % 3 == 0:
            raise ValueError("model exploded")
        return agent_handler(request)

    agent, _ = make_agent()
    agent.llm.backend.handler = sometimes_broken
    opt = make_optimizer_llm([GOOD_RULE])
    result = optimize(agent, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, optimizer_llm=opt,
                      config=OptimizeConfig(max_iterations=1, minibatch_size=4), progress=False)
    failed = [r for r in result.val_results[result.seed.id].values() if r.rollout.error]
    assert failed and all("model exploded" in r.rollout.error for r in failed)
    assert all(r.critiques[0].label == "error" and r.score == 0.0 for r in failed)


def test_every_seed_rollout_failing_stops_the_run_with_the_cause():
    def broken(request):
        raise ValueError("model exploded")

    agent, _ = make_agent()
    agent.llm.backend.handler = broken
    with pytest.raises(RunError, match="every rollout of the seed prompt.*model exploded"):
        optimize(agent, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, optimizer_llm=make_optimizer_llm([GOOD_RULE]),
                 config=OptimizeConfig(max_iterations=1, minibatch_size=4), progress=False)


def test_callable_agent_and_events():
    def agent_fn(candidate, example):
        if "divisible by two" in candidate.prompt:
            return "even" if example.inputs["number"] % 2 == 0 else "odd"
        return "even"

    log = EventLog()
    opt = make_optimizer_llm([GOOD_RULE])
    optimizer = PromptOptimizer(agent_fn, [JUDGE], optimizer_llm=opt, callbacks=[log],
                                config=OptimizeConfig(max_iterations=2, minibatch_size=4))
    result = optimizer.optimize("Answer even or odd.", TRAIN, VAL)
    assert result.best_val == 1.0
    types = [e["type"] for e in log.events]
    assert types[0] == "start" and types[-1] == "end" and "round" in types
    test = optimizer.evaluate(result.best, parity_examples(6, 500))
    assert test.mean == 1.0


@pytest.mark.parametrize("train,val,match", [
    ([], VAL, "training set is empty"),
    (TRAIN, [], "validation set is empty"),
    (TRAIN, TRAIN[:3], "share example ids"),
    (TRAIN + TRAIN[:1], VAL, "duplicate example id"),
])
def test_bad_input(train, val, match):
    agent, _ = make_agent()
    with pytest.raises(ConfigError, match=match):
        optimize(agent, "x", train, val, judges=JUDGE, optimizer_llm=make_optimizer_llm([GOOD_RULE]), progress=False)


def test_missing_optimizer_is_a_clear_error():
    agent, _ = make_agent()
    with pytest.raises(ConfigError, match="optimizer_llm"):
        PromptOptimizer(agent, [JUDGE])


def test_rules_keep_provenance():
    result, _, _ = run([GOOD_RULE])
    rule = result.rules()[0]
    assert rule.text == GOOD_RULE
    assert rule.provenance and all(p.example_id.startswith("n") for p in rule.provenance)
    assert "called an odd number even" in rule.provenance[0].critique


def test_plot_and_report(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    result, _, _ = run([BAD_RULE, GOOD_RULE], OptimizeConfig(mode="rules", max_iterations=4, minibatch_size=4))
    ax = result.plot()
    assert ax.get_xlabel() == "round"
    path = result.report(tmp_path / "r.html")
    text = path.read_text()
    for needle in ("Best prompt", "Rules and where they came from", "Prompt changes", "data:image/png;base64",
                   GOOD_RULE, "Usage by role"):
        assert needle in text
    frame = result.history_df()
    assert {"iteration", "parent_minibatch", "best_val", "rollouts"} <= set(frame.columns)


def test_resume_on_a_fresh_run_dir_starts_a_new_run(tmp_path):
    agent, _ = make_agent()
    result = optimize(agent, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, optimizer_llm=make_optimizer_llm([GOOD_RULE]),
                      config=OptimizeConfig(max_iterations=2, minibatch_size=4), run_dir=tmp_path / "new",
                      resume=True, progress=False)
    assert result.best_val == 1.0 and (tmp_path / "new" / "events.jsonl").exists()


def test_a_child_the_budget_cannot_fully_validate_is_judged_on_the_examples_it_reached():
    # seed on 10 val (10) + parent and child on a minibatch of 4 (8) leaves 6 of the child's 10 val rollouts
    cfg = OptimizeConfig(mode="rules", max_iterations=3, minibatch_size=4, budget=Budget(max_rollouts=24))
    result, _, _ = run([GOOD_RULE], cfg)
    last = result.history[-1]
    assert last.outcome == "new best (validated on 6 of 10 before the budget ran out)", last.outcome
    assert result.best.id == last.child and GOOD_RULE in result.best_prompt
    assert len(result.val_scores[result.best.id]) == 6 and result.usage["rollouts"] == 24
    assert "on the 6 of 10 validation examples the budget reached" in result.summary()
    # Too few examples reached (fewer than a minibatch): the rollouts cannot decide anything.
    cfg = OptimizeConfig(mode="rules", max_iterations=3, minibatch_size=4, budget=Budget(max_rollouts=21))
    result, _, _ = run([GOOD_RULE], cfg)
    assert result.history[-1].outcome == "budget ran out during validation" and result.best.id == result.seed.id
