"""``LLM``: the one client every model call in promptlearn goes through.

It owns what every backend needs and none should re-implement: bounded
async concurrency, retries with exponential backoff and jitter, the on-disk
cache, usage accounting per role, and structured output with repair.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any, Sequence, TypeVar

from pydantic import BaseModel

from .._async import LoopSemaphore, run_sync
from .._redaction import register_secret
from ..errors import ConfigError, LLMCallError, ModelNotFoundError, StructuredOutputError
from .backends import Backend, LiteLLMBackend, LlamaCppBackend, is_transient
from .cache import SQLiteCache, default_cache, resolve_cache
from .structured import parse_structured, response_format_for, schema_instruction
from .types import Completion, Message, Request
from .usage import Usage, record_in_scope

T = TypeVar("T", bound=BaseModel)

DEFAULT_MAX_CONCURRENCY = 8
DEFAULT_MAX_RETRIES = 4
DEFAULT_BACKOFF_S = 1.0
DEFAULT_MAX_BACKOFF_S = 30.0
DEFAULT_MAX_TOKENS = 512
DEFAULT_STRUCTURED_REPAIRS = 2
DEFAULT_ATTEMPT_TIMEOUT_S = 120.0
LOCAL_PREFIX = "local/"
_VALID_ROLES = {"system", "user", "assistant", "tool"}
_DEFAULT = object()  # "no cache argument given": use default_cache()


def make_backend(model: str, *, api_base: str | None = None, api_key: str | None = None,
                 n_ctx: int | None = None, timeout_s: float = 120.0) -> Backend:
    """Pick the backend for a model string; raises ModelNotFoundError for an unknown one."""
    if model.startswith(LOCAL_PREFIX) or model.endswith(".gguf"):
        from .local_models import resolve_model_path

        path = resolve_model_path(model)
        return LlamaCppBackend(path, **({"n_ctx": n_ctx} if n_ctx else {}))
    import litellm

    try:
        litellm.get_llm_provider(model=model, api_base=api_base)
    except Exception as exc:
        raise ModelNotFoundError(
            f"unknown model string {model!r}: use a litellm provider string such as 'openai/gpt-4o-mini', "
            f"'anthropic/...', 'ollama/...', 'hosted_vllm/...' (or 'openai/<name>' with api_base), "
            f"or an embedded model 'local/qwen2.5-coder-0.5b', 'local/qwen2.5-coder-1.5b', or a path to a .gguf file"
        ) from exc
    return LiteLLMBackend(model, api_base=api_base, api_key=api_key, timeout_s=timeout_s)


def _check_settings(*, model: Any, temperature: Any, max_tokens: Any, max_concurrency: Any, max_retries: Any,
                    backoff_s: Any, max_backoff_s: Any, timeout_s: Any, deadline_s: Any) -> None:
    """Bad settings fail here, with their names, not deep inside a provider call."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model must be a model string such as 'local/qwen2.5-coder-0.5b' or "
                          f"'openai/gpt-4o-mini', got {model!r}")

    def number(name: str, value: Any, *, low: float, integer: bool = False, allow_none: bool = False) -> None:
        if value is None and allow_none:
            return
        kind = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or value != value or value < low:
            what = "an integer" if integer else "a number"
            raise ConfigError(f"{name} must be {what} >= {low:g}, got {value!r}")

    number("temperature", temperature, low=0)
    number("max_tokens", max_tokens, low=1, integer=True)
    number("max_concurrency", max_concurrency, low=1, integer=True)
    number("max_retries", max_retries, low=0, integer=True)
    number("backoff_s", backoff_s, low=0)
    number("max_backoff_s", max_backoff_s, low=0)
    number("timeout_s", timeout_s, low=1e-9)
    number("deadline_s", deadline_s, low=1e-9, allow_none=True)


