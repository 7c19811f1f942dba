import asyncio
import multiprocessing
import threading

import pytest
from pydantic import BaseModel, Field

from promptlearn.errors import ConfigError, LLMCallError, ModelNotFoundError, StructuredOutputError
from promptlearn.llm import LLM, Completion, FakeLLM, Request, SQLiteCache, TransientError, Usage


def echo(request: Request) -> str:
    return "echo: " + request.last_user_content


def msgs(text="hello"):
    return [{"role": "user", "content": text}]


# ---------- cache ----------

def test_cache_key_is_stable_and_sensitive():
    a = Request("m", tuple(msgs("x")), {"temperature": 0.0, "max_tokens": 5})
    b = Request("m", tuple(msgs("x")), {"max_tokens": 5, "temperature": 0.0})
    assert a.cache_key() == b.cache_key()  # param order does not matter
    assert a.cache_key() != Request("m", tuple(msgs("y")), a.params).cache_key()
    assert a.cache_key() != Request("m2", a.messages, a.params).cache_key()
    assert a.cache_key() != Request("m", a.messages, {"temperature": 0.7, "max_tokens": 5}).cache_key()
    # non-sampling params (e.g. timeouts, credentials) never enter the key
    assert a.cache_key() == Request("m", a.messages, {**a.params, "api_key": "sk-x"}).cache_key()


def test_cache_hit_makes_zero_calls(tmp_path):
    llm = FakeLLM(echo, cache=tmp_path / "c.sqlite")
    first = llm.complete(msgs())
    second = llm.complete(msgs())
    assert first.text == second.text == "echo: hello"
    assert not first.cached and second.cached
    assert len(llm.requests) == 1
    # a fresh client on the same file also hits: the cache is on disk
    again = FakeLLM(echo, cache=tmp_path / "c.sqlite")
    assert again.complete(msgs()).cached and again.requests == []
    assert again.usage.by_role["default"].cache_hits == 1 and again.usage.by_role["default"].calls == 0


def test_cache_miss_on_different_params(tmp_path):
    llm = FakeLLM(echo, cache=tmp_path / "c.sqlite")
    llm.complete(msgs())
    llm.complete(msgs(), temperature=0.9)
    llm.complete(msgs(), use_cache=False)
    assert len(llm.requests) == 3


def test_cache_concurrent_writers_threads(tmp_path):
    cache = SQLiteCache(tmp_path / "c.sqlite")
    errors = []

    def writer(n):
        try:
            for i in range(50):
                cache.put(f"k{n}-{i}", Completion(text=f"{n}-{i}", model="m"))
                assert cache.get(f"k{n}-{i}").text == f"{n}-{i}"
        except Exception as exc:  # pragma: no cover - would fail the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) == 400


def _process_writer(path, n):
    cache = SQLiteCache(path)
    for i in range(30):
        cache.put(f"p{n}-{i}", Completion(text="x", model="m"))


