import asyncio
import json

import pytest

from promptlearn import Example, FakeLLM, Rollout
from promptlearn.errors import ConfigError
from promptlearn.judges import library
from promptlearn.judges.calibration import calibrate_verdicts, cohen_kappa
from promptlearn.judges.library import code_format_findings, combine_orders
from promptlearn.judges.voting import EnsembleJudge, SelfConsistentJudge


def verdict(explanation="because", v="pass"):
    return json.dumps({"explanation": explanation, "verdict": v})


def run(judge, example, output):
    return asyncio.run(judge.acritique(example, Rollout(example_id=example.id, candidate_id="c", output=output)))


EX = Example(id="1", inputs={"question": "What is 2+2?"}, reference="4",
             metadata={"context": "The answer to 2+2 is 4."})


def test_every_definition_renders_and_parses_with_a_fake():
    params = {"criteria": "is concise", "rules": ["be polite", "be brief"], "instructions": "answer in one word"}
    for name in library.available():
        seen = {}

        def handler(request, seen=seen):
            seen["prompt"] = request.messages[-1]["content"]
            schema = request.params["response_format"]["schema"]
            if "verdicts" in schema["properties"]:
                return json.dumps({"verdicts": [{"explanation": "ok", "verdict": "followed"},
                                                {"explanation": "too long", "verdict": "broken"}]})
            if "final_answer" in schema["properties"]:
                return json.dumps({"final_answer": "4", "explanation": "fine"})
            if "better" in schema["properties"]:
                return json.dumps({"explanation": "first is right", "better": "1"})
            if "score" in schema["properties"]:
                return json.dumps({"explanation": "fine", "score": 4})
            return verdict()

        judge = library.load(name, FakeLLM(handler), **params)
        if name == "pairwise":
            result = asyncio.run(judge.acompare(EX, "4", "5"))
            assert result.winner == "tie" and not result.consistent  # "1" in both orders = position bias
            continue
        critique = run(judge, EX, "4")
        assert critique.error is None and 0 <= critique.score <= 1 and critique.explanation
        assert "\n4\n</" in seen["prompt"]  # the output sits inside its own delimited section
    rules = library.load("rule_compliance", FakeLLM(lambda r: json.dumps(
        {"verdicts": [{"explanation": "ok", "verdict": "followed"}, {"explanation": "rambles", "verdict": "broken"}]})),
        rules=["be polite", "be brief"])
    c = run(rules, EX, "4")
    assert c.score == 0.5 and "rule 2 (be brief): rambles" in c.explanation


def test_explanation_comes_before_verdict_in_every_schema():
    llm = FakeLLM(lambda r: verdict())
    run(library.load("correctness", llm), EX, "4")
    assert list(llm.requests[0].params["response_format"]["schema"]["properties"])[0] == "explanation"


def test_unknown_judge_lists_known_ones():
    with pytest.raises(ConfigError, match="correctness"):
        library.load("nope", FakeLLM(lambda r: ""))


def test_missing_field_is_named():
    judge = library.load("faithfulness", FakeLLM(lambda r: verdict()))
    bare = Example(id="2", inputs={"q": "x"})
    with pytest.raises(ConfigError, match="'context'"):
        run(judge, bare, "y")
    assert run(judge, EX, "4").score == 1.0  # found in metadata


def test_schema_failure_after_retries_is_recorded_by_the_panel():
    from promptlearn import JudgePanel

    panel = JudgePanel([library.load("correctness", FakeLLM(lambda r: "garbage"))])
    critiques, score = asyncio.run(panel.acritique(EX, Rollout(example_id="1", candidate_id="c", output="4")))
    assert critiques[0].error and "did not return a valid" in critiques[0].error and score == 0.0


def test_pairwise_order_swap_logic():
    assert combine_orders("1", "2").winner == "a"      # a first wins, a second wins
    assert combine_orders("2", "1").winner == "b"
    assert combine_orders("1", "1").winner == "tie"    # always the first slot: position bias
    assert not combine_orders("1", "1").consistent
    assert combine_orders("tie", "tie").winner == "tie" and combine_orders("tie", "tie").consistent
    r = combine_orders("1", "tie")
    assert r.winner == "a" and not r.consistent


