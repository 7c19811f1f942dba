"""Multi-component candidates: records, component selection, PipelineAgent, and the loop editing one step."""

import asyncio
import hashlib
import json
import logging
import random

import pytest
from fakes import parity_examples

from promptlearn import ConfigError, ExactMatch, FakeLLM, OptimizeConfig, optimize
from promptlearn.pipeline import PLAN_THEN_ANSWER, PipelineAgent, Step
from promptlearn.records import Candidate, Component, Rollout, Rule, reading_components
from promptlearn.result import OptimizationResult
from promptlearn.strategies import CreditComponents, RoundRobinComponents
from promptlearn.strategies.components import blame

TRAIN, VAL = parity_examples(20), parity_examples(10, 100)
SEED = {"plan": "Write notes on the number.", "answer": "Answer even or odd."}


# ---------------------------------------------------------------- records

def test_single_prompt_candidates_keep_their_ids_and_old_records_load():
    cand = Candidate.create("Be brief.", (Rule(id=1, text="Answer in one word."),))
    old_id = "c-" + hashlib.sha256(b"Be brief.\n\nRules:\n1. Answer in one word.").hexdigest()[:10]
    assert cand.id == old_id and cand.names == ("system",) and cand.system_prompt == "Be brief."
    old = {"id": old_id, "system_prompt": "Be brief.", "rules": [{"id": 1, "text": "Answer in one word."}],
           "demos": [], "parent_ids": [], "iteration": 0}  # as promptlearn wrote it before components
    loaded = Candidate.model_validate(old)
    assert loaded == cand and loaded.prompt == cand.prompt == cand["system"]
    assert Candidate.model_validate(json.loads(cand.model_dump_json())) == cand


def test_components_render_hash_and_splice_independently():
    cand = Candidate.from_components(SEED)
    assert cand.names == ("plan", "answer") and cand["plan"] == SEED["plan"]
    assert "### plan" in cand.prompt and "### answer" in cand.prompt
    edited = cand.with_component("plan", Component(text=SEED["plan"], rules=(Rule(id=1, text="Check the last digit."),)))
    assert edited.id != cand.id and edited["answer"] == cand["answer"] and "last digit" in edited["plan"]
    assert Candidate.from_components(dict(reversed(list(SEED.items())))).id != cand.id  # order is part of the agent
    view = cand.focus("answer")
    assert view.id == cand.id and view.names == ("answer",) and view.system_prompt == SEED["answer"]
    with pytest.raises(KeyError, match="has no component 'critic'"):
        cand["critic"]
    with pytest.raises(ValueError):
        Candidate(id="c-x", components={})


def test_reads_are_collected_across_threads():
    cand = Candidate.from_components(SEED)

    async def main():
        with reading_components() as read:
            await asyncio.to_thread(lambda: cand["answer"])
        return read

    assert asyncio.run(main()) == {"answer"}
    cand["plan"]  # outside a block: nobody counts, nothing breaks


# ---------------------------------------------------------------- selection policies

class F:
    def __init__(self, trace, critique="wrong", error=None):
        self.rollout = Rollout(example_id="e", candidate_id="c", output=None if error else "x", error=error,
                               trace=tuple({"component": c, "input": "i", "output": o} for c, o in trace))
        self.critique_text = critique


NAMES = ["plan", "answer"]


def test_blame_follows_the_evidence():
    assert blame(NAMES, F([("plan", "p")], error="Timeout")) == {"answer": 1.0}  # failed in the step after plan
    assert blame(NAMES, F([("plan", ""), ("answer", "odd")])) == {"plan": 1.0}  # empty step output
    assert blame(NAMES, F([("plan", "the number is prime"), ("answer", "odd")],
                          critique="The notes said 'the number is prime', which is irrelevant.")) == {"plan": 1.0}
    assert blame(NAMES, F([("plan", "notes"), ("answer", "odd")], critique="The plan was wrong.")) == {"plan": 1.0}
    assert blame(NAMES, F([("plan", "notes"), ("answer", "odd")], critique="This explanation is off.")) == \
        {"answer": 1.0}  # "plan" inside "explanation" is not a mention; the answering step is blamed


