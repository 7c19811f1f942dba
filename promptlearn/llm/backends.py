"""Backends: the one place a request becomes a real model call.

A backend makes exactly one attempt. Retries, caching, usage, concurrency
and structured-output repair live in ``LLM`` so that every backend (litellm,
the embedded llama.cpp models, the test fake) gets them the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

# litellm fetches its price list over the network at import unless told not
# to; this machine (and many CI boxes) have no network. Set before any import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from ..errors import StructuredOutputError, TransientError  # noqa: E402
from .types import Completion, Request  # noqa: E402


@runtime_checkable
class Backend(Protocol):
    """Makes one attempt at a request.

    ``enforces_schema`` is True when the backend constrains decoding to the
    JSON schema in ``params["response_format"]`` (so the schema need not be
    spelled out in the prompt). Raise on failure; ``is_transient`` decides
    whether ``LLM`` retries.
    """

    enforces_schema: bool

    async def acomplete(self, request: Request) -> Completion: ...


_TRANSIENT_NAMES = {"RateLimitError", "Timeout", "APITimeoutError", "APIConnectionError", "InternalServerError",
                    "ServiceUnavailableError", "BadGatewayError",
                    # httpx's timeouts and dropped connections, raised bare by some providers' clients
                    "ReadTimeout", "ConnectTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException",
                    "RemoteProtocolError", "ReadError", "ConnectError"}


def is_transient(exc: BaseException) -> bool:
    """Rate limits, timeouts (incl. HTTP 408), connection errors and 5xx are worth another try."""
    if isinstance(exc, (TransientError, TimeoutError, asyncio.TimeoutError, ConnectionError)):
        return True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and (status in (408, 429) or status >= 500):
        return True
    return any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__)


class FunctionBackend:
    """Backend over a plain function ``handler(request) -> str | Completion`` (sync or async)."""

    def __init__(self, handler: Callable[[Request], Any], enforces_schema: bool = False):
        self.handler = handler
        self.enforces_schema = enforces_schema

    async def acomplete(self, request: Request) -> Completion:
        start = time.perf_counter()
        result = self.handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, Completion):
            return result
        text = str(result)
        prompt_chars = sum(len(m.get("content", "")) for m in request.messages)
        # ~4 characters per token: good enough to exercise token budgets in tests.
        return Completion(text=text, model=request.model, prompt_tokens=max(1, prompt_chars // 4),
                          completion_tokens=max(1, len(text) // 4), latency_s=time.perf_counter() - start)


class LiteLLMBackend:
    """Any provider litellm knows: ``openai/...``, ``anthropic/...``, ``ollama/...``, ``hosted_vllm/...``."""

    enforces_schema = False

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None,
                 timeout_s: float = 120.0, extra: dict[str, Any] | None = None):
        self.model = model
        self.api_base = api_base
        self._api_key = api_key  # held in memory only; never part of a Request or cache key
        self.timeout_s = timeout_s
        self.extra = dict(extra or {})

    def __repr__(self) -> str:
        return f"LiteLLMBackend(model={self.model!r}, api_base={self.api_base!r})"

    def _response_format(self, spec: dict[str, Any]) -> dict[str, Any]:
        import litellm

        try:
            native = litellm.supports_response_schema(model=self.model)
        except Exception:
            native = False
        if native:
            return {"type": "json_schema",
                    "json_schema": {"name": spec.get("name", "output"), "schema": spec["schema"], "strict": False}}
        return {"type": "json_object"}

    async def acomplete(self, request: Request) -> Completion:
        import litellm

        kwargs: dict[str, Any] = {"model": self.model, "messages": list(request.messages),
                                  "timeout": self.timeout_s, "num_retries": 0, "max_retries": 0, **self.extra}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        for key, value in request.params.items():
            if key == "response_format":
                kwargs[key] = self._response_format(value)
            elif value is not None:
                kwargs[key] = value
        start = time.perf_counter()
        response = await litellm.acompletion(**kwargs)
        latency = time.perf_counter() - start
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except Exception:
            cost = None  # litellm has no price for this model (local servers, new models)
        return Completion(text=choice.message.content or "", model=request.model,
                          prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                          completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                          latency_s=latency, cost_usd=cost, finish_reason=choice.finish_reason)


_LOADED: dict[tuple[str, int], tuple[Any, concurrent.futures.ThreadPoolExecutor]] = {}
_LOAD_LOCK = threading.Lock()
DEFAULT_N_CTX = 4096
#: Environment variable that sets llama.cpp's thread count for every embedded model of the process.
THREADS_ENV = "PROMPTLEARN_LLAMA_THREADS"


def llama_threads() -> int:
    """Threads for llama.cpp: ``$PROMPTLEARN_LLAMA_THREADS``, else ``$OMP_NUM_THREADS`` (Ray sets it to a task's
    ``num_cpus``: Ray 2.60, checked), else the CPUs this process may run on.

    Why not ``os.cpu_count()``: llama.cpp's threads spin while they wait for each other, so processes that share
    the CPUs must split them. Measured on 2 cores, 20 slot-filling requests on the 0.5B: 17 s alone; two processes
    at once with 2 threads each, 60 s each; with ``PROMPTLEARN_LLAMA_THREADS=1`` each, 38 s each.
    """
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if not value:
            continue
        if not value.isdigit() or int(value) < 1:
            from ..errors import ConfigError

            raise ConfigError(f"${name} must be a whole number of threads >= 1, got {value!r}")
        return int(value)
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


def load_llama(path: Path, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None
               ) -> tuple[Any, concurrent.futures.ThreadPoolExecutor]:
    """Load a GGUF once per process; return it with the one thread that runs all its calls.

    llama.cpp contexts are not thread-safe, so every call on one model goes through a
    single-worker executor. A fixed thread is also faster than asyncio's default executor,
    which under ``asyncio.run`` per call would start a fresh OS thread each time.
    """
    key = (str(Path(path).resolve()), n_ctx)
    with _LOAD_LOCK:
        if key not in _LOADED:
            try:
                from llama_cpp import Llama
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ImportError("the embedded local models need llama-cpp-python: "
                                  "pip install 'promptlearn[local]'") from exc
            llama = Llama(model_path=key[0], n_ctx=n_ctx, n_threads=n_threads or llama_threads(),
                          verbose=False, seed=0)
            worker = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                           thread_name_prefix=f"llama-{Path(path).stem}")
            _LOADED[key] = (llama, worker)
        return _LOADED[key]


# llama.cpp refuses a grammar whose repetitions are too large ("number of rules that are going
# to be repeated ... exceeds sane defaults": measured, maxLength 1000 compiles, 1500 does not)
# and llama-cpp-python 0.3.36 then adds the NULL sampler anyway: the process dies with SIGSEGV
# before this check. Longer limits are left to validation in code (pydantic, then the repair turn).
MAX_GRAMMAR_REPEAT = 1000
_REPEAT_KEYS = ("maxLength", "maxItems", "maxProperties")


def grammar_safe_schema(schema: Any) -> Any:
    """``schema`` without length limits too large for a llama.cpp grammar (validation still checks them)."""
    if isinstance(schema, dict):
        return {k: grammar_safe_schema(v) for k, v in schema.items()
                if not (k in _REPEAT_KEYS and isinstance(v, int) and v > MAX_GRAMMAR_REPEAT)}
    if isinstance(schema, list):
        return [grammar_safe_schema(v) for v in schema]
    return schema


def _without_limits(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_limits(v) for k, v in schema.items()
                if k not in (*_REPEAT_KEYS, "minLength", "minItems", "minProperties")}
    if isinstance(schema, list):
        return [_without_limits(v) for v in schema]
    return schema


@contextlib.contextmanager
def _quiet_stderr() -> Any:
    """Silence the C library's stderr (llama.cpp prints the whole grammar on a parse error)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some notebook kernels): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_GRAMMARS: dict[tuple[str, str], Any] = {}


