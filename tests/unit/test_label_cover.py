"""The ``cover`` strategy: a worked example for every label of a classification contract; and ``hard_cases``,
the parent's failures added on top of such a set."""

import asyncio

import pytest

from promptlearn import ChatAgent, ExactMatch, FakeLLM, OptimizeConfig, optimize
from promptlearn.bench.registry import builtin_methods
from promptlearn.config import DEFAULT_STRATEGIES
from promptlearn.contracts import AnswerContract, infer_contract
from promptlearn.demo_sets import HardCasesProposer, LabelCoverProposer
from promptlearn.edits import FormatRepairProposer, MergeProposer, as_demo
from promptlearn.optimizer import build_proposers
from promptlearn.proposers import Case, ProposalContext
from promptlearn.records import Candidate, Example, Rollout, Rule

NAMES = ("zero", "one", "two", "three")


def residues(n: int, offset: int = 0) -> list[Example]:
    """A four-label task: the number's remainder when divided by four, as a word."""
    return [Example(id=f"r{i}", inputs={"number": i}, reference=NAMES[i % 4]) for i in range(offset, offset + n)]


TRAIN, VAL = residues(24), residues(12, 100)
LABELS = infer_contract(TRAIN)


def contract(kind, labels):
    return AnswerContract(kind=kind, instruction="Answer with a label.", labels=labels)


def context(contract=LABELS, train=TRAIN, iteration=1):
    return ProposalContext(iteration=iteration, train=train, task_description="remainder", output_contract=None,
                           contract=contract)


def propose(parent, ctx):
    return asyncio.run(LabelCoverProposer().apropose(parent, [], ctx))


def test_the_child_keeps_the_parents_demos_and_adds_one_example_of_each_missing_label():
    parent = Candidate.create("Name the remainder.", demos=(as_demo(TRAIN[0]),))  # shows "zero"
    proposal = propose(parent, context())
    child = proposal.child
    assert child is not None and child.demos[0] == parent.demos[0] and child.parent_ids == (parent.id,)
    assert sorted(d.answer for d in child.demos[1:]) == sorted(NAMES[1:])  # one per missing label, no repeat
    assert {d.example_id for d in child.demos} <= {e.id for e in TRAIN}  # training examples only
    assert child.strategy == "cover" and child.system_prompt == parent.system_prompt
    assert propose(parent, context()) == proposal  # deterministic: a resumed run replays it
    assert propose(parent, context(iteration=2)).child != child  # another round draws other examples


def test_the_child_restates_the_label_contract_as_the_prompts_last_line_once():
    parent = Candidate.create("Name the remainder.", rules=(Rule(id=3, text="Think about the last digit."),))
    child = propose(parent, context()).child
    assert child is not None and child.rules[0] == parent.rules[0]
    sentence = LABELS.instruction[0].upper() + LABELS.instruction[1:]
    assert [r.text for r in child.rules[1:]] == [sentence] and child.rules[1].id == 4
    assert child.rules[1].placement == "end" and child.rules[0].placement == "list"
    # after every worked example, the numbered rule still before them
    assert child.prompt.endswith("\n\n" + sentence)
    assert child.prompt.index("1. Think about the last digit.") < child.prompt.index("Examples:")
    assert {p.example_id for p in child.rules[1].provenance} == {d.example_id for d in child.demos}
    assert "restate the label set as the prompt's last line" in child.rationale
    # a parent that states it already (format repair got there first) keeps its rules as they are
    stated = Candidate.create("Name the remainder.", rules=(Rule(id=1, text=LABELS.instruction),))
    assert propose(stated, context()).child.rules == stated.rules
    # and the format strategy does not add it again to a cover child
    failures = [Case(example=e, rollout=Rollout(example_id=e.id, candidate_id=child.id, output="It is the number four"),
                     critiques=(), score=0.0, failure="explanation") for e in TRAIN[:4]]
    assert not FormatRepairProposer().applicable(child, failures, context())
    assert FormatRepairProposer().applicable(parent, failures, context())


