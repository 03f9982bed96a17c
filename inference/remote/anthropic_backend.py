"""Anthropic's Claude models through the official ``anthropic`` SDK (``AsyncAnthropic``).

Streams ``messages.create(stream=True)`` and reads Anthropic's event
sequence: ``message_start`` (usage so far), ``content_block_delta`` (text),
``message_delta`` (``stop_reason`` and the cumulative usage), ``message_stop``.
Usage is read from both: ``message_delta.usage`` is cumulative and may carry
``input_tokens`` and the cache fields too (proxies such as LiteLLM's report
the prompt only there, with zeros in ``message_start``), so each figure is
the latest one reported, a field ``message_delta`` leaves out keeps the
``message_start`` value (so does a zero: counts are cumulative and never
fall), and a figure reported by neither is counted by
:meth:`~inference.remote._base.RemoteBackend.complete_usage` (``estimated``).
Anthropic quirks handled here: the system prompt is a separate ``system``
parameter; consecutive messages of one role are merged (the API wants
alternating turns); whitespace-only stop sequences are dropped (the API
rejects them); the Messages API of SDK 2.x takes no ``temperature``, so
``request.temperature`` is not sent; ``input_tokens`` excludes cached tokens, so the prompt is
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens`` with
``cache_read_input_tokens`` as the cached part; tools are Anthropic tools
(``input_schema``), ``tool_choice`` ``required`` is ``any``, a named one
``tool``, ``parallel_tool_calls = false`` is ``disable_parallel_tool_use``;
an assistant turn's tool calls are ``tool_use`` blocks and tool results
``tool_result`` blocks of the next user turn; a streamed ``tool_use`` block
(``content_block_start``, ``input_json_delta`` pieces) becomes tool-call
pieces, ``stop_reason == "tool_use"`` the finish reason ``tool_calls``;
``response_format`` ``json_schema`` is the SDK's structured output
(``output_config.format``; objects that leave ``additionalProperties`` open
get ``false``, which the API requires); ``json_object`` is not honoured (the
API has no "any JSON object": the router skips Anthropic for it);
``stop_reason == "refusal"``
is a content filter; an error event inside a 200 stream is classified by its
``error.type``; and a connection dropped mid-stream surfaces as a bare
``httpx2`` transport error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

import anthropic
import httpx2
import pydantic
from anthropic import AsyncAnthropic, omit
from anthropic.types import (
    ContentBlockParam,
    MessageParam,
    OutputConfigParam,
    TextBlockParam,
    ToolChoiceParam,
    ToolParam,
)

from inference.errors import (
    ContentFilteredError,
    InferenceError,
    InferenceTimeoutError,
    UnavailableError,
)
from inference.remote._base import SdkBackend
from inference.remote._errors_http import (
    COMMON_CONTEXT_MARKERS,
    error_for_status,
    mentions_any,
    parse_retry_after,
)
from inference.remote._fim_chat import fim_chat_messages
from inference.types import (
    ChatMessage,
    Feature,
    GenerationChunk,
    GenerationRequest,
    RequestKind,
    ToolCallDelta,
    ToolSpec,
    Usage,
)

logger = logging.getLogger(__name__)

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}
_CONTEXT_MARKERS = (*COMMON_CONTEXT_MARKERS, "prompt is too long", "too many tokens")
#: HTTP status of each Anthropic error type, for error events inside a stream.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


_FEATURES = frozenset({Feature.TOOLS, Feature.JSON_SCHEMA})  # no json_object: the API takes no open object
#: Where a JSON schema nests schemas (objects inside are closed too).
_NESTED = ("items", "anyOf", "allOf", "oneOf", "prefixItems")
_NESTED_MAPS = ("properties", "$defs", "definitions")


class AnthropicBackend(SdkBackend[AsyncAnthropic]):
    """Anthropic Messages API; see the module docstring."""

    default_endpoint = "https://api.anthropic.com"

    def _new_client(self, api_key: str | None) -> AsyncAnthropic:
        return AsyncAnthropic(**self._sdk_options(api_key))

    def features(self) -> frozenset[Feature]:
        return _FEATURES

    async def _stream(self, request: GenerationRequest, model: str, timeout_s: float) -> AsyncIterator[GenerationChunk]:
        source = (
            fim_chat_messages(request.prefix, request.suffix) if request.kind is RequestKind.FIM else request.messages
        )
        system, messages = _split_system(source)
        if self.settings.prompt_cache != "off":
            _cache_breakpoint(messages, request.stable_chars, len(system), model, self.settings.prompt_cache)
        stop = [s for s in request.stop if s.strip()]
        stream = await self._sdk().messages.create(
            model=model,
            max_tokens=request.max_tokens,
            messages=messages,
            system=system or omit,
            stop_sequences=stop or omit,
            tools=[_tool(t) for t in request.tools] or omit,
            tool_choice=_tool_choice(request) or omit,
            output_config=_output_config(request) or omit,
            stream=True,
            timeout=timeout_s,
        )
        counts = _UsageCounts()
        stop_reason: str | None = None
        parts: list[str] = []
        calls = _ToolBlocks()
        try:
            async for event in stream:
                if event.type == "message_start":
                    counts.update(event.message.usage)
                elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                    block = event.content_block
                    yield GenerationChunk("", tool_calls=(calls.start(event.index, block.id, block.name),))
                elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                    piece = calls.arguments(event.index, event.delta.partial_json)
                    if piece is not None:
                        parts.append(piece.arguments)
                        yield GenerationChunk("", tool_calls=(piece,))
                elif event.type == "content_block_stop":
                    empty = calls.stop(event.index)
                    if empty is not None:
                        yield GenerationChunk("", tool_calls=(empty,))
                elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                    if event.delta.text:
                        parts.append(event.delta.text)
                        yield GenerationChunk(event.delta.text)
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    counts.update(event.usage)
        finally:
            await stream.close()
        if stop_reason == "refusal":
            raise ContentFilteredError(f"{self.name}: Claude refused to answer", provider=self.name)
        if stop_reason is None:
            raise UnavailableError(f"{self.name}: the stream ended without a stop reason", provider=self.name)
        usage = self.complete_usage(counts.usage(), request, "".join(parts))
        yield GenerationChunk("", finish_reason=_FINISH.get(stop_reason, "stop"), usage=usage)

    async def _probe(self, model: str, timeout_s: float) -> None:
        await self._sdk().models.retrieve(model, timeout=timeout_s)

    def _map_error(self, exc: Exception) -> InferenceError | None:
        if isinstance(exc, (anthropic.APITimeoutError, httpx2.TimeoutException)):
            return InferenceTimeoutError(f"{self.name}: request timed out", provider=self.name)
        if isinstance(exc, (anthropic.APIConnectionError, httpx2.TransportError)):
            cause = exc.__cause__ or exc
            return UnavailableError(
                f"{self.name}: connection to {self.endpoint_label()} failed ({cause})", provider=self.name
            )
        if isinstance(exc, anthropic.APIStatusError):
            error_type, message = _error_fields(exc.body, exc.message)
            status = exc.status_code
            if status < 400:  # an error event inside a 200 stream
                status = _ERROR_TYPE_STATUS.get(error_type or "", 500)
            return error_for_status(
                status,
                message,
                provider=self.name,
                retry_after=parse_retry_after(exc.response.headers),
                context_too_long=mentions_any(message, _CONTEXT_MARKERS),
            )
        if isinstance(exc, anthropic.APIError):
            return UnavailableError(f"{self.name}: {exc.message}", provider=self.name)
        if isinstance(exc, (json.JSONDecodeError, pydantic.ValidationError)):
            return UnavailableError(f"{self.name}: malformed stream event ({exc})", provider=self.name)
        return None


class _ToolBlocks:
    """The streamed ``tool_use`` blocks of one answer: content-block index -> tool-call index."""

    def __init__(self) -> None:
        self.index: dict[int, int] = {}
        self.has_arguments: set[int] = set()

    def start(self, block: int, call_id: str, name: str) -> ToolCallDelta:
        self.index[block] = len(self.index)
        return ToolCallDelta(self.index[block], call_id, name)

    def arguments(self, block: int, fragment: str) -> ToolCallDelta | None:
        if block not in self.index or not fragment:
            return None
        self.has_arguments.add(block)
        return ToolCallDelta(self.index[block], arguments=fragment)

    def stop(self, block: int) -> ToolCallDelta | None:
        """A tool call that got no argument piece gets ``{}`` (its input was empty)."""
        if block not in self.index or block in self.has_arguments:
            return None
        return ToolCallDelta(self.index[block], arguments="{}")


def _tool(tool: ToolSpec) -> ToolParam:
    param = ToolParam(name=tool.name, input_schema=dict(tool.parameters))
    if tool.description:
        param["description"] = tool.description
    return param


def _tool_choice(request: GenerationRequest) -> ToolChoiceParam | None:
    """``tool_choice`` and ``parallel_tool_calls`` (only with tools: Anthropic rejects a choice without them)."""
    choice = request.tool_choice
    if not request.tools or (choice is None and request.parallel_tool_calls is not False):
        return None
    mode = choice.mode if choice is not None else "auto"
    serial = request.parallel_tool_calls is False
    if mode == "none":
        return {"type": "none"}
    if mode == "tool":
        return {"type": "tool", "name": choice.name if choice is not None else "", "disable_parallel_tool_use": serial}
    if mode == "required":
        return {"type": "any", "disable_parallel_tool_use": serial}
    return {"type": "auto", "disable_parallel_tool_use": serial}


def _output_config(request: GenerationRequest) -> OutputConfigParam | None:
    form = request.response_format
    if form is None or form.type != "json_schema":
        return None
    schema = _closed(dict(form.schema or {"type": "object", "properties": {}}))
    assert isinstance(schema, dict)
    return {"format": {"type": "json_schema", "schema": schema}}


def _closed(schema: object) -> object:
    """``schema`` with ``additionalProperties: false`` on every object schema that does not say (recursively)."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {k: _closed(v) if k in _NESTED else v for k, v in schema.items()}
    for key in _NESTED_MAPS:
        if isinstance(schema.get(key), dict):
            closed[key] = {name: _closed(sub) for name, sub in schema[key].items()}
    if (schema.get("type") == "object" or "properties" in schema) and "additionalProperties" not in schema:
        closed["additionalProperties"] = False
    return closed


