"""OpenAI's chat models through the official ``openai`` SDK (``AsyncOpenAI``).

Streams ``chat.completions.create(stream=True)`` with
``stream_options={"include_usage": True}``: the usage arrives in a last chunk
with no choices, and ``usage.prompt_tokens_details.cached_tokens`` is the
part of the prompt served from OpenAI's prompt cache (the last usage seen
wins; a server that reports none, as some proxies do, gets its figures
counted here and marked ``estimated``). A FIM request becomes
the shared chat prompt of :mod:`inference.remote._fim_chat`. The SDK's own
retries are off (``max_retries=0``); :class:`~inference.remote._base.RemoteBackend`
retries, honouring ``retry-after``. OpenAI quirks handled here: at most four
stop sequences, ``max_completion_tokens`` instead of the deprecated
``max_tokens``, ``finish_reason == "content_filter"``, the
``context_length_exceeded`` error code, and a malformed event surfacing as a
bare ``json.JSONDecodeError``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import openai
import pydantic
from openai import AsyncOpenAI, omit
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionMessageParam

from inference.errors import (
    ContentFilteredError,
    InferenceError,
    InferenceTimeoutError,
    UnavailableError,
)
from inference.remote import _openai_wire as wire
from inference.remote._base import SdkBackend
from inference.remote._errors_http import (
    COMMON_CONTEXT_MARKERS,
    error_for_status,
    mentions_any,
    parse_retry_after,
)
from inference.remote._fim_chat import fim_chat_messages
from inference.types import (
    Feature,
    GenerationChunk,
    GenerationRequest,
    RequestKind,
    ToolCallDelta,
    Usage,
)

logger = logging.getLogger(__name__)

#: OpenAI accepts at most this many stop sequences.
_MAX_STOP = 4
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "stop"}
_FEATURES = frozenset({Feature.TOOLS, Feature.JSON_OBJECT, Feature.JSON_SCHEMA})


class OpenAIBackend(SdkBackend[AsyncOpenAI]):
    """OpenAI chat completions; see the module docstring."""

    default_endpoint = "https://api.openai.com/v1"

    def _new_client(self, api_key: str | None) -> AsyncOpenAI:
        return AsyncOpenAI(**self._sdk_options(api_key))

    def features(self) -> frozenset[Feature]:
        return _FEATURES

    async def _stream(self, request: GenerationRequest, model: str, timeout_s: float) -> AsyncIterator[GenerationChunk]:
        stop = list(request.stop)[:_MAX_STOP]
        stream = await self._sdk().chat.completions.create(
            model=model,
            messages=_messages(request),
            stream=True,
            stream_options={"include_usage": True},
            max_completion_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p if request.top_p is not None else omit,
            seed=request.seed if request.seed is not None else omit,
            stop=stop or omit,
            prompt_cache_key=request.cache_key if request.cache_key and self.settings.prompt_cache != "off" else omit,
            tools=[wire.tool(t) for t in request.tools] or omit,
            tool_choice=wire.tool_choice(request.tool_choice) if request.tools and request.tool_choice else omit,
            parallel_tool_calls=(
                request.parallel_tool_calls if request.tools and request.parallel_tool_calls is not None else omit
            ),
            response_format=wire.response_format(request.response_format) or omit,
            timeout=timeout_s,
        )
        finish: str | None = None
        usage: Usage | None = None
        parts: list[str] = []
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    if choice.delta is not None and choice.delta.content:
                        parts.append(choice.delta.content)
                        yield GenerationChunk(choice.delta.content)
                    if choice.delta is not None and choice.delta.tool_calls:
                        deltas = tuple(_delta(call) for call in choice.delta.tool_calls)
                        parts += [d.arguments for d in deltas]
                        yield GenerationChunk("", tool_calls=deltas)
                    if choice.finish_reason is not None:
                        finish = choice.finish_reason
        finally:
            await stream.close()
        if finish == "content_filter":
            raise ContentFilteredError(
                f"{self.name}: the answer was stopped by OpenAI's content filter", provider=self.name
            )
        if finish is None:
            raise UnavailableError(f"{self.name}: the stream ended without a finish reason", provider=self.name)
        yield GenerationChunk(
            "",
            finish_reason=_FINISH.get(finish, "stop"),
            usage=self.complete_usage(usage, request, "".join(parts)),
        )

    async def _probe(self, model: str, timeout_s: float) -> None:
        await self._sdk().models.retrieve(model, timeout=timeout_s)

    def _map_error(self, exc: Exception) -> InferenceError | None:
        if isinstance(exc, openai.APITimeoutError):
            return InferenceTimeoutError(f"{self.name}: request timed out", provider=self.name)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return UnavailableError(
                f"{self.name}: connection to {self.endpoint_label()} failed ({cause})", provider=self.name
            )
        if isinstance(exc, openai.APIStatusError):
            message, code = _error_fields(exc.body, exc.message)
            return error_for_status(
                exc.status_code,
                message,
                provider=self.name,
                retry_after=parse_retry_after(exc.response.headers),
                context_too_long=code == "context_length_exceeded" or mentions_any(message, COMMON_CONTEXT_MARKERS),
            )
        if isinstance(exc, openai.APIError):  # an error event inside the stream
            return UnavailableError(f"{self.name}: {exc.message}", provider=self.name)
        if isinstance(exc, (json.JSONDecodeError, pydantic.ValidationError)):
            return UnavailableError(f"{self.name}: malformed stream event ({exc})", provider=self.name)
        return None


def _messages(request: GenerationRequest) -> list[ChatCompletionMessageParam]:
    messages = (
        fim_chat_messages(request.prefix, request.suffix) if request.kind is RequestKind.FIM else request.messages
    )
    return [wire.message(m) for m in messages]


def _delta(call: Any) -> ToolCallDelta:
    """A ``ChoiceDeltaToolCall`` as a neutral piece (built without validation: any field may be None)."""
    function = call.function
    return ToolCallDelta(
        index=call.index or 0,
        id=call.id or "",
        name=(function.name if function is not None else None) or "",
        arguments=(function.arguments if function is not None else None) or "",
    )


def _usage(usage: CompletionUsage) -> Usage:
    details = usage.prompt_tokens_details
    cached = details.cached_tokens if details is not None and details.cached_tokens else 0
    return Usage(  # the SDK builds chunks without validation: a proxy's null or missing count arrives as None
        prompt_tokens=usage.prompt_tokens or 0,
        cached_tokens=cached,
        completion_tokens=usage.completion_tokens or 0,
    )


def _error_fields(body: object, fallback: str) -> tuple[str, str | None]:
    """(message, code) from OpenAI's ``{"error": {...}}`` body (the SDK may unwrap it)."""
    error: Any = body.get("error", body) if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return fallback, None
    message = error.get("message")
    code = error.get("code")
    return (
        message if isinstance(message, str) and message else fallback,
        code if isinstance(code, str) else None,
    )
