"""The async streaming interface every engine implements, modelled on vLLM's ``EngineClient``.

``generate()`` is an async generator of :class:`GenerationChunk`; ``abort()``
frees a running request in the engine (closing the generator early must do
the same). ``load()`` and ``health()`` feed the router. :func:`collect` drains
a stream into a :class:`GenerationResult` and measures time to first token.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

from inference.types import (
    BackendHealth,
    BackendLoad,
    ChatMessage,
    Feature,
    GenerationChunk,
    GenerationRequest,
    GenerationResult,
    ToolCallDelta,
    ToolSpec,
    Usage,
    assemble_tool_calls,
)


class Backend(abc.ABC):
    """One engine or provider. Subclasses keep their library's quirks to themselves."""

    #: Configuration name of this backend (``local``, ``overflow``, ``openai``...).
    name: str = ""
    #: True when the model runs on the premises (the code never leaves).
    is_local: bool = False

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Load the model / open connections. Idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model / connections. Idempotent."""

    @abc.abstractmethod
    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Stream the answer to ``request``; the last chunk has ``finish_reason`` and ``usage``."""

    @abc.abstractmethod
    async def abort(self, request_id: str) -> None:
        """Stop ``request_id`` in the engine if it is still running; no error if it is not."""

    def load(self) -> BackendLoad:
        """Current queue depth and recent time to first token."""
        return BackendLoad()

    @abc.abstractmethod
    async def health(self) -> BackendHealth:
        """Whether this backend can serve now; when not, why and what to do."""

    def default_model(self) -> str:
        """The model used when a request names none."""
        return ""

    def token_counter(self) -> Callable[[str], int] | None:
        """The model's tokenizer as a counting function, or None when unknown."""
        return None

    async def count_chat_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int | None:
        """The prompt tokens a chat request with ``messages`` and ``tools`` makes (chat template and tool
        definitions included, as the engine will report them), or None when the engine cannot say. Never raises."""
        return None

    def context_window(self) -> int:
        """The window (prompt + answer, tokens) the loaded engine serves; 0 when unknown or not loaded."""
        return 0

    def features(self) -> frozenset[Feature]:
        """The tool-calling and structured-output features this backend honours (none by default).

        The router never sends a request needing a feature not listed here (``GenerationRequest.features``).
        """
        return frozenset()


async def collect(
    backend: Backend,
    request: GenerationRequest,
    on_text: Callable[[str], None] | None = None,
    on_tool_call: Callable[[ToolCallDelta], None] | None = None,
) -> GenerationResult:
    """Run ``request`` to the end and return the whole answer with timing.

    ``on_text`` is called with each piece of text as it streams in (a gateway
    forwards them to its client), ``on_tool_call`` with each piece of a tool
    call; the whole answer (tool calls assembled) is returned either way.
    The stream is always closed on the way out; a cancellation of the calling
    task ends the call at the next piece even when the stream swallowed it.
    """
    start = time.perf_counter()
    ttft_ms: float | None = None
    parts: list[str] = []
    deltas: list[ToolCallDelta] = []
    finish = "stop"
    usage = Usage()
    stream = backend.generate(request)
    task = asyncio.current_task()
    cancels = task.cancelling() if task is not None else 0
    try:
        async for chunk in stream:
            if task is not None and task.cancelling() > cancels:
                # The caller was cancelled but the stream swallowed it and went on: stop here,
                # so the stream is closed below and the caller can abort the request.
                raise asyncio.CancelledError
            if chunk.text:
                if ttft_ms is None:
                    ttft_ms = (time.perf_counter() - start) * 1000.0
                parts.append(chunk.text)
                if on_text is not None:
                    on_text(chunk.text)
            for delta in chunk.tool_calls:
                if ttft_ms is None:
                    ttft_ms = (time.perf_counter() - start) * 1000.0
                deltas.append(delta)
                if on_tool_call is not None:
                    on_tool_call(delta)
            if chunk.finish_reason is not None:
                finish = chunk.finish_reason
            if chunk.usage is not None:
                usage = chunk.usage
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    return GenerationResult(
        text="".join(parts),
        finish_reason=finish,
        usage=usage,
        model=request.model or backend.default_model(),
        ttft_ms=ttft_ms,
        latency_ms=(time.perf_counter() - start) * 1000.0,
        tool_calls=assemble_tool_calls(deltas),
    )


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 3.5 characters a token for code)."""
    return max(1, (len(text) * 2 + 6) // 7) if text else 0
