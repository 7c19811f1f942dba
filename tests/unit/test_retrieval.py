"""Retrieval demos (issue 26, item 4): BM25 ranking, no leakage, the wrapper in the loop and in the bench."""

import asyncio
import json
import re

import pytest
from bench_fakes import bench_llm_factory, write_parity_task
from fakes import GOOD_RULE, make_optimizer_llm

from promptlearn import ChatAgent, ConfigError, ExactMatch, FakeLLM, PromptOptimizer, RetrievalAgent
from promptlearn.bench import BenchConfig, load_task, resolve_methods, run_bench
from promptlearn.records import Candidate, Demo, Example
from promptlearn.retrieval import BM25Index

WORDS = {"food": ["pizza", "pasta", "dinner", "salad", "soup", "bread"],
         "weather": ["rain", "sunny", "forecast", "snow", "wind", "cloudy"],
         "music": ["song", "album", "playlist", "guitar", "jazz", "band"]}


def topic_examples(n, offset=0):
    labels = sorted(WORDS)
    out = []
    for i in range(offset, offset + n):
        label = labels[i % 3]
        words = WORDS[label]
        out.append(Example(id=f"t{i}", inputs={"text": f"{words[i % 6]} {words[(i // 3 + 1) % 6]} please {i}"},
                           reference=label))
    return out


def copy_nearest_demo(request):
    """A fake agent that answers what the last worked example in its system prompt answers ("food" if none)."""
    answers = re.findall(r"^Answer: (\w+)$", request.messages[0]["content"], flags=re.M)
    return answers[-1] if answers else "food"


def agent(handler=copy_nearest_demo):
    return ChatAgent(FakeLLM(handler), "{{ text }}", max_tokens=8)


def test_bm25_ranks_shared_rare_words_first_and_scores_no_overlap_zero():
    index = BM25Index(["pizza and pasta", "rain and snow", "pizza tonight", "and and and"])
    scores = index.scores("pizza with pasta")
    assert scores.index(max(scores)) == 0 and scores[2] > scores[1] == 0.0
    assert index.scores("") == [0.0] * 4 and BM25Index([]).scores("x") == []


def test_retrieves_nearest_training_examples_never_itself_and_keeps_the_candidate_id():
    train = topic_examples(12)
    wrapped = RetrievalAgent(agent(), train, k=3)
    near = wrapped.nearest(Example(id="q", inputs={"text": "pizza salad please"}, reference="food"))
    assert near[0].id == "t6" and all(e.reference == "food" for e in near)  # the same topic's words are nearest
    query = train[0]
    near = wrapped.nearest(query)
    assert len(near) == 3 and query not in near
    duplicate = Example(id="dup", inputs=dict(query.inputs), reference="food")
    assert all(e.inputs != query.inputs for e in wrapped.nearest(duplicate))  # same input text: never shown
    parent = Candidate.create("Topic?", demos=(Demo(example_id="t5", input="fixed", answer="music"),))
    shown = wrapped.candidate_for(parent, query)
    assert shown.id == parent.id and shown.demos[0].example_id == "t5"  # the candidate's own demos come first
    assert [d.example_id for d in shown.demos[1:]] == [e.id for e in reversed(near) if e.id != "t5"]  # nearest last
    rollout = asyncio.run(wrapped.arun(parent, query))
    assert rollout.candidate_id == parent.id and rollout.output == query.reference
    assert wrapped.max_tokens == 8  # the wrapped agent's capabilities show through
    with pytest.raises(ConfigError):
        RetrievalAgent(agent(), train, k=0)


def test_validation_and_test_examples_are_never_shown():
    train, held_out = topic_examples(12), topic_examples(9, offset=100)
    seen = []

    def record(request):
        seen.append(request.messages[0]["content"])
        return copy_nearest_demo(request)

    wrapped = RetrievalAgent(agent(record), train, k=4)
    result = PromptOptimizer(wrapped, ExactMatch(), optimizer_llm=FakeLLM(lambda r: "x")).evaluate("Topic?", held_out)
    assert result.mean == 1.0  # the nearest training example has the topic every time
    held_inputs = [e.inputs["text"] for e in held_out]
    assert seen and not any(text in prompt for prompt in seen for text in held_inputs)
    plain = PromptOptimizer(agent(), ExactMatch(), optimizer_llm=FakeLLM(lambda r: "x")).evaluate("Topic?", held_out)
    assert plain.mean == pytest.approx(1 / 3)


def test_bench_retrieval_methods_score_the_test_set_with_the_same_wrapper(tmp_path):
    task = load_task(write_parity_task(tmp_path / "task"))
    results = tmp_path / "results.jsonl"
    records = run_bench([task], resolve_methods(["seed", "seed+retrieval", "promptlearn+retrieval"]), results=results,
                        config=BenchConfig(budget=30, seeds=(0,), progress=False), make_llm=bench_llm_factory())
    by_method = {r["method"]: r for r in records}
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    assert by_method["seed+retrieval"]["details"]["retrieved_demos"] == 4 and by_method["seed+retrieval"]["rollouts"] == 0
    assert by_method["promptlearn+retrieval"]["details"]["retrieved_demos"] == 4
    assert 0 < by_method["promptlearn+retrieval"]["rollouts"] <= 30
    assert "retrieved_demos" not in by_method["seed"]["details"]
    # the seed prompt with demos is not the seed: its test run is its own, scored apart from the seed's
    assert by_method["seed+retrieval"]["seed_test"] == by_method["seed"]["test"]
    assert json.loads(results.read_text().splitlines()[1])["method"] == "seed+retrieval"


