"""The OpenAI Images API backend, on the official ``openai`` client (sync and async).

The service is slow (high-quality renders and edits take minutes), rate-limited, bills by tokens,
refuses some prompts and fails now and then. This module owns everything that follows from that,
each in one place:

- The model table (``workbench/data/models.yaml`` and a root's ``models.yaml``, read by
  ``workbench.models``): what each model can make and take; a request a model cannot make, or an
  option it does not take, fails before sending, naming the nearest sizes or the replacement.
- Answers as ``b64_json`` or as a ``url``: a URL is fetched with the same client's HTTP transport,
  at most ``max_download_bytes``; a bigger one is refused (a failed run at 0 credits).
- ``map_error``: every exception of the ``openai`` client becomes one of ours (``ERROR_MAP``).
- ``RetryPolicy``: 429 waits as the service says (``retry-after-ms``/``Retry-After``) with jitter;
  5xx, dropped connections, unreadable answers and timeouts get bounded retries with backoff;
  refusals and key errors are never retried. The client's own retries are off (``max_retries=0``),
  so there is one policy, not two stacked.
- ``AdaptiveRateLimiter``: an images-per-minute limit shared by every call of one backend, which
  slows down when the service answers 429 and recovers slowly.
- ``SharedSlots`` (``backends/slots.py``): the requests in flight, sync and async; with a
  ``slots_folder`` one total across processes (a batch's kernels), fewer after a 429.

The API key comes from ``api_key=`` or ``$OPENAI_API_KEY`` and is kept out of options, reprs,
logs and error messages.

Example:
    >>> wb = Workbench(backend_options={"openai": {"timeout": 600, "images_per_minute": 5}})
    >>> run = wb.generate("a ceramic mug", backend="openai", quality="high", partial_images=2,
    ...                   on_partial=lambda index, data: print(index, len(data)))
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import math
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from workbench import redaction
from workbench.backends.base import (
    Backend,
    ImageRequest,
    ImageResult,
    ModelCapabilities,
    PartialCallback,
    Usage,
)
from workbench.backends.slots import SharedPace, SharedSlots
from workbench.errors import (
    BackendError,
    BackendTimeoutError,
    ContentPolicyError,
    NeedsKeyError,
    RateLimitError,
    ServiceError,
    SpecError,
    WorkbenchError,
)

if TYPE_CHECKING:
    import openai

    from workbench.models import ModelTable

__all__ = [
    "DEFAULT_TIMEOUTS",
    "ERROR_MAP",  # noqa: F822 - built on first use (module __getattr__)
    "MODELS",
    "AdaptiveRateLimiter",
    "OpenAIBackend",
    "RetryPolicy",
    "map_error",
    "parse_duration",
    "parse_retry_after",
]

log = redaction.logger("workbench.openai")

NAME = "openai"
KEY_ENV = "OPENAI_API_KEY"
MISSING_KEY = (
    f"The openai backend needs an API key: set {KEY_ENV} in your environment "
    f"(export {KEY_ENV}=sk-...) or pass api_key= in the backend options."
)
REJECTED_KEY = (
    f"The API key was rejected by the openai service (401): check that {KEY_ENV} holds a current key "
    "of your OpenAI project (export OPENAI_API_KEY=sk-...)."
)


def _packaged_table() -> ModelTable:
    from workbench.models import ModelTable

    return ModelTable.load()


MODELS: dict[str, ModelCapabilities] = _packaged_table().capabilities_map()
"""Capabilities of the usable models of the packaged table (``workbench/data/models.yaml``)."""

# The largest image a `url` answer may download (bytes); a larger one is refused, not stored.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024

# Seconds to wait for an answer, by quality: high-quality renders and edits take minutes.
DEFAULT_TIMEOUTS = {"low": 120.0, "medium": 180.0, "high": 300.0}
_CONNECT_TIMEOUT = 15.0
_POLICY_CODES = {"moderation_blocked", "content_policy_violation", "content_filter"}


# -- errors ------------------------------------------------------------------------------------
def parse_retry_after(headers: Any) -> float | None:
    """Seconds the service asks us to wait: ``retry-after-ms``, else ``Retry-After`` (seconds or
    an HTTP date); None when it gave no (readable) advice."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    value = headers.get("retry-after")
    if value:
        parsed = email.utils.parsedate_tz(value)
        if parsed is not None:
            return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: Any) -> float | None:
    """Seconds in a rate-limit reset header: ``1s``, ``6m0s``, ``20ms``, ``1h2m3.5s`` or a number."""
    if text is None:
        return None
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def _service_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(getattr(exc, "message", None) or exc)


def _status(exc: Any) -> int | None:
    return getattr(exc, "status_code", None)


def _headers(exc: Any) -> Any:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None)


def _bad_request(exc: Any) -> WorkbenchError:
    message = _service_message(exc)
    code = getattr(exc, "code", None)
    if code in _POLICY_CODES or "safety system" in message:
        return ContentPolicyError(
            f"The openai service refused the request: {message}",
            reason=message,
            backend=NAME,
            status_code=_status(exc),
        )
    return BackendError(
        f"The openai service rejected the request ({_status(exc)}): {message}",
        backend=NAME,
        status_code=_status(exc),
    )


def _rate_limited(exc: Any) -> WorkbenchError:
    message = _service_message(exc)
    if getattr(exc, "code", None) == "insufficient_quota":
        return BackendError(
            f"Your OpenAI account is out of quota; waiting will not help: {message}",
            backend=NAME,
            status_code=429,
        )
    return RateLimitError(
        f"The openai service is rate-limiting this key (429): {message}",
        retry_after=parse_retry_after(_headers(exc)),
        backend=NAME,
        status_code=429,
    )


