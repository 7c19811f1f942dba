"""The LLM layer: one client for API models (litellm) and the embedded local models."""

from ..errors import TransientError
from .backends import Backend, FunctionBackend, LiteLLMBackend, LlamaCppBackend, is_transient
from .cache import SQLiteCache
from .client import LLM, make_backend
from .fake import FakeLLM
from .types import Completion, Cost, Message, Request
from .usage import Usage, UsageScope, usage_scope

__all__ = ["LLM", "FakeLLM", "Backend", "FunctionBackend", "LiteLLMBackend", "LlamaCppBackend",
           "TransientError", "is_transient", "SQLiteCache", "make_backend", "Completion", "Message",
           "Request", "Cost", "Usage", "UsageScope", "usage_scope"]