def test_round_robin_and_credit_selection():
    rr = RoundRobinComponents()
    assert [rr.select(NAMES, [], random.Random(0)) for _ in range(3)] == ["plan", "answer", "plan"]
    credit = CreditComponents()
    plan_failures = [F([("plan", ""), ("answer", "odd")])] * 4
    picks = [credit.select(NAMES, plan_failures, random.Random(0)) for _ in range(12)]
    assert picks[:6] == ["plan"] * 6 and "answer" in picks  # most rounds, not all


# ---------------------------------------------------------------- the pipeline agent

def parity_pipeline(request):
    system, user = request.messages[0]["content"], request.messages[-1]["content"]
    if "Notes:" not in user:  # the plan step
        number = int(user.split()[-1])
        return f"{number} is {'even' if number % 2 == 0 else 'odd'}" if "last digit" in system else "no idea"
    notes = user.split("Notes:")[-1]
    return "odd" if " is odd" in notes else "even"


def pipeline(handler=parity_pipeline):
    steps = (Step("plan", "Number: {{ number }}"), Step("answer", "Number: {{ number }}\n\nNotes:\n{{ plan }}"))
    return PipelineAgent(FakeLLM(handler, role="agent"), steps)


def test_pipeline_runs_steps_in_order_and_traces_each():
    agent = pipeline()
    cand = Candidate.from_components({"plan": "Look at the last digit.", "answer": "Answer."})
    rollout = asyncio.run(agent.arun(cand, TRAIN[1]))
    assert rollout.error is None and rollout.components_read == ("plan", "answer")
    plan, answer = rollout.steps("plan")[0], rollout.steps("answer")[0]
    assert plan["output"] in answer["input"] and rollout.output == answer["output"]


def test_pipeline_bad_input_is_clear():
    agent = pipeline()
    with pytest.raises(ConfigError, match="no component"):
        agent.preflight(Candidate.from_components({"plan": "x"}), TRAIN[:1])
    with pytest.raises(ConfigError, match="neither inputs nor earlier steps"):
        PipelineAgent(FakeLLM(parity_pipeline), [Step("plan", "{{ answer }}"), Step("answer", "{{ plan }}")]
                      ).preflight(Candidate.from_components(SEED), TRAIN[:1])
    with pytest.warns(UserWarning, match="critic"):
        agent.preflight(Candidate.from_components({**SEED, "critic": "x"}), TRAIN[:1])
    with pytest.raises(ConfigError, match="own component"):
        PipelineAgent(FakeLLM(parity_pipeline), [Step("a", "x"), Step("a", "y")])
    assert PLAN_THEN_ANSWER[1].component == "answer"


def test_a_failing_step_is_a_recorded_failure_with_the_steps_that_ran():
    def broken(request):
        if "Notes:" in request.messages[-1]["content"]:
            raise ValueError("answer step down")
        return "notes"

    rollout = asyncio.run(pipeline(broken).arun(Candidate.from_components(SEED), TRAIN[0]))
    assert rollout.output is None and "answer step down" in rollout.error
    assert [t["component"] for t in rollout.trace] == ["plan"]


# ---------------------------------------------------------------- the loop

def plan_rule_rewriter(request):
    return json.dumps({"new_rules": [{"group": 1, "when": "any input", "then": "look at the last digit"}],
                       "delete": [], "analysis": "the notes never say the parity"})


def test_the_loop_edits_one_component_and_shows_the_rewriter_that_step(tmp_path):
    rewriter = FakeLLM(plan_rule_rewriter)
    result = optimize(pipeline(), SEED, TRAIN, VAL, judges=ExactMatch(), optimizer_llm=rewriter,
                      config=OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=6, explain_failures=0),
                      progress=False, run_dir=str(tmp_path / "run"))
    row = result.history[0]
    assert row["component"] == "plan" and row["accepted"]
    assert result.seed_val == 0.5 and result.best_val == 1.0
    assert result.best["answer"] == SEED["answer"] and "last digit" in result.best["plan"]
    assert result.best.parent_ids == (result.seed.id,)
    meta_prompt = rewriter.requests[0].messages[0]["content"]
    assert 'instructions of its "plan" step only' in meta_prompt and "<plan_step>" in meta_prompt
    assert "no idea" in meta_prompt  # what the plan step gave on a failed case
    reloaded = OptimizationResult.load(tmp_path / "run")
    assert reloaded.best == result.best
    assert "Rules and where they came from (plan)" in result.report(tmp_path / "r.html").read_text()


