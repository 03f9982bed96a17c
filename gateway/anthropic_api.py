"""Anthropic-compatible endpoints: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``.

Served through the same routing service, usage control, rate limits and
ledger as the OpenAI-compatible endpoints (:mod:`gateway.openai_api`): the
task and scope come from ``X-Hybrid-Task`` / ``X-Hybrid-Scope`` (default
``explain`` at ``single_file``), ``model`` is ``auto`` or a model the gateway
serves (honoured or refused as on ``/v1/chat/completions``), and the answer
may come from any target. The caller's key comes in ``x-api-key`` (what the
Anthropic SDK sends) or ``Authorization: Bearer``.

Tool use (:mod:`gateway.anthropic_tools`): ``tools``, ``tool_choice``, and
``tool_use`` / ``tool_result`` blocks in the history are mapped to the
neutral types; a target that cannot honour them is skipped by the router,
and when none can the answer is a 400 naming ``tools``. An answer asking for
calls has ``tool_use`` blocks (after any text) and ``stop_reason``
``tool_use``. Structured output (``output_config.format``, a JSON schema) is
the neutral ``response_format``, served by targets that honour it.
``thinking`` and other content blocks (``image``, ...) are refused with a 400
naming the field. Every error has Anthropic's shape,
``{"type": "error", "error": {"type", "message"}}`` (plus the gateway's
``code``). A stream is Anthropic's event sequence: ``message_start``; per
content block ``content_block_start`` (``text``, or ``tool_use`` with its id
and name), ``content_block_delta`` per piece (``text_delta``, or
``input_json_delta`` with the arguments' ``partial_json`` fragments),
``content_block_stop``; ``message_delta`` (``stop_reason`` and the whole
``usage``), ``message_stop``; a failure after the stream began ends it with
an ``error`` event. ``docs/GATEWAY_API.md`` lists every field.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.anthropic_tools import (
    parse_messages,
    parse_output_format,
    parse_tool_choice,
    parse_tools,
    tool_use_block,
    tools_text,
)
from gateway.assist import DONE_OUTCOMES, attempts_json
from gateway.auth import Principal
from gateway.calls import CallSpec, Generation, prepare
from gateway.errors import ApiError
from gateway.fields import get_bool, get_float, get_int, get_object, get_str, get_str_list, invalid
from gateway.http import gateway_of, json_body, sse_event
from gateway.openai_api import (
    AUTO,
    Unsupported,
    refusal,
    refuse_unsupported,
    resolve_model,
    scope_header,
    task_header,
)
from gateway.outage import as_api_error, refuse_if_unavailable
from gateway.state import Gateway
from gateway.streaming import ClientGone, ServeTask, sse_response, unless_disconnected
from inference.backend import estimate_tokens
from inference.types import ChatMessage, RequestKind, ToolCallDelta
from routing.prepare import UNSUPPORTED_FIELD
from routing.service import Served
from routing.tasks import TaskKind

#: HTTP status -> Anthropic's error type.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
#: Top-level fields the gateway cannot honour yet (a 400 naming the field); see :func:`refuse_unsupported`.
MESSAGES_UNSUPPORTED: Unsupported = {
    "thinking": ("extended thinking is not supported yet", ({"type": "disabled"},)),
    "top_k": ("not supported yet", ()),
    "mcp_servers": ("MCP servers are not supported", ([],)),
    "container": ("containers are not supported", ()),
    "context_management": ("context management is not supported", ()),
}
_ROLES = ("user", "assistant")
#: ``X-Hybrid-Token-Count`` on a count_tokens answer: the local server counted the templated prompt
#: (``vllm serve``'s ``/tokenize``), the local model's tokenizer counted the text, or the estimate.
SERVER, TOKENIZER, ESTIMATE = "server", "tokenizer", "estimate"

Endpoint = Callable[[Request], Awaitable[Response]]


def error_response(exc: ApiError) -> JSONResponse:
    """``exc`` in Anthropic's shape, with its status and headers (``Retry-After``)."""
    kind = _ERROR_TYPES.get(exc.status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": exc.message, "code": exc.code}}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def _anthropic_errors(endpoint: Endpoint) -> Endpoint:
    """Render the endpoint's errors (and the usage database's outage) in Anthropic's shape."""

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as exc:
            return error_response(exc)
        except Exception as exc:
            if (unavailable := as_api_error(gateway_of(request), exc)) is None:
                raise
            return error_response(unavailable)

    return wrapped


async def _caller(request: Request) -> tuple[Gateway, Principal]:
    """The gateway and the caller named by ``x-api-key`` (preferred) or ``Authorization: Bearer``."""
    gateway = gateway_of(request)
    key = request.headers.get("x-api-key")
    authorization = f"Bearer {key}" if key else request.headers.get("authorization")
    if not authorization:
        raise ApiError(401, "unauthorized", "missing x-api-key (or Authorization: Bearer <key>) header")
    return gateway, await gateway.auth.authenticate(authorization)


def parse_messages_body(body: dict[str, Any]) -> tuple[ChatMessage, ...]:
    """``system`` and ``messages`` as chat messages (text, tool calls, tool results); 400 naming the first bad field."""
    return parse_messages(body)


def _metadata_user(body: dict[str, Any]) -> str:
    metadata = get_object(body, "metadata", "metadata")
    for key in metadata:
        if key != "user_id":
            raise invalid(f"metadata.{key}", "is not a field of metadata (only user_id)")
    return get_str(metadata, "user_id", "metadata.user_id")


@_anthropic_errors
async def messages(request: Request) -> Response:
    """``POST /v1/messages``."""
    gateway, principal = await _caller(request)
    body = await json_body(request, gateway)
    refuse_unsupported(body, MESSAGES_UNSUPPORTED)
    if body.get("model") is None:
        raise invalid("model", "is required ('auto' lets the gateway choose)")
    model = resolve_model(gateway, body)
    max_tokens = get_int(body, "max_tokens", "max_tokens", minimum=1)
    if max_tokens is None:
        raise invalid("max_tokens", "is required")
    tools = parse_tools(body)
    tool_choice, parallel = parse_tool_choice(body, tools)
    generation = Generation(
        RequestKind.CHAT,
        messages=parse_messages_body(body),
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        response_format=parse_output_format(body),
        max_tokens=max_tokens,
        temperature=get_float(body, "temperature", "temperature", maximum=1.0) or 0.0,
        stop=get_str_list(body, "stop_sequences", "stop_sequences"),
        top_p=get_float(body, "top_p", "top_p", maximum=1.0),
    )
    stream = get_bool(body, "stream", "stream")
    task = task_header(request, TaskKind.EXPLAIN)
    spec = CallSpec(
        task,
        scope_header(request),
        generation=generation,
        requested_model=model,
        client_request_id=_metadata_user(body),
    )
    prepared = prepare(gateway, principal, spec)
    call = prepared.call
    if prepared.decision.refused == UNSUPPORTED_FIELD:  # tools / output format no target may honour
        raise ApiError(400, UNSUPPORTED_FIELD, prepared.decision.empty_reason)
    if spec.requested_model and prepared.decision.primary is None:
        raise refusal(spec.requested_model, prepared.decision)
    await gateway.admit(principal, call.route_input.context_tokens)
    refuse_if_unavailable(gateway, prepared.decision)
    shape = _Message(
        call.request_id, prepared.decision.model or AUTO, call.template.max_tokens, prepared.decision.input_tokens
    )
    headers = {"X-Hybrid-Request-Id": call.request_id, "request-id": call.request_id}
    serving = ServeTask(gateway, call, forward=stream)
    try:
        if not stream:
            served = await unless_disconnected(request, serving.task)
            if served.outcome not in DONE_OUTCOMES:
                return _failed(served, headers)
            return JSONResponse(shape.whole(served), headers=headers)
        first = await unless_disconnected(request, serving.next_item())
        if first is None and (served := await serving.result()).outcome not in DONE_OUTCOMES:
            return _failed(served, headers)
    except ClientGone:
        serving.cancel()
        gateway.metrics.disconnects.inc()
        return Response(status_code=499)
    except BaseException:
        serving.cancel()
        raise
    return sse_response(_events(gateway, serving, shape, first), headers)


def _failed(served: Served, headers: dict[str, str]) -> JSONResponse:
    message = served.empty_reason or "the request could not be served"
    return error_response(ApiError(503, "unavailable", message, headers))


def _error_event(code: str, message: str) -> dict[str, str]:
    """The event that ends a stream which failed after it began (the SDK raises it as ``APIStatusError``)."""
    return sse_event("error", {"type": "error", "error": {"type": "api_error", "message": message, "code": code}})


class _Blocks:
    """The content blocks of a stream as they open and close: text runs and one block per tool call."""

    def __init__(self) -> None:
        self.index = -1
        self.open: str | int | None = None  # "text", a tool call's index, or None

    def _start(self, block: dict[str, object], key: str | int) -> list[dict[str, str]]:
        events = self.stop()
        self.index += 1
        self.open = key
        start = {"type": "content_block_start", "index": self.index, "content_block": block}
        return [*events, sse_event("content_block_start", start)]

    def _delta(self, delta: dict[str, str]) -> dict[str, str]:
        return sse_event("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": delta})

    def stop(self) -> list[dict[str, str]]:
        if self.open is None:
            return []
        self.open = None
        return [sse_event("content_block_stop", {"type": "content_block_stop", "index": self.index})]

    def text(self, piece: str) -> list[dict[str, str]]:
        events = [] if self.open == "text" else self._start({"type": "text", "text": ""}, "text")
        return [*events, self._delta({"type": "text_delta", "text": piece})] if piece else events

    def tool(self, delta: ToolCallDelta) -> list[dict[str, str]]:
        events: list[dict[str, str]] = []
        if self.open != delta.index:
            block: dict[str, object] = {"type": "tool_use", "id": delta.id, "name": delta.name, "input": {}}
            events = self._start(block, delta.index)
        if delta.arguments:
            events.append(self._delta({"type": "input_json_delta", "partial_json": delta.arguments}))
        return events

    def end(self) -> list[dict[str, str]]:
        """Close the open block (an answer with no content at all gets one empty text block)."""
        return self.text("") + self.stop() if self.index < 0 else self.stop()