def test_a_last_line_rule_renders_after_every_example_and_leaves_other_prompts_as_they_were():
    listed, last = Rule(id=1, text="Think about the last digit."), Rule(id=2, text="Reply with a label.", placement="end")
    demos = (as_demo(TRAIN[0]), as_demo(TRAIN[1]))
    plain = Candidate.create("Name the remainder.", rules=(listed,), demos=demos)
    # without "end" rules: the layout (and so every candidate id) of before placement existed
    assert plain.prompt == ("Name the remainder.\n\nRules:\n1. Think about the last digit.\n\nExamples:\n"
                            "Input: 0\nAnswer: zero\n\nInput: 1\nAnswer: one")
    # the end rule is not numbered, and a list rule after it in the tuple keeps number 1
    both = Candidate.create("Name the remainder.", rules=(last, listed.model_copy(update={"id": 3})), demos=demos)
    assert both.prompt == plain.prompt + "\n\nReply with a label."
    # what the dev probe scored (benchmarks/optimizer/contract_rule.py --place end) is the text the loop renders
    probe = Candidate.create("Name the remainder.", demos=demos)
    assert Candidate.create("Name the remainder.", rules=(last,), demos=demos).prompt == probe.prompt + "\n\n" + last.text
    # retrieved examples go before it too: it stays the last line, next to the input
    from promptlearn import RetrievalAgent
    wrapped = RetrievalAgent(ChatAgent(FakeLLM(lambda r: "zero"), "Remainder of {{ number }}"), TRAIN, k=2)
    shown = wrapped.candidate_for(Candidate.create("Name the remainder.", rules=(last,)), TRAIN[5])
    assert shown.prompt.endswith("\n\nReply with a label.") and shown.prompt.count("Input:") == 2


def test_merge_says_the_contract_once_when_one_parent_has_it_as_the_last_line():
    stated = Candidate.create("x", rules=(Rule(id=1, text=LABELS.instruction),))
    last = Rule(id=1, text=LABELS.instruction[0].upper() + LABELS.instruction[1:], placement="end")
    other = Candidate.create("x", rules=(last, Rule(id=2, text="When the number is 7, answer three.")))
    ctx = ProposalContext(iteration=2, train=TRAIN, task_description="", output_contract=None,
                          candidates={stated.id: stated, other.id: other},
                          pool={stated.id: {"v1": 1.0, "v2": 0.0}, other.id: {"v1": 0.0, "v2": 1.0}})
    merged = asyncio.run(MergeProposer().apropose(stated, [], ctx)).child
    assert merged is not None and [r.text for r in merged.rules] == [LABELS.instruction, other.rules[1].text]


def test_it_shows_only_training_examples_even_when_a_label_is_missing_there():
    only_zero = [e for e in TRAIN if e.reference == "zero"]
    child = propose(Candidate.create("Name the remainder."), context(train=only_zero)).child
    assert child is not None and [d.answer for d in child.demos] == ["zero"]
    assert {d.example_id for d in child.demos} <= {e.id for e in only_zero}


@pytest.mark.parametrize("kind,labels", [("labels", ("even", "odd")), ("option_letter", ("(A)", "(B)", "(C)")),
                                         ("labels", tuple(f"l{i}" for i in range(21)))])
def test_it_stands_aside_without_a_small_label_set(kind, labels):
    assert LabelCoverProposer().applicable(Candidate.create("x"), [], context())
    assert not LabelCoverProposer().applicable(Candidate.create("x"), [], context(contract=None))
    assert not LabelCoverProposer().applicable(Candidate.create("x"), [], context(contract=contract(kind, labels)))


def test_it_stands_aside_once_the_demos_show_every_label():
    covered = Candidate.create("x", demos=tuple(as_demo(e) for e in TRAIN[:4]))
    assert not LabelCoverProposer().applicable(covered, [], context())
    assert LabelCoverProposer().applicable(Candidate.create("x", demos=covered.demos[:3]), [], context())


