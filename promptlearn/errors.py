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
        from ._redaction import redact

        self.model, self.cause, self.attempts = model, cause, attempts
        # Providers quote the key they were given in 401s; the message must never carry it.
        super().__init__(redact(f"call to {model!r} failed after {attempts} attempt(s): "
                                f"{type(cause).__name__}: {cause}"))


class StructuredOutputError(PromptlearnError):
    """A model that did not produce output matching the schema within the repair budget."""

    def __init__(self, model: str, schema_name: str, attempts: int, last_error: str, last_output: str):
        self.model, self.schema_name, self.attempts = model, schema_name, attempts
        self.last_error, self.last_output = last_error, last_output
        super().__init__(f"{model!r} did not return a valid {schema_name} after {attempts} attempt(s); "
                         f"last error: {last_error}; last output: {last_output[:300]!r}")


class TransientError(PromptlearnError):
    """Raised by a backend (or a test double) for an error worth retrying."""

    def __init__(self, message: str = "transient error", status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class RunError(PromptlearnError):
    """The run cannot produce a meaningful result: e.g. every seed rollout failed the same way.

    Raised instead of reporting "0.000 -> 0.000"; the message names the cause and an example.
    """


class JudgeError(PromptlearnError, ValueError):
    """A judge could not score one example (a reference that is no number, a score outside [0, 1]).

    Per-example data: the panel records it as that verdict's error. If it hits every seed
    rollout, the loop stops with a RunError instead (then it is a configuration problem).
    """
