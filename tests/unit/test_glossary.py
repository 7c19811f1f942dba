"""The ``glossary`` strategy: one line per label, written by the rewriter from training inputs of that label."""

import asyncio
import re

import pytest

from promptlearn import ChatAgent, ExactMatch, FakeLLM, OptimizeConfig, optimize
from promptlearn.bench.registry import builtin_methods
from promptlearn.config import DEFAULT_STRATEGIES
from promptlearn.contracts import AnswerContract, infer_contract
from promptlearn.glossary import GLOSSARY_HEADER, GLOSSARY_MAX_WORDS, LabelGlossaryProposer, glossary_line
from promptlearn.proposers import ProposalContext
from promptlearn.records import Candidate, Example

NAMES = ("zero", "one", "two", "three")


def residues(n: int, offset: int = 0) -> list[Example]:
    """A four-label task: the number's remainder when divided by four, as a word."""
    return [Example(id=f"r{i}", inputs={"number": f"the number {i}"}, reference=NAMES[i % 4])
            for i in range(offset, offset + n)]


TRAIN, VAL = residues(24), residues(12, 100)


def context(train=TRAIN, contract=None):
    return ProposalContext(iteration=1, train=train, task_description="remainder", output_contract=None,
                           contract=contract or infer_contract(train))


def label_asked(request) -> str:
    return re.search(r'correct label is "([^"]+)"', request.messages[0]["content"]).group(1)


def describer(request) -> str:
    """The rewriter: names the label it was asked about, as the meta-prompt tells it to."""
    return f"{label_asked(request)}: numbers that leave {label_asked(request)} when divided by four.\nMore chatter."


def propose(parent, ctx, handler=describer):
    rewriter = FakeLLM(handler)
    return asyncio.run(LabelGlossaryProposer(rewriter).apropose(parent, [], ctx)), rewriter.requests


def test_the_child_adds_a_line_per_label_from_training_inputs_of_that_label_only():
    parent = Candidate.create("Name the remainder.")
    proposal, requests = propose(parent, context())
    child = proposal.child
    assert child is not None and proposal.validate_directly and child.strategy == "glossary"
    assert child.system_prompt.startswith(parent.system_prompt) and GLOSSARY_HEADER in child.system_prompt
    for name in NAMES:
        assert f"- {name}: numbers that leave {name} when divided by four." in child.system_prompt
    assert "chatter" not in child.system_prompt  # the first line only
    assert len(requests) == len(NAMES)
    for request in requests:  # each call shows inputs of its own label, from the training split
        shown = set(re.findall(r"<input>the number (\d+)</input>", request.messages[-1]["content"]))
        assert shown and all(NAMES[int(n) % 4] == label_asked(request) and int(n) < 24 for n in shown)
    assert propose(parent, context())[0].child == child  # deterministic: a resumed run replays it


def test_it_stands_aside_without_a_label_set_or_once_the_prompt_has_a_glossary():
    proposer = LabelGlossaryProposer(FakeLLM(describer))
    assert proposer.applicable(Candidate.create("x"), [], context())
    letters = AnswerContract(kind="option_letter", instruction="Answer (A).", labels=("(A)", "(B)", "(C)"))
    assert not proposer.applicable(Candidate.create("x"), [], context(contract=letters))
    two = [e for e in TRAIN if e.reference in ("zero", "one")]
    assert not proposer.applicable(Candidate.create("x"), [], context(train=two))
    child, _ = propose(Candidate.create("x"), context())
    assert not proposer.applicable(child.child, [], context())


def test_a_line_that_copies_a_training_input_or_says_nothing_is_left_out():
    five = ("zero", "one", "two", "three", "four")
    train = [Example(id=f"s{i}", inputs={"text": " ".join(f"w{i}x{j}" for j in range(8))}, reference=five[i % 5])
             for i in range(20)]

    def copier(request):
        label = label_asked(request)
        if label == "one":
            return "one: w1x0 w1x1 w1x2 w1x3 w1x4 w1x5"  # six words of a training input
        return "" if label == "two" else f"{label}: a message of kind {label}."

    proposal, _ = propose(Candidate.create("Name the kind."), context(train=train), handler=copier)
    assert proposal.child is not None
    for kept in ("zero", "three", "four"):
        assert f"- {kept}: a message of kind {kept}." in proposal.child.system_prompt
    assert "- one:" not in proposal.child.system_prompt and "- two:" not in proposal.child.system_prompt
    assert any("'one'" in r and "copies training input" in r for r in proposal.rejections)
    assert any("'two'" in r and "empty" in r for r in proposal.rejections)


