import asyncio
import json

import pandas as pd
import pytest

from promptlearn import (
    ExactMatch,
    Example,
    FakeLLM,
    FunctionJudge,
    JSONSchemaJudge,
    JudgePanel,
    LLMJudge,
    NumericTolerance,
    RegexMatch,
    Rollout,
    load_examples,
    split_examples,
)
from promptlearn.errors import ConfigError

ROWS = [{"id": f"r{i}", "q": f"question {i}", "a": "yes" if i % 2 else "no"} for i in range(20)]


def test_load_from_all_sources(tmp_path):
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in ROWS))
    csv = tmp_path / "d.csv"
    pd.DataFrame(ROWS).to_csv(csv, index=False)
    for source in (ROWS, pd.DataFrame(ROWS), jsonl, csv):
        examples = load_examples(source, inputs="q", reference="a", id_column="id")
        assert len(examples) == 20 and examples[3] == Example(id="r3", inputs={"q": "question 3"}, reference="yes")


def test_bad_datasets(tmp_path):
    with pytest.raises(ConfigError, match="no column"):
        load_examples(ROWS, inputs="question", reference="a")
    with pytest.raises(ConfigError, match="empty"):
        load_examples([], inputs="q")
    with pytest.raises(ConfigError, match="duplicate id"):
        load_examples(ROWS + ROWS[:1], inputs="q", id_column="id")
    with pytest.raises(ConfigError, match="not found"):
        load_examples(tmp_path / "missing.jsonl", inputs="q")


def test_split_is_deterministic_and_disjoint():
    examples = load_examples(ROWS, inputs="q", reference="a", id_column="id")
    a = split_examples(examples, [8, 6, 6], seed=1)
    b = split_examples(examples, [8, 6, 6], seed=1)
    c = split_examples(examples, [8, 6, 6], seed=2)
    assert [[e.id for e in s] for s in a] == [[e.id for e in s] for s in b]
    assert [[e.id for e in s] for s in a] != [[e.id for e in s] for s in c]
    ids = [e.id for s in a for e in s]
    assert len(ids) == len(set(ids)) == 20
    strat = split_examples(examples, [10, 10], seed=0, stratify=True)
    assert sum(e.reference == "yes" for e in strat[0]) == 5
    with pytest.raises(ConfigError):
        split_examples(examples, [15, 15])


def crit(judge, ex, output=None, error=None):
    return asyncio.run(judge.acritique(ex, Rollout(example_id=ex.id, candidate_id="c", output=output, error=error)))


def test_code_judges_explain():
    ex = Example(id="1", inputs={}, reference="PlayMusic")
    assert crit(ExactMatch(), ex, " playmusic. ").score == 1.0
    c = crit(ExactMatch(), ex, "The intent is PlayMusic")
    assert c.score == 0.0 and "only the answer" in c.explanation
    assert crit(ExactMatch(), ex, error="boom").label == "error"
    num = Example(id="2", inputs={}, reference="1,234")
    assert crit(NumericTolerance(), num, "so the answer is 1234.").score == 1.0
    assert "differs" in crit(NumericTolerance(), num, "1233").explanation
    assert crit(RegexMatch(r"^\(?[A-E]\)?$", fullmatch=True), ex, "(B)").score == 1.0
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
    assert crit(JSONSchemaJudge(schema), ex, '{"a": 1}').score == 1.0
    assert "a" in crit(JSONSchemaJudge(schema), ex, '{"a": "x"}').explanation
    assert crit(JSONSchemaJudge(schema), ex, "nope").label == "invalid_json"
    fj = FunctionJudge(lambda e, o: (len(o) < 5, "short is good"), name="short")
    assert crit(fj, ex, "abc").score == 1.0 and crit(fj, ex, "abcdef").explanation == "short is good"


def test_llm_judge_explains_first_and_records_failures():
    def handler(request):
        assert "Rubric: be polite" in request.messages[0]["content"]
        return json.dumps({"explanation": "Rude tone; add an instruction to be polite.", "verdict": "fail"})

    judge = LLMJudge(FakeLLM(handler), "be polite")
    ex = Example(id="1", inputs={"q": "hi"}, reference=None)
    c = crit(judge, ex, "go away")
    assert c.score == 0.0 and c.label == "fail" and "polite" in c.explanation
    schema_keys = list(judge.llm.requests[0].params["response_format"]["schema"]["properties"])
    assert schema_keys == ["explanation", "verdict"]  # explanation comes first

    broken = LLMJudge(FakeLLM(lambda r: "not json"), "be polite")
    panel = JudgePanel([broken, ExactMatch()], weights=[3, 1])
    ex2 = Example(id="2", inputs={"q": "x"}, reference="x")
    critiques, score = asyncio.run(panel.acritique(ex2, Rollout(example_id="2", candidate_id="c", output="x")))
    assert critiques[0].error and score == 1.0  # the failed judge is left out, not counted as a fail


def test_panel_weights():
    panel = JudgePanel([ExactMatch(), RegexMatch("x", name="has_x")], weights=[3, 1])
    ex = Example(id="1", inputs={}, reference="abc")
    _, score = asyncio.run(panel.acritique(ex, Rollout(example_id="1", candidate_id="c", output="abc")))
    assert score == pytest.approx(0.75)
    with pytest.raises(ConfigError):
        JudgePanel([ExactMatch(), ExactMatch()])
    with pytest.raises(ConfigError):
        JudgePanel([])


def test_public_api():
    import promptlearn

    assert sorted(promptlearn.__all__) == sorted(set(promptlearn.__all__))
    for name in promptlearn.__all__:
        assert hasattr(promptlearn, name), name
    expected = {"optimize", "PromptOptimizer", "OptimizeConfig", "Budget", "LLM", "FakeLLM", "ChatAgent",
                "FunctionAgent", "Example", "Candidate", "Rollout", "Critique", "Evaluation", "ExactMatch", "LLMJudge",
                "OptimizationResult", "load_examples", "split_examples", "RunError", "RoundRecord", "LoopEvent",
                "RunView", "Cost", "TransientError", "JudgeError", "Component", "PipelineAgent", "Step", "record_step",
                "RetrievalAgent", "PairedGain",
                "MLflowCallback"}
    assert expected <= set(promptlearn.__all__)
    assert "BudgetExceeded" not in promptlearn.__all__  # never raised: removed
    assert issubclass(promptlearn.TransientError, promptlearn.PromptlearnError)  # one error hierarchy
    assert issubclass(promptlearn.JudgeError, promptlearn.PromptlearnError)
    import sys

    assert "torch" not in sys.modules  # heavy libraries stay out of the core import
    import subprocess

    check = "import sys, promptlearn; assert not {'dspy', 'torch', 'litellm'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", check], check=True)  # DSPy only through promptlearn.dspy


def test_llama_threads_follow_the_environment_then_the_cpus_this_process_may_use(monkeypatch):
    """Two bench processes with a thread per machine CPU each spin against each other on llama.cpp, so the count
    comes from $PROMPTLEARN_LLAMA_THREADS, then $OMP_NUM_THREADS, then this process's CPU affinity."""
    import os

    from promptlearn.llm.backends import THREADS_ENV, llama_threads

    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert llama_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert llama_threads() == 3
    monkeypatch.setenv(THREADS_ENV, "1")
    assert llama_threads() == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(ConfigError, match="PROMPTLEARN_LLAMA_THREADS must be a whole number"):
            llama_threads()
