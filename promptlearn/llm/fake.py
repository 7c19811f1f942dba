"""``FakeLLM(handler)``: the unit-test double, like httpx's MockTransport.

It is a real ``LLM`` whose backend is a function, so tests exercise the same
cache, retry, usage and structured-output code that production uses.
"""

from __future__ import annotations

from typing import Any, Callable

from .backends import FunctionBackend
from .client import LLM
from .types import Request


class FakeLLM(LLM):
    """``handler(request) -> str | Completion`` (sync or async); raise to inject faults.

    Caching is off unless a ``cache`` is passed; retries back off by 0 s.
    ``requests`` records every request that reached the handler.
    """

    def __init__(self, handler: Callable[[Request], Any], *, model: str = "fake/model",
                 enforces_schema: bool = False, **kwargs: Any):
        self.requests: list[Request] = []

        def recording(request: Request) -> Any:
            self.requests.append(request)
            return handler(request)

        kwargs.setdefault("cache", None)
        kwargs.setdefault("backoff_s", 0.0)
        super().__init__(model, backend=FunctionBackend(recording, enforces_schema=enforces_schema), **kwargs)