def test_a_rejected_line_is_asked_for_again_with_the_reason():
    def marks_up_first(request):
        if label_asked(request) == "one" and len(request.messages) == 1:
            return "one: {{ secret }} numbers"
        return describer(request)

    proposal, requests = propose(Candidate.create("Name the remainder."), context(), handler=marks_up_first)
    assert "- one: numbers that leave one when divided by four." in proposal.child.system_prompt
    retry = [r for r in requests if len(r.messages) > 1]
    assert len(retry) == 1 and "template markup" in retry[0].messages[-1]["content"]
    assert retry[0].params.get("temperature", 0) > 0  # sampled: at temperature 0 the same answer would come back
    assert not proposal.rejections


def test_with_fewer_than_three_usable_lines_there_is_no_child():
    proposal, _ = propose(Candidate.create("x"), context(), handler=lambda r: "")
    assert proposal.child is None and proposal.rejections


def test_glossary_line_keeps_one_short_line_in_the_labels_own_spelling():
    assert glossary_line("PlayMusic", "- playmusic: asks to play a song") == "PlayMusic: asks to play a song"
    assert glossary_line("PlayMusic", "\n\n\"PlayMusic\": asks to play.\nsecond line") == "PlayMusic: asks to play."
    long = glossary_line("x", "x: " + " ".join(["word"] * 100))
    assert len(long.split()) == GLOSSARY_MAX_WORDS + 1 and long.endswith(".")  # the label, then the capped words
    assert glossary_line("x", "   ") == ""


def glossary_agent(request):
    """Right only when the prompt holds a glossary; otherwise always "zero"."""
    system, number = request.messages[0]["content"], int(request.messages[-1]["content"].split()[-1])
    return NAMES[number % 4] if GLOSSARY_HEADER in system else "zero"


def test_the_loop_tries_it_once_and_validation_keeps_it():
    agent = ChatAgent(FakeLLM(glossary_agent, role="agent"), "Remainder of {{ number }}")
    config = OptimizeConfig(strategies=("rules", "glossary"), max_iterations=1, minibatch_size=8, explain_failures=0)
    result = optimize(agent, "Name the remainder of the number divided by four.", TRAIN, VAL, judges=ExactMatch(),
                      optimizer_llm=FakeLLM(describer), config=config, progress=False)
    row = result.history[0]
    assert row.strategy == "glossary" and row.child_minibatch is None and row.child_val == 1.0
    assert result.best_val == 1.0 and GLOSSARY_HEADER in result.best_prompt


def test_it_is_opt_in_and_the_bench_measures_it_as_the_default_plus_glossary():
    assert "glossary" not in DEFAULT_STRATEGIES
    method = builtin_methods()["promptlearn-glossary"]
    assert method.config.strategies == (*DEFAULT_STRATEGIES, "glossary")


@pytest.mark.parametrize("bad", ["{{ secret }}", "{% for x in y %}"])
def test_a_line_with_template_markup_is_left_out(bad):
    def marking(request):
        return f"{label_asked(request)}: {bad}" if label_asked(request) == "zero" else describer(request)

    proposal, _ = propose(Candidate.create("x"), context(), handler=marking)
    assert proposal.child is not None and bad not in proposal.child.system_prompt


def test_a_broken_glossary_meta_prompt_fails_before_any_rollout(tmp_path):
    from promptlearn.errors import ConfigError

    (tmp_path / "glossary.j2").write_text("{% for x in %}broken")
    calls = []
    agent = ChatAgent(FakeLLM(lambda r: calls.append(r) or "zero", role="agent"), "Remainder of {{ number }}")
    with pytest.raises(ConfigError, match="glossary"):
        optimize(agent, "Name the remainder.", TRAIN, VAL, judges=ExactMatch(), optimizer_llm=FakeLLM(describer),
                 config=OptimizeConfig(strategies=("glossary",)), meta_prompt_dir=str(tmp_path), progress=False)
    assert not calls