def test_merge_keeps_a_cover_set_larger_than_max_demos_whole():
    parent = Candidate.create("x", demos=tuple(as_demo(e) for e in TRAIN[:4]))
    other = Candidate.create("x", demos=(as_demo(TRAIN[5]),))
    ctx = ProposalContext(iteration=2, train=TRAIN, task_description="", output_contract=None,
                          candidates={parent.id: parent, other.id: other},
                          pool={parent.id: {"v1": 1.0, "v2": 0.0}, other.id: {"v1": 0.0, "v2": 1.0}})
    child = asyncio.run(MergeProposer(max_demos=2).apropose(parent, [], ctx)).child
    assert child is None or child.demos == parent.demos  # nothing new to unite but the partner's demo: no child
    small = Candidate.create("x", demos=(as_demo(TRAIN[0]),))
    ctx = ProposalContext(iteration=2, train=TRAIN, task_description="", output_contract=None,
                          candidates={small.id: small, other.id: other},
                          pool={small.id: {"v1": 1.0, "v2": 0.0}, other.id: {"v1": 0.0, "v2": 1.0}})
    merged = asyncio.run(MergeProposer(max_demos=2).apropose(small, [], ctx)).child
    assert merged is not None and [d.example_id for d in merged.demos] == [TRAIN[0].id, TRAIN[5].id]
    # at the cap (no cover set) merge trims to the newest max_demos, as it did before cover existed
    full = Candidate.create("x", demos=(as_demo(TRAIN[0]), as_demo(TRAIN[1])))
    ctx = ProposalContext(iteration=2, train=TRAIN, task_description="", output_contract=None,
                          candidates={full.id: full, other.id: other},
                          pool={full.id: {"v1": 1.0, "v2": 0.0}, other.id: {"v1": 0.0, "v2": 1.0}})
    merged = asyncio.run(MergeProposer(max_demos=2).apropose(full, [], ctx)).child
    assert merged is not None and [d.example_id for d in merged.demos] == [TRAIN[1].id, TRAIN[5].id]


def number_of(request):
    """The number the agent's user message asks about ("Remainder of 7")."""
    return int(request.messages[-1]["content"].split()[-1])


def cover_agent(request):
    """Right only when the prompt shows a worked example of every label; otherwise always "zero"."""
    system = request.messages[0]["content"]
    if all(f"Answer: {name}" in system for name in NAMES):
        return NAMES[number_of(request) % 4]
    return "zero"


def run(strategies, optimizer_llm=None, handler=cover_agent):
    agent_llm = FakeLLM(handler, role="agent")
    agent = ChatAgent(agent_llm, "Remainder of {{ number }}")
    config = OptimizeConfig(strategies=strategies, max_iterations=1, minibatch_size=8, explain_failures=0)
    result = optimize(agent, "Name the remainder of the number divided by four.", TRAIN, VAL, judges=ExactMatch(),
                      optimizer_llm=optimizer_llm or FakeLLM(lambda r: pytest.fail("cover needs no rewriter")),
                      config=config, progress=False)
    return result, agent_llm.requests


def test_the_loop_tries_cover_first_and_keeps_it_when_it_works():
    result, _ = run(("rules", "demos", "cover"))  # the rewriter would fail the test if rules went first
    row = result.history[0]
    assert row.strategy == "cover" and row.accepted
    assert sorted(d.answer for d in result.best.demos) == sorted(NAMES)
    assert result.seed_val == 0.25 and result.best_val == 1.0


def test_the_report_shows_the_contract_as_the_last_line(tmp_path):
    from promptlearn.report import write_report

    result, _ = run(("cover",))
    assert result.best.rules[-1].placement == "end" and result.best_prompt.endswith(result.best.rules[-1].text)
    html = write_report(result, tmp_path / "report.html").read_text()
    assert "<td>last line</td>" in html


def test_validation_not_the_minibatch_tests_the_cover_set():
    result, requests = run(("rules", "demos", "cover"))
    row = result.history[0]
    assert row.child_minibatch is None and row.margin is None  # no paired minibatch test was run
    assert row.child_val == 1.0 and row.gained
    with_demos = [r for r in requests if "Answer: one" in r.messages[0]["content"]]
    assert sorted(number_of(r) for r in with_demos) == sorted(e.inputs["number"] for e in VAL)
    # seed on validation, parent on the minibatch, child on validation: nothing else
    assert result.usage["rollouts"] == len(VAL) + 8 + len(VAL)


def test_a_cover_set_that_loses_on_validation_is_not_kept():
    def confused_by_examples(request):  # right on even numbers without demos; always "zero" with them
        number = number_of(request)
        if "Answer: one" in request.messages[0]["content"] or number % 2:
            return "zero"
        return NAMES[number % 4]

    result, _ = run(("rules", "demos", "cover"), handler=confused_by_examples)
    row = result.history[0]
    assert row.strategy == "cover" and row.child_val == 0.25 and not row.gained
    assert row.outcome == "accepted, no validation gain"
    assert result.best.id == result.seed.id and result.best_val == 0.5