def test_pairwise_runs_both_orders():
    prompts = []

    def handler(request):
        prompts.append(request.messages[-1]["content"])
        return json.dumps({"explanation": "x", "better": "1" if "<output_1>\nGOOD" in prompts[-1] else "2"})

    result = asyncio.run(library.load("pairwise", FakeLLM(handler)).acompare(EX, "GOOD", "BAD"))
    assert result.winner == "a" and result.consistent and len(prompts) == 2


def test_self_consistency_majority_and_agreement():
    answers = {0: "pass", 1: "fail", 2: "pass", 3: "pass", 4: "fail"}
    llm = FakeLLM(lambda r: verdict(v=answers[r.params["seed"]]))
    judge = SelfConsistentJudge(library.load("correctness", llm), n=5)
    c = run(judge, EX, "4")
    assert c.label == "pass" and c.score == 1.0 and c.agreement == pytest.approx(0.6)
    assert sorted(r.params["seed"] for r in llm.requests) == [0, 1, 2, 3, 4]
    assert all(r.params["temperature"] == 0.7 for r in llm.requests)


def test_ensemble_voting_rules():
    judges = [library.load("correctness", FakeLLM(lambda r, v=v: verdict(v=v)), name=f"j{i}")
              for i, v in enumerate(["pass", "pass", "fail"])]
    assert run(EnsembleJudge(judges, "majority"), EX, "4").score == 1.0
    assert run(EnsembleJudge(judges, "all"), EX, "4").score == 0.0
    assert run(EnsembleJudge(judges, "mean"), EX, "4").score == pytest.approx(2 / 3)
    assert run(EnsembleJudge(judges, "majority"), EX, "4").agreement == pytest.approx(2 / 3)


def test_format_code_checks_before_llm():
    llm = FakeLLM(lambda r: verdict())
    judge = library.load("format_compliance", llm, instructions="one lower-case word", max_words=1, case="lower")
    c = run(judge, EX, "Four Apples")
    assert c.score == 0.0 and "2 words" in c.explanation and "lower case" in c.explanation
    assert llm.requests == []  # code already decided; no LLM call spent
    assert run(judge, EX, "four").score == 1.0 and len(llm.requests) == 1
    assert code_format_findings('{"a": 1}', json_object=True) == []
    assert code_format_findings("x", required_keywords=["y"]) == ["does not contain the keyword 'y'"]


def test_calibration_metrics_against_hand_computed_values():
    truth = [True, True, True, True, False, False, False, False, True, False]
    pred = [True, True, True, False, False, False, True, False, True, False]
    # confusion: TP=4 FN=1 FP=1 TN=4 -> accuracy 0.8; p_o=0.8, p_e=0.5*0.5+0.5*0.5=0.5 -> kappa 0.6
    report = calibrate_verdicts(truth, pred)
    assert report["accuracy"] == pytest.approx(0.8)
    assert report["kappa"] == pytest.approx(0.6)
    assert report["confusion"] == {"tp": 4, "fn": 1, "fp": 1, "tn": 4}
    assert cohen_kappa([True] * 4, [True] * 4) == 1.0  # degenerate: perfect agreement on one class
    assert cohen_kappa([True, False], [False, True]) == pytest.approx(-1.0)


def test_multiclass_kappa_against_hand_computed_value():
    truth = ["a", "a", "b", "b", "tie", "a"]
    pred = ["a", "b", "b", "b", "a", "tie"]
    # p_o = 3/6; truth counts a3 b2 tie1, pred counts a2 b3 tie1 -> p_e = (6+6+1)/36 = 13/36
    expected = (0.5 - 13 / 36) / (1 - 13 / 36)
    assert cohen_kappa(truth, pred) == pytest.approx(expected)


