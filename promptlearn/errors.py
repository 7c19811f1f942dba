"""promptlearn's exceptions. Everything we raise on purpose derives from PromptlearnError."""

from __future__ import annotations


class PromptlearnError(Exception):
    """Base class for errors raised by promptlearn."""


class ConfigError(PromptlearnError, ValueError):
    """Bad input from the user: a config, dataset, template or argument that cannot work."""


class ModelNotFoundError(PromptlearnError):
    """An unknown model string, or a local model file that is not there."""


class ChecksumError(PromptlearnError):
    """A model file whose size or sha256 is not the pinned one; the file is never used."""


class LLMCallError(PromptlearnError):
    """A model call that failed for good (after the retries, or not retryable).

    The message names the model and the cause; ``__cause__`` is the last error.
    """

    def __init__(self, model: str, cause: BaseException, attempts: int):
        self.model, self.cause, self.attempts = model, cause, attempts
        super().__init__(f"call to {model!r} failed after {attempts} attempt(s): "
                         f"{type(cause).__name__}: {cause}")


class StructuredOutputError(PromptlearnError):
    """A model that did not produce output matching the schema within the repair budget."""

    def __init__(self, model: str, schema_name: str, attempts: int, last_error: str, last_output: str):
        self.model, self.schema_name, self.attempts = model, schema_name, attempts
        self.last_error, self.last_output = last_error, last_output
        super().__init__(f"{model!r} did not return a valid {schema_name} after {attempts} attempt(s); "
                         f"last error: {last_error}; last output: {last_output[:300]!r}")


class BudgetExceeded(PromptlearnError):
    """Raised inside the loop when a budget is hit; the loop turns it into a clean stop."""
