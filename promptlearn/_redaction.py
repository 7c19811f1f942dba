"""Keep credentials out of everything promptlearn stores or prints.

Provider errors sometimes quote the key they were given ("Incorrect API key
provided: sk-..."). Every error text that can reach ``events.jsonl``,
``result.json``, a report or the terminal passes through :func:`redact`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 8

# Shapes of common provider keys; a false positive only hides a token-like string.
_KEY_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])(?:sk|pk|rk)-(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{8,}"  # OpenAI, Anthropic, compatible servers
    r"|(?<![A-Za-z0-9])AKIA[0-9A-Z]{16}"                          # AWS access key ids
    r"|AIza[0-9A-Za-z_\-]{20,}"                   # Google API keys
    r"|hf_[A-Za-z0-9]{20,}"                       # Hugging Face tokens
    r"|gh[pousr]_[A-Za-z0-9]{20,}"                # GitHub tokens
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"             # Slack tokens
)
# "Bearer xyz", "api_key=xyz", "'api-key': 'xyz'", "token: xyz": keep the name, hide the value.
_NAMED_VALUE = re.compile(
    r"(?i)(\bbearer\s+|\b(?:api[_-]?key|access[_-]?token|auth[_-]?token|secret|password)[\"']?\s*[:=]\s*[\"']?)"
    r"([^\s\"',;}]{4,})")
_SECRET_ENV = re.compile(r"(?i)(API_?KEY|TOKEN|SECRET|PASSWORD)")

_extra_lock = threading.Lock()
_extra_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Also redact ``value`` wherever it appears (e.g. an ``api_key=`` passed to ``LLM``)."""
    if value and len(value) >= MIN_SECRET_CHARS:
        with _extra_lock:
            _extra_secrets.add(value)


def _known_secrets() -> list[str]:
    values = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= MIN_SECRET_CHARS}
    with _extra_lock:
        values |= _extra_secrets
    return sorted(values, key=len, reverse=True)  # longest first, so a key's prefix never survives


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential, and every known secret value, replaced."""
    if not text:
        return text
    text = str(text)
    for secret in _known_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _KEY_SHAPES.sub(REDACTED, text)
    return _NAMED_VALUE.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Redacts every record of the ``promptlearn`` logger, its message and its traceback, before any
    handler (ours or the user's) formats it: a logged error can quote a model's output or a provider's
    401 page, and either can echo the key (issue 29)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - arguments that do not fit the format: keep what can be shown
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger) -> None:
    """Adds one :class:`RedactingFilter` to ``logger`` (idempotent)."""
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


install_log_redaction(logging.getLogger("promptlearn"))
