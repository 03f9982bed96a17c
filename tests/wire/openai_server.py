"""An imitation of the OpenAI REST API (and of vLLM's OpenAI-compatible server).

Routes: ``POST /v1/chat/completions``, ``POST /v1/completions`` (streamed as
server-sent events, or whole when ``stream`` is false), ``GET /v1/models``,
``GET /v1/models/{id}`` and vLLM's ``GET /health``. Streams follow OpenAI's
format: a role chunk, one chunk per piece, a chunk with ``finish_reason``,
then (with ``stream_options.include_usage``) a chunk with empty ``choices``
and the ``usage`` (``prompt_tokens_details.cached_tokens``), then
``data: [DONE]``. Scripted tool calls (:attr:`Reply.tool_calls`) stream as
``delta.tool_calls`` (``index``, ``id``, ``type``, ``function.name`` first, then
``function.arguments`` fragments) and end with ``finish_reason: "tool_calls"``;
a whole answer carries ``message.tool_calls``. :attr:`Reply.usage_in` ``none`` leaves the usage out;
:attr:`Reply.ignore_stream` answers one JSON body to a streamed request.
Errors carry OpenAI's ``{"error": {...}}`` body; a rate limit sends
``retry-after``. The SDK takes :attr:`OpenAIWireServer.base_url`
(``.../v1``). With :attr:`OpenAIWireServer.tokenizes` it also answers vLLM's
``POST /tokenize`` (``{"model", "prompt"}`` or ``{"model", "messages", "tools",
"add_generation_prompt"}``) with ``count`` and ``tokens``: :func:`wire_token_count`,
the words of the prompt, or of the messages' and tools' JSON; without it that
route is a 404, as on OpenAI.
"""

from __future__ import annotations

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
    retry_after_value,
    sse,
    whole_answer,
)

_ERROR_TYPES = {
    "rate_limit": ("rate_limit_exceeded", "requests", "Rate limit reached for requests."),
    "server_error": ("server_error", None, "The server had an error while processing your request."),
    "overloaded": ("server_error", None, "The engine is currently overloaded."),
    "unauthorized": ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    "forbidden": ("invalid_request_error", "unsupported_country", "Country not supported."),
    "bad_request": ("invalid_request_error", None, "Invalid value for 'temperature'."),
    "context_length": (
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 130000 tokens. Please reduce the length of the messages.",
    ),
    "not_found": ("invalid_request_error", "model_not_found", "The model does not exist."),
}


class OpenAIWireServer(WireServer):
    """OpenAI / vLLM wire imitation; see the module docstring."""

    provider = "openai"
    generation_markers = ("/chat/completions", "/v1/completions")
    max_model_len: int | None = None  # listed in the model cards as vLLM does; None: left out (OpenAI)
    tokenizes = False  # answers vLLM's POST /tokenize (else a 404 there, as on OpenAI)

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def default_models(self) -> tuple[str, ...]:
        return ("gpt-4o", "gpt-4o-mini", "test-model")

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/completions", self._completions, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/v1/models/{model:path}", self._model, methods=["GET"]),
            Route("/health", self._health, methods=["GET"]),
            Route("/tokenize", self._tokenize, methods=["POST"]),
        ]

    # ------------------------------------------------------------ routes
    async def _health(self, request: Request) -> Response:
        await self.record(request)
        return Response(status_code=200) if self.healthy else self.unhealthy_response()

    async def _tokenize(self, request: Request) -> Response:
        if not self.tokenizes:  # not recorded: as if the route were not there
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        count = wire_token_count((await self.record(request)).body)
        return JSONResponse({"count": count, "max_model_len": self.max_model_len or 8192, "tokens": [0] * count})

    async def _models(self, request: Request) -> Response:
        await self.record(request)
        if not self.healthy:
            return self.unhealthy_response()
        cards = [_model(m) for m in self.models]
        if self.max_model_len is not None:
            cards = [{**card, "max_model_len": self.max_model_len} for card in cards]
        return JSONResponse({"object": "list", "data": cards})

    async def _model(self, request: Request) -> Response:
        await self.record(request)
        if not self.healthy:
            return self.unhealthy_response()
        model = request.path_params["model"]
        if model not in self.models:
            return _error(Fault("not_found"))
        return JSONResponse(_model(model))

    async def _chat(self, request: Request) -> Response | ScriptedStream:
        return await self._generate(request, chat=True)

    async def _completions(self, request: Request) -> Response | ScriptedStream:
        return await self._generate(request, chat=False)

    async def _generate(self, request: Request, *, chat: bool) -> Response | ScriptedStream:
        record = await self.record(request)
        action = self.next_action()
        if isinstance(action, Fault) and action.kind in STATUS_FAULTS:
            return _error(action)
        body: dict[str, Any] = record.body if isinstance(record.body, dict) else {}
        model = str(body.get("model", ""))
        reply = action if isinstance(action, Reply) else self.default_reply
        fault = action if isinstance(action, Fault) else None
        if not body.get("stream") or reply.ignore_stream:
            return whole_answer(record, _whole(reply, model, chat=chat), fault)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return self._stream(record, reply, fault, model, chat=chat, include_usage=include_usage)

    def _stream(
        self,
        record: RecordedRequest,
        reply: Reply,
        fault: Fault | None,
        model: str,
        *,
        chat: bool,
        include_usage: bool,
    ) -> ScriptedStream:
        head = _Chunk(model, chat)
        events = [head.event(text="", role="assistant")] if chat else []
        events += [head.event(text=piece) for piece in reply.stream_pieces()]
        for index, call in enumerate(reply.tool_calls if chat else ()):
            first = {"index": index, "id": call.call_id(index), "type": "function"}
            events.append(head.event(text="", tool_call={**first, "function": {"name": call.name, "arguments": ""}}))
            events += [
                head.event(text="", tool_call={"index": index, "function": {"arguments": piece}})
                for piece in (call.argument_pieces() if call.arguments else ["{}"])  # OpenAI sends "{}" for no input
            ]
        events.append(head.event(text="", finish_reason=_finish(reply, chat)))
        if include_usage and reply.usage_in != "none":
            events.append(head.usage_event(_usage(reply)))
        events.append(b"data: [DONE]\n\n")
        first_piece = 1 if chat else 0
        reset_at: int | None = None
        delay_before = 0.0
        if fault is not None and fault.kind == "reset":
            reset_at = first_piece + fault.after_chunks
        elif fault is not None and fault.kind == "malformed":
            events.insert(first_piece + fault.after_chunks, b"data: {not json\n\n")
        elif fault is not None and fault.kind == "timeout":
            delay_before = fault.delay_s
        return ScriptedStream(
            record,
            events,
            delay_between_s=self.slow_tokens,
            delay_before_s=delay_before,
            reset_at=reset_at,
        )


