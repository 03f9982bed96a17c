"""HTTP status codes and headers to :mod:`inference.errors`, shared by the remote backends.

Each provider module decides what its own error bodies mean (which message
says "context window exceeded", where a rate limit's delay is written) and
then calls :func:`error_for_status`, so the status-to-class table exists once:

====================  =====================================================
429                   :class:`RateLimitedError` (``retry_after`` when known)
401, 403              :class:`AuthenticationError`
408                   :class:`InferenceTimeoutError`
5xx (529 included)    :class:`UnavailableError`
400/413/422 + context :class:`ContextTooLongError`
other 4xx             :class:`BadRequestError`
====================  =====================================================
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterable, Mapping

from inference.errors import (
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    InferenceError,
    InferenceTimeoutError,
    RateLimitedError,
    UnavailableError,
)

#: Phrases that providers and vLLM use when the prompt does not fit the window.
COMMON_CONTEXT_MARKERS: tuple[str, ...] = (
    "context length",
    "context_length",
    "context window",
    "maximum context",
)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        value = _finite_float(millis)
        if value is not None:
            return max(0.0, value / 1000.0)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    value = _finite_float(raw)
    if value is not None:
        return max(0.0, value)
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def _finite_float(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def mentions_any(message: str, markers: Iterable[str]) -> bool:
    """True when ``message`` contains one of ``markers`` (case-insensitive)."""
    lowered = message.lower()
    return any(marker.lower() in lowered for marker in markers)


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    retry_after: float | None = None,
    context_too_long: bool = False,
) -> InferenceError:
    """The error class for an HTTP ``status`` (see the table in the module docstring)."""
    text = f"{provider}: {message}" if provider else message
    if status == 429:
        return RateLimitedError(text, provider=provider, status=status, retry_after=retry_after)
    if status in (401, 403):
        return AuthenticationError(text, provider=provider, status=status)
    if status == 408:
        return InferenceTimeoutError(text, provider=provider, status=status)
    if status >= 500:
        return UnavailableError(text, provider=provider, status=status)
    if context_too_long and status in (400, 413, 422):
        return ContextTooLongError(text, provider=provider, status=status)
    return BadRequestError(text, provider=provider, status=status)
