"""Multi-component candidates with the real 0.5B: a two-step PipelineAgent and a two-predictor DSPy program."""

import warnings

import pytest
from local_tasks import largest_number_task

from promptlearn import LLM, Budget, ExactMatch, OptimizeConfig, PipelineAgent, PromptOptimizer, Step
from promptlearn.agents import first_line

pytestmark = pytest.mark.local

AGENT = "local/qwen2.5-coder-0.5b"


def test_a_two_step_pipeline_is_optimised_one_component_at_a_time(tmp_path):
    examples = largest_number_task(9)
    train, val = examples[:6], examples[6:]
    llm = LLM(AGENT, cache=tmp_path / "cache.sqlite")
    agent = PipelineAgent(llm, [Step("plan", "{{ input }}", max_tokens=24),
                                Step("answer", "{{ input }}\n\nNotes:\n{{ plan }}\n\nAnswer:", max_tokens=12)],
                          parse=first_line)
    seed = {"plan": "Write one line of notes on the question.", "answer": "Answer the question."}
    optimizer = PromptOptimizer(agent, ExactMatch(), optimizer_llm=llm, config=OptimizeConfig(
        minibatch_size=3, max_iterations=1, explain_failures=0, budget=Budget(max_rollouts=15)))
    result = optimizer.optimize(seed, train, val, run_dir=tmp_path / "run")
    rollout = next(iter(result.val_results[result.seed.id].values())).rollout
    assert [t["component"] for t in rollout.trace] == ["plan", "answer"] and rollout.components_read == ("plan", "answer")
    row = result.history[0]
    if row["outcome"] != "parent perfect on minibatch":
        assert row["component"] in {"plan", "answer"}
        if row.get("strategy") == "format":
            assert row["component"] == "answer"  # the answering step gets the format fix
        for cand in result.candidates.values():  # one round: at most the chosen component changed
            assert [n for n in seed if cand[n] != seed[n]] in ([], [row["component"]])


def test_a_dspy_program_through_the_real_model(tmp_path):
    import dspy

    from promptlearn.dspy import dspy_lm, optimize_program

    class Solve(dspy.Module):
        def __init__(self):
            super().__init__()
            self.think = dspy.Predict(dspy.Signature("question -> notes", "Write one short line of notes on the question."))
            self.decide = dspy.Predict(dspy.Signature("question, notes -> answer", "Answer the question."))

        def forward(self, question):
            return self.decide(question=question, notes=self.think(question=question).notes)

    def data(examples):
        return [dspy.Example(question=e.inputs["input"], answer=e.reference).with_inputs("question") for e in examples]

    def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        right = gold.answer.strip("()") == str(pred.answer).strip().strip("()")[:1]
        return dspy.Prediction(score=float(right), feedback="" if right else
                               f"Expected {gold.answer}, got {pred.answer!r}.")

    examples = largest_number_task(9, seed=1)
    llm = LLM(AGENT, cache=tmp_path / "cache.sqlite")
    program = Solve()
    found = optimize_program(program, data(examples[:6]), data(examples[6:]), metric=metric, lm=llm,
                             optimizer_llm=llm, progress=False, run_dir=str(tmp_path / "run"), max_tokens=48,
                             config=OptimizeConfig(mode="rules", minibatch_size=3, max_iterations=1,
                                                   explain_failures=0, budget=Budget(max_rollouts=15)))
    result = found.result
    assert result.seed.names == ("think", "decide") and set(found.instructions) == {"think", "decide"}
    outputs = [r.rollout for r in result.val_results[result.seed.id].values() if r.rollout.error is None]
    assert outputs, "the 0.5B never got through DSPy's adapter"
    assert [t["component"] for t in outputs[0].trace if "component" in t] == ["think", "decide"]
    assert outputs[0].output == str(outputs[0].trace[-1]["prediction"]["answer"])  # the answer field is the output
    with warnings.catch_warnings(), dspy.context(lm=dspy_lm(llm, max_tokens=48)):
        warnings.simplefilter("ignore", DeprecationWarning)
        prediction = found.program(question=examples[0].inputs["input"])  # the written-back module runs
    assert hasattr(prediction, "answer")
    assert found.program.decide.signature.instructions == found.instructions["decide"]