def test_wrappers_offer_the_capabilities_their_agent_declares():
    from promptlearn import FunctionAgent
    from promptlearn.agents import AnswerLine, Preflight
    from promptlearn.bench import CountingAgent

    chat = ChatAgent(FakeLLM(copy_nearest_demo), "{{ text }}", max_tokens=8, answer_pattern=r"Answer:\s*(.+)")
    plain = FunctionAgent(lambda candidate, example: "food")
    for wrapped in (chat, CountingAgent(chat), RetrievalAgent(CountingAgent(chat), topic_examples(6))):
        assert isinstance(wrapped, AnswerLine) and isinstance(wrapped, Preflight)
    for wrapped in (plain, CountingAgent(plain), RetrievalAgent(plain, topic_examples(6))):
        assert not isinstance(wrapped, AnswerLine) and not isinstance(wrapped, Preflight)


def test_the_retrieval_strategy_proposes_settings_and_leaves_old_ids_alone():
    import hashlib

    from promptlearn.proposers import ProposalContext
    from promptlearn.retrieval import RetrievalProposer

    parent = Candidate.create("Topic?")
    assert parent.id == "c-" + hashlib.sha256(b"Topic?").hexdigest()[:10]  # no retrieval: the id it always had
    context = ProposalContext(iteration=1, train=topic_examples(6), task_description="topics", output_contract=None)
    proposal = asyncio.run(RetrievalProposer().apropose(parent, [], context))
    sets = [proposal.child, *proposal.screen]
    assert [c.retrieve for c in sets] == [4, 2, 5]  # 8 capped at the pool less the example itself
    assert len({c.id for c in sets} | {parent.id}) == 4 and all(c.prompt == parent.prompt for c in sets)
    assert all(c.parent_ids == (parent.id,) and c.strategy == "retrieval" for c in sets)
    assert not RetrievalProposer().applicable(sets[0], [], context)  # already retrieving
    assert not RetrievalProposer().applicable(parent, [], ProposalContext(
        iteration=1, train=topic_examples(1), task_description="topics", output_contract=None))


def test_a_child_keeps_its_parents_retrieval_setting():
    from promptlearn.portfolio import keep_retrieval
    from promptlearn.records import Proposal, Rule

    parent = Candidate.create("Topic?").with_component("system", Candidate.create("Topic?").components["system"]
                                                       .model_copy(update={"retrieve": 4}))
    child = Candidate.create("Topic?", (Rule(id=1, text="Say the topic."),), parent_ids=(parent.id,), strategy="rules")
    kept = keep_retrieval(parent, Proposal(child=child, strategy="rules")).child
    assert kept.retrieve == 4 and kept.rules == child.rules and kept.id != child.id and kept.strategy == "rules"
    plain = Candidate.create("Topic?")
    assert keep_retrieval(plain, Proposal(child=child)).child is child


def test_the_loop_adopts_retrieval_when_validation_says_it_helps_and_evaluates_with_it():
    from promptlearn import Budget, OptimizeConfig

    train, val, test = topic_examples(12), topic_examples(9, offset=100), topic_examples(9, offset=200)
    config = OptimizeConfig(strategies=("retrieval",), screen_on="val", minibatch_size=6, max_iterations=2,
                            budget=Budget(max_rollouts=120), task_description="topics")
    optimizer = PromptOptimizer(agent(), ExactMatch(), optimizer_llm=FakeLLM(lambda r: "x"), config=config)
    result = optimizer.optimize("Topic?", train, val)
    assert result.best.retrieve in (2, 4, 8) and result.best_val == 1.0 and result.seed_val == pytest.approx(1 / 3)
    assert f"RetrievalAgent(agent, train, k={result.best.retrieve})" in result.summary()
    assert optimizer.evaluate(result.best, test).mean == 1.0  # scored as the loop scored it: with retrieval
    fresh = PromptOptimizer(agent(), ExactMatch(), optimizer_llm=FakeLLM(lambda r: "x"))
    with pytest.raises(ConfigError, match="RetrievalAgent"):
        fresh.evaluate(result.best, test)
    wrapped = PromptOptimizer(RetrievalAgent(agent(), train, k=None), ExactMatch(), optimizer_llm=FakeLLM(lambda r: "x"))
    assert wrapped.evaluate(result.best, test).mean == 1.0 and wrapped.evaluate("Topic?", test).mean < 1.0


def test_retrieval_goes_first_once_when_it_is_in_the_portfolio():
    """Rules accepted before retrieval was found were written without the examples in view: it gets round 1."""
    from promptlearn import Budget, OptimizeConfig

    train, val = topic_examples(12), topic_examples(9, offset=100)
    for seed, order in enumerate([("rules", "retrieval")] * 3 + [("retrieval", "rules")]):
        config = OptimizeConfig(strategies=order, screen_on="val", minibatch_size=6, max_iterations=3, seed=seed,
                                budget=Budget(max_rollouts=200), task_description="topics", patience=3)
        rewriter = make_optimizer_llm([GOOD_RULE])  # the rules strategy succeeds whenever it is chosen
        result = PromptOptimizer(agent(), ExactMatch(), optimizer_llm=rewriter, config=config).optimize(
            "Topic?", train, val)
        strategies = [r.strategy for r in result.history if r.strategy]
        assert strategies[0] == "retrieval" and strategies.count("retrieval") == 1, strategies
