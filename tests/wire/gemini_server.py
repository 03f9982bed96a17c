"""An imitation of the Gemini API (Google AI, ``v1beta``).

Routes: ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``
(server-sent events, ``data: {...}`` separated by CRLF CRLF),
``POST /v1beta/models/{model}:generateContent``, ``GET /v1beta/models`` and
``GET /v1beta/models/{model}``. Each streamed chunk carries
``candidates[0].content.parts[0].text`` and ``usageMetadata``; the last one
adds ``finishReason`` (``STOP``, ``MAX_TOKENS``, ``SAFETY``),
``candidatesTokenCount`` and ``cachedContentTokenCount``. Scripted tool
calls (:attr:`Reply.tool_calls`) come as ``functionCall`` parts (``name``,
``args``; with ``id`` only when the script gives one, as Gemini often sends
none) with a ``thoughtSignature`` in the last chunk, whose ``finishReason`` stays ``STOP``. Errors carry
Google's ``{"error": {"code", "message", "status", "details"}}``; a rate limit
puts the delay in a ``google.rpc.RetryInfo`` detail (``"retryDelay": "0.05s"``),
as Gemini does, and a bad key is answered the way Gemini answers it: 400
``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``. The SDK takes
:attr:`GeminiWireServer.base_url` with ``api_version="v1beta"``.
"""

from __future__ import annotations

import base64
import json
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
    whole_answer,
)

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}

_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limit": (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    "server_error": (500, "INTERNAL", "An internal error has occurred."),
    "overloaded": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "unauthorized": (400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."),
    "forbidden": (403, "PERMISSION_DENIED", "Permission denied: consumer has been suspended."),
    "bad_request": (400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.temperature'."),
    "context_length": (
        400,
        "INVALID_ARGUMENT",
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    ),
    "not_found": (404, "NOT_FOUND", "models/unknown is not found for API version v1beta."),
}


class GeminiWireServer(WireServer):
    """Gemini API imitation; see the module docstring."""

    provider = "gemini"
    generation_markers = (":streamGenerateContent", ":generateContent")

    def default_models(self) -> tuple[str, ...]:
        return ("gemini-2.5-flash", "gemini-2.5-pro", "test-model")

    def routes(self) -> list[Route]:
        return [
            Route("/v1beta/models", self._models, methods=["GET"]),
            Route("/v1beta/models/{name:path}", self._model_route, methods=["GET", "POST"]),
        ]

    async def _models(self, request: Request) -> Response:
        await self.record(request)
        if not self.healthy:
            return self.unhealthy_response()
        return JSONResponse({"models": [_model(m) for m in self.models]})

    async def _model_route(self, request: Request) -> Response | ScriptedStream:
        name: str = request.path_params["name"]
        if request.method == "GET":
            await self.record(request)
            if not self.healthy:
                return self.unhealthy_response()
            if name not in self.models:
                return _error(Fault("not_found"))
            return JSONResponse(_model(name))
        model, _, method = name.partition(":")
        record = await self.record(request)
        action = self.next_action()
        if isinstance(action, Fault) and action.kind in STATUS_FAULTS:
            return _error(action)
        reply = action if isinstance(action, Reply) else self.default_reply
        fault = action if isinstance(action, Fault) else None
        if method == "generateContent":
            return whole_answer(record, _chunk(reply, model, reply.text, last=True), fault)
        if method != "streamGenerateContent":
            return _error(Fault("not_found", message=f"unknown method {method!r}"))
        return self._stream(record, reply, fault, model)

    def _stream(self, record: RecordedRequest, reply: Reply, fault: Fault | None, model: str) -> ScriptedStream:
        pieces = reply.stream_pieces() or [""]
        events = [
            _event(_chunk(reply, model, piece, last=index == len(pieces) - 1)) for index, piece in enumerate(pieces)
        ]
        reset_at: int | None = None
        delay_before = 0.0
        if fault is not None and fault.kind == "reset":
            reset_at = fault.after_chunks
        elif fault is not None and fault.kind == "malformed":
            events.insert(fault.after_chunks, b"data: {not json\r\n\r\n")
        elif fault is not None and fault.kind == "timeout":
            delay_before = fault.delay_s
        return ScriptedStream(
            record,
            events,
            delay_between_s=self.slow_tokens,
            delay_before_s=delay_before,
            reset_at=reset_at,
        )


def thought_signature(name: str) -> str:
    """The (base64) thought signature this server puts on a call of ``name``, as Gemini 3 does on every call."""
    return base64.b64encode(f"signature of {name}".encode()).decode()


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\r\n\r\n"


def _chunk(reply: Reply, model: str, text: str, *, last: bool) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": reply.prompt_tokens}
    parts: list[dict[str, Any]] = [{"text": text}] if text or not (last and reply.tool_calls) else []
    if last:
        for call in reply.tool_calls:
            function: dict[str, Any] = {"name": call.name, "args": call.arguments}
            if call.id:
                function["id"] = call.id
            parts.append({"functionCall": function, "thoughtSignature": thought_signature(call.name)})
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if last:
        output = reply.output_tokens()
        usage["candidatesTokenCount"] = output
        usage["totalTokenCount"] = reply.prompt_tokens + output
        if reply.cached_tokens:
            usage["cachedContentTokenCount"] = reply.cached_tokens
        candidate["finishReason"] = _FINISH[reply.finish_reason]
        if reply.finish_reason == "content_filter":
            candidate["safetyRatings"] = [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
            ]
    else:
        usage["totalTokenCount"] = reply.prompt_tokens
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": f"resp-{time.monotonic_ns()}",
    }


def _model(model: str) -> dict[str, Any]:
    return {
        "name": f"models/{model}",
        "displayName": model,
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }


def _error(fault: Fault) -> Response:
    status, code_name, message = _ERRORS[fault.kind]
    details: list[dict[str, Any]] = []
    if fault.kind == "rate_limit" and fault.retry_after is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{fault.retry_after:g}s"})
    if fault.kind == "unauthorized":
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        )
    body = {
        "error": {
            "code": status,
            "message": fault.message or message,
            "status": code_name,
            "details": details,
        }
    }
    return JSONResponse(body, status_code=status)
