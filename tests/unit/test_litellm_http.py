"""Retries and caching through real litellm against an OpenAI-compatible server on 127.0.0.1."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import BaseModel

from promptlearn.errors import LLMCallError
from promptlearn.llm import LLM


class Answer(BaseModel):
    answer: str


@pytest.fixture
def server():
    state = {"script": [], "hits": 0, "auth": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            state["hits"] += 1
            state["auth"].append(self.headers.get("Authorization"))
            status = state["script"].pop(0) if state["script"] else 200
            if status != 200:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"error": {"message": f"injected {status}", "type": "x"}}).encode())
                return
            user = body["messages"][-1]["content"]
            content = '{"answer": "42"}' if body.get("response_format") else f"you said: {user}"
            payload = {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}],
                       "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield state
    httpd.shutdown()


def make(server, tmp_path, **kw):
    return LLM("openai/test-model", api_base=server["url"], api_key="sk-SECRET-abc", backoff_s=0.01,
               cache=tmp_path / "cache.sqlite", **kw)


def test_retries_429_and_5xx_then_succeeds(server, tmp_path):
    server["script"] = [429, 500, 503]
    llm = make(server, tmp_path, max_retries=3)
    out = llm.complete([{"role": "user", "content": "hi"}])
    assert out.text == "you said: hi"
    assert server["hits"] == 4  # litellm's own retries are off: exactly our attempts
    assert out.prompt_tokens == 7 and out.completion_tokens == 3
    assert llm.usage.by_role["default"].errors == 3


def test_gives_up_with_named_error(server, tmp_path):
    server["script"] = [500] * 10
    llm = make(server, tmp_path, max_retries=1)
    with pytest.raises(LLMCallError, match="openai/test-model"):
        llm.complete([{"role": "user", "content": "hi"}])
    assert server["hits"] == 2


def test_cache_and_key_hygiene(server, tmp_path):
    llm = make(server, tmp_path)
    llm.complete([{"role": "user", "content": "hi"}])
    llm.complete([{"role": "user", "content": "hi"}])
    assert server["hits"] == 1
    assert server["auth"] == ["Bearer sk-SECRET-abc"]  # the key was sent to the server...
    assert b"sk-SECRET-abc" not in (tmp_path / "cache.sqlite").read_bytes()  # ...and never stored


def test_structured_through_litellm(server, tmp_path):
    llm = make(server, tmp_path)
    assert llm.structured([{"role": "user", "content": "q"}], Answer).answer == "42"