def _status_error(exc: Any) -> WorkbenchError:
    status = _status(exc) or 0
    if status == 400:
        return _bad_request(exc)
    if status == 401:
        return NeedsKeyError(REJECTED_KEY, backend=NAME, status_code=401)
    if status == 408:
        return BackendTimeoutError("The openai service timed out (408).", backend=NAME, status_code=408)
    if status == 429:
        return _rate_limited(exc)
    if status >= 500:
        return ServiceError(
            f"The openai service failed ({status}): {_service_message(exc)}", backend=NAME, status_code=status
        )
    return BackendError(
        f"The openai service refused the request ({status}): {_service_message(exc)}",
        backend=NAME,
        status_code=status,
    )


def _permission(exc: Any) -> WorkbenchError:
    return BackendError(
        f"This API key may not do that (403): {_service_message(exc)} Check the project's model access and "
        "organization verification.",
        backend=NAME,
        status_code=403,
    )


def _not_found(exc: Any) -> WorkbenchError:
    return BackendError(
        f"The openai service has no such model or path (404): {_service_message(exc)} "
        "Check the model name and base_url.",
        backend=NAME,
        status_code=404,
    )


def _timeout(exc: Any) -> WorkbenchError:
    if _never_opened(exc) is not None:  # a connect timeout: the request never left
        return _connection(exc)
    return BackendTimeoutError("The openai service did not answer in time.", backend=NAME)


_NOT_OPENED = frozenset({"ConnectError", "ConnectTimeout"})
_NOT_USABLE = frozenset({"UnsupportedProtocol", "InvalidURL"})


def _never_opened(exc: Any) -> str | None:
    """Why a connection error happened before anything was sent (refused, no route, a connect
    timeout, a base_url the transport cannot use), or None when it may have been sent. By class
    name: the client's transport is httpx or its fork, and both name their errors alike."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names & _NOT_OPENED or isinstance(exc, ConnectionRefusedError):
            return "the connection could not be opened"
        if names & _NOT_USABLE:
            return "its base_url cannot be used"
        exc = exc.__cause__ or exc.__context__
    return None


def _connection(exc: Any) -> WorkbenchError:
    why = _never_opened(exc)
    if why is not None:
        error = ServiceError(
            f"The openai service could not be reached ({why}); nothing was sent or billed.", backend=NAME
        )
        error.never_sent = True  # type: ignore[attr-defined]
        return error
    return ServiceError("The connection to the openai service failed or was dropped.", backend=NAME)


def _unreadable(exc: Any) -> WorkbenchError:
    return ServiceError(
        "The openai service sent an answer that could not be read.", backend=NAME, status_code=_status(exc)
    )


def _api_error(exc: Any) -> WorkbenchError:  # an error event inside a stream, or another API error
    if getattr(exc, "code", None) in _POLICY_CODES:
        return _bad_request(exc)
    return ServiceError(f"The openai service failed: {_service_message(exc)}", backend=NAME)


def _client_usage(exc: Any) -> WorkbenchError:
    return BackendError(f"The openai client was used in a way it does not support: {exc}", backend=NAME)


def _build_error_map() -> dict[type[BaseException], Callable[[Any], WorkbenchError]]:
    import openai
    from openai import _exceptions

    table: dict[str, Callable[[Any], WorkbenchError]] = {
        "OpenAIError": _client_usage,
        "APIError": _api_error,
        "APIStatusError": _status_error,
        "APIConnectionError": _connection,
        "APITimeoutError": _timeout,
        "APIResponseValidationError": _unreadable,
        "BadRequestError": _bad_request,
        "AuthenticationError": lambda exc: NeedsKeyError(REJECTED_KEY, backend=NAME, status_code=401),
        "OAuthError": lambda exc: NeedsKeyError(REJECTED_KEY, backend=NAME, status_code=401),
        "SubjectTokenProviderError": lambda exc: NeedsKeyError(
            "The openai client could not get a token from its workload identity provider.", backend=NAME
        ),
        "PermissionDeniedError": _permission,
        "NotFoundError": _not_found,
        "ConflictError": _status_error,
        "UnprocessableEntityError": _status_error,
        "RateLimitError": _rate_limited,
        "InternalServerError": _status_error,
        "LengthFinishReasonError": _client_usage,
        "ContentFilterFinishReasonError": lambda exc: ContentPolicyError(
            "The openai service's content filter stopped the answer.", reason="content filter", backend=NAME
        ),
        "WebSocketConnectionClosedError": _connection,
        "WebSocketQueueFullError": _connection,
        "_AmbiguousModuleClientUsageError": _client_usage,
    }
    mapped: dict[type[BaseException], Callable[[Any], WorkbenchError]] = {}
    for module in (openai, _exceptions):
        for name, handler in table.items():
            cls = getattr(module, name, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                mapped[cls] = handler
    return mapped


_ERROR_MAP: dict[type[BaseException], Callable[[Any], WorkbenchError]] | None = None


def _error_map() -> dict[type[BaseException], Callable[[Any], WorkbenchError]]:
    """``ERROR_MAP``, built on first use: importing ``openai`` takes most of a second, and only
    a request (or its failure) needs it, not planning or pricing."""
    global _ERROR_MAP
    if _ERROR_MAP is None:
        _ERROR_MAP = _build_error_map()
    return _ERROR_MAP


def __getattr__(name: str) -> Any:
    if name == "ERROR_MAP":  # each exception class of the openai client, and its mapping to ours
        return _error_map()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def map_error(exc: BaseException, *, secrets: Iterable[str] = ()) -> WorkbenchError:
    """Our error for an exception of the ``openai`` client (or of reading its answer).

    The one place the client's exceptions are translated. ``secrets`` (the API key) are removed
    from the message, whatever the service or client put in it.
    """
    if isinstance(exc, WorkbenchError):
        error = exc
    else:
        mapping = _error_map()
        handler = next((mapping[cls] for cls in type(exc).__mro__ if cls in mapping), None)
        if handler is not None:
            error = handler(exc)
        elif isinstance(exc, ValueError):  # bad JSON, or bad base64 (binascii.Error), in an answer
            error = _unreadable(exc)
        else:
            error = BackendError(f"The openai backend failed: {type(exc).__name__}.", backend=NAME)
    redaction.redact_error(error, secrets)  # the registered key, and anything shaped like one
    return error


# -- retries -----------------------------------------------------------------------------------
@dataclass
class RetryPolicy:
    """Which failures are retried, how often and after how long: the one retry policy.

    Args:
        max_retries: retries after the first try (so ``max_retries + 1`` tries at most).
        backoff: first wait for 5xx, dropped connections and timeouts, doubled each retry.
        max_backoff: the longest such wait.
        max_retry_after: the longest wait honoured from ``Retry-After`` (a longer one is capped).
        jitter: a random fraction added to every wait, so many callers do not come back at once.
        max_billed_retries: retries after a try the service may have done and billed (a timeout,
            a connection dropped after sending): each is paid again, so at most this many (1).
    """

    max_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 600.0
    jitter: float = 0.2
    max_billed_retries: int = 1

    def retryable(self, error: WorkbenchError) -> bool:
        return isinstance(error, (RateLimitError, ServiceError, BackendTimeoutError))

    def delay(self, attempt: int, error: WorkbenchError, *, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before retry ``attempt`` (1-based), or None to give up."""
        if attempt > self.max_retries or not self.retryable(error):
            return None
        rng = rng or random
        advised = getattr(error, "retry_after", None)
        if advised is not None:
            base = min(advised, self.max_retry_after)
        else:
            base = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return base + base * self.jitter * rng.random()


