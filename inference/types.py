"""Values that cross the inference interface: requests, stream chunks, usage, load.

All are frozen dataclasses; the backends build them, callers only read them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field


class RequestKind(enum.StrEnum):
    """What the model is asked to do."""

    FIM = "fim"  # fill in the middle: prefix + suffix -> middle
    CHAT = "chat"  # messages -> assistant answer


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One model call. ``request_id`` is what :meth:`Backend.abort` takes."""

    request_id: str
    kind: RequestKind
    model: str = ""  # empty: the backend's default model
    prefix: str = ""  # FIM only
    suffix: str = ""  # FIM only
    messages: Sequence[ChatMessage] = ()  # CHAT only
    max_tokens: int = 64
    temperature: float = 0.0
    stop: Sequence[str] = ()
    timeout_s: float | None = None
    top_p: float | None = None  # nucleus sampling; None: the target's default (not sent)
    seed: int | None = None  # sampling seed, sent to targets that take one (not Anthropic)
    # Provider prompt caching (CHAT only): the first ``stable_chars`` characters of the first user message
    # (with every message before it) are the stable prefix that repeats across requests on the same code;
    # ``cache_key`` groups requests that share it (per repository and user), e.g. OpenAI's prompt_cache_key.
    stable_chars: int = 0
    cache_key: str = ""

    @staticmethod
    def fim(request_id: str, prefix: str, suffix: str, **kw: object) -> GenerationRequest:
        return GenerationRequest(
            request_id=request_id,
            kind=RequestKind.FIM,
            prefix=prefix,
            suffix=suffix,
            **kw,  # type: ignore[arg-type]
        )

    @staticmethod
    def chat(request_id: str, messages: Sequence[ChatMessage], **kw: object) -> GenerationRequest:
        return GenerationRequest(
            request_id=request_id,
            kind=RequestKind.CHAT,
            messages=tuple(messages),
            **kw,  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call. ``cached_tokens`` is the part of the prompt served from cache;
    ``cache_write_tokens`` the part written to the provider's prompt cache (Anthropic bills it at a premium).

    ``estimated`` is True when the server reported no count for the prompt or
    the completion and the backend counted (or estimated) it itself; the
    ledger keeps the flag beside the row.
    """

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.cached_tokens + other.cached_tokens,
            self.completion_tokens + other.completion_tokens,
            self.estimated or other.estimated,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass(frozen=True, slots=True)
class GenerationChunk:
    """A piece of streamed output.

    The last chunk of every stream has ``finish_reason`` set (``"stop"``,
    ``"length"``, ``"abort"``) and carries the call's ``usage``.
    """

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """A whole answer, as :func:`inference.backend.collect` returns it."""

    text: str
    finish_reason: str
    usage: Usage
    model: str
    ttft_ms: float | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class BackendLoad:
    """What the router needs to know about a backend's current load."""

    queued: int = 0
    running: int = 0
    recent_ttft_ms: float | None = None  # median over a recent window, None if no data
    aborted_total: int = 0  # requests aborted since start (cancellation reached the engine)


@dataclass(frozen=True, slots=True)
class BackendHealth:
    """Whether a backend can serve, and if not, why and what to do."""

    ok: bool
    detail: str = ""
    remedy: str = ""
    models: tuple[str, ...] = field(default_factory=tuple)
