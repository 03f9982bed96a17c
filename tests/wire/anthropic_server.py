"""An imitation of the Anthropic Messages API.

Routes: ``POST /v1/messages`` (streamed with Anthropic's event sequence
``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``
per piece, ``content_block_stop``, ``message_delta``, ``message_stop``; or
whole when ``stream`` is false), ``GET /v1/models`` and ``GET /v1/models/{id}``.
``message_start`` carries ``input_tokens`` (the uncached part),
``cache_read_input_tokens`` and ``cache_creation_input_tokens``
(scripted tool calls, :attr:`Reply.tool_calls`, follow the text as ``tool_use``
blocks: ``content_block_start`` with id and name, ``input_json_delta``
fragments, ``content_block_stop``; ``stop_reason`` is then ``tool_use``)
(:attr:`Reply.cache_write_tokens`); ``message_delta`` carries ``output_tokens`` and
the ``stop_reason`` (:attr:`Reply.usage_in` moves the input figures to
``message_delta``, to both, or to neither) (``end_turn``, ``max_tokens``, ``refusal``). Errors carry
``{"type": "error", "error": {...}}``; a rate limit sends ``retry-after``;
``overloaded`` answers 529. The SDK takes :attr:`AnthropicWireServer.base_url`.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.wire.base import (
    STATUS_FAULTS,
    Fault,
    RecordedRequest,
    Reply,
    ScriptedStream,
    WireServer,
    retry_after_value,
    sse,
    whole_answer,
)

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal"}

_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limit": (429, "rate_limit_error", "Number of request tokens has exceeded your rate limit."),
    "server_error": (500, "api_error", "Internal server error."),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "unauthorized": (401, "authentication_error", "invalid x-api-key"),
    "forbidden": (403, "permission_error", "Your API key does not have permission."),
    "bad_request": (400, "invalid_request_error", "messages: roles must alternate."),
    "context_length": (
        400,
        "invalid_request_error",
        "prompt is too long: 210000 tokens > 200000 maximum",
    ),
    "not_found": (404, "not_found_error", "model: claude-unknown"),
}


class AnthropicWireServer(WireServer):
    """Anthropic Messages API imitation; see the module docstring."""

    provider = "anthropic"
    generation_markers = ("/v1/messages",)

    def default_models(self) -> tuple[str, ...]:
        return ("claude-sonnet-4-6", "claude-sonnet-4-5", "claude-haiku-4-5", "test-model")

    def routes(self) -> list[Route]:
        return [
            Route("/v1/messages", self._messages, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/v1/models/{model:path}", self._model, methods=["GET"]),
        ]

    async def _models(self, request: Request) -> Response:
        await self.record(request)
        if not self.healthy:
            return self.unhealthy_response()
        data = [_model(m) for m in self.models]
        return JSONResponse({"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]})

    async def _model(self, request: Request) -> Response:
        await self.record(request)
        if not self.healthy:
            return self.unhealthy_response()
        model = request.path_params["model"]
        if model not in self.models:
            return _error(Fault("not_found"))
        return JSONResponse(_model(model))

    async def _messages(self, request: Request) -> Response | ScriptedStream:
        record = await self.record(request)
        action = self.next_action()
        if isinstance(action, Fault) and action.kind in STATUS_FAULTS:
            return _error(action)
        body: dict[str, Any] = record.body if isinstance(record.body, dict) else {}
        model = str(body.get("model", ""))
        reply = action if isinstance(action, Reply) else self.default_reply
        fault = action if isinstance(action, Fault) else None
        if not body.get("stream"):
            return whole_answer(record, _whole(reply, model), fault)
        return self._stream(record, reply, fault, model)

    def _stream(self, record: RecordedRequest, reply: Reply, fault: Fault | None, model: str) -> ScriptedStream:
        message = _message(reply, model, content=[], output_tokens=1, stop_reason=None)
        message["usage"] = _start_usage(reply)
        events = [
            sse({"type": "message_start", "message": message}, "message_start"),
            sse(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            ),
            sse({"type": "ping"}, "ping"),
        ]
        first_piece = len(events)
        events += [
            sse(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                "content_block_delta",
            )
            for piece in reply.stream_pieces()
        ]
        events.append(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        for number, call in enumerate(reply.tool_calls):
            index = number + 1
            block = {"type": "tool_use", "id": call.call_id(number), "name": call.name, "input": {}}
            events.append(
                sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start")
            )
            events += [
                sse(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": p},
                    },
                    "content_block_delta",
                )
                for p in call.argument_pieces()
            ]
            events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        events += [
            sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                    "usage": _delta_usage(reply),
                },
                "message_delta",
            ),
            sse({"type": "message_stop"}, "message_stop"),
        ]
        reset_at: int | None = None
        delay_before = 0.0
        if fault is not None and fault.kind == "reset":
            reset_at = first_piece + fault.after_chunks
        elif fault is not None and fault.kind == "malformed":
            events.insert(first_piece + fault.after_chunks, b"event: content_block_delta\ndata: {not json\n\n")
        elif fault is not None and fault.kind == "timeout":
            delay_before = fault.delay_s
        return ScriptedStream(
            record,
            events,
            delay_between_s=self.slow_tokens,
            delay_before_s=delay_before,
            reset_at=reset_at,
            headers={"request-id": f"req_{time.monotonic_ns()}"},
        )


def _message(
    reply: Reply,
    model: str,
    *,
    content: list[dict[str, Any]],
    output_tokens: int,
    stop_reason: str | None,
) -> dict[str, Any]:
    return {
        "id": f"msg_{time.monotonic_ns()}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": reply.prompt_tokens - reply.cached_tokens - reply.cache_write_tokens,
            "cache_creation_input_tokens": reply.cache_write_tokens,
            "cache_read_input_tokens": reply.cached_tokens,
            "output_tokens": output_tokens,
        },
    }


def _input_usage(reply: Reply) -> dict[str, int]:
    return {
        "input_tokens": reply.prompt_tokens - reply.cached_tokens - reply.cache_write_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
        "cache_read_input_tokens": reply.cached_tokens,
    }


def _start_usage(reply: Reply) -> dict[str, int]:
    """``message_start``'s usage: the input figures, a partial count of them (``both``), or zeros."""
    if reply.usage_in == "start":
        return {**_input_usage(reply), "output_tokens": 1}
    if reply.usage_in == "both":  # an early count that the cumulative message_delta supersedes
        return {"input_tokens": (reply.prompt_tokens - reply.cached_tokens) // 2, "output_tokens": 1}
    return {"input_tokens": 0, "output_tokens": 0}


def _delta_usage(reply: Reply) -> dict[str, int]:
    """``message_delta``'s cumulative usage: the output count, with the input figures for ``delta``/``both``."""
    if reply.usage_in == "none":
        return {"output_tokens": 0}
    if reply.usage_in == "start":
        return {"output_tokens": reply.output_tokens()}
    return {**_input_usage(reply), "output_tokens": reply.output_tokens()}


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool_calls and reply.finish_reason == "stop" else _STOP_REASONS[reply.finish_reason]


def _whole(reply: Reply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text or not reply.tool_calls else []
    content += [
        {"type": "tool_use", "id": call.call_id(i), "name": call.name, "input": call.arguments}
        for i, call in enumerate(reply.tool_calls)
    ]
    whole = _message(
        reply,
        model,
        content=content,
        output_tokens=reply.output_tokens(),
        stop_reason=_stop_reason(reply),
    )
    if reply.usage_in == "none":
        whole["usage"] = {"input_tokens": 0, "output_tokens": 0}
    return whole


def _model(model: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model,
        "display_name": model,
        "created_at": "2025-01-01T00:00:00Z",
    }


def _error(fault: Fault) -> Response:
    status, error_type, message = _ERRORS[fault.kind]
    headers = {"request-id": f"req_{time.monotonic_ns()}"}
    if fault.kind == "rate_limit" and fault.retry_after is not None:
        headers["retry-after"] = retry_after_value(fault.retry_after)
    body = {"type": "error", "error": {"type": error_type, "message": fault.message or message}}
    return JSONResponse(body, status_code=status, headers=headers)
