"""Every documented mode, selector, sampler and acceptance test runs one real round on the local models.

``mode="rewrite"`` used to kill Python (SIGSEGV) with the embedded models because the
rewrite schema's ``max_length=4000`` made a grammar llama.cpp refuses. Each case below is one
round (seed validation, parent and child minibatch, the decision) with a real agent and rewriter.
"""

import json
import subprocess
import sys

import pytest
from local_tasks import largest_number_task

from promptlearn import Budget, OptimizeConfig
from promptlearn.app.quickstart import SNIPS_TASK, make_optimizer, snips_task
from promptlearn.store import CONFIG_FILE, read_events

pytestmark = pytest.mark.local

AGENT = "local/qwen2.5-coder-0.5b"
# A weak seed, so the parent fails some minibatch examples and the rewriter has work to do.
WEAK_SEED = "Reply with the intent of the request."

REPRO = """
from pydantic import BaseModel, Field
import promptlearn as pl
class R(BaseModel):
    new_prompt: str = Field(max_length=4000)
out = pl.LLM("local/qwen2.5-coder-0.5b", cache="off").structured(
    [{"role": "user", "content": "Write a one-line system prompt as JSON."}], R, max_tokens=64)
print("OK", type(out).__name__)
"""


def test_the_issue_repro_no_longer_crashes_or_dumps_a_grammar(tmp_path):
    proc = subprocess.run([sys.executable, "-c", REPRO], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "OK R" in proc.stdout
    assert "error parsing grammar" not in proc.stderr and "::=" not in proc.stderr
    assert not (tmp_path / "off").exists()  # cache="off" means no cache file


CASES = [
    # mode, rewriter, selector, sampler, acceptance
    ("rewrite", "local/qwen2.5-coder-0.5b", "pareto", "epoch", "bootstrap"),
    ("rewrite", "local/qwen2.5-coder-1.5b", "best", "failures", "sign"),
    ("rules", "local/qwen2.5-coder-0.5b", "best", "epoch", "improvement"),
    ("rules", "local/qwen2.5-coder-0.5b", "pareto", "failures", "sign"),
    ("auto", "local/qwen2.5-coder-0.5b", "pareto", "failures", "bootstrap"),
]


@pytest.mark.parametrize("mode,rewriter,selector,sampler,acceptance", CASES)
def test_one_real_round(tmp_path, mode, rewriter, selector, sampler, acceptance):
    train, val, _ = snips_task(n_train=14, n_val=7, n_test=7, seed=2)
    config = OptimizeConfig(mode=mode, selector=selector, sampler=sampler, acceptance=acceptance, minibatch_size=5,
                            max_iterations=1, explain_failures=0, task_description=SNIPS_TASK,
                            budget=Budget(max_rollouts=40))
    optimizer = make_optimizer(AGENT, rewriter, config=config, cache=tmp_path / "cache.sqlite")
    result = optimizer.optimize(WEAK_SEED, train, val, run_dir=tmp_path / "run")
    assert len(result.history) == 1
    row = result.history[0]
    assert row["outcome"].split(" (")[0] in {"new best", "accepted, no validation gain", "rejected on minibatch",
                              "no valid proposal", "parent perfect on minibatch"}
    events = list(read_events(tmp_path / "run"))
    if row["outcome"] != "parent perfect on minibatch":
        proposal = next(e for e in events if e["type"] == "proposal")
        strategy = proposal["strategy"] or mode
        marker = {"rewrite": "Write an improved system prompt", "rules": "You write rules"}.get(strategy)
        if marker:  # the real meta-prompt of this strategy reached the real rewriter
            assert marker in proposal["meta_prompt"]
        assert proposal["child"] is not None or proposal["rejections"]
        assert mode == "auto" or strategy == mode
    policies = json.loads((tmp_path / "run" / CONFIG_FILE).read_text())["policies"]
    expected = {"rewrite": "rewrite:RewriteProposer", "rules": "rules:RulesetProposer"}.get(mode, "format:FormatRepair")
    assert policies["proposers"].startswith(expected)
    assert result.usage["rollouts"] <= 40


def one_round_without_rewriter(tmp_path, strategies, *, n_train=14, minibatch_size=5, max_rollouts=40, **config):
    """One real round of SNIPS (seed 2 split) with ``strategies``; skips when the seed solved the whole minibatch,
    since a strategy that learns from failures then has nothing to show. Returns (train, result, first round)."""
    train, val, _ = snips_task(n_train=n_train, n_val=7, n_test=7, seed=2)
    config = OptimizeConfig(strategies=strategies, minibatch_size=minibatch_size, max_iterations=1, explain_failures=0,
                            task_description=SNIPS_TASK, budget=Budget(max_rollouts=max_rollouts), **config)
    optimizer = make_optimizer(AGENT, "local/qwen2.5-coder-1.5b", config=config, cache=tmp_path / "cache.sqlite")
    result = optimizer.optimize(WEAK_SEED, train, val, run_dir=tmp_path / "run")
    row = result.history[0]
    if row["outcome"] == "parent perfect on minibatch":
        pytest.skip("the seed solved the whole minibatch; no failure to show")
    return train, result, row


def child_results(tmp_path, child_id):
    """The stored rollouts of candidate ``child_id`` in the run under ``tmp_path``."""
    return [e["result"] for e in read_events(tmp_path / "run")
            if e["type"] == "result" and e["key"].startswith(f"result/{child_id}/")]


def test_demos_strategy_chosen_by_name_shows_training_examples_to_the_real_agent(tmp_path):
    """``strategies=("demos",)``: the round's child adds worked examples the parent got wrong, all from the
    training split, and the real agent's requests for the child carry them; no rewriter call is made."""
    train, result, row = one_round_without_rewriter(tmp_path, ("demos",))
    assert row["strategy"] == "demos" and row["child"], row
    child = result.candidates[row["child"]]
    by_id = {e.id: e for e in train}
    assert child.demos and all(d.example_id in row["batch"] and d.answer == by_id[d.example_id].reference
                               for d in child.demos)
    results = child_results(tmp_path, child.id)
    assert len(results) >= 5  # the minibatch, and the validation set when the child was accepted
    assert all(r["rollout"]["trace"][0]["content"].endswith(f"Answer: {child.demos[-1].answer}") for r in results)
    assert result.usage_by_role.get("optimizer", {}).get("calls", 0) == 0


def test_demo_search_screens_demo_sets_on_the_real_agent(tmp_path):
    """``strategies=("demo_search",)``: one round screens several demo sets on the real 0.5B (successive halving on
    training minibatches), tests the survivor against the parent on every example it ran on, and spends
    exactly the rollouts it reports; no rewriter call is made."""
    train, result, row = one_round_without_rewriter(tmp_path, ("demo_search",), minibatch_size=4, max_rollouts=60,
                                                    demo_sets=3)
    assert row["strategy"] == "demo_search" and row["screened"] == 3 and row["child"], row
    child = result.candidates[row["child"]]
    train_ids = {e.id for e in train}
    assert child.demos and all(d.example_id in train_ids for d in child.demos)
    rollouts = [e for e in read_events(tmp_path / "run") if e["type"] == "result"]
    # seed on validation (7), three sets on the minibatch (12), two on fresh examples (8), the parent on both (8),
    # and the survivor's validation when it was accepted (7)
    assert len(rollouts) == result.usage["rollouts"] == 7 + 12 + 8 + 8 + (7 if row["accepted"] else 0)
    assert result.usage_by_role.get("optimizer", {}).get("calls", 0) == 0


def test_cover_shows_the_real_agent_a_worked_example_of_every_label(tmp_path):
    """``strategies=("rules", "cover")``: cover goes first, with no rewriter call; its child shows one training
    example for each label of the inferred contract the training split holds and restates the contract as the
    prompt's last line, is tested on the validation set (not the minibatch), and the real agent's requests for the
    child carry both."""
    # 20 training examples: few enough labels per example to infer a label set
    train, result, row = one_round_without_rewriter(tmp_path, ("rules", "cover"), n_train=20)
    assert row["strategy"] == "cover" and row["child"], row
    child = result.candidates[row["child"]]
    by_id = {e.id: e for e in train}
    assert sorted(d.answer for d in child.demos) == sorted({str(e.reference) for e in train})
    assert all(d.example_id in by_id and d.answer == by_id[d.example_id].reference for d in child.demos)
    results = child_results(tmp_path, child.id)
    assert row.get("child_minibatch") is None and row.get("child_val") is not None
    assert sorted(r["rollout"]["example_id"] for r in results) == sorted(result.val_scores[result.seed.id])
    assert all(all(f"Answer: {d.answer}" in r["rollout"]["trace"][0]["content"] for d in child.demos)
               for r in results)
    # and the label contract restated as the prompt's last line, after the examples, in every request for the child
    sentence = "R" + result.output_contract[1:]
    assert [r.text for r in child.rules] == [sentence] and result.output_contract.startswith("reply with")
    assert all(r["rollout"]["trace"][0]["content"].endswith(f"Answer: {child.demos[-1].answer}\n\n{sentence}")
               for r in results)
    assert result.usage_by_role.get("optimizer", {}).get("calls", 0) == 0


def test_hard_cases_adds_the_real_agents_failures_on_top_of_a_full_label_set(tmp_path):
    """``strategies=("hard_cases",)``: from a seed that already shows one training example of every label, the
    round's child keeps them all and adds training inputs the real 0.5B got wrong, with their references; no
    rewriter call is made."""
    from promptlearn.edits import as_demo
    from promptlearn.records import Candidate

    train, val, _ = snips_task(n_train=20, n_val=7, n_test=7, seed=2)
    first = {}
    for e in train:
        first.setdefault(str(e.reference), e)
    seed = Candidate.create(WEAK_SEED, demos=tuple(as_demo(e) for e in first.values()))
    config = OptimizeConfig(strategies=("hard_cases",), minibatch_size=5, max_iterations=1, explain_failures=0,
                            task_description=SNIPS_TASK, budget=Budget(max_rollouts=40))
    optimizer = make_optimizer(AGENT, "local/qwen2.5-coder-1.5b", config=config, cache=tmp_path / "cache.sqlite")
    result = optimizer.optimize(seed, train, val, run_dir=tmp_path / "run")
    row = result.history[0]
    if row["outcome"] == "parent perfect on minibatch":
        pytest.skip("the seed solved the whole minibatch; no failure to show")
    assert row["strategy"] == "hard_cases" and row["child"], row
    child = result.candidates[row["child"]]
    by_id = {e.id: e for e in train}
    assert child.demos[:len(seed.demos)] == seed.demos and len(child.demos) > len(seed.demos)
    added = child.demos[len(seed.demos):]
    assert all(d.example_id in row["batch"] and d.answer == by_id[d.example_id].reference for d in added)
    assert all(f"Answer: {added[-1].answer}" in r["rollout"]["trace"][0]["content"]
               for r in child_results(tmp_path, child.id))
    assert result.usage_by_role.get("optimizer", {}).get("calls", 0) == 0


def test_glossary_has_the_real_rewriter_describe_each_label(tmp_path):
    """``strategies=("rules", "glossary")``: glossary goes first; the real 1.5B writes one line for each label of
    the inferred contract (one call per label), the child is the seed plus that block, it is tested on the
    validation set (not the minibatch), and the real agent's requests for the child carry the block."""
    from promptlearn.glossary import GLOSSARY_HEADER

    train, result, row = one_round_without_rewriter(tmp_path, ("rules", "glossary"), n_train=20)
    assert row["strategy"] == "glossary" and row["child"], row
    child = result.candidates[row["child"]]
    labels = sorted({str(e.reference) for e in train})
    block = child.system_prompt.split(GLOSSARY_HEADER, 1)[1].strip().splitlines()
    assert child.system_prompt.startswith(WEAK_SEED) and 3 <= len(block) <= len(labels)
    assert all(line.startswith("- ") and line[2:].split(":", 1)[0] in labels and len(line.split()) > 3
               for line in block), block
    assert result.usage_by_role["optimizer"]["calls"] == len(labels)
    results = child_results(tmp_path, child.id)
    assert row.get("child_minibatch") is None and row.get("child_val") is not None
    assert sorted(r["rollout"]["example_id"] for r in results) == sorted(result.val_scores[result.seed.id])
    assert all(GLOSSARY_HEADER in r["rollout"]["trace"][0]["content"] for r in results)


def test_prune_leaves_each_rule_out_on_the_real_agent(tmp_path):
    """``strategies=("prune",)``: one round screens the seed without each of its two rules on the real 0.5B and
    records both rules' measured contributions; no rewriter call is made."""
    from promptlearn import Candidate, Rule

    train, val, _ = snips_task(n_train=14, n_val=7, n_test=7, seed=2)
    seed = Candidate.create(WEAK_SEED, (Rule(id=1, text="Answer with only the intent label."),
                                        Rule(id=2, text="Requests about songs or playlists are about music.")))
    config = OptimizeConfig(strategies=("prune",), minibatch_size=4, max_iterations=1, explain_failures=0,
                            task_description=SNIPS_TASK, budget=Budget(max_rollouts=40))
    optimizer = make_optimizer(AGENT, "local/qwen2.5-coder-1.5b", config=config, cache=tmp_path / "cache.sqlite")
    result = optimizer.optimize(seed, train, val, run_dir=tmp_path / "run")
    row = result.history[0]
    if row["outcome"] == "parent perfect on minibatch":
        pytest.skip("the seed solved the whole minibatch; nothing to screen")
    assert row["strategy"] == "prune" and row["screened"] == 2
    assert set(row["rule_contributions"]) == {r.text for r in seed.rules}
    assert result.usage_by_role.get("optimizer", {}).get("calls", 0) == 0


def test_auto_mode_repairs_a_format_broken_seed_with_the_real_agent(tmp_path):
    """The 0.5B explains instead of giving the option letter (0% with "Answer the question."); the first
    round's proposal states the contract inferred from the references, with no rewriter call."""
    from promptlearn import LLM, ChatAgent, ExactMatch, PromptOptimizer

    examples = largest_number_task(26)
    train, val = examples[:16], examples[16:]
    llm = LLM(AGENT, cache=tmp_path / "cache.sqlite")
    optimizer = PromptOptimizer(ChatAgent(llm, "{{ input }}\nAnswer:", max_tokens=16), ExactMatch(),
                                optimizer_llm=llm, config=OptimizeConfig(minibatch_size=10, max_iterations=1,
                                                                         explain_failures=0))
    result = optimizer.optimize("Answer the question.", train, val)
    row = result.history[0]
    assert row["strategy"] == "format" and row["format_failures"] >= 3
    assert row["accepted"] and result.best_val > result.seed_val
    assert "letter of the correct option, in parentheses" in result.best_prompt
    assert result.usage_by_role.get("optimizer", {}).get("calls", 0) == 0  # no rewriter call was needed
    gain = result.val_gain()  # the repair's evidence, paired over the 10 validation examples the real agent ran
    assert gain.n == len(val) and gain.better > gain.worse and gain.gain == pytest.approx(result.best_val - result.seed_val)
    assert f"{gain.better} better / {gain.worse} worse" in result.summary()


def three_number_sums():
    """Ten "What is a + b + c?" examples with their sums as references."""
    from promptlearn import Example

    sums = [(17, 25, 8), (46, 38, 11), (29, 57, 14), (63, 19, 22), (35, 48, 27), (52, 16, 39), (24, 67, 13),
            (58, 33, 21), (41, 29, 36), (14, 72, 45)]
    return [Example(id=f"s{i}", inputs={"input": f"What is {a} + {b} + {c}?"}, reference=str(a + b + c))
            for i, (a, b, c) in enumerate(sums)]


def test_reasoning_strategy_runs_in_the_loop_with_the_real_agent(tmp_path):
    """The reasoning strategy through the loop: an agent with answer extraction and room to think gets the
    "work it out, then Answer: X" rule, and the child's rollouts are judged on the extracted answer."""
    from promptlearn import LLM, ChatAgent, NumericTolerance, PromptOptimizer
    from promptlearn.edits import ANSWER_LINE_PATTERN, REASONING_INSTRUCTION, ReasoningProposer
    from promptlearn.records import ExampleResult

    examples = three_number_sums()
    agent = ChatAgent(LLM(AGENT, cache=tmp_path / "cache.sqlite"), "{{ input }}", max_tokens=96,
                      answer_pattern=ANSWER_LINE_PATTERN)
    optimizer = PromptOptimizer(agent, NumericTolerance(), proposer=ReasoningProposer(),
                                config=OptimizeConfig(minibatch_size=4, max_iterations=1, explain_failures=0))
    result = optimizer.optimize("Answer with only the number.", examples[:6], examples[6:], run_dir=tmp_path / "run")
    row = result.history[0]
    if row["outcome"] == "parent perfect on minibatch":
        pytest.skip("the seed solved the whole minibatch; nothing for the reasoning strategy to do")
    assert row["strategy"] == "reasoning" and row["child"]
    assert result.candidates[row["child"]].rules[-1].text == REASONING_INSTRUCTION
    child = [ExampleResult.model_validate(e["result"]) for e in read_events(tmp_path / "run")
             if e["type"] == "result" and e["key"].startswith(f"result/{row['child']}/")]
    assert len(child) >= 4 and all(r.rollout.error is None for r in child)
    assert all(r.rollout.output == agent.answer(r.rollout.trace[-1]["content"]) for r in child)


def test_format_repair_restates_a_format_the_seed_states_but_the_real_agent_breaks(tmp_path):
    """A competent seed ends with the contract's own sentence, yet the 0.5B answers "(B) 49" (the letter, then
    the option): the format strategy repeats the sentence as rule 1, and validation keeps it."""
    from promptlearn import LLM, ChatAgent, ExactMatch, PromptOptimizer
    from promptlearn.contracts import infer_contract
    from promptlearn.edits import FormatRepairProposer

    examples = largest_number_task(26)
    train, val = examples[:16], examples[16:]
    contract = infer_contract(train)
    seed = "Pick the largest number. " + contract.instruction
    optimizer = PromptOptimizer(ChatAgent(LLM(AGENT, cache=tmp_path / "cache.sqlite"), "{{ input }}", max_tokens=16),
                                ExactMatch(), proposer=FormatRepairProposer(),
                                config=OptimizeConfig(minibatch_size=10, max_iterations=1, explain_failures=0))
    result = optimizer.optimize(seed, train, val)
    row = result.history[0]
    assert row["strategy"] == "format" and row["format_failures"] >= 3, row
    assert "restated as a rule" in result.candidates[row["child"]].rationale
    assert row["accepted"] and result.best_val > result.seed_val
    assert [r.text for r in result.best.rules] == [contract.instruction]


def test_format_repair_keeps_the_working_of_a_reasoning_agent(tmp_path):
    """An agent with an answer line pattern and room to reason gets the reasoning form of the contract from format
    repair ("work it out, then 'Answer: X' where X is only the number"), not "no working", and the real 0.5B then
    writes the answer line the pattern extracts."""
    from promptlearn import LLM, ChatAgent, ExactMatch, PromptOptimizer
    from promptlearn.edits import ANSWER_LINE_PATTERN, FormatRepairProposer
    from promptlearn.records import ExampleResult

    examples = three_number_sums()
    agent = ChatAgent(LLM(AGENT, cache=tmp_path / "cache.sqlite"), "{{ input }}", max_tokens=128,
                      answer_pattern=ANSWER_LINE_PATTERN)
    optimizer = PromptOptimizer(agent, ExactMatch(), proposer=FormatRepairProposer(),
                                config=OptimizeConfig(minibatch_size=4, max_iterations=1, explain_failures=0))
    result = optimizer.optimize("Explain how to solve it.", examples[:6], examples[6:], run_dir=tmp_path / "run")
    assert result.output_contract.startswith("Work the problem out step by step")
    row = result.history[0]
    assert row["strategy"] == "format" and row["child"], row
    assert result.candidates[row["child"]].rules[-1].text == result.output_contract
    results = [ExampleResult.model_validate(e["result"]) for e in read_events(tmp_path / "run") if e["type"] == "result"]

    def answer_lines(candidate_id):  # rollouts on the round's minibatch that wrote the line the pattern extracts
        return sum("Answer:" in r.rollout.trace[-1]["content"] for r in results
                   if r.rollout.candidate_id == candidate_id and r.rollout.example_id in row["batch"])

    # The 0.5B reasons verbosely (often past 128 tokens), so not every child rollout reaches its answer line.
    assert answer_lines(row["child"]) > answer_lines(row["parent"]), [r.rollout.trace[-1]["content"] for r in results]


def test_retrieval_demos_show_the_nearest_training_examples_to_the_real_agent(tmp_path):
    """``RetrievalAgent`` around the real 0.5B: one optimisation round where every rollout's system prompt shows
    the four training examples nearest its input (never a validation example, never itself); on validation the
    labelled seed with retrieved demos scores at least what it scores without them (SNIPS seed 0, 140 test
    examples in the core suite: 56.4% -> 80.7%)."""
    from promptlearn import RetrievalAgent
    from promptlearn.app.quickstart import SNIPS_SEED_PROMPT

    train, val, _ = snips_task(n_train=21, n_val=10, n_test=7, seed=2)
    config = OptimizeConfig(minibatch_size=4, max_iterations=1, explain_failures=0, task_description=SNIPS_TASK,
                            budget=Budget(max_rollouts=30))
    optimizer = make_optimizer(AGENT, "local/qwen2.5-coder-1.5b", config=config, cache=tmp_path / "cache.sqlite")
    plain = optimizer.evaluate(SNIPS_SEED_PROMPT, val).mean
    optimizer.agent = RetrievalAgent(optimizer.agent, train, k=4)
    result = optimizer.optimize(SNIPS_SEED_PROMPT, train, val, run_dir=tmp_path / "run")
    assert result.history and result.usage["rollouts"] <= 30 + 10
    val_inputs = {e.inputs["text"] for e in val}
    train_inputs = {e.inputs["text"] for e in train}
    results = [e["result"] for e in read_events(tmp_path / "run") if e["type"] == "result"]
    assert len(results) == result.usage["rollouts"]
    for event in results:
        system = event["rollout"]["trace"][0]["content"]
        shown = [line.removeprefix("Input: ") for line in system.splitlines() if line.startswith("Input: ")]
        assert len(shown) >= 4 and set(shown) <= train_inputs and not set(shown) & val_inputs
        own = event["rollout"]["trace"][1]["content"].removeprefix("Request: ").split("\n")[0]
        assert own not in shown[-4:]  # the retrieved four come last (a demos-strategy child may show its own)
    assert result.seed_val >= plain, (result.seed_val, plain)


def test_the_retrieval_strategy_screens_settings_on_the_real_agent(tmp_path):
    """``strategies=("retrieval",)``: one round screens 4, 2 and 8 retrieved examples per input on the real 0.5B
    (the optimizer wraps its agent), no rewriter call is made, and the best candidate evaluates with its setting."""
    train, val, test = snips_task(n_train=14, n_val=7, n_test=7, seed=2)
    config = OptimizeConfig(strategies=("retrieval",), minibatch_size=4, max_iterations=1, explain_failures=0,
                            task_description=SNIPS_TASK, budget=Budget(max_rollouts=60))
    optimizer = make_optimizer(AGENT, "local/qwen2.5-coder-1.5b", config=config, cache=tmp_path / "cache.sqlite")
    result = optimizer.optimize(WEAK_SEED, train, val, run_dir=tmp_path / "run")
    row = result.history[0]
    if row["outcome"] == "parent perfect on minibatch":
        pytest.skip("the seed solved the whole minibatch; nothing to screen")
    assert row["strategy"] == "retrieval" and row["screened"] == 3 and row["child"], row
    assert result.candidates[row["child"]].retrieve in (2, 4, 8)
    results = [e["result"] for e in read_events(tmp_path / "run") if e["type"] == "result"]
    shown = {r["rollout"]["candidate_id"]: r["rollout"]["trace"][0]["content"].count("\nInput: ")
             for r in results if "Examples:" in r["rollout"]["trace"][0]["content"]}
    assert sorted(shown.values()) == [2, 4, 8]  # the three settings screened, each showing that many examples
    assert result.usage_by_role.get("optimizer", {}).get("calls", 0) == 0
    assert 0.0 <= optimizer.evaluate(result.best, test).mean <= 1.0


def test_the_data_summary_reaches_the_real_rewriter(tmp_path):
    """OptimizeConfig(data_summary=True): the rules meta-prompt the real 1.5B reads describes the training split."""
    train, val, _ = snips_task(n_train=14, n_val=7, n_test=7, seed=2)
    config = OptimizeConfig(mode="rules", data_summary=True, minibatch_size=5, max_iterations=1, explain_failures=0,
                            task_description=SNIPS_TASK, budget=Budget(max_rollouts=40))
    optimizer = make_optimizer(AGENT, "local/qwen2.5-coder-1.5b", config=config, cache=tmp_path / "cache.sqlite")
    result = optimizer.optimize(WEAK_SEED, train, val, run_dir=tmp_path / "run")
    proposals = [e for e in read_events(tmp_path / "run") if e["type"] == "proposal"]
    assert proposals or result.history[0]["outcome"] == "parent perfect on minibatch"
    for proposal in proposals:
        assert "What its training data looks like: 14 training examples." in proposal["meta_prompt"]
        assert proposal["child"] is not None or proposal["rejections"]


class _OneWordChild:
    """Offers a child that answers every request with one word, tested on validation directly (as cover is)."""

    name = "one_word"

    async def apropose(self, parent, cases, context):
        from promptlearn.records import Candidate, Proposal

        child = Candidate.create("Whatever the request, reply with exactly this one word: banana", parent_ids=(parent.id,))
        return Proposal(child=child, strategy=self.name, validate_directly=True)


def test_the_futility_policy_stops_a_losing_childs_validation_pass_on_the_real_agent(tmp_path):
    """``validation="futility"``: a child the real 0.5B answers "banana" with trails the competent seed on the first
    half of a 16-example validation set, so its pass stops there (8 rollouts, not 16); it joins no pool and the
    seed stays the best. The full pass runs the same child on all 16."""
    from promptlearn import ExactMatch, PromptOptimizer
    from promptlearn.app.quickstart import SNIPS_SEED_PROMPT
    from promptlearn.strategies import FutilityStop

    train, val, _ = snips_task(n_train=14, n_val=16, n_test=7, seed=2)
    reached = {}
    for policy in ("futility", "full"):
        config = OptimizeConfig(minibatch_size=5, max_iterations=1, explain_failures=0, validation=policy,
                                budget=Budget(max_rollouts=60))
        agent = make_optimizer(AGENT, AGENT, config=config, cache=tmp_path / "cache.sqlite").agent
        optimizer = PromptOptimizer(agent, [ExactMatch()], proposer=_OneWordChild(), config=config)
        result = optimizer.optimize(SNIPS_SEED_PROMPT, train, val, run_dir=tmp_path / policy)
        (row,) = result.history
        if row["outcome"] == "parent perfect on minibatch":
            pytest.skip("the seed solved the whole minibatch; no round to test")
        assert result.seed_val >= 0.3, "the competent seed should beat a one-word answer by a wide margin"
        ran = [e["result"]["rollout"]["example_id"] for e in read_events(tmp_path / policy)
               if e["type"] == "result" and e["key"].startswith(f"result/{row['child']}/")]
        reached[policy] = ran
        stopped = row["outcome"].startswith("stopped after 8 of 16 validation examples")
        assert stopped == (policy == "futility") and (row["child"] in result.val_scores) == (policy == "full"), row
        assert result.best.id == result.seed.id and result.usage["rollouts"] == 16 + 5 + len(ran)
    assert reached["futility"] and sorted(reached["futility"]) == sorted(FutilityStop().order([e.id for e in val])[:8])
    assert len(reached["full"]) == 16