def test_cache_concurrent_writers_processes(tmp_path):
    path = tmp_path / "c.sqlite"
    SQLiteCache(path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_writer, args=(str(path), n)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert len(SQLiteCache(path)) == 120


def test_cache_file_never_holds_api_key(tmp_path):
    path = tmp_path / "c.sqlite"
    llm = FakeLLM(echo, cache=path, api_key="sk-SECRET-123")
    llm.complete(msgs())
    assert b"sk-SECRET-123" not in path.read_bytes()
    assert "sk-SECRET" not in repr(llm)


# ---------- retries ----------

def flaky(failures):
    """Raise each of ``failures`` in turn, then answer."""
    pending = list(failures)

    def handler(request):
        if pending:
            raise pending.pop(0)
        return "ok"

    return handler


class StatusError(Exception):
    def __init__(self, status_code):
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


@pytest.mark.parametrize("failure", [TransientError("429 rate limited", 429), TimeoutError("timed out"),
                                     StatusError(503), StatusError(500), StatusError(429)])
def test_retries_transient_errors(failure):
    llm = FakeLLM(flaky([failure, failure]), max_retries=3)
    assert llm.complete(msgs()).text == "ok"
    assert len(llm.requests) == 3
    assert llm.usage.by_role["default"].errors == 2


def test_no_retry_on_client_error():
    llm = FakeLLM(flaky([StatusError(400)]), max_retries=3)
    with pytest.raises(LLMCallError) as info:
        llm.complete(msgs())
    assert len(llm.requests) == 1
    assert "fake/model" in str(info.value) and "400" in str(info.value)


def test_error_after_last_retry_names_model_and_cause():
    llm = FakeLLM(flaky([StatusError(503)] * 10), max_retries=2, model="fake/flaky")
    with pytest.raises(LLMCallError) as info:
        llm.complete(msgs())
    assert len(llm.requests) == 3
    assert info.value.attempts == 3
    assert "fake/flaky" in str(info.value) and "503" in str(info.value)


def test_backoff_grows_exponentially(monkeypatch):
    delays = []

    async def fake_sleep(seconds):
        delays.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    llm = FakeLLM(flaky([StatusError(503)] * 4), max_retries=4, backoff_s=1.0, max_backoff_s=100)
    llm.complete(msgs())
    assert len(delays) == 4
    # jitter keeps each delay within [0.5, 1.5) x the exponential step 1, 2, 4, 8
    for i, d in enumerate(delays):
        assert 0.5 * 2 ** i <= d < 1.5 * 2 ** i


async def test_concurrency_is_bounded():
    active, peak = 0, 0

    async def handler(request):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return "x"

    llm = FakeLLM(handler, max_concurrency=3)
    await asyncio.gather(*(llm.acomplete(msgs(str(i))) for i in range(20)))
    assert peak == 3


# ---------- structured output ----------

class Verdict(BaseModel):
    explanation: str = Field(description="why")
    score: float = Field(ge=0, le=1)


def test_structured_parses_fenced_json():
    llm = FakeLLM(lambda r: 'Sure!\n```json\n{"explanation": "fine", "score": 0.5}\n```')
    assert llm.structured(msgs(), Verdict) == Verdict(explanation="fine", score=0.5)
    # the schema was spelled out for a backend that does not enforce it
    assert '"score"' in llm.requests[0].messages[-1]["content"]
    assert llm.requests[0].params["response_format"]["name"] == "Verdict"


def test_structured_repairs_then_succeeds():
    replies = iter(['{"explanation": "x", "score": 7}', "not json", '{"explanation": "x", "score": 1}'])
    llm = FakeLLM(lambda r: next(replies))
    assert llm.structured(msgs(), Verdict).score == 1
    assert len(llm.requests) == 3
    # the repair turn shows the model what was wrong
    assert "score" in llm.requests[1].messages[-1]["content"] and "not the task" in llm.requests[1].messages[-1]["content"]
    assert llm.requests[1].messages[-2] == {"role": "assistant", "content": '{"explanation": "x", "score": 7}'}


def test_structured_error_after_repair_limit():
    llm = FakeLLM(lambda r: '{"explanation": "x"}')
    with pytest.raises(StructuredOutputError) as info:
        llm.structured(msgs(), Verdict, max_repairs=2)
    assert len(llm.requests) == 3
    assert "Verdict" in str(info.value) and "score" in str(info.value)


def test_schema_not_in_prompt_when_backend_enforces_it():
    llm = FakeLLM(lambda r: '{"explanation": "x", "score": 1}', enforces_schema=True)
    llm.structured(msgs("q"), Verdict)
    assert llm.requests[0].messages[-1]["content"] == "q"


# ---------- usage ----------

def test_usage_by_role(tmp_path):
    usage = Usage()
    agent = FakeLLM(lambda r: "abcdefgh", usage=usage, role="agent", cache=tmp_path / "c.sqlite")
    judge = agent.with_role("judge")
    agent.complete(msgs("aaaa aaaa"))
    agent.complete(msgs("aaaa aaaa"))  # cache hit
    judge.complete(msgs("bbbb"))
    snap = usage.snapshot()
    assert snap["agent"]["calls"] == 1 and snap["agent"]["cache_hits"] == 1
    assert snap["agent"]["completion_tokens"] == 2 and snap["agent"]["prompt_tokens"] == 2
    assert snap["judge"]["calls"] == 1
    assert usage.total().calls == 2
    frame = usage.to_frame()
    assert list(frame.index) == ["agent", "judge"] and frame.loc["agent", "cache_hits"] == 1


def test_usage_counts_cost_from_completion():
    llm = FakeLLM(lambda r: Completion(text="x", model="m", prompt_tokens=10, completion_tokens=2, cost_usd=0.25))
    llm.complete(msgs("1"))
    llm.complete(msgs("2"))
    assert llm.usage.total().cost_usd == pytest.approx(0.5)
    assert llm.usage.total().total_tokens == 24


# ---------- bad input ----------

def test_empty_messages_is_a_clear_error():
    llm = FakeLLM(echo)
    with pytest.raises(ConfigError, match="empty"):
        llm.complete([])
    with pytest.raises(ConfigError, match="role"):
        llm.complete([{"content": "x"}])
    assert llm.requests == []


def test_unknown_model_string():
    with pytest.raises(ModelNotFoundError, match="unknown model string"):
        LLM("notaprovider-xyz/some-model", cache=None)


def test_unknown_local_model_lists_known():
    with pytest.raises(ModelNotFoundError, match="qwen2.5-coder-0.5b"):
        LLM("local/no-such-model", cache=None)


def test_missing_gguf_path():
    with pytest.raises(ModelNotFoundError, match="not found"):
        LLM("/nonexistent/model.gguf", cache=None)


def test_sync_wrapper_inside_running_loop():
    llm = FakeLLM(echo)

    async def inside():
        return llm.complete(msgs("nested"))  # what a notebook cell does

    assert asyncio.run(inside()).text == "echo: nested"


def test_structured_accepts_raw_newlines_inside_strings():
    llm = FakeLLM(lambda r: '{"explanation": "fine\n```", "score": 1}')
    assert llm.structured(msgs(), Verdict).explanation == "fine\n```"
    assert len(llm.requests) == 1


def test_default_cache_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLEARN_CACHE", str(tmp_path / "env.sqlite"))
    llm = FakeLLM(echo, cache=__import__("promptlearn.llm.client", fromlist=["_DEFAULT"])._DEFAULT)
    llm.complete(msgs())
    assert (tmp_path / "env.sqlite").exists() and llm.complete(msgs()).cached
    monkeypatch.setenv("PROMPTLEARN_CACHE", "off")
    assert LLM("openai/x", api_base="http://127.0.0.1:9").cache is None
