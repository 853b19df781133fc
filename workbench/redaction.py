"""One redaction for every error path: keys never reach a terminal, a log or the run log.

A backend that holds a secret registers it (``register_secret``) when it is made; ``redact``
removes every registered secret from a text, and anything shaped like an API key even when it was
never registered (a service may echo a key of another configuration). The places that show or
store a message — the error map of each backend, the CLI's last line, the run log's ``error``
column, the ``workbench`` loggers — all call this one function.

Example:
    >>> register_secret("sk-test-0123456789")
    >>> redact("Incorrect API key provided: sk-test-0123456789.")
    'Incorrect API key provided: ***.'
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

__all__ = ["MASK", "RedactingFilter", "logger", "redact", "redact_error", "register_secret"]

MASK = "***"

# Key shapes: OpenAI-style (sk-..., sk-proj-...), bearer tokens, and a URL's user:password@.
_KEY_SHAPES = re.compile(
    r"(?:\bsk-[A-Za-z0-9_\-]{8,})"
    r"|(?:(?<=Bearer )[A-Za-z0-9_\-\.=]{8,})"
    r"|(?:(?<=://)[^/\s:@]+:[^/\s@]+(?=@))"
)
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Remember ``secret`` (four characters or more) so that ``redact`` removes it everywhere."""
    if secret and len(secret.strip()) >= 4:
        with _lock:
            _secrets.add(secret.strip())


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without any registered secret, any of ``secrets`` or anything shaped like a key."""
    if not text:
        return text
    with _lock:
        known = {*_secrets, *(s for s in secrets if s and len(s) >= 4)}
    for secret in sorted(known, key=len, reverse=True):  # the longest first: a key containing another
        if secret in text:
            text = text.replace(secret, MASK)
    return _KEY_SHAPES.sub(MASK, text)


def redact_error(error: BaseException, secrets: Iterable[str] = ()) -> BaseException:
    """Redact an exception's string arguments (and a ``reason`` attribute) in place; return it."""
    secrets = tuple(secrets)
    error.args = tuple(redact(a, secrets) if isinstance(a, str) else a for a in error.args)
    for attribute in ("reason", "message"):
        value = getattr(error, attribute, None)
        if isinstance(value, str):
            try:
                setattr(error, attribute, redact(value, secrets))
            except AttributeError:  # a read-only property
                pass
    return error


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (see ``logger``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with a ``RedactingFilter``: what the module logs is redacted.

    (A filter on a parent logger is not consulted for a child's records, so each module's logger
    gets its own.)
    """
    log = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in log.filters):
        log.addFilter(RedactingFilter())
    return log