def _validate_messages(messages: Sequence[Message]) -> tuple[Message, ...]:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not messages:
        raise ConfigError("messages is empty: pass at least one {'role': 'user', 'content': ...} message")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ConfigError(f"message {i} must be a dict with 'role' and 'content', got {message!r}")
        if message["role"] not in _VALID_ROLES:
            raise ConfigError(f"message {i} has unknown role {message['role']!r}")
    return tuple({"role": m["role"], "content": str(m["content"])} for m in messages)


class LLM:
    """A model plus the machinery around it.

    >>> llm = LLM("local/qwen2.5-coder-0.5b")          # embedded, no API key
    >>> llm = LLM("openai/gpt-4o-mini", role="judge")  # any litellm model string
    >>> llm.complete([{"role": "user", "content": "hi"}]).text

    ``role`` labels the usage counters (agent, judge, optimizer); pass one
    ``Usage`` to several LLMs to get one bill. ``cache`` is a path, a
    ``SQLiteCache``, or None / "off" to disable caching; by default ``$PROMPTLEARN_CACHE``
    (a path, or "off") or ~/.cache/promptlearn/llm_cache.sqlite.
    ``timeout_s`` bounds one attempt (API models); ``deadline_s`` bounds a whole call,
    retries and backoff included, after which it fails with LLMCallError (None: no deadline).
    """

    def __init__(self, model: str, *, role: str = "default", temperature: float = 0.0,
                 max_tokens: int = DEFAULT_MAX_TOKENS, max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
                 max_retries: int = DEFAULT_MAX_RETRIES, backoff_s: float = DEFAULT_BACKOFF_S,
                 max_backoff_s: float = DEFAULT_MAX_BACKOFF_S, cache: SQLiteCache | str | Path | None | object = _DEFAULT,
                 usage: Usage | None = None, api_base: str | None = None, api_key: str | None = None,
                 backend: Backend | None = None, n_ctx: int | None = None,
                 timeout_s: float = DEFAULT_ATTEMPT_TIMEOUT_S, deadline_s: float | None = None,
                 rng: random.Random | None = None):
        _check_settings(model=model, temperature=temperature, max_tokens=max_tokens, max_concurrency=max_concurrency,
                        max_retries=max_retries, backoff_s=backoff_s, max_backoff_s=max_backoff_s,
                        timeout_s=timeout_s, deadline_s=deadline_s)
        self.model = model
        self.role = role
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.deadline_s = deadline_s
        self.cache = default_cache() if cache is _DEFAULT else resolve_cache(cache)  # type: ignore[arg-type]
        self.usage = usage if usage is not None else Usage()
        register_secret(api_key)
        self.backend = backend or make_backend(model, api_base=api_base, api_key=api_key, n_ctx=n_ctx,
                                               timeout_s=timeout_s)
        self._rng = rng or random.Random(0)  # jitter only; never affects answers
        self._slots = LoopSemaphore(max_concurrency)  # shared by with_role() views: one limit per model

    def __repr__(self) -> str:
        return f"LLM(model={self.model!r}, role={self.role!r}, backend={self.backend!r})"

    def with_role(self, role: str) -> "LLM":
        """A view of this LLM that bills ``role``; shares backend, cache, usage and limits."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.role = role
        return clone

    def for_role(self, role: str) -> "LLM":
        """This LLM billed as ``role`` unless the caller already gave it a role of its own."""
        return self.with_role(role) if self.role == "default" else self

    def _request(self, messages: Sequence[Message], **params: Any) -> Request:
        tokens = params.get("max_tokens")
        if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1):
            raise ConfigError(f"max_tokens must be an integer >= 1, got {tokens!r}")
        merged = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        merged.update({k: v for k, v in params.items() if v is not None})
        return Request(model=self.model, messages=_validate_messages(messages), params=merged)

    async def _call(self, request: Request, role: str, use_cache: bool) -> Completion:
        attempts = [0]  # how far the retries got, for the deadline's message
        if self.deadline_s is None:
            return await self._call_with_retries(request, role, use_cache, attempts)
        try:
            return await asyncio.wait_for(self._call_with_retries(request, role, use_cache, attempts),
                                          self.deadline_s)
        except asyncio.TimeoutError:
            error = LLMCallError(self.model, TimeoutError(f"no answer within the {self.deadline_s:g} s deadline "
                                                          f"(retries included)"), max(1, attempts[0]))
            raise error from error.cause

    async def _call_with_retries(self, request: Request, role: str, use_cache: bool, attempts: list[int]
                                 ) -> Completion:
        key = request.cache_key()
        if use_cache and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.record(role, hit)
                record_in_scope(hit)
                return hit
        attempt = 0
        while True:
            attempt += 1
            attempts[0] = attempt
            try:
                async with self._slots.get():
                    completion = await self.backend.acomplete(request)
                break
            except StructuredOutputError:
                raise  # a schema the backend cannot enforce: retrying cannot help, and the error says why
            except Exception as exc:
                self.usage.record_error(role)
                if not is_transient(exc) or attempt > self.max_retries:
                    error = LLMCallError(self.model, exc, attempt)
                    raise error from error.cause  # the redacted stand-in, never the provider's text
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                await asyncio.sleep(delay * (0.5 + self._rng.random()))  # full jitter around the step
        self.usage.record(role, completion)
        record_in_scope(completion)
        if use_cache and self.cache is not None:
            self.cache.put(key, completion)
        return completion

    async def acomplete(self, messages: Sequence[Message], *, role: str | None = None, temperature: float | None = None,
                        max_tokens: int | None = None, seed: int | None = None, stop: list[str] | None = None,
                        use_cache: bool = True) -> Completion:
        """One chat completion. Raises LLMCallError when it fails for good."""
        request = self._request(messages, temperature=temperature, max_tokens=max_tokens, seed=seed, stop=stop)
        return await self._call(request, role or self.role, use_cache)

    async def astructured(self, messages: Sequence[Message], schema: type[T], *, role: str | None = None,
                          temperature: float | None = None, max_tokens: int | None = None, seed: int | None = None,
                          max_repairs: int = DEFAULT_STRUCTURED_REPAIRS, use_cache: bool = True) -> T:
        """A completion parsed into ``schema``.

        Output that does not validate is shown back to the model with the
        error and retried up to ``max_repairs`` times; then StructuredOutputError.
        """
        messages = list(_validate_messages(messages))
        if not self.backend.enforces_schema:
            messages = [*messages[:-1], {"role": messages[-1]["role"],
                                         "content": messages[-1]["content"] + "\n\n" + schema_instruction(schema)}]
        fmt = response_format_for(schema)
        last_error, text = "", ""
        for _ in range(max_repairs + 1):
            request = self._request(messages, temperature=temperature, max_tokens=max_tokens, seed=seed,
                                    response_format=fmt)
            completion = await self._call(request, role or self.role, use_cache)
            text = completion.text
            try:
                return parse_structured(text, schema)
            except ValueError as exc:
                last_error = str(exc)
                if completion.finish_reason == "length":
                    last_error = f"reply cut off at the {request.params['max_tokens']}-token limit ({last_error})"
                    fix = ("(About the format of your reply, not the task.) Your reply was cut off. "
                           "Give the same answer again as a much shorter JSON object.")
                else:
                    fix = (f"(About the format of your reply, not the task.) Your reply could not be read: "
                           f"{last_error}. Give the same answer again as one valid JSON object and nothing else.")
                messages = [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": fix}]
        raise StructuredOutputError(self.model, schema.__name__, max_repairs + 1, last_error, text)

    # Thin sync wrappers for notebooks and scripts.
    def complete(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        return run_sync(self.acomplete(messages, **kwargs))

    def structured(self, messages: Sequence[Message], schema: type[T], **kwargs: Any) -> T:
        return run_sync(self.astructured(messages, schema, **kwargs))