def test_judge_from_a_yaml_file(tmp_path):
    path = tmp_path / "strict.yaml"
    path.write_text("name: strict\ndescription: d\nneeds: [reference]\noutput: binary\nrubric: r\n"
                    "template: 'Ref {{ reference }} vs {{ output }}'\n")
    llm = FakeLLM(lambda r: verdict(v="fail"))
    c = run(library.load(str(path), llm), EX, "5")
    assert c.judge == "strict" and c.score == 0.0
    assert llm.requests[0].messages[-1]["content"].startswith("Ref 4 vs 5\n")
    with pytest.raises(ConfigError, match="not found"):
        library.load(str(tmp_path / "missing.yaml"), llm)
    (tmp_path / "bad.yaml").write_text("name: x\noutput: sideways\n")
    with pytest.raises(ConfigError, match="not valid"):
        library.load(str(tmp_path / "bad.yaml"), llm)


def test_format_checks_per_example_and_fenced_json():
    llm = FakeLLM(lambda r: verdict())
    judge = library.load("format_compliance", llm, instructions="reply in JSON")
    ex = Example(id="j", inputs={"q": "x"}, metadata={"format_checks": {"json_object": True}})
    assert run(judge, ex, "```json\n{\"a\": 1}\n```").score == 1.0  # fenced JSON passes, as in IFEval
    assert run(judge, ex, "not json").score == 0.0 and len(llm.requests) == 1
    bad = Example(id="k", inputs={"q": "x"}, metadata={"format_checks": {"max_lines": 3}})
    with pytest.raises(ConfigError, match="max_lines"):
        run(judge, bad, "x")


def test_rule_calibration_counts_each_rule_verdict(tmp_path):
    from promptlearn.judges.calibration import acalibrate, load_calibration_items

    rows = [{"input": "q1", "output": "o1", "rules": ["r1", "r2"], "rule_labels": [True, False], "label": False},
            {"input": "q2", "output": "o2", "rules": ["r1", "r2"], "rule_labels": [True, True], "label": True}]
    path = tmp_path / "rules.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # The fake says rule 1 followed and rule 2 broken, every time.
    llm = FakeLLM(lambda r: json.dumps({"verdicts": [{"explanation": "a", "verdict": "followed"},
                                                     {"explanation": "b", "verdict": "broken"}]}))
    report = asyncio.run(acalibrate(library.load("rule_compliance", llm), load_calibration_items(path), progress=True))
    # Rule verdicts: truth [T, F, T, T], predicted [T, F, T, F] -> 3/4 right, one false "broken".
    assert report["unit"] == "rule" and report["n"] == 4 and report["accuracy"] == pytest.approx(0.75)
    assert report["confusion"] == {"tp": 2, "fn": 1, "fp": 0, "tn": 1}
    assert report["items"]["n"] == 2  # item level (score >= 0.5) kept alongside
    assert [v["per_rule"] for v in report["verdicts"]] == [[True, False], [True, False]]
    path.write_text(json.dumps({**rows[0], "rule_labels": [True]}) + "\n")
    with pytest.raises(ConfigError, match="1 rule_labels for 2 rules"):
        load_calibration_items(path)


def test_pairwise_calibration_reports_position_bias(tmp_path):
    from promptlearn.judges.calibration import acalibrate_pairwise, load_pairwise_items

    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"input": f"q{i}", "output_a": "A", "output_b": "B", "label": label}) + "\n"
                            for i, label in enumerate(["a", "a", "b", "b"])))
    items = load_pairwise_items(path)
    always_first = FakeLLM(lambda r: json.dumps({"explanation": "x", "better": "1"}))
    report = asyncio.run(acalibrate_pairwise(library.load("pairwise", always_first), items))
    # Picking the first slot in both orders is pure position bias: every winner is a tie.
    assert report["accuracy"] == 0.0 and report["tie_rate"] == 1.0 and report["consistent_rate"] == 0.0
    assert report["shown_first_preference"] == 1.0 and report["first_order_accuracy"] == pytest.approx(0.5)
    prefers_a = FakeLLM(lambda r: json.dumps({"explanation": "x", "better": "1" if "<output_1>\nA" in
                                              r.messages[-1]["content"] else "2"}))
    report = asyncio.run(acalibrate_pairwise(library.load("pairwise", prefers_a), items))
    assert report["accuracy"] == 0.5 and report["consistent_rate"] == 1.0 and report["confusion"] == {
        "a->a": 2, "b->a": 2}
    broken = FakeLLM(lambda r: "not json")
    report = asyncio.run(acalibrate_pairwise(library.load("pairwise", broken), items[:1]))
    assert report["failed_verdicts"] == 1 and report["n"] == 0 and "error" in report["verdicts"][0]
    path.write_text(json.dumps({"input": "q", "output_a": "A", "output_b": "B", "label": "left"}) + "\n")
    with pytest.raises(ConfigError, match="not a, b or tie"):
        load_pairwise_items(path)