def test_cover_is_in_the_default_portfolio_and_needs_demos_allowed():
    assert "cover" in DEFAULT_STRATEGIES and "cover" in build_proposers(OptimizeConfig(), FakeLLM(lambda r: ""))
    assert "cover" not in build_proposers(OptimizeConfig(max_demos=0), FakeLLM(lambda r: ""))
    assert "cover" not in build_proposers(OptimizeConfig(strategies=("rules", "cover"), max_demos=0),
                                          FakeLLM(lambda r: ""))
    with pytest.raises(ValueError, match="leaves nothing to propose"):
        OptimizeConfig(strategies=("cover",), max_demos=0)
    method = builtin_methods()["promptlearn-cover"]
    # the cells were measured as the old default plus cover, which is today's default
    assert method.config is not None and method.config.strategies == DEFAULT_STRATEGIES
    assert DEFAULT_STRATEGIES[-1] == "cover"


def test_on_a_task_without_a_label_set_the_default_makes_the_choices_it_made_before_cover():
    """Broken-seed non-regression by construction: cover never applies to a two-label (or free-form) task, so
    adding it to the default portfolio leaves every round of such a run as it was."""
    from fakes import GOOD_RULE, JUDGE, make_agent, make_optimizer_llm, parity_examples

    from promptlearn.bench.registry import BEFORE_COVER

    def decisions(strategies):
        agent, _ = make_agent()
        config = OptimizeConfig(strategies=strategies, max_iterations=4, minibatch_size=6, seed=3)
        result = optimize(agent, "Say even or odd.", parity_examples(20), parity_examples(10, 100), judges=JUDGE,
                          optimizer_llm=make_optimizer_llm([GOOD_RULE]), config=config, progress=False)
        return [(r.strategy, r.accepted, r.child) for r in result.history], result.best.id

    assert decisions(None) == decisions(BEFORE_COVER)
    assert decisions(None)[0]  # the runs did rounds


def _failed(example):
    return Case(example=example, rollout=Rollout(example_id=example.id, candidate_id="c", output="wrong"),
                critiques=(), score=0.0)


def test_hard_cases_adds_failures_on_top_of_a_set_that_shows_every_label():
    cover = Candidate.create("Name the remainder.", demos=tuple(as_demo(e) for e in TRAIN[:4]))  # r0..r3
    proposer = HardCasesProposer(max_demos=3)
    misses = [_failed(TRAIN[9]), _failed(TRAIN[13]), _failed(TRAIN[6])]  # "one", "one", "two"
    child = asyncio.run(proposer.apropose(cover, misses, context())).child
    assert child.demos[:4] == cover.demos  # every label keeps its example
    assert [d.example_id for d in child.demos[4:]] == ["r9", "r6"]  # two per round, different answers
    assert child.strategy == "hard_cases" and {d.example_id for d in child.demos} <= {e.id for e in TRAIN}
    # One more fits under max_demos=3 extra; then the strategy stands aside.
    grandchild = asyncio.run(proposer.apropose(child, [_failed(TRAIN[13])], context(iteration=2))).child
    assert [d.example_id for d in grandchild.demos[4:]] == ["r9", "r6", "r13"]
    assert not proposer.applicable(grandchild, [_failed(TRAIN[17])], context(iteration=3))


def test_hard_cases_stands_aside_until_every_label_is_shown_and_on_other_contracts():
    proposer = HardCasesProposer(max_demos=4)
    partial = Candidate.create("x", demos=tuple(as_demo(e) for e in TRAIN[:3]))  # no "three" yet
    assert not proposer.applicable(partial, [_failed(TRAIN[9])], context())
    full = Candidate.create("x", demos=tuple(as_demo(e) for e in TRAIN[:4]))
    assert proposer.applicable(full, [_failed(TRAIN[9])], context())
    assert not proposer.applicable(full, [_failed(TRAIN[9])], context(contract=None))
    assert not proposer.applicable(full, [_failed(TRAIN[1])], context())  # its only failure is already shown
    assert "hard_cases" not in DEFAULT_STRATEGIES  # opt-in until measured


def test_hard_cases_joins_the_portfolio_only_when_named():
    rewriter = FakeLLM(lambda r: "unused")
    assert "hard_cases" not in build_proposers(OptimizeConfig(), rewriter)
    named = build_proposers(OptimizeConfig(strategies=(*DEFAULT_STRATEGIES, "hard_cases")), rewriter)
    assert isinstance(named["hard_cases"], HardCasesProposer)
    assert "hard_cases" not in build_proposers(OptimizeConfig(strategies=(*DEFAULT_STRATEGIES, "hard_cases"),
                                                              max_demos=0), rewriter)
    assert builtin_methods()["promptlearn-hardcases"].config.strategies == (*DEFAULT_STRATEGIES, "hard_cases")
