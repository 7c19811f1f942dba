"""Plain records that cross the LLM layer's boundary."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}

# Sampling parameters that change the answer and therefore belong in the cache key.
SAMPLING_KEYS = ("temperature", "max_tokens", "top_p", "seed", "stop", "response_format")


@dataclass(frozen=True)
class Request:
    """One chat completion request as the backends see it.

    ``params`` holds only sampling parameters (never credentials), so a request
    can be hashed, cached and logged safely.
    """

    model: str
    messages: tuple[Message, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def cache_key(self) -> str:
        payload = {"model": self.model, "messages": list(self.messages),
                   "params": {k: self.params[k] for k in sorted(self.params) if k in SAMPLING_KEYS}}
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def last_user_content(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message.get("content", "")
        return ""


@dataclass(frozen=True)
class Completion:
    """A model's answer plus what it cost. ``cached`` answers cost 0 calls."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    cached: bool = False
    finish_reason: str | None = None


class Cost(BaseModel):
    """What some model calls cost: the one cost type (records, usage scopes, per-role usage, the meter).

    ``calls`` are calls actually made (cache hits excluded); ``errors`` failed attempts, retried or not.
    Costs add up with ``+``; ``Cost.of(completion)`` is one call's cost.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def total_tokens(self) -> int:
        return self.tokens

    def __add__(self, other: "Cost") -> "Cost":
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(**{name: getattr(self, name) + getattr(other, name) for name in Cost.model_fields})

    @classmethod
    def of(cls, completion: Completion) -> "Cost":
        if completion.cached:
            return cls(cache_hits=1)
        return cls(calls=1, prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                   latency_s=completion.latency_s, cost_usd=completion.cost_usd or 0.0)

    @classmethod
    def total(cls, costs: Iterable["Cost"]) -> "Cost":
        out = cls()
        for cost in costs:
            out = out + cost
        return out

    def as_row(self) -> dict[str, float]:
        """The fields plus ``tokens``, for tables and JSON."""
        return {**self.model_dump(), "tokens": self.tokens}