def possibly_billed(error: WorkbenchError) -> bool:
    """Whether a failed try may have been done (and billed) by the service: it timed out, or the
    connection dropped or the answer was unreadable after the request was sent (no HTTP status),
    or the service answered but its image could not be downloaded. A connection that never
    opened was not billed."""
    if getattr(error, "never_sent", False):
        return False
    if getattr(error, "answered", False):
        return True
    if isinstance(error, BackendTimeoutError):
        return getattr(error, "status_code", None) is None
    return isinstance(error, ServiceError) and getattr(error, "status_code", None) is None


def _try_record(number: int, started_at: str, outcome: str, **values: Any) -> dict[str, Any]:
    """One try of a request, as the run log's ``attempts`` table keeps it."""
    return {"number": number, "started_at": started_at, "ended_at": _now_iso(), "outcome": outcome, **values}


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="microseconds")


# -- throughput --------------------------------------------------------------------------------
class AdaptiveRateLimiter:
    """An images-per-minute limit shared by all calls of one backend, sync or async.

    Requests are spaced ``60 / rate`` seconds apart per image. With no limit configured
    (``per_minute=None``) nothing is spaced until the service answers 429; then the rate becomes
    a fraction of what was being sent. The first 429 of a burst pauses every new request for its
    Retry-After and lowers the rate (``decrease``); further 429s within ``window`` seconds (or that
    Retry-After) only make their own request wait, since one answer to a burst is enough. The rate
    recovers by a ``1/recovery`` step of its ceiling per success, back to no limit when none was
    configured.

    Args:
        per_minute: the ceiling (your tier's images per minute), or None.
        decrease: the factor applied to the rate on 429.
        recovery: successes needed to climb from nothing back to the ceiling.
        floor: the lowest rate, in images per minute.
        low_remaining: below this many requests (or tokens, images) left in the service's
            window (``x-ratelimit-remaining-*``), new requests are spread until its reset.
    """

    def __init__(
        self,
        per_minute: float | None = None,
        *,
        decrease: float = 0.75,
        recovery: int = 20,
        floor: float = 1.0,
        window: float = 1.0,
        low_remaining: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute is not None and per_minute <= 0:
            raise ValueError("images_per_minute must be positive, or None for no limit.")
        self.ceiling = per_minute
        self.rate = per_minute
        self.decrease = decrease
        self.recovery = recovery
        self.floor = floor
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0.0
        self._paused_until = 0.0
        self._last_decrease = -math.inf
        self._peak: float | None = None
        self._recent: deque[tuple[float, int]] = deque()
        self.slowdowns = 0
        self.low_remaining = low_remaining
        self.shared: SharedPace | None = None  # the pace shared with other processes, if any
        self.header_pauses = 0
        self._spaced_until = -math.inf
        self._next_spaced = 0.0
        self._spacing = 0.0

    def reserve(self, images: int = 1) -> float:
        """Take a slot for ``images`` images; return the seconds to wait before sending."""
        with self._lock:
            now = self._clock()
            start = max(now, self._paused_until)
            if now < self._spaced_until:  # the service said little is left: one at a time
                start = max(start, self._next_spaced)
                self._next_spaced = start + self._spacing * images
            if self.rate is not None:
                start = max(start, self._next)
                if self.shared is not None:  # other processes of the batch take turns with us
                    offset = time.time() - now
                    start = self.shared.take(start + offset, images * 60.0 / self.rate) - offset
                self._next = start + images * 60.0 / self.rate
            self._recent.append((start, images))
            while self._recent and self._recent[0][0] < now - 60.0:
                self._recent.popleft()
            return start - now

    def _observed(self, now: float) -> float:
        """Images per minute sent lately (over the last minute at most)."""
        if not self._recent:
            return self.floor
        span = max(now - self._recent[0][0], 0.05)
        return sum(n for _, n in self._recent) / span * 60.0

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The service answered 429: pause new requests and lower the rate, once per burst."""
        with self._lock:
            now = self._clock()
            if now - self._last_decrease < max(self.window, retry_after or 0.0):
                return  # the same burst: that request waits its own Retry-After, the others go on
            self._last_decrease = now
            if retry_after:
                self._paused_until = max(self._paused_until, now + retry_after)
            current = self.rate if self.rate is not None else self._observed(now)
            if self.ceiling is None:
                self._peak = max(self._peak or 0.0, current)
            self.rate = max(self.floor, current * self.decrease)
            self.slowdowns += 1
            log.info("openai: 429, slowing to %.0f images per minute", self.rate)

    def on_headers(self, headers: Any) -> None:
        """Follow the service's ``x-ratelimit-remaining-<kind>`` / ``x-ratelimit-reset-<kind>``
        headers (requests, tokens, images): with nothing left, new requests wait for the reset;
        with little left, they are spread over the time until it (the rest of the window's
        budget, one by one), so the account's limit is met before a 429 rather than after."""
        if headers is None:
            return
        spacing, pause = 0.0, 0.0
        headers = {str(k).lower(): v for k, v in headers.items()}
        for name, value in headers.items():
            if not name.startswith("x-ratelimit-remaining-"):
                continue
            kind = name.removeprefix("x-ratelimit-remaining-")
            reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
            try:
                remaining = float(value)
            except (TypeError, ValueError):
                continue
            if reset is None or reset <= 0:
                continue
            if remaining <= 0:
                pause = max(pause, reset)
            elif remaining < self.low_remaining:
                spacing = max(spacing, reset / remaining)
        if not (spacing or pause):
            return
        with self._lock:
            now = self._clock()
            if pause:
                self._paused_until = max(self._paused_until, now + min(pause, 600.0))
                self.header_pauses += 1
            if spacing:
                self._spaced_until = max(self._spaced_until, now + spacing * self.low_remaining)
                self._spacing = spacing

    def on_success(self) -> None:
        with self._lock:
            if self.rate is None:
                return
            top = self.ceiling if self.ceiling is not None else (self._peak or self.rate)
            self.rate = min(top, self.rate + top / self.recovery)
            if self.ceiling is None and self.rate >= top:
                self.rate = None  # recovered: no limit again until the next 429


# -- the backend -------------------------------------------------------------------------------
class _Secret:
    """Holds the API key; prints as ``***`` wherever it is shown (reprs, ``vars()``, tracebacks)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("The API key is not pickled; each process reads it from its environment.")


def _slug(where: str) -> str:
    """A folder name for a service (``http://127.0.0.1:8000/v1`` → ``openai-127.0.0.1-8000-v1``)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9.]+", where.split("://")[-1]) if p]
    return "-".join(["openai", *parts])[:100]


def _mime(data: bytes) -> tuple[str, str]:
    from workbench.store import sniff_format

    fmt = sniff_format(data) or "png"
    return {"jpeg": "jpg"}.get(fmt, fmt), {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}[
        fmt
    ]


def _usage(usage: Any, svg_usage: Any = None) -> Usage | None:
    """The tokens of an answer: the image's ``usage`` and, for SVG output, the author's
    ``svg_usage`` (billed apart, by its own model)."""
    if usage is None and svg_usage is None:
        return None
    details_in = getattr(usage, "input_tokens_details", None)
    details_out = getattr(usage, "output_tokens_details", None)
    text_in = getattr(details_in, "text_tokens", None)
    image_in = getattr(details_in, "image_tokens", None)
    if text_in is None and image_in is None:
        text_in, image_in = getattr(usage, "input_tokens", 0) or 0, 0
    image_out = getattr(details_out, "image_tokens", None)
    text_out = getattr(details_out, "text_tokens", None) or 0
    if image_out is None:
        image_out = (getattr(usage, "output_tokens", 0) or 0) - text_out
    return Usage(
        text_in=int(text_in or 0),
        image_in=int(image_in or 0),
        image_out=int(image_out),
        text_out=int(text_out),
        svg_in=int(getattr(svg_usage, "input_tokens", 0) or 0),
        svg_out=int(getattr(svg_usage, "output_tokens", 0) or 0),
        svg_reasoning=int(getattr(svg_usage, "reasoning_tokens", 0) or 0),
        svg_model=getattr(svg_usage, "model", None) or None,
    )


def _decode(b64: str | None) -> bytes:
    if not b64:
        raise ServiceError("The openai service answered without image data (b64_json).", backend=NAME)
    return base64.b64decode(b64, validate=True)


class _Url(str):
    """An image the service answered with a ``url`` (to fetch), in place of its bytes."""


def _image_of(item: Any) -> bytes | _Url:
    b64 = getattr(item, "b64_json", None)
    if b64:
        return _decode(b64)
    url = getattr(item, "url", None)
    if isinstance(url, str) and url:
        if urlsplit(url).scheme not in ("http", "https"):
            raise BackendError(
                "The openai service answered with an image URL that is not http(s); it was not fetched.",
                backend=NAME,
            )
        return _Url(url)
    return _decode(None)


def _amount(size: int) -> str:
    """Bytes for people: ``1000 bytes``, ``512 KB``, ``20 MB``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.3g} KB"
    return f"{size / (1024 * 1024):.3g} MB"


def _answered(error: BackendError) -> BackendError:
    """An image the service made (and billed) but that could not be had: its try is possibly billed."""
    error.answered = True  # type: ignore[attr-defined]
    return error


def _too_big(limit: int) -> BackendError:
    return _answered(
        BackendError(
            f"The openai service's image URL holds more than {_amount(limit)}; it was not "
            "downloaded or stored (raise max_download_bytes to accept bigger images).",
            backend=NAME,
            status_code=200,
        )
    )


def _not_fetched(why: str) -> BackendError:
    # Not a ServiceError: the image was made (and billed); retrying the request would pay for it again.
    return _answered(
        BackendError(
            f"The openai service made the image but its URL could not be downloaded ({why}); "
            "the request is not repeated, since the service has billed it.",
            backend=NAME,
            status_code=200,
        )
    )


def _fetch(http: Any, url: str, limit: int, timeout: float) -> bytes:
    """Download an image answered as ``url`` with the client's own HTTP transport, at most ``limit`` bytes."""
    try:
        return _fetch_once(http, url, limit, timeout)
    except WorkbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - the transport's errors: a dropped or refused download
        raise _not_fetched(type(exc).__name__) from None


async def _afetch(http: Any, url: str, limit: int, timeout: float) -> bytes:
    try:
        return await _afetch_once(http, url, limit, timeout)
    except WorkbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - the transport's errors: a dropped or refused download
        raise _not_fetched(type(exc).__name__) from None


def _fetch_once(http: Any, url: str, limit: int, timeout: float) -> bytes:
    with http.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
        if response.status_code >= 400:
            raise _not_fetched(f"HTTP {response.status_code}")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_big(limit)
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > limit:
                raise _too_big(limit)
    return bytes(data)


async def _afetch_once(http: Any, url: str, limit: int, timeout: float) -> bytes:
    async with http.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
        if response.status_code >= 400:
            raise _not_fetched(f"HTTP {response.status_code}")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_big(limit)
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > limit:
                raise _too_big(limit)
    return bytes(data)


def _safety_identifier(value: str | bool | None) -> str | None:
    """The backend's default safety identifier: a hash of the local user (``True``), a given one, or none."""
    if value is None or value is False:
        return None
    if value is True:
        import getpass
        import hashlib
        import socket

        try:
            who = f"{getpass.getuser()}@{socket.gethostname()}"
        except (KeyError, OSError):  # no user name in this environment (some containers)
            return None
        return "wb-" + hashlib.sha256(who.encode()).hexdigest()[:32]
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise SpecError(
            "safety_identifier is text of 1 to 64 characters, true (a hash of the local user) or false.",
            field="backend_options",
        )
    return value


class _Collected:
    """Images and usage gathered from a response or a stream of events."""

    def __init__(self, on_partial: PartialCallback | None) -> None:
        self.images: list[bytes | _Url] = []
        self.usage: Any = None
        self.svg_usage: Any = None
        self.meta: dict[str, Any] = {}
        self.partials = 0
        self._on_partial = on_partial

    def response(self, response: Any) -> None:
        for item in response.data or []:
            self.images.append(_image_of(item))
        self.usage = response.usage
        self.svg_usage = getattr(response, "svg_usage", None)
        self.meta = {
            k: getattr(response, k, None)
            for k in ("created", "size", "quality", "background", "output_format")
        }

    def event(self, event: Any) -> None:
        kind = getattr(event, "type", "") or ""
        if kind.endswith(".partial_image"):
            self.partials += 1
            if self._on_partial is not None:
                data = _decode(event.b64_json)
                try:
                    self._on_partial(int(event.partial_image_index), data)
                except Exception:  # a preview widget's fault must not lose a paid render
                    log.exception("openai: the partial-image callback failed; the render goes on")
        elif kind.endswith(".completed"):
            self.images.append(_image_of(event))
            self.usage = getattr(event, "usage", None) or self.usage
            self.meta = {
                k: getattr(event, k, None) for k in ("size", "quality", "background", "output_format")
            }


class OpenAIBackend(Backend):
    """The OpenAI Images API (``gpt-image-2`` by default), generate and edit.

    Args:
        api_key: the key; default ``$OPENAI_API_KEY``. Never stored in options, logs or reprs.
        base_url: an OpenAI-compatible server (default: the client's, or ``$OPENAI_BASE_URL``).
        timeout: seconds per try; default by quality (``DEFAULT_TIMEOUTS``: 300 s for high and edits).
        max_retries: retries after the first try, for 429, 5xx, dropped connections, timeouts.
        concurrency: requests in flight at once (async calls; sync calls from several threads).
            With ``slots_folder``, the total for every process that uses that folder.
        slots_folder: a folder whose lock files share ``concurrency`` across processes (the batch
            runner passes ``<root>/limits``: all shards of a batch, and other batches of the root,
            keep one total per service); None keeps the limit in this backend.
        images_per_minute: the rate ceiling; None for none until the service answers 429.
        retry: a whole ``RetryPolicy`` (overrides ``max_retries``).
        safety_identifier: sent as ``safety_identifier`` for the service's abuse monitoring: True
            (default) a hash of the local user and host, text a given identifier, False none; a
            request's own ``safety_identifier`` (the run's user) comes first.
        max_download_bytes: the largest image a ``url`` answer may download (64 MB).
        models: the model table to check against (``Workbench`` passes its root's).

    Raises:
        NeedsKeyError: no key was given or found in the environment.
    """

    name = NAME
    version = "1"
    needs_key = True
    key_env = KEY_ENV
    models = MODELS
    default_model = "gpt-image-2"
    uses_model_table = True
    option_names = (
        "api_key",
        "base_url",
        "timeout",
        "max_retries",
        "concurrency",
        "images_per_minute",
        "retry",
        "organization",
        "safety_identifier",
        "max_download_bytes",
        "models",
        "slots_folder",
    )

    @classmethod
    def capabilities(cls, model: str | None = None) -> ModelCapabilities:
        """A model's capabilities from the packaged table only (a retired one names its
        replacement). A root's ``models.yaml`` adds to it: use ``Workbench.models`` for those."""
        return _packaged_table().capabilities(model or cls.default_model)

    @classmethod
    def check(cls, request: ImageRequest) -> None:
        """Check a request against the packaged table only; an instance checks against its own
        (``Workbench.models``, the root's ``models.yaml`` over the packaged table)."""
        _packaged_table().check(request)

    @classmethod
    def check_values(cls, options: Mapping[str, Any]) -> None:
        """Each option's value, checked before a Workbench is made: one sentence for a wrong one."""

        def bad(name: str, what: str) -> SpecError:
            return SpecError(
                f"The openai backend's {name} is {what}, not {options[name]!r}.", field="backend_options"
            )

        def number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        def whole(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        for name in ("timeout", "images_per_minute"):
            value = options.get(name)
            if value is not None and not (number(value) and value > 0):
                unit = "seconds" if name == "timeout" else "images a minute"
                raise bad(name, f"a number of {unit} above 0")
        if "max_retries" in options and not (whole(options["max_retries"]) and options["max_retries"] >= 0):
            raise bad("max_retries", "a whole number of retries, 0 or more")
        if "concurrency" in options and not (whole(options["concurrency"]) and options["concurrency"] >= 1):
            raise bad("concurrency", "a whole number of requests at once, 1 or more")
        if "max_download_bytes" in options and not (
            whole(options["max_download_bytes"]) and options["max_download_bytes"] >= 1
        ):
            raise bad("max_download_bytes", "a whole number of bytes above 0")
        base_url = options.get("base_url")
        if base_url is not None:
            parts = urlsplit(base_url) if isinstance(base_url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise bad("base_url", "an http(s) URL such as http://127.0.0.1:8000/v1")
        for name in ("api_key", "organization"):
            if options.get(name) is not None and not isinstance(options[name], str):
                raise bad(name, "text")
        safety = options.get("safety_identifier")
        if safety is not None and not isinstance(safety, (str, bool)):
            raise bad("safety_identifier", "text, or true/false")
        if options.get("retry") is not None and not isinstance(options["retry"], RetryPolicy):
            raise bad("retry", "a RetryPolicy")
        slots = options.get("slots_folder")
        if slots is not None and not isinstance(slots, (str, os.PathLike)):
            raise bad("slots_folder", "a folder path")

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int = 5,
        concurrency: int = 4,
        images_per_minute: float | None = None,
        retry: RetryPolicy | None = None,
        organization: str | None = None,
        safety_identifier: str | bool = True,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        models: ModelTable | None = None,
        slots_folder: str | os.PathLike[str] | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise SpecError(
                f"Unknown option(s) for the openai backend: {', '.join(sorted(unknown))}; it takes api_key, "
                "base_url, timeout, max_retries, concurrency, images_per_minute, retry, organization, "
                "safety_identifier, max_download_bytes and slots_folder.",
                field="backend_options",
            )
        self.check_values(
            {
                "base_url": base_url,
                "timeout": timeout,
                "max_retries": max_retries,
                "concurrency": concurrency,
                "images_per_minute": images_per_minute,
                "retry": retry,
                "organization": organization,
                "safety_identifier": safety_identifier,
                "max_download_bytes": max_download_bytes,
                "slots_folder": slots_folder,
            }
        )
        key = api_key or os.environ.get(KEY_ENV)
        if not key or not key.strip():
            raise NeedsKeyError(MISSING_KEY, backend=NAME)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1.")
        super().__init__(
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            concurrency=concurrency,
            images_per_minute=images_per_minute,
        )
        self._key = _Secret(key.strip())
        redaction.register_secret(key)  # every error path redacts it, wherever the message goes
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.organization = organization
        self.safety_identifier = _safety_identifier(safety_identifier)
        self.max_download_bytes = max_download_bytes
        self.table = models or _packaged_table()
        self.timeout = timeout
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self.concurrency = concurrency
        self.limiter = AdaptiveRateLimiter(images_per_minute)
        self.slots = (
            SharedSlots.open(Path(slots_folder) / _slug(self._where()), concurrency)
            if slots_folder is not None
            else SharedSlots(None, concurrency)
        )
        if slots_folder is not None:  # images per minute for all the processes, too
            self.limiter.shared = SharedPace(Path(slots_folder) / _slug(self._where()) / "pace")
        self._client: openai.OpenAI | None = None
        self._async: dict[asyncio.AbstractEventLoop, tuple[Any, asyncio.Semaphore]] = {}
        self._lock = threading.Lock()
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"<OpenAIBackend base_url={self._where()!r} concurrency={self.concurrency}>"

    def _where(self) -> str:
        if not self.base_url:
            return "api.openai.com"
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    # -- clients ------------------------------------------------------------------------------
    def _client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"api_key": self._key.reveal(), "max_retries": 0}  # our RetryPolicy retries
        if self.base_url:
            options["base_url"] = self.base_url
        if self.organization:
            options["organization"] = self.organization
        return options

    @property
    def client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(**self._client_options())
            return self._client

    def _async_client(self) -> tuple[Any, asyncio.Semaphore]:
        # An async client and a semaphore belong to one event loop; notebooks and tests may run several.
        loop = asyncio.get_running_loop()
        with self._lock:
            for old in [old for old in self._async if old.is_closed()]:
                del self._async[old]  # its connections died with it; they cannot be closed politely now
            pair = self._async.get(loop)
            if pair is None:
                import openai

                # DefaultAsyncHttpxClient, not the client's own wrapper: the wrapper's __del__ schedules
                # aclose() on whatever loop runs at collection time, which fails once this loop is closed.
                http = openai.DefaultAsyncHttpxClient()
                pair = (
                    openai.AsyncOpenAI(**self._client_options(), http_client=http),
                    asyncio.Semaphore(self.concurrency),
                )
                self._async[loop] = pair
            return pair

    def close(self) -> None:
        """Close the clients and their connections; an async client closes on its own event loop."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            pairs = list(self._async.items())
            self._async.clear()
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, (client, _) in pairs:
            if loop.is_closed():
                continue  # its connections died with it
            if loop is current:
                loop.create_task(client.close())
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(client.close(), loop)
            else:
                loop.run_until_complete(client.close())

    # -- requests -----------------------------------------------------------------------------
    def timeout_for(self, request: ImageRequest) -> float:
        """Seconds one try may take: the ``timeout`` option, else by quality (300 s for high and edits)."""
        if self.timeout is not None:
            return float(self.timeout)
        seconds = DEFAULT_TIMEOUTS.get(request.quality, DEFAULT_TIMEOUTS["high"])
        return (
            max(seconds, DEFAULT_TIMEOUTS["high"]) if request.kind == "edit" else seconds
        )  # edits are slow too

    def params(self, request: ImageRequest) -> dict[str, Any]:
        """The client call's keyword arguments for a request (files as (name, bytes, mime))."""
        import openai

        self.table.check(request)
        seconds = self.timeout_for(request)
        params: dict[str, Any] = {
            "model": request.model or self.default_model,
            "prompt": request.prompt,
            "size": request.size,
            "quality": request.quality,
            "n": request.n,
            "output_format": request.output_format,
            "timeout": openai.Timeout(seconds, connect=min(seconds, _CONNECT_TIMEOUT)),
        }
        if request.background != "auto":
            params["background"] = request.background
        if request.output_compression is not None and request.output_format in ("jpeg", "webp"):
            params["output_compression"] = request.output_compression
        if request.partial_images:
            params["stream"] = True
            params["partial_images"] = request.partial_images
        who = request.safety_identifier or self.safety_identifier
        if who:
            params["safety_identifier"] = who  # not the deprecated `user`, which it supersedes
        if request.complexity is not None:
            params["complexity"] = request.complexity
        for name in ("frame_count", "frame_duration_ms"):  # GIF output
            if getattr(request, name) is not None:
                params[name] = getattr(request, name)
        if request.svg_model is not None or request.svg_effort is not None:  # SVG output's author
            svg: dict[str, Any] = {}
            if request.svg_model is not None:
                svg["model"] = request.svg_model
            if request.svg_effort is not None:
                svg["reasoning"] = {"effort": request.svg_effort}
            params["svg"] = svg
        if request.inputs:  # an edit, or a generate with reference images: the edits endpoint
            files = []
            for index, data in enumerate(request.inputs):
                ext, mime = _mime(data)
                files.append((f"image-{index}.{ext}", data, mime))
            params["image"] = files
            if request.mask is not None:
                ext, mime = _mime(request.mask)
                params["mask"] = (f"mask.{ext}", request.mask, mime)
            if request.markup is not None:
                params["markup"] = ("markup.png", request.markup, "image/png")
            if request.input_fidelity is not None:
                params["input_fidelity"] = request.input_fidelity
        elif request.moderation != "auto":
            params["moderation"] = request.moderation
        return params

    def generate(self, request: ImageRequest, *, on_partial: PartialCallback | None = None) -> ImageResult:
        """Send a request with the sync client (works inside a running event loop, as in notebooks)."""
        return self._run_sync(request, on_partial)

    def edit(self, request: ImageRequest, *, on_partial: PartialCallback | None = None) -> ImageResult:
        return self._run_sync(request, on_partial)

    async def asend(self, request: ImageRequest, *, on_partial: PartialCallback | None = None) -> ImageResult:
        """Send a request with the async client, under the concurrency and images-per-minute limits."""
        params = self.params(request)
        client, _ = self._async_client()
        started = time.perf_counter()
        attempt, tries = 0, []
        while True:
            attempt += 1
            async with self.slots.slot():
                wait = self.limiter.reserve(request.n)
                if wait > 0:
                    await asyncio.sleep(wait)
                collected = _Collected(on_partial)
                try_started = _now_iso()
                try:
                    await self._acall(client, request, params, collected)
                    result = self._result(request, collected, started, attempt)
                except Exception as exc:  # noqa: BLE001 — every failure goes through map_error
                    delay, error = self._after_failure(exc, attempt, tries, try_started)
                else:
                    tries.append(_try_record(attempt, try_started, "ok", http_status=200))
                    result.raw["tries"] = tries
                    self.limiter.on_success()
                    self.slots.on_success()
                    return result
            if delay is None:
                raise error from None
            await asyncio.sleep(delay)

    def _run_sync(self, request: ImageRequest, on_partial: PartialCallback | None) -> ImageResult:
        params = self.params(request)
        client = self.client
        started = time.perf_counter()
        attempt, tries = 0, []
        while True:
            attempt += 1
            with self.slots.sync_slot():
                wait = self.limiter.reserve(request.n)
                if wait > 0:
                    time.sleep(wait)
                collected = _Collected(on_partial)
                try_started = _now_iso()
                try:
                    self._call(client, request, params, collected)
                    result = self._result(request, collected, started, attempt)
                except Exception as exc:  # noqa: BLE001 — every failure goes through map_error
                    delay, error = self._after_failure(exc, attempt, tries, try_started)
                else:
                    tries.append(_try_record(attempt, try_started, "ok", http_status=200))
                    result.raw["tries"] = tries
                    self.limiter.on_success()
                    self.slots.on_success()
                    return result
            if delay is None:
                raise error from None
            time.sleep(delay)

    def _call(
        self, client: Any, request: ImageRequest, params: dict[str, Any], collected: _Collected
    ) -> None:
        images = client.images.with_raw_response  # the answer's headers say what the account has left
        method = images.edit if "image" in params else images.generate
        raw = method(**params)
        self.limiter.on_headers(raw.headers)
        answer = raw.parse()
        if params.get("stream"):
            with answer as stream:
                for event in stream:
                    collected.event(event)
        else:
            collected.response(answer)
        for index, image in enumerate(collected.images):
            if isinstance(image, _Url):
                seconds = self.timeout_for(request)
                collected.images[index] = _fetch(client._client, image, self.max_download_bytes, seconds)

    async def _acall(
        self, client: Any, request: ImageRequest, params: dict[str, Any], collected: _Collected
    ) -> None:
        images = client.images.with_raw_response
        method = images.edit if "image" in params else images.generate
        raw = await method(**params)
        self.limiter.on_headers(raw.headers)
        answer = raw.parse()
        if params.get("stream"):
            async with answer as stream:
                async for event in stream:
                    collected.event(event)
        else:
            collected.response(answer)
        for index, image in enumerate(collected.images):
            if isinstance(image, _Url):
                seconds = self.timeout_for(request)
                collected.images[index] = await _afetch(
                    client._client, image, self.max_download_bytes, seconds
                )

    def _after_failure(
        self, exc: Exception, attempt: int, tries: list[dict[str, Any]] | None = None, started_at: str = ""
    ) -> tuple[float | None, WorkbenchError]:
        """Map the failure, tell the limiter, record the try (``tries``; the error carries them as
        ``error.tries``), and decide: seconds to wait before retrying, or None."""
        error = map_error(exc, secrets=(self._key.reveal(),))
        if isinstance(error, RateLimitError):
            self.limiter.on_rate_limited(error.retry_after)
            self.slots.on_rate_limited()
        billed = possibly_billed(error)
        if tries is not None:
            tries.append(
                _try_record(
                    attempt,
                    started_at or _now_iso(),
                    type(error).__name__,
                    http_status=getattr(error, "status_code", None),
                    request_id=getattr(exc, "request_id", None),
                    possibly_billed=billed,
                    error=str(error)[:500],
                )
            )
            error.tries = tries  # type: ignore[attr-defined]
        delay = self.retry.delay(attempt, error, rng=self._rng)
        billed_so_far = sum(1 for t in tries or () if t.get("possibly_billed"))
        if delay is not None and billed and billed_so_far > self.retry.max_billed_retries:
            delay = None  # another try would be paid again: give up, and say the work may be billed
            error.args = (
                f"{error.args[0]} Not retried again: the service may have done and billed "
                f"{billed_so_far} of these tries.",
                *error.args[1:],
            )
            return None, error
        if delay is None:
            if self.retry.retryable(error) and attempt > 1:
                error.args = (f"{error.args[0]} Gave up after {attempt} tries.", *error.args[1:])
            return None, error
        log.info(
            "openai: %s (try %d of %d); retrying in %.2f s",
            type(error).__name__,
            attempt,
            self.retry.max_retries + 1,
            delay,
        )
        return delay, error

    def _result(
        self, request: ImageRequest, collected: _Collected, started: float, attempts: int
    ) -> ImageResult:
        if not collected.images:
            raise ServiceError("The openai service answered without an image.", backend=NAME)
        from workbench.store import sniff_stored_format

        fmt = sniff_stored_format(collected.images[0])
        if fmt is None:
            raise ServiceError(
                "The openai service sent image data that is not PNG, JPEG, WebP, GIF or SVG.", backend=NAME
            )
        meta = {k: v for k, v in collected.meta.items() if v is not None}
        return ImageResult(
            images=collected.images,
            format=fmt,
            model=request.model or self.default_model,
            usage=_usage(collected.usage, collected.svg_usage),
            latency_ms=(time.perf_counter() - started) * 1000,
            raw=meta | {"attempts": attempts, "partial_images": collected.partials},
        )