async def _events(
    gateway: Gateway, serving: ServeTask, shape: _Message, first: str | ToolCallDelta | None
) -> AsyncIterator[dict[str, str]]:
    gateway.metrics.open_streams.inc()
    blocks = _Blocks()
    try:
        yield sse_event("message_start", {"type": "message_start", "message": shape.start()})
        item = first
        while item is not None:
            for event in blocks.tool(item) if isinstance(item, ToolCallDelta) else blocks.text(item):
                yield event
            item = await serving.next_item()
        try:
            served = await serving.result()
        except Exception as exc:
            if (unavailable := as_api_error(gateway, exc)) is not None:
                yield _error_event(unavailable.code, unavailable.message)
                return
            yield _error_event("internal", f"{type(exc).__name__}: {exc}")
            return
        if served.outcome not in DONE_OUTCOMES:
            yield _error_event("unavailable", served.empty_reason or "the request could not be served")
            return
        for event in blocks.end():
            yield event
        yield sse_event("message_delta", shape.delta(served))
        yield sse_event("message_stop", {"type": "message_stop"})
    finally:
        gateway.metrics.open_streams.dec()
        if serving.cancel():
            gateway.metrics.disconnects.inc()


class _Message:
    """Anthropic's JSON shapes for one answer."""

    def __init__(self, request_id: str, model: str, max_tokens: int, estimated_input: int) -> None:
        self.request_id = request_id
        self.id = f"msg_{request_id}"
        self.model = model
        self.max_tokens = max_tokens
        self.estimated_input = estimated_input

    def stop_reason(self, served: Served) -> str:
        """``tool_use`` when the answer asks for calls (unless the limit cut it: a call cut off has incomplete
        input, as on Anthropic's own API), ``max_tokens`` when it was cut by the limit or used every token it was
        allowed, else ``end_turn``."""
        if served.tool_calls and served.finish_reason != "length":
            return "tool_use"
        cut = served.finish_reason == "length" or served.usage.completion_tokens >= self.max_tokens
        return "max_tokens" if cut else "end_turn"

    @staticmethod
    def usage(served: Served) -> dict[str, int]:
        """Anthropic's usage: ``input_tokens`` is the prompt less what was read from or written to the cache."""
        u = served.usage
        return {
            "input_tokens": max(0, u.prompt_tokens - u.cached_tokens - u.cache_write_tokens),
            "output_tokens": u.completion_tokens,
            "cache_creation_input_tokens": u.cache_write_tokens,
            "cache_read_input_tokens": u.cached_tokens,
        }

    def hybrid(self, served: Served) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "target": served.target,
            "model": served.model,
            "cost_usd": round(served.cost_usd, 6),
            "notices": list(dict.fromkeys(served.notices)),
            "empty_reason": served.empty_reason,
            "attempts": attempts_json(served),
            "route": served.decision.to_json(),
        }

    def _message(self, model: str, content: list[dict[str, Any]]) -> dict[str, object]:
        return {"id": self.id, "type": "message", "role": "assistant", "model": model, "content": content}

    def start(self) -> dict[str, object]:
        """``message_start``'s message: no content yet, the input estimated (``message_delta`` has the counts)."""
        usage = {
            "input_tokens": self.estimated_input,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        return {**self._message(self.model, []), "stop_reason": None, "stop_sequence": None, "usage": usage}

    def delta(self, served: Served) -> dict[str, object]:
        return {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason(served), "stop_sequence": None},
            "usage": self.usage(served),
            "hybrid": self.hybrid(served),
        }

    @staticmethod
    def content(served: Served) -> list[dict[str, Any]]:
        """The answer's text block (left out when empty and there are calls), then a ``tool_use`` block per call."""
        text = [{"type": "text", "text": served.text}] if served.text or not served.tool_calls else []
        return [*text, *(tool_use_block(c) for c in served.tool_calls)]

    def whole(self, served: Served) -> dict[str, object]:
        return {
            **self._message(served.model or self.model, self.content(served)),
            "stop_reason": self.stop_reason(served),
            "stop_sequence": None,
            "usage": self.usage(served),
            "hybrid": self.hybrid(served),
        }


