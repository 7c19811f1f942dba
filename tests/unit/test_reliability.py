"""Reliability: no crash, no silent lie on resume, config errors stop the run, hangs end, secrets stay out."""

import asyncio
import json
import multiprocessing
import threading
import time

import pytest
from fakes import GOOD_RULE, JUDGE, make_agent, make_optimizer_llm, parity_examples

from promptlearn import (
    Budget,
    ChatAgent,
    ExactMatch,
    FakeLLM,
    FunctionJudge,
    NumericTolerance,
    OptimizeConfig,
    optimize,
)
from promptlearn.errors import ConfigError, LLMCallError, RunError
from promptlearn.llm import TransientError
from promptlearn.llm.backends import MAX_GRAMMAR_REPEAT, grammar_safe_schema, is_transient
from promptlearn.store import EVENTS_FILE, RESULT_FILE, RunStore, scan_events

TRAIN, VAL = parity_examples(20), parity_examples(10, 100)
CFG = OptimizeConfig(max_iterations=3, minibatch_size=4)


def run(run_dir=None, resume=False, train=TRAIN, val=VAL, judges=JUDGE, agent=None, config=CFG, **kw):
    agent = agent or make_agent()[0]
    return optimize(agent, "Answer even or odd.", train, val, judges=judges, optimizer_llm=make_optimizer_llm([GOOD_RULE]),
                    config=config, run_dir=run_dir, resume=resume, progress=False, **kw)


# ---------------------------------------------------------------- 1. schemas the local backend can compile

def test_grammar_safe_schema_drops_only_limits_llama_cpp_cannot_compile():
    from pydantic import BaseModel, Field

    class R(BaseModel):
        analysis: str = Field(max_length=400)
        new_prompt: str = Field(max_length=4000)

    schema = grammar_safe_schema(R.model_json_schema())
    assert schema["properties"]["analysis"]["maxLength"] == 400
    assert "maxLength" not in schema["properties"]["new_prompt"]
    assert MAX_GRAMMAR_REPEAT >= 400


def test_structured_output_error_from_backend_is_not_retried():
    from promptlearn.errors import StructuredOutputError

    calls = []

    def handler(request):
        calls.append(1)
        raise StructuredOutputError("fake", "R", 0, "llama.cpp rejected the grammar", "")

    llm = FakeLLM(handler, max_retries=3)
    with pytest.raises(StructuredOutputError, match="rejected the grammar"):
        llm.complete("hi")
    assert len(calls) == 1


# ---------------------------------------------------------------- 2. resume never silently uses wrong records

def test_unreadable_middle_line_is_skipped_and_reported_not_the_records_after_it(tmp_path, caplog):
    first = run(tmp_path / "r")
    events = tmp_path / "r" / EVENTS_FILE
    lines = events.read_text().splitlines(keepends=True)
    lines.insert(3, "{this is not json\n")
    events.write_text("".join(lines))
    scan = scan_events(tmp_path / "r")
    assert scan.bad_lines == [4]
    assert len(scan.events) == len(lines) - 1  # every later record is still there

    agent, agent_llm = make_agent()
    with caplog.at_level("WARNING", logger="promptlearn"):
        second = run(tmp_path / "r", resume=True, agent=agent)
    assert "skipped 1 unreadable line(s) (line 4)" in caplog.text
    assert agent_llm.requests == []  # nothing redone: the records after the bad line were used
    assert second.best.id == first.best.id


def test_a_stored_record_that_cannot_be_read_is_redone_with_its_line_named(tmp_path, caplog):
    run(tmp_path / "r")
    events = tmp_path / "r" / EVENTS_FILE
    lines = events.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if '"type": "result"' in line)
    broken = json.loads(lines[index])
    broken["result"] = {"nonsense": True}
    lines[index] = json.dumps(broken) + "\n"
    events.write_text("".join(lines))
    agent, agent_llm = make_agent()
    with caplog.at_level("WARNING", logger="promptlearn"):
        run(tmp_path / "r", resume=True, agent=agent)
    assert f"{EVENTS_FILE}:{index + 1}" in caplog.text
    assert len(agent_llm.requests) == 1  # exactly that rollout was redone


def test_resume_with_changed_labels_is_refused_naming_what_changed(tmp_path):
    run(tmp_path / "r")
    flipped = [e.model_copy(update={"reference": "odd" if e.reference == "even" else "even"}) for e in VAL]
    with pytest.raises(ConfigError, match="validation examples differ"):
        run(tmp_path / "r", resume=True, val=flipped)


@pytest.mark.parametrize("change,part", [
    (dict(judges=ExactMatch(case_sensitive=True)), "judges"),
    (dict(config=OptimizeConfig(max_iterations=3, minibatch_size=5)), "loop settings"),
])
def test_resume_with_other_judges_or_settings_is_refused(tmp_path, change, part):
    run(tmp_path / "r")
    with pytest.raises(ConfigError, match=part):
        run(tmp_path / "r", resume=True, **change)


