"""promptlearn's exceptions. Everything we raise on purpose derives from PromptlearnError."""

from __future__ import annotations


class PromptlearnError(Exception):
    """Base class for errors raised by promptlearn.

    Its text is redacted where it is made: a provider's 401 page or a model's last output can quote
    an API key, and a message, once raised, reaches logs and tracebacks we do not control (issue 29).
    """

    def __init__(self, *args: object):
        from ._redaction import redact

        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class RedactedCause(PromptlearnError):
    """Stands in for a third-party exception whose text may quote a credential: its type and redacted
    message, raised from the same place (its traceback), with none of its own chain.

    ``LLMCallError.__cause__`` is one, so an uncaught call failure prints no key in its traceback.
    """

    def __init__(self, original: BaseException):
        super().__init__(f"{type(original).__name__}: {original}")
        self.original_type = f"{type(original).__module__}.{type(original).__qualname__}"
        self.status_code = getattr(original, "status_code", None)
        self.__traceback__ = original.__traceback__


class ConfigError(PromptlearnError, ValueError):
    """Bad input from the user: a config, dataset, template or argument that cannot work."""


class ModelNotFoundError(PromptlearnError):
    """An unknown model string, or a local model file that is not there."""


class ChecksumError(PromptlearnError):
    """A model file whose size or sha256 is not the pinned one; the file is never used."""


class LLMCallError(PromptlearnError):
    """A model call that failed for good (after the retries, or not retryable).

    The message names the model and the cause; ``cause`` (and ``__cause__`` when raised ``from
    error.cause``) is the last error as a :class:`RedactedCause`: providers quote the key they were
    given in 401s, and neither the message nor the chained traceback may carry it.
    """

    def __init__(self, model: str, cause: BaseException, attempts: int):
        self.model, self.attempts = model, attempts
        self.cause = cause if isinstance(cause, RedactedCause) else RedactedCause(cause)
        super().__init__(f"call to {model!r} failed after {attempts} attempt(s): {self.cause}")


class StructuredOutputError(PromptlearnError):
    """A model that did not produce output matching the schema within the repair budget."""

    def __init__(self, model: str, schema_name: str, attempts: int, last_error: str, last_output: str):
        from ._redaction import redact

        self.model, self.schema_name, self.attempts = model, schema_name, attempts
        # The model's last output can be a proxy's error page that echoes the key.
        self.last_error, self.last_output = redact(last_error), redact(last_output)
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