#: Fields count_tokens cannot count yet.
_COUNT_UNSUPPORTED: Unsupported = {k: MESSAGES_UNSUPPORTED[k] for k in ("thinking",)}


@_anthropic_errors
async def count_tokens(request: Request) -> Response:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens"}`` of ``system``, ``messages`` and ``tools``.

    When the local engine is a server that counts whole chat prompts (``vllm serve``'s ``/tokenize``), it counts
    the messages and tools exactly as ``/v1/messages`` would send them, chat template included: what that call
    then reports as its input tokens (``X-Hybrid-Token-Count: server``). Otherwise (no such server, or it did not
    answer) by the local model's tokenizer when the local engine has one loaded (``tokenizer``), else estimated
    from the characters (``estimate``); those count the text (the tools as their JSON definitions, tool calls'
    arguments and results as text), not the chat template around it.
    """
    gateway, _ = await _caller(request)
    body = await json_body(request, gateway)
    refuse_unsupported(body, _COUNT_UNSUPPORTED)
    if body.get("model") is None:
        raise invalid("model", "is required ('auto' lets the gateway choose)")
    resolve_model(gateway, body)
    tools = parse_tools(body)
    parse_tool_choice(body, tools)
    messages = parse_messages_body(body)
    local = gateway.runtime.local
    if local is not None and (counted := await local.count_chat_tokens(messages, tools)) is not None:
        return JSONResponse({"input_tokens": counted}, headers={"X-Hybrid-Token-Count": SERVER})
    text = "".join(t for m in messages for t in m.texts()) + tools_text(tools)
    counter = local.token_counter() if local is not None else None
    if counter is None or counter is estimate_tokens:
        return JSONResponse({"input_tokens": estimate_tokens(text)}, headers={"X-Hybrid-Token-Count": ESTIMATE})
    return JSONResponse({"input_tokens": counter(text)}, headers={"X-Hybrid-Token-Count": TOKENIZER})