class _Chunk:
    """Builds the streamed chunk objects of one answer."""

    def __init__(self, model: str, chat: bool) -> None:
        self.model = model
        self.chat = chat
        self.created = int(time.time())
        self.id = ("chatcmpl-" if chat else "cmpl-") + str(time.monotonic_ns())

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
        }

    def event(
        self,
        *,
        text: str,
        role: str | None = None,
        finish_reason: str | None = None,
        tool_call: dict[str, Any] | None = None,
    ) -> bytes:
        if self.chat:
            delta: dict[str, Any] = {"role": role} if role else {}
            if text or role:
                delta["content"] = text
            if tool_call is not None:
                delta["tool_calls"] = [tool_call]
            choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None}
        else:
            choice = {"index": 0, "text": text, "logprobs": None}
        choice["finish_reason"] = finish_reason
        return sse(self._envelope([choice]))

    def usage_event(self, usage: dict[str, Any]) -> bytes:
        envelope = self._envelope([])
        envelope["usage"] = usage
        return sse(envelope)


def _usage(reply: Reply) -> dict[str, Any]:
    completion = reply.output_tokens()
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
    }


def _finish(reply: Reply, chat: bool) -> str:
    return "tool_calls" if chat and reply.tool_calls and reply.finish_reason == "stop" else reply.finish_reason


def _whole(reply: Reply, model: str, *, chat: bool) -> dict[str, Any]:
    if chat:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["content"] = reply.text or None
            message["tool_calls"] = [
                {
                    "id": call.call_id(i),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json()},
                }
                for i, call in enumerate(reply.tool_calls)
            ]
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "finish_reason": _finish(reply, chat),
            "logprobs": None,
        }
    else:
        choice = {"index": 0, "text": reply.text, "finish_reason": reply.finish_reason, "logprobs": None}
    whole: dict[str, Any] = {
        "id": f"cmpl-{time.monotonic_ns()}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    if reply.usage_in != "none":
        whole["usage"] = _usage(reply)
    return whole


def wire_token_count(body: Any) -> int:
    """What this server's ``/tokenize`` counts: the words of ``prompt``, else of the JSON of ``messages`` and ``tools``
    (plus one for ``add_generation_prompt``), so that a change in any of them changes the count."""
    if isinstance(body.get("prompt"), str):
        return len(body["prompt"].split())
    chat = json.dumps({"messages": body.get("messages"), "tools": body.get("tools")}, sort_keys=True)
    return len(chat.split()) + (1 if body.get("add_generation_prompt", True) else 0)


def _model(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "wire-test"}


def _error(fault: Fault) -> Response:
    kind = fault.kind
    error_type, code, message = _ERROR_TYPES[kind]
    headers: dict[str, str] = {}
    if kind == "rate_limit" and fault.retry_after is not None:
        headers["retry-after"] = retry_after_value(fault.retry_after)
    body = {
        "error": {
            "message": fault.message or message,
            "type": error_type,
            "param": None,
            "code": code,
        }
    }
    return JSONResponse(body, status_code=STATUS_FAULTS[kind], headers=headers)