class _UsageCounts:
    """The latest figure of each usage field over ``message_start`` and the ``message_delta`` events."""

    _FIELDS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")

    def __init__(self) -> None:
        self.latest: dict[str, int] = {}

    def update(self, usage: object) -> None:
        """Take every field ``usage`` reports; None, or a zero after a non-zero figure, is "not counted here"."""
        for name in self._FIELDS:
            value = getattr(usage, name, None)
            if isinstance(value, int) and (value > 0 or name not in self.latest):
                self.latest[name] = value

    def usage(self) -> Usage:
        """``input_tokens`` excludes cached tokens: the prompt is the sum of the three input fields."""
        cached = self.latest.get("cache_read_input_tokens", 0)
        prompt = self.latest.get("input_tokens", 0) + cached + self.latest.get("cache_creation_input_tokens", 0)
        return Usage(
            prompt_tokens=prompt,
            cached_tokens=cached,
            completion_tokens=self.latest.get("output_tokens", 0),
            cache_write_tokens=self.latest.get("cache_creation_input_tokens", 0),
        )


#: The shortest prompt prefix Anthropic caches, per model (tokens; shorter breakpoints are ignored by the API).
#: Source: docs.claude.com, "Prompt caching", cache limitations (2025-11).
MIN_CACHEABLE_TOKENS: dict[str, int] = {"claude-haiku-4-5": 4096, "claude-opus-4-5": 4096}
_DEFAULT_MIN_CACHEABLE = 1024  # Sonnet 4.x, Opus 4/4.1
_CHARS_PER_TOKEN = 3.5