def compile_grammar(llama: Any, schema: dict[str, Any], name: str = "output") -> Any:
    """A LlamaGrammar for ``schema`` that llama.cpp has accepted, or StructuredOutputError.

    The grammar is test-compiled with the model's vocabulary before any sampling uses it;
    a schema that cannot compile even without its length limits is reported, never sampled.
    """
    from llama_cpp import llama_cpp as C
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    key = (str(getattr(llama, "model_path", id(llama))), json.dumps(schema, sort_keys=True))
    if key in _GRAMMARS:
        return _GRAMMARS[key]
    errors = []
    for candidate in (grammar_safe_schema(schema), _without_limits(schema)):
        try:
            gbnf = json_schema_to_gbnf(json.dumps(candidate))
        except Exception as exc:  # noqa: BLE001 - the converter raises bare Exceptions on unsupported schemas
            errors.append(f"cannot convert the schema to a grammar ({exc})")
            continue
        with _quiet_stderr():
            sampler = C.llama_sampler_init_grammar(llama._model.vocab, gbnf.encode("utf-8"), b"root")
        if sampler:
            C.llama_sampler_free(sampler)
            grammar = _GRAMMARS[key] = LlamaGrammar.from_string(gbnf, verbose=False)
            return grammar
        errors.append("llama.cpp rejected the grammar")
    raise StructuredOutputError(str(getattr(llama, "model_path", "local model")), name, 0,
                                "; ".join(dict.fromkeys(errors)) + " (simplify the schema: fewer nested lists, "
                                "smaller length limits)", "")


class LlamaCppBackend:
    """The embedded local model, in-process through llama-cpp-python.

    Structured output passes a grammar compiled from the JSON schema (see
    :func:`compile_grammar`); llama-cpp-python's OpenAI-style ``json_schema``
    response format was silently ignored in 0.3.36.
    """

    enforces_schema = True

    def __init__(self, path: Path, *, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None):
        self.path = Path(path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads

    def __repr__(self) -> str:
        return f"LlamaCppBackend(path={str(self.path)!r})"

    def _complete_blocking(self, llama: Any, request: Request) -> Completion:
        kwargs: dict[str, Any] = {"messages": list(request.messages)}
        for key, value in request.params.items():
            if key == "response_format":
                kwargs["grammar"] = compile_grammar(llama, value["schema"], value.get("name", "output"))
            elif value is not None:
                kwargs[key] = value
        start = time.perf_counter()
        out = llama.create_chat_completion(**kwargs)
        latency = time.perf_counter() - start
        usage = out.get("usage") or {}
        choice = out["choices"][0]
        return Completion(text=choice["message"].get("content") or "", model=request.model,
                          prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0),
                          latency_s=latency, cost_usd=0.0, finish_reason=choice.get("finish_reason"))

    async def acomplete(self, request: Request) -> Completion:
        llama, worker = load_llama(self.path, self.n_ctx, self.n_threads)
        return await asyncio.get_running_loop().run_in_executor(worker, self._complete_blocking, llama, request)
