"""The data summary for the rewriter (issue 26, item 3): what it says, and that only training data reaches it."""

from fakes import GOOD_RULE, make_agent, make_optimizer_llm, parity_examples

from promptlearn import Budget, ExactMatch, Example, OptimizeConfig, PromptOptimizer
from promptlearn.data import summarize_examples


def labelled(labels):
    return [Example(id=str(i), inputs={"text": "word " * (i % 5 + 1)}, reference=label) for i, label in enumerate(labels)]


def test_a_label_set_is_listed_with_how_often_each_is_expected():
    text = summarize_examples(labelled(["b"] * 3 + ["a"] * 5 + ["c"]))
    assert text.startswith("9 training examples. Inputs: text (1-5 words, median 3).")
    assert "Expected answers (3 distinct, with how often each is expected): a 5, b 3, c 1." in text
    many = summarize_examples(labelled([f"label{i}" for i in range(30)] * 2), max_labels=4)
    assert "label0 2, label1 2, label10 2, label11 2, and 26 other answers." in many


def test_numbers_and_free_text_are_described_not_listed():
    numbers = summarize_examples(labelled(["1,250", "-3", *[str(n) for n in range(30)]]))
    assert "Expected answers: numbers, 32 distinct, from -3 to 1250." in numbers
    few = summarize_examples(labelled(["3", "4", "3"]))  # a few distinct numbers are a label set
    assert "(2 distinct, with how often each is expected): 3 2, 4 1." in few
    prose = summarize_examples(labelled([f"a sentence of several words number {i}" for i in range(4)]))
    assert "Expected answers: free text, 4 distinct, 7-7 words, median 7." in prose
    assert "sentence" not in prose and "word word" not in summarize_examples(labelled(["x", "y"]))  # nothing quoted
    assert summarize_examples([]) == ""


def test_the_rewriter_sees_the_training_summary_only_when_asked():
    train, val = parity_examples(12), parity_examples(10, offset=100)
    for enabled in (False, True):
        rewriter = make_optimizer_llm([GOOD_RULE])
        config = OptimizeConfig(mode="rules", data_summary=enabled, minibatch_size=4, max_iterations=2,
                                explain_failures=0, budget=Budget(max_rollouts=80))
        PromptOptimizer(make_agent()[0], ExactMatch(), optimizer_llm=rewriter, config=config).optimize(
            "Answer even or odd.", train, val)
        meta_prompts = [r.messages[0]["content"] for r in rewriter.requests if "You write rules" in r.messages[0]["content"]]
        assert meta_prompts
        shown = [m for m in meta_prompts if "What its training data looks like:" in m]
        if not enabled:
            assert shown == []
            continue
        assert len(shown) == len(meta_prompts)
        # 12 training examples, 6 even and 6 odd; the 10 validation examples never count
        assert all("12 training examples." in m and "even 6, odd 6." in m for m in shown)