def test_resume_with_a_larger_budget_is_allowed(tmp_path):
    run(tmp_path / "r", config=OptimizeConfig(max_iterations=3, minibatch_size=4, budget=Budget(max_rollouts=14)))
    result = run(tmp_path / "r", resume=True, config=OptimizeConfig(max_iterations=3, minibatch_size=4,
                                                                    budget=Budget(max_rollouts=200)))
    assert result.usage["rollouts"] > 14


def _hold_run_dir(path, ready, release):
    store = RunStore(path)
    ready.set()
    release.wait(20)
    store.close()


def test_a_second_process_on_the_same_run_dir_gets_a_clear_error(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_run_dir, args=(str(tmp_path / "r"), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(ConfigError, match=rf"in use by another promptlearn process \(pid {holder.pid}\)"):
            RunStore(tmp_path / "r", resume=True)
    finally:
        release.set()
        holder.join(30)
    RunStore(tmp_path / "r", resume=True).close()  # free again once the holder is gone


def test_concurrent_json_writers_never_collide_or_expose_an_empty_file(tmp_path):
    store = RunStore(tmp_path / "r")
    errors, seen = [], []

    def writer(n):
        try:
            for i in range(40):
                store.write_json(RESULT_FILE, {"writer": n, "i": i, "pad": "x" * 2000})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def reader():
        for _ in range(200):
            path = tmp_path / "r" / RESULT_FILE
            if path.exists():
                seen.append(path.read_text())

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert errors == []
    assert all(text and json.loads(text)["pad"] for text in seen)
    assert not list((tmp_path / "r").glob("*.tmp"))


# ---------------------------------------------------------------- 3. configuration errors stop the run

@pytest.mark.parametrize("user_template,seed,match", [
    ("Is it even? {{ value }}", "Answer even or odd.", r"user template needs \['value'\]"),
    ("Is it even? {{ number }}", "Answer in {{ lang }}.", r"system prompt needs \['lang'\]"),
    ("Is it even? {{ number }}", "{% if formal %}Please answer.{% endif %} Even or odd.", "system prompt needs"),
    ("Is it even? {{ number }", "Answer.", "not a valid jinja2 template"),
])
def test_templates_that_cannot_render_fail_before_any_call(user_template, seed, match):
    agent_llm = FakeLLM(lambda r: "even", role="agent")
    opt = make_optimizer_llm([GOOD_RULE])
    with pytest.raises(ConfigError, match=match):
        optimize(ChatAgent(agent_llm, user_template), seed, TRAIN, VAL, judges=JUDGE, optimizer_llm=opt,
                 progress=False)
    assert agent_llm.requests == [] and opt.requests == []


def test_judge_that_raises_on_every_example_stops_the_run():
    def broken(example, output):
        raise KeyError("label")

    opt = make_optimizer_llm([GOOD_RULE])
    with pytest.raises(RunError, match="judge 'broken' failed on every seed rollout"):
        run(judges=FunctionJudge(broken))
    assert opt.requests == []


def test_function_judge_returning_nan_stops_the_run():
    with pytest.raises(RunError, match="returned score nan"):
        run(judges=FunctionJudge(lambda e, o: float("nan"), name="nan_judge"))


def test_judge_failing_on_some_examples_is_per_example_data():
    def picky(example, output):
        if example.inputs["number"] % 5 == 0:
            raise ValueError("cannot judge multiples of five")
        return output == example.reference

    result = run(judges=FunctionJudge(picky))
    failed = [r for r in result.val_results[result.seed.id].values() if r.critiques[0].error]
    assert failed and all("multiples of five" in r.critiques[0].error for r in failed)


def test_numeric_judge_on_text_labels_fails_before_any_call():
    with pytest.raises(ConfigError, match="compares numbers.*'even'"):
        run(judges=NumericTolerance())


def test_parse_returning_a_non_string_stops_the_run():
    agent = ChatAgent(FakeLLM(lambda r: "even", role="agent"), "Is it even? {{ number }}", parse=lambda t: 1)
    with pytest.raises(RunError, match="parse returned int, not a string"):
        run(agent=agent)


def test_library_judge_missing_a_field_fails_before_any_call():
    from promptlearn.judges import load

    judge_llm = FakeLLM(lambda r: "{}", role="judge")
    with pytest.raises(ConfigError, match="needs 'criteria'"):
        run(judges=load("criteria", judge_llm))
    assert judge_llm.requests == []


# ---------------------------------------------------------------- 4. hung agents and backends

def test_hung_sync_agent_times_out_and_optimize_returns():
    release = threading.Event()

    def agent_fn(candidate, example):
        if example.inputs["number"] in (100, 101, 102):
            release.wait(60)  # hangs far past the timeout
        return "even" if "divisible by two" in candidate.prompt and example.inputs["number"] % 2 == 0 else "even"

    from promptlearn import FunctionAgent

    agent = FunctionAgent(agent_fn, timeout_s=0.5, max_workers=3)
    start = time.monotonic()
    try:
        result = run(agent=agent, config=OptimizeConfig(max_iterations=1, minibatch_size=4))
        elapsed = time.monotonic() - start
    finally:
        release.set()
    assert elapsed < 20  # returned without waiting for the hung threads
    seed = result.val_results[result.seed.id]
    timed_out = [r for r in seed.values() if r.rollout.error]
    assert len(timed_out) == 3 and all("TimeoutError" in r.rollout.error for r in timed_out)
    # three hung calls held all three workers, yet every other rollout ran: timeouts give slots back
    assert sum(1 for r in seed.values() if r.rollout.output is not None) == len(VAL) - 3


def test_llm_deadline_bounds_a_call_including_retries():
    async def slow(request):
        await asyncio.sleep(5)
        return "late"

    llm = FakeLLM(slow, deadline_s=0.2)
    start = time.monotonic()
    with pytest.raises(LLMCallError, match="0.2 s deadline"):
        llm.complete("hi")
    assert time.monotonic() - start < 3

    attempts = []

    def flaky(request):
        attempts.append(1)
        raise TransientError("503", 503)

    llm = FakeLLM(flaky, deadline_s=0.3, backoff_s=0.2, max_retries=50)
    with pytest.raises(LLMCallError, match="deadline"):
        llm.complete("hi")
    assert 1 < len(attempts) < 10


@pytest.mark.parametrize("exc", [
    type("ReadTimeout", (Exception,), {})("read timed out"),
    type("APIStatusError", (Exception,), {"status_code": 408})("request timeout"),
])
def test_httpx_read_timeout_and_http_408_are_retried(exc):
    assert is_transient(exc)


def test_real_httpx_read_timeout_is_transient():
    import httpx

    assert is_transient(httpx.ReadTimeout("timed out"))


# ---------------------------------------------------------------- faults everywhere, the run still finishes

def test_fault_injection_30pct_transient_20pct_malformed_json():
    import random as _random

    from fakes import agent_handler, optimizer_handler

    rng = _random.Random(7)
    good_rewriter = optimizer_handler([GOOD_RULE])
    faults = {"transient": 0, "malformed": 0}

    def flaky(handler, malformed):
        def wrapped(request):
            roll = rng.random()
            if roll < 0.3:
                faults["transient"] += 1
                raise TransientError("503 service unavailable", 503)
            if malformed and roll < 0.5:
                faults["malformed"] += 1
                return '{"analysis": "cut off mid-JSON", "new_rules": [{"group": 1, "wh'
            return handler(request)
        return wrapped

    agent = ChatAgent(FakeLLM(flaky(agent_handler, False), role="agent", max_retries=8),
                      "Is this number even or odd? {{ number }}")
    rewriter = FakeLLM(flaky(good_rewriter, True), role="optimizer", max_retries=8)
    result = optimize(agent, "Answer even or odd.", TRAIN, VAL, judges=JUDGE, optimizer_llm=rewriter,
                      config=OptimizeConfig(max_iterations=4, minibatch_size=4), progress=False)
    assert faults["transient"] > 5 and faults["malformed"] > 0
    assert result.best_val == 1.0 and GOOD_RULE in result.best_prompt
    assert all(r.rollout.error is None for r in result.val_results[result.best.id].values())


def test_an_interrupt_in_a_notebook_stops_the_run_and_frees_its_run_dir(tmp_path):
    """In Jupyter the loop runs on a worker thread and the stop button interrupts the waiting thread: the run
    must stop there too (not go on in the background holding its run dir), and resume in the same kernel."""
    import signal

    agent, agent_llm = make_agent()
    handler = agent_llm.backend.handler

    def slow(request):
        time.sleep(0.05)
        return handler(request)

    agent_llm.backend.handler = slow
    config = OptimizeConfig(max_iterations=6, minibatch_size=4, seed=3, patience=10)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    async def notebook_cell():  # a running event loop, as in a notebook
        previous = signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        try:
            with pytest.raises(KeyboardInterrupt):
                optimize(agent, "Answer even or odd.", parity_examples(20), parity_examples(10, 100), judges=JUDGE,
                         optimizer_llm=make_optimizer_llm([GOOD_RULE]), config=config, run_dir=tmp_path / "run",
                         progress=False)
        finally:
            signal.signal(signal.SIGALRM, previous)
        return len(agent_llm.requests)

    calls = asyncio.run(notebook_cell())
    time.sleep(0.3)
    assert len(agent_llm.requests) == calls  # stopped, not running on in the background
    resumed = optimize(agent, "Answer even or odd.", parity_examples(20), parity_examples(10, 100), judges=JUDGE,
                       optimizer_llm=make_optimizer_llm([GOOD_RULE]), config=config, run_dir=tmp_path / "run",
                       resume=True, progress=False)
    assert resumed.best_val == 1.0 and calls < resumed.usage["rollouts"]  # it was cut, then finished
