"""The real embedded models (``promptlearn models pull``). Marked ``local``; CI runs them."""

import pytest
from pydantic import BaseModel, Field

from promptlearn import LLM
from promptlearn.judges import LLMJudge
from promptlearn.records import Example, Rollout

pytestmark = pytest.mark.local

MODELS = ["local/qwen2.5-coder-0.5b", "local/qwen2.5-coder-1.5b"]


class Capital(BaseModel):
    reasoning: str = Field(max_length=200)
    city: str = Field(max_length=40)


@pytest.mark.parametrize("model", MODELS)
def test_chat_call(model, tmp_path):
    llm = LLM(model, cache=tmp_path / "c.sqlite")
    messages = [{"role": "system", "content": "Reply with one word."},
                {"role": "user", "content": "What colour is a clear daytime sky?"}]
    first = llm.complete(messages, max_tokens=8)
    assert "blue" in first.text.lower()
    assert first.prompt_tokens > 0 and first.completion_tokens > 0
    again = llm.complete(messages, max_tokens=8)
    assert again.cached and again.text == first.text
    assert llm.usage.by_role["default"].calls == 1 and llm.usage.by_role["default"].cache_hits == 1


@pytest.mark.parametrize("model", MODELS)
def test_structured_call(model):
    llm = LLM(model, cache=None)
    out = llm.structured([{"role": "user", "content": "What is the capital of France? Answer as JSON."}], Capital,
                         max_tokens=120)
    assert isinstance(out, Capital)
    assert "paris" in out.city.lower()


def test_1_5b_judge_on_clear_cut_items():
    judge = LLMJudge(LLM("local/qwen2.5-coder-1.5b", cache=None),
                     "The output must give the same final answer as the reference.")
    ex = Example(id="1", inputs={"question": "What is 7 + 5?"}, reference="12")
    import asyncio

    good = asyncio.run(judge.acritique(ex, Rollout(example_id="1", candidate_id="c", output="7 + 5 = 12")))
    bad = asyncio.run(judge.acritique(ex, Rollout(example_id="1", candidate_id="c", output="7 + 5 = 13")))
    assert good.score == 1.0 and bad.score == 0.0
    assert bad.explanation


def test_library_label_judge_with_the_1_5b():
    import asyncio

    from promptlearn.judges import load

    judge = load("label_correctness", LLM("local/qwen2.5-coder-1.5b", cache=None))
    ex = Example(id="1", inputs={"text": "what's the weather in Paris tomorrow"}, reference="GetWeather")
    right = asyncio.run(judge.acritique(ex, Rollout(example_id="1", candidate_id="c", output="GetWeather")))
    wrong = asyncio.run(judge.acritique(ex, Rollout(example_id="1", candidate_id="c", output="PlayMusic")))
    assert right.score == 1.0 and wrong.score == 0.0
    assert wrong.explanation


def test_calibrate_command_with_the_1_5b_on_clear_cut_items(tmp_path):
    """`promptlearn judges calibrate` end to end: faithfulness items and a pairwise pair whose truth is plain."""
    import json

    from promptlearn.app.cli import main

    context = "The Eiffel Tower is in Paris. It was completed in 1889 and is 330 metres tall."
    faithful = tmp_path / "faith.jsonl"
    faithful.write_text("".join(json.dumps(row) + "\n" for row in [
        {"input": "When was the Eiffel Tower completed?", "context": context,
         "output": "It was completed in 1889.", "label": True},
        {"input": "When was the Eiffel Tower completed?", "context": context,
         "output": "It was completed in 1925 by Gustave Klimt.", "label": False}]))
    report_path = tmp_path / "faith_report.json"
    assert main(["judges", "calibrate", "faithfulness", "--data", str(faithful), "--no-cache",
                 "--output", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["n"] == 2 and report["accuracy"] == 1.0 and report["failed_verdicts"] == 0

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"input": "What is 7 + 5?", "output_a": "7 + 5 = 13. Answer: 13",
                                 "output_b": "7 + 5 = 12. Answer: 12", "label": "b"}) + "\n")
    pair_report = tmp_path / "pair_report.json"
    assert main(["judges", "calibrate", "pairwise", "--data", str(pairs), "--no-cache",
                 "--output", str(pair_report)]) == 0
    report = json.loads(pair_report.read_text())
    assert report["accuracy"] == 1.0 and report["consistent_rate"] == 1.0


def test_run_config_with_a_library_judge_scores_real_rollouts(tmp_path):
    """A `promptlearn optimize` config naming `label_correctness`: the 0.5B answers, the 1.5B judges."""
    import json

    from promptlearn.app.spec import RunSpec

    rows = [{"id": "w", "text": "what's the weather in Paris tomorrow", "intent": "GetWeather"},
            {"id": "m", "text": "play some jazz by Miles Davis", "intent": "PlayMusic"}]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "run.yaml").write_text("""
data: {train_path: data.jsonl, val_path: data.jsonl, inputs: [text], reference: intent, id_column: id}
agent: {model: local/qwen2.5-coder-0.5b, user_template: "Request: {{ text }}\\nIntent:", max_tokens: 8,
        first_line_only: true}
optimizer: {model: local/qwen2.5-coder-1.5b}
seed_prompt: "Reply with exactly one intent label: GetWeather or PlayMusic."
judges: [{type: library, judge: label_correctness}]
""")
    optimizer, train, _, _ = RunSpec.from_yaml(tmp_path / "run.yaml").build()
    evaluation = optimizer.evaluate("Reply with exactly one intent label: GetWeather or PlayMusic.", train)
    for example in train:
        result = evaluation.results[example.id]
        (critique,) = result.critiques
        assert critique.judge == "label_correctness" and not critique.error and critique.explanation
        if result.rollout.output.strip() in ("GetWeather", "PlayMusic"):  # clear-cut: the verdict is exact match
            assert result.score == float(result.rollout.output.strip() == example.reference)