def test_components_the_agent_never_reads_are_warned_about_and_left_alone(tmp_path, caplog):
    def answer_only(candidate, example):
        candidate["answer"]
        return "even"

    rewriter = FakeLLM(plan_rule_rewriter)
    with caplog.at_level(logging.WARNING, logger="promptlearn"):
        result = optimize(answer_only, SEED, TRAIN, VAL, judges=ExactMatch(), optimizer_llm=rewriter,
                          config=OptimizeConfig(mode="rules", max_iterations=3, minibatch_size=6, explain_failures=0,
                                                patience=3), progress=False, run_dir=str(tmp_path / "run"))
    assert "never read component(s) ['plan']" in caplog.text
    assert {r["component"] for r in result.history if "component" in r} == {"answer"}
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert any(e.get("type") == "warning" for e in events)


def test_single_prompt_runs_record_no_component():
    result = optimize(lambda c, e: "even", "Answer.", TRAIN, VAL, judges=ExactMatch(),
                      optimizer_llm=FakeLLM(plan_rule_rewriter),
                      config=OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=6, explain_failures=0),
                      progress=False)
    assert "component" not in result.history[0] and result.best.names == ("system",)


def test_a_mapping_seed_is_checked():
    with pytest.raises(ConfigError, match="non-empty prompt"):
        optimize(pipeline(), {"plan": "", "answer": "x"}, TRAIN, VAL, judges=ExactMatch(),
                 optimizer_llm=FakeLLM(plan_rule_rewriter), progress=False)
    with pytest.raises(ConfigError, match="no components"):
        optimize(pipeline(), {}, TRAIN, VAL, judges=ExactMatch(), optimizer_llm=FakeLLM(plan_rule_rewriter),
                 progress=False)


def test_merge_lends_a_rewritten_component_whole():
    from promptlearn.edits import MergeProposer
    from promptlearn.portfolio import splice
    from promptlearn.proposers import ProposalContext

    seed = Candidate.from_components(SEED)
    mine = seed.with_component("answer", Component(text=SEED["answer"], rules=(Rule(id=1, text="Be terse."),)))
    theirs = seed.with_component("plan", Component(text="Say whether the last digit is even."))
    pool = {mine.id: {"a": 1.0, "b": 0.0}, theirs.id: {"a": 0.0, "b": 1.0}}
    candidates = {c.id: c.focus("plan") for c in (mine, theirs)}
    context = ProposalContext(iteration=3, train=TRAIN, task_description="", output_contract=None,
                              candidates=candidates, pool=pool, component="plan")
    proposal = asyncio.run(MergeProposer().apropose(mine.focus("plan"), [], context))
    child = splice(mine, "plan", proposal).child
    assert child["plan"] == "Say whether the last digit is even." and child["answer"] == mine["answer"]
    assert child.parent_ids == (mine.id, theirs.id) and child.strategy == "merge"
    single = ProposalContext(iteration=3, train=TRAIN, task_description="", output_contract=None,
                             candidates=candidates, pool=pool)
    assert not MergeProposer().applicable(mine.focus("plan"), [], single)  # one prompt: a rewrite has no union


def test_a_broken_answer_format_sends_the_round_to_the_answering_step():
    def chatty(request):
        if "Notes:" not in request.messages[-1]["content"]:
            return "notes"
        return "even" if "exactly one of these labels" in request.messages[0]["content"] else "I think it is even."

    result = optimize(pipeline(chatty), SEED, TRAIN, VAL, judges=ExactMatch(), optimizer_llm=FakeLLM(plan_rule_rewriter),
                      config=OptimizeConfig(max_iterations=1, minibatch_size=6, explain_failures=0), progress=False)
    row = result.history[0]
    assert row["strategy"] == "format" and row["component"] == "answer" and row["accepted"]
    assert "exactly one of these labels" in result.best["answer"] and result.best["plan"] == SEED["plan"]
