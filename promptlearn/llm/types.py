"""Plain records that cross the LLM layer's boundary."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

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