def test_calibration_records_a_failed_verdict_instead_of_crashing():
    from promptlearn.judges.calibration import acalibrate

    # Out of range grade, as the 1.5B once wrote (-5): schema failure after the repairs.
    llm = FakeLLM(lambda r: json.dumps({"explanation": "x", "score": -5}))
    items = [(EX, "4", True), (EX, "5", False)]
    report = asyncio.run(acalibrate(library.load("criteria", llm, criteria="is right"), items))
    assert report["failed_verdicts"] == 2 and report["n"] == 0
    assert all(v["error"] for v in report["verdicts"])
    schema = library.GradedVerdict.model_json_schema()["properties"]["score"]
    assert schema["enum"] == [1, 2, 3, 4, 5]  # an enum the local grammar enforces


def test_answer_match_extracts_with_the_llm_and_compares_in_code():
    answers = iter(["The total is 352 hours", "44 hours", ""])
    llm = FakeLLM(lambda r: json.dumps({"final_answer": next(answers), "explanation": "divided the wrong way"}))
    judge = library.load("answer_match", llm)
    ex = Example(id="g", inputs={"question": "hours?"}, reference="44")
    wrong = run(judge, ex, "... Answer: 352")
    # The model may claim anything in prose; the verdict is code's: 352 != 44.
    assert wrong.score == 0.0 and "'The total is 352 hours'" in wrong.explanation and "divided" in wrong.explanation
    assert run(judge, ex, "Answer: 44").score == 1.0
    assert run(judge, ex, "I am not sure").explanation.startswith("No final answer found")
    assert library.answers_match("$1,920", "1920") and library.answers_match("True", "true")
    assert not library.answers_match("False", "True") and not library.answers_match("", "0")


def test_answer_match_never_shows_the_extractor_the_reference():
    # Calibration (judges/README.md): shown the reference, the 1.5B copied it as the answer of cut-off outputs.
    judge = library.load("answer_match", FakeLLM(lambda r: "{}"))
    ex = Example(id="g", inputs={"question": "hours?"}, reference="REFERENCE-7731")
    assert "REFERENCE-7731" not in judge.prompt(ex, Rollout(example_id="g", candidate_id="c", output="Let's break it"))


def test_answer_match_rejects_an_answer_the_output_does_not_contain():
    # The 1.5B "extracted" False from "Let's break down the expression step by" (it solved the task).
    llm = FakeLLM(lambda r: json.dumps({"final_answer": "False", "explanation": "cut off"}))
    judge = library.load("answer_match", llm)
    ex = Example(id="b", inputs={"input": "not True is"}, reference="False")
    cut_off = run(judge, ex, "Let's break down the expression step by")
    assert cut_off.score == 0.0 and cut_off.explanation.startswith("No final answer found (the extractor proposed 'False'")
    assert run(judge, ex, "It evaluates to FALSE.").score == 1.0
    unchecked = library.load("answer_match", llm, copy_check=False)  # reproduces a calibration row
    assert run(unchecked, ex, "Let's break down the expression step by").score == 1.0
    assert library.appears_in("$1,920", "so she pays 1920 dollars") and not library.appears_in("7", "2 + 3 = 5")
