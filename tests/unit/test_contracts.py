"""Answer contracts inferred from references, and the format/content split of failures."""

import pytest

from promptlearn import Example
from promptlearn.contracts import FORMAT_FAILURES, infer_contract


def refs(*values):
    return [Example(id=str(i), inputs={"q": i}, reference=v) for i, v in enumerate(values)]


@pytest.mark.parametrize("references,kind,phrase", [
    (["(A)", "(B)", "(C)", "(B)"], "option_letter", "letter of the correct option, in parentheses, like (B)"),
    (["True", "False", "True"], "boolean", "only False or True"),
    (["Yes", "No", "No"], "yes_no", "only Yes or No"),
    (["yes", "no"], "yes_no", "only yes or no"),
    (["12", "7", "-3", "1,024"], "integer", "only the final number"),
    (["1.5", "2", "3.25"], "number", "only the final number"),
    (["PlayMusic", "GetWeather"] * 4, "labels", "exactly one of these labels and nothing else: GetWeather, PlayMusic"),
    (['{"a": 1}', '[1, 2]', '{"b": 2}'], "json", "only the JSON"),
    (["Paris", "the Seine river", "Marie Curie"], "short_text", "in a few words"),
    # four-word labels that repeat are a label set (Arize's support queries)
    (["Terms of Service Question", "Login Issues", "Billing Inquiry"] * 3, "labels",
     "exactly one of these labels and nothing else: Billing Inquiry, Login Issues, Terms of Service Question"),
    # nearly all letters: a stray written-out target (BBH ruin_names) does not make the task free text
    (["(A)", "(B)", "(C)", "(D)"] * 10 + ["dearth, wind, & fire"], "option_letter", "like (A)"),
])
def test_contract_kinds(references, kind, phrase):
    contract = infer_contract(refs(*references))
    assert contract.kind == kind
    assert phrase in contract.instruction


def test_short_answers_that_do_not_repeat_stay_free_text():
    assert infer_contract(refs(*[f"the {w} river delta" for w in "abcdefgh"])).kind == "short_text"
    assert infer_contract(refs(*["the Nile river delta region today"] * 6, "Paris")).kind != "labels"  # 6 words


def test_no_contract_for_long_free_text_or_no_references():
    assert infer_contract(refs("a long answer that goes on for many words and explains", "another long one here too "
                               "with many words")) is None
    assert infer_contract([Example(id="1", inputs={"q": 1})]) is None


@pytest.mark.parametrize("output,reference,kind", [
    ("(B)", "(C)", "content"),
    ("B", "(C)", "content"),
    ("The answer is (C) because the blue book is left of the red one.", "(C)", "answer_inside"),
    ("Let us think. First the blue book is placed to the left and then we compare every pair.", "(C)",
     "explanation"),
    ("blue book", "(C)", "off_contract"),
])
def test_option_letter_failures_are_sorted(output, reference, kind):
    contract = infer_contract(refs("(A)", "(B)", "(C)"))
    assert contract.classify(output, reference) == kind
    assert (kind in FORMAT_FAILURES) == (kind != "content")


def test_a_verdict_classifies_only_wrong_answers_with_a_reference_and_no_error():
    contract = infer_contract(refs("(A)", "(B)", "(C)"))
    assert contract.verdict("blue book", "(C)", score=0.0) == "off_contract"
    assert contract.verdict("(C)", "(C)", score=1.0) is None
    assert contract.verdict("", "(C)", score=0.0, error="TimeoutError") is None
    assert contract.verdict("blue book", None, score=0.0) is None


def test_number_failures():
    contract = infer_contract(refs("12", "7"))
    assert contract.classify("13", "12") == "content"
    assert contract.classify("There are 12 apples.", "12") == "answer_inside"
    assert contract.classify("twelve", "12") == "off_contract"


@pytest.mark.parametrize("references,form", [
    (["(A)", "(B)", "(B)"], "only the letter of the correct option, in parentheses, like (B)"),
    (["12", "7"], "only the number, like 12"),
    (["Yes", "No"], "only No or Yes"),
    (["PlayMusic", "GetWeather"] * 4, "exactly one of these labels: GetWeather, PlayMusic"),
])
def test_a_reasoning_agent_keeps_its_working_and_shapes_the_answer_line(references, form):
    contract = infer_contract(refs(*references)).with_reasoning()
    assert contract.instruction == ("Work the problem out step by step, then give the final answer on the last line "
                                    f"as 'Answer: X', where X is {form}.")
    assert "no words or working" not in contract.instruction and contract.labels == infer_contract(refs(*references)).labels


def test_the_loop_gives_a_reasoning_agent_the_reasoning_contract():
    from fakes import JUDGE

    from promptlearn import ChatAgent, FakeLLM, OptimizeConfig, optimize

    train = [Example(id=f"t{i}", inputs={"q": f"{i} + 1"}, reference=str(i + 1)) for i in range(6)]
    val = [Example(id=f"v{i}", inputs={"q": f"{i} + 2"}, reference=str(i + 2)) for i in range(4)]

    def answer(request):
        return "I add the numbers.\nAnswer: 1"

    config = OptimizeConfig(max_iterations=1, minibatch_size=2, mode="rules")
    rewriter = FakeLLM(lambda request: "When the input has a plus sign, add the numbers.")
    for pattern, tokens, expected in ((r"Answer:\s*(.+)", 200, "Work the problem out step by step"),
                                      (None, 200, "Answer with only the final number"),
                                      (r"Answer:\s*(.+)", 16, "Answer with only the final number")):
        agent = ChatAgent(FakeLLM(answer), "{{ q }}", max_tokens=tokens, answer_pattern=pattern)
        result = optimize(agent, "Add.", train, val, judges=JUDGE, optimizer_llm=rewriter, config=config, progress=False)
        assert result.output_contract.startswith(expected), (pattern, tokens, result.output_contract)
