"""promptlearn.dspy: a DSPy program's predictors optimised by our loop, on function-backed fakes."""

import asyncio
import json
import re

import dspy
import pytest

from promptlearn import ConfigError, FakeLLM, OptimizeConfig
from promptlearn.dspy import metric_score, optimize_program, seed_candidate, with_instructions


class NotesThenAnswer(dspy.Module):
    def __init__(self):
        super().__init__()
        self.note = dspy.Predict("number -> notes")
        self.decide = dspy.Predict("number, notes -> answer")

    def forward(self, number):
        notes = self.note(number=number).notes
        return self.decide(number=number, notes=notes)


def field(text, name):
    found = re.search(rf"\[\[ ## {name} ## \]\]\n(.*?)\n", text + "\n", re.S)
    return found.group(1).strip() if found else ""


def program_llm(request):
    """DSPy's ChatAdapter format; the notes step knows parity only once told to look at the last digit."""
    system, user = request.messages[0]["content"], request.messages[-1]["content"]
    number = int(field(user, "number"))
    if "`notes` (str)" in system.split("Your output fields are:")[1]:
        notes = f"{number} is {'even' if number % 2 == 0 else 'odd'}" if "last digit" in system else "no idea"
        return f"[[ ## notes ## ]]\n{notes}\n\n[[ ## completed ## ]]"
    answer = "odd" if " is odd" in field(user, "notes") else "even"
    return f"[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"


def rewriter(request):
    return json.dumps({"new_rules": [{"group": 1, "when": "any input", "then": "look at the last digit"}],
                       "delete": [], "analysis": "the notes never say the parity"})


def data(numbers):
    return [dspy.Example(number=str(n), answer="even" if n % 2 == 0 else "odd").with_inputs("number")
            for n in numbers]


def exact(gold, pred, trace=None, pred_name=None, pred_trace=None):
    asyncio.run(asyncio.sleep(0))  # a metric may run its own event loop (the loop calls it from a thread)
    right = gold.answer == pred.answer
    return dspy.Prediction(score=float(right), feedback="" if right else
                           f"Expected {gold.answer!r}, got {pred.answer!r}; the notes were unhelpful.")


def test_round_trip_changes_instructions_and_the_module_still_runs(tmp_path):
    program = NotesThenAnswer()
    before = {n: str(p.signature.instructions) for n, p in program.named_predictors()}
    rewriter_llm = FakeLLM(rewriter)
    found = optimize_program(program, data(range(20)), data(range(100, 110)), metric=exact,
                             lm=FakeLLM(program_llm), optimizer_llm=rewriter_llm,
                             config=OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=6,
                                                   explain_failures=0), progress=False, run_dir=str(tmp_path / "run"))
    result = found.result
    assert result.seed.names == ("note", "decide") and result.history[0]["component"] == "note"
    assert result.seed_val == 0.5 and result.best_val == 1.0
    assert "last digit" in found.instructions["note"] and found.instructions["decide"] == before["decide"]
    assert {n: str(p.signature.instructions) for n, p in program.named_predictors()} == before  # not mutated
    assert "last digit" in found.program.note.signature.instructions
    meta_prompt = rewriter_llm.requests[0].messages[0]["content"]
    assert "<note_step>" in meta_prompt and "notes: no idea" in meta_prompt and "unhelpful" in meta_prompt
    with dspy.context(lm=_lm()):
        assert found.program(number="7").answer == "odd"  # the written-back module runs


def _lm():
    from promptlearn.dspy import dspy_lm

    return dspy_lm(FakeLLM(program_llm))


def test_seed_and_write_back():
    program = NotesThenAnswer()
    seed = seed_candidate(program)
    assert seed.names == ("note", "decide")
    copy = with_instructions(program, seed.with_component("decide", seed.components["decide"].model_copy(
        update={"text": "Decide."})))
    assert copy.decide.signature.instructions == "Decide." and program.decide.signature.instructions != "Decide."


def test_bad_programs_metrics_and_examples_are_clear():
    class Empty(dspy.Module):
        def forward(self, x):
            return x

    with pytest.raises(ConfigError, match="has no predictors"):
        seed_candidate(Empty())
    with pytest.raises(ConfigError, match="dspy.Module"):
        seed_candidate(lambda x: x)
    with pytest.raises(ConfigError, match="with_inputs"):
        optimize_program(NotesThenAnswer(), [dspy.Example(number="1", answer="odd")], data([2]), metric=exact,
                         lm=FakeLLM(program_llm), optimizer_llm=FakeLLM(rewriter), progress=False)
    assert metric_score(True, "m") == (1.0, "")
    assert metric_score((0.5, "half"), "m") == (0.5, "half")
    assert metric_score(dspy.Prediction(score=0, feedback="no"), "m") == (0.0, "no")
    with pytest.raises(ConfigError, match="returned str"):
        metric_score("yes", "m")
    with pytest.raises(ConfigError, match="must be in"):
        metric_score(3, "m")
    with pytest.raises(ConfigError, match="returned NoneType"):
        optimize_program(NotesThenAnswer(), data(range(10)), data(range(100, 104)), metric=lambda g, p: None,
                         lm=FakeLLM(program_llm), optimizer_llm=FakeLLM(rewriter), progress=False,
                         config=OptimizeConfig(max_iterations=1, minibatch_size=4))


def test_a_stopped_run_resumes_in_a_new_process_state(tmp_path):
    """The agent's fingerprint must not depend on object addresses or DSPy's call history."""
    def run():
        return optimize_program(NotesThenAnswer(), data(range(20)), data(range(100, 110)), metric=exact,
                                lm=FakeLLM(program_llm), optimizer_llm=FakeLLM(rewriter), progress=False,
                                run_dir=str(tmp_path / "run"), resume=True,
                                config=OptimizeConfig(mode="rules", max_iterations=1, minibatch_size=6,
                                                      explain_failures=0))

    first = run()
    again = run()  # a new program object, a new DSPy LM with an empty history: the same run
    assert [(r.child, r.outcome) for r in again.result.history] == [(r.child, r.outcome) for r in first.result.history]
    assert again.instructions == first.instructions


def test_the_answer_field_gives_the_loop_a_contract_and_format_repair_fixes_the_last_predictor():
    """A chatty answering predictor: with the label field as reference, the loop infers the label contract
    and its first round states it in the predictor that writes the answer, with no rewriter call."""
    def chatty(request):
        reply = program_llm(request)
        if "[[ ## answer ## ]]" in reply and "exactly one of these labels" not in request.messages[0]["content"]:
            answer = field(reply, "answer")
            return f"[[ ## answer ## ]]\nI think it is {answer}.\n\n[[ ## completed ## ]]"
        return reply

    def no_rewriter(request):
        raise AssertionError("format repair needs no rewriter")

    found = optimize_program(NotesThenAnswer(), data(range(20)), data(range(100, 110)), metric=exact,
                             lm=FakeLLM(chatty), optimizer_llm=FakeLLM(no_rewriter), progress=False,
                             config=OptimizeConfig(max_iterations=1, minibatch_size=6, explain_failures=0))
    row = found.result.history[0]
    assert found.result.output_contract and "even, odd" in found.result.output_contract
    assert row["strategy"] == "format" and row["component"] == "decide" and row["accepted"]
    assert found.result.seed_val == 0.0 and found.result.best_val == 0.5
    assert "exactly one of these labels" in found.instructions["decide"]
    rollout = next(iter(found.result.val_results[found.result.best.id].values())).rollout
    assert rollout.output in {"even", "odd"} and any("prediction" in t for t in rollout.trace)
