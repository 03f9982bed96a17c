"""The one error hierarchy every backend maps its own failures to.

::

    InferenceError                      any failure of a model call
    ├── RetryableError                  trying again (here or elsewhere) may help
    │   ├── RateLimitedError            HTTP 429; ``retry_after`` seconds when known
    │   ├── UnavailableError            5xx, connection refused/reset, engine not started
    │   │   └── ModelNotAvailableError  the local model is missing (no download possible)
    │   └── InferenceTimeoutError       no answer within the deadline
    └── PermanentError                  the same request will fail the same way again
        ├── ContextTooLongError         prompt + max_tokens exceed the model window
        ├── AuthenticationError         missing or rejected API key (401/403)
        ├── BadRequestError             malformed request, unknown model (400/404/422)
        └── ContentFilteredError        the provider refused the content

``routing`` catches :class:`RetryableError` (and :class:`AuthenticationError`
for one provider) and falls back to the next target; everything else reaches
the user as one clear message. ``RequestCancelledError`` is not a failure:
it reports that the caller aborted the request.
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base class of every error a backend raises."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class RetryableError(InferenceError):
    """A failure that another attempt, or another target, may not have."""


class RateLimitedError(RetryableError):
    """The provider rate limited us; ``retry_after`` is in seconds when known."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after = retry_after


class UnavailableError(RetryableError):
    """The backend cannot serve now: server error, connection failure, not started."""


class ModelNotAvailableError(UnavailableError):
    """The configured local model is not on disk and cannot be fetched."""


class InferenceTimeoutError(RetryableError):
    """No (complete) answer within the deadline."""


class PermanentError(InferenceError):
    """Retrying the same request will not help."""


class ContextTooLongError(PermanentError):
    """Prompt plus requested output exceed the model's context window."""


class AuthenticationError(PermanentError):
    """The API key is missing, invalid or lacks permission."""


class BadRequestError(PermanentError):
    """The request was malformed or named an unknown model."""


class ContentFilteredError(PermanentError):
    """The provider refused to produce or accept the content."""


class RequestCancelledError(Exception):
    """The caller aborted the request (not a failure of the backend)."""