def _cache_breakpoint(messages: list[MessageParam], stable_chars: int, system_chars: int, model: str, ttl: str) -> None:
    """Put a ``cache_control`` breakpoint at the end of the stable prefix of the first user turn.

    The cached prefix is the system prompt and that turn's first ``stable_chars``
    characters; nothing is marked when it is shorter than the model's minimum.
    """
    if not stable_chars or not messages or messages[0]["role"] != "user":
        return
    content = messages[0]["content"]
    if not isinstance(content, str) or stable_chars > len(content):
        return
    minimum = MIN_CACHEABLE_TOKENS.get(model, _DEFAULT_MIN_CACHEABLE)
    if (system_chars + stable_chars) / _CHARS_PER_TOKEN < minimum:
        return
    head, tail = content[:stable_chars], content[stable_chars:]
    ttl_value: Literal["5m", "1h"] = "1h" if ttl == "1h" else "5m"
    blocks: list[TextBlockParam] = [
        {"type": "text", "text": head, "cache_control": {"type": "ephemeral", "ttl": ttl_value}}
    ]
    if tail:
        blocks.append({"type": "text", "text": tail})
    messages[0] = {"role": "user", "content": blocks}


def _split_system(messages: Sequence[ChatMessage]) -> tuple[str, list[MessageParam]]:
    """The system prompt, and the other turns with consecutive same-role turns merged.

    A turn of text only is one string (texts joined by a blank line); tool calls and results make it a list of
    blocks (``tool_use`` after the assistant's text, ``tool_result`` blocks in the following user turn).
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    turns: list[tuple[str, list[ContentBlockParam]]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    params: list[MessageParam] = []
    for role, blocks in turns:
        texts = [b["text"] for b in blocks if b["type"] == "text"]
        content: str | list[ContentBlockParam] = "\n\n".join(texts) if len(texts) == len(blocks) else blocks
        if role == "assistant":
            params.append({"role": "assistant", "content": content})
        else:
            params.append({"role": "user", "content": content})
    return system, params


def _blocks(message: ChatMessage) -> list[ContentBlockParam]:
    """One message's content blocks (an empty text is left out unless it is all there is)."""
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}]
    blocks: list[ContentBlockParam] = []
    if message.content or not message.tool_calls:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _arguments(call.arguments)})
    return blocks


def _arguments(text: str) -> dict[str, object]:
    """A tool call's arguments as the object Anthropic takes (text that is no JSON object is kept under ``input``)."""
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"input": text}
    return value if isinstance(value, dict) else {"input": value}


def _error_fields(body: object, fallback: str) -> tuple[str | None, str]:
    """(error type, message) from Anthropic's ``{"type": "error", "error": {...}}`` body."""
    error: Any = body.get("error", body) if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return None, fallback
    error_type = error.get("type")
    message = error.get("message")
    return (
        error_type if isinstance(error_type, str) else None,
        message if isinstance(message, str) and message else fallback,
    )
