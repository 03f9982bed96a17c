"""OpenAI-compatible endpoints: ``/v1/chat/completions``, ``/v1/completions`` and ``/v1/models``.

``model: "auto"`` is routed by the policy (task ``explain`` for chat,
``completion`` for completions, or the task named by the ``X-Hybrid-Task``
header; the scope level by ``X-Hybrid-Scope``, default ``single_file``); a
named model sets ``RouteInput.requested_model`` and is served by that model or
refused, never silently replaced: 403 ``model_not_allowed`` (sensitive code and
a cloud model), 400 ``context_length_exceeded`` (the request does not fit its
window), 503 ``model_unavailable`` (no key, open circuit, engine down). A cloud
name is answered by the local engine only with ``[routing]
map_cloud_models_to_local = true`` (off by default; the response then names the
local model). Answers carry OpenAI's fields plus a
``hybrid`` object (target, cost, notices, request id). A call that cannot be
served before any text is produced is an HTTP error; one that fails after
streaming began ends with an ``{"error": ...}`` event, which the official SDK
raises as ``APIError``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.assist import DONE_OUTCOMES, attempts_json
from gateway.calls import SCOPE_LEVELS, CallSpec, Generation, parse_messages, prepare
from gateway.errors import ApiError, error_body
from gateway.fields import get_bool, get_float, get_int, get_object, get_str, get_str_list, invalid
from gateway.http import caller, json_body, sse_event
from gateway.openai_tools import (
    delta_json,
    parse_parallel,
    parse_response_format,
    parse_tool_choice,
    parse_tools,
    tool_calls_json,
)
from gateway.state import Gateway
from gateway.streaming import ClientGone, ServeTask, sse_response, unless_disconnected
from inference.types import RequestKind, ToolCallDelta
from routing.policy import RouteDecision
from routing.prepare import UNSUPPORTED_FIELD
from routing.service import Served
from routing.tasks import TaskKind, parse_task

AUTO = "auto"
#: ``created`` of every model entry: when this gateway process started (Unix seconds).
STARTED = int(time.time())


def known_models(gateway: Gateway) -> list[tuple[str, str]]:
    """``(model, owner)`` pairs a client may name: ``auto``, the local model, enabled providers' models."""
    models = [(AUTO, "hybrid-assist")]
    local = gateway.runtime.local
    if local is not None:
        models.append((local.default_model(), "local"))
    for name, provider in gateway.settings.providers.items():
        if provider.enabled and (name != "overflow" or provider.base_url):
            models += [(m, name) for m in provider.models if (m, name) not in models]
    return models


def _model_json(model: str, owner: str) -> dict[str, object]:
    return {"id": model, "object": "model", "created": STARTED, "owned_by": owner}


async def list_models(request: Request) -> Response:
    gateway, _ = await caller(request)
    return JSONResponse({"object": "list", "data": [_model_json(m, owner) for m, owner in known_models(gateway)]})


async def retrieve_model(request: Request) -> Response:
    """``GET /v1/models/{id}`` (the SDKs' ``models.retrieve``); 404 ``model_not_found`` for a name not served."""
    gateway, _ = await caller(request)
    name = request.path_params["model"]
    for model, owner in known_models(gateway):
        if model == name:
            return JSONResponse(_model_json(model, owner))
    raise ApiError(404, "model_not_found", f"model {name!r} is not served here; GET /v1/models lists them")


#: Request fields the gateway cannot honour yet, per endpoint: field -> (why, values that change nothing and
#: are accepted). Any other value is a 400 ``unsupported_field`` naming the field, never a silent drop.
Unsupported = dict[str, tuple[str, tuple[object, ...]]]
_SAMPLING: Unsupported = {
    "logit_bias": ("not supported", ({},)),
    "presence_penalty": ("not supported (only 0)", (0,)),
    "frequency_penalty": ("not supported (only 0)", (0,)),
}
CHAT_UNSUPPORTED: Unsupported = {
    "functions": ("the deprecated function calling is not supported: use tools", ([],)),
    "function_call": ("the deprecated function calling is not supported: use tool_choice", ("none",)),
    "logprobs": ("log probabilities are not supported (only false)", (False,)),
    "top_logprobs": ("log probabilities are not supported", ()),
    "audio": ("audio output is not supported", ()),
    "modalities": ("only text output is supported", (["text"],)),
    "prediction": ("predicted outputs are not supported", ()),
    "web_search_options": ("web search is not supported", ()),
    **_SAMPLING,
}
COMPLETIONS_UNSUPPORTED: Unsupported = {
    "logprobs": ("log probabilities are not supported", (0,)),
    "echo": ("echo is not supported (only false)", (False,)),
    "best_of": ("only best_of = 1 is supported", (1,)),
    **_SAMPLING,
}


def refuse_unsupported(body: dict[str, Any], unsupported: Unsupported) -> None:
    """400 ``unsupported_field`` naming the first listed field of ``body`` whose value would matter."""
    for field, (why, harmless) in unsupported.items():
        value = body.get(field)
        if value is not None and not any(_same(value, h) for h in harmless):
            raise ApiError(400, "unsupported_field", f"{field}: {why}")


def _same(value: object, harmless: object) -> bool:
    """JSON equality: ``1`` and ``1.0`` are the same number, ``false`` is not ``0``."""
    return isinstance(value, bool) is isinstance(harmless, bool) and value == harmless


def task_header(request: Request, default: TaskKind) -> TaskKind:
    name = request.headers.get("x-hybrid-task")
    if not name:
        return default
    try:
        return parse_task(name)
    except ValueError as exc:
        raise invalid("X-Hybrid-Task header", str(exc)) from None


def scope_header(request: Request) -> str:
    level = request.headers.get("x-hybrid-scope") or "single_file"
    if level not in SCOPE_LEVELS:
        raise invalid("X-Hybrid-Scope header", f"must be one of {', '.join(SCOPE_LEVELS)}")
    return level


def resolve_model(gateway: Gateway, body: dict[str, Any]) -> str:
    model = get_str(body, "model", "model", default=AUTO) or AUTO
    if model != AUTO and model not in {m for m, _ in known_models(gateway)}:
        raise ApiError(404, "model_not_found", f"model {model!r} is not served here; GET /v1/models lists them")
    return "" if model == AUTO else model


def _user(body: dict[str, Any]) -> str:
    """The client's end-user id: the ledger row's request-id prefix (the ledger has no column for it)."""
    return get_str(body, "user", "user")


def sampling(body: dict[str, Any]) -> dict[str, Any]:
    """``top_p`` and ``seed`` as :class:`Generation` fields (sent to the targets that take them)."""
    return {
        "top_p": get_float(body, "top_p", "top_p", maximum=1.0),
        "seed": get_int(body, "seed", "seed", minimum=-(2**63), maximum=2**63 - 1),
    }


def _common(body: dict[str, Any]) -> dict[str, Any]:
    """The :class:`Generation` fields chat and completions share."""
    max_tokens = get_int(body, "max_completion_tokens", "max_completion_tokens", minimum=1)
    if max_tokens is None:
        max_tokens = get_int(body, "max_tokens", "max_tokens", minimum=1)
    n = get_int(body, "n", "n", minimum=1)
    if n is not None and n != 1:
        raise invalid("n", "only n = 1 is supported")
    return {
        "max_tokens": max_tokens,
        "temperature": get_float(body, "temperature", "temperature", maximum=2.0) or 0.0,
        "stop": get_str_list(body, "stop", "stop", one_string_ok=True),
        **sampling(body),
    }


async def chat_completions(request: Request) -> Response:
    gateway, principal = await caller(request)
    body = await json_body(request, gateway)
    refuse_unsupported(body, CHAT_UNSUPPORTED)
    model = resolve_model(gateway, body)
    tools = parse_tools(body)
    generation = Generation(
        RequestKind.CHAT,
        messages=parse_messages(body.get("messages"), "messages"),
        tools=tools,
        tool_choice=parse_tool_choice(body, tools),
        parallel_tool_calls=parse_parallel(body),
        response_format=parse_response_format(body),
        **_common(body),
    )
    task = task_header(request, TaskKind.EXPLAIN)
    spec = CallSpec(
        task, scope_header(request), generation=generation, requested_model=model, client_request_id=_user(body)
    )
    return await _answer(request, gateway, principal, spec, body, chat=True)


async def completions(request: Request) -> Response:
    gateway, principal = await caller(request)
    body = await json_body(request, gateway)
    refuse_unsupported(body, COMPLETIONS_UNSUPPORTED)
    model = resolve_model(gateway, body)
    common = _common(body)
    common["max_tokens"] = common["max_tokens"] or 16
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise invalid("prompt", "must be a string (or a list of exactly one string)")
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise invalid("prompt", "is required and must be a string")
    suffix = get_str(body, "suffix", "suffix")
    generation = Generation(RequestKind.FIM, prefix=prompt, suffix=suffix, **common)
    task = task_header(request, TaskKind.COMPLETION)
    spec = CallSpec(
        task, scope_header(request), generation=generation, requested_model=model, client_request_id=_user(body)
    )
    return await _answer(request, gateway, principal, spec, body, chat=False)


async def _answer(
    request: Request, gateway: Gateway, principal: Any, spec: CallSpec, body: dict[str, Any], *, chat: bool
) -> Response:
    stream = get_bool(body, "stream", "stream")
    include_usage = get_bool(get_object(body, "stream_options", "stream_options"), "include_usage", "stream_options")
    prepared = prepare(gateway, principal, spec)
    call = prepared.call
    if prepared.decision.refused == UNSUPPORTED_FIELD:  # tools / response_format no target may honour
        raise ApiError(400, UNSUPPORTED_FIELD, prepared.decision.empty_reason)
    if spec.requested_model and prepared.decision.primary is None:
        raise refusal(spec.requested_model, prepared.decision)
    await gateway.admit(principal, call.route_input.context_tokens)
    shape = _Shape(chat, call.request_id, prepared.decision.model or AUTO)
    shape.max_tokens = call.template.max_tokens  # as sent: the policy's default or the cap when they apply
    headers = {"X-Hybrid-Request-Id": call.request_id}
    if not stream:
        return await _whole(request, gateway, ServeTask(gateway, call, forward=False), shape, headers)
    serving = ServeTask(gateway, call)
    try:
        first = await unless_disconnected(request, serving.next_item())
        if first is None:  # finished before any text: a whole answer (or an error) either way
            served = await serving.result()
            if served.outcome not in DONE_OUTCOMES:
                return JSONResponse(_error(served), status_code=503, headers=headers)
    except ClientGone:
        if serving.cancel():
            gateway.metrics.disconnects.inc()
        return Response(status_code=499)
    except BaseException:
        serving.cancel()
        raise
    return sse_response(_chunks(gateway, serving, shape, first, include_usage), headers)


async def _whole(
    request: Request, gateway: Gateway, serving: ServeTask, shape: _Shape, headers: dict[str, str]
) -> Response:
    """A non-streamed answer: one JSON body once the call has ended (nothing is forwarded on the way)."""
    try:
        served = await unless_disconnected(request, serving.task)
    except ClientGone:
        gateway.metrics.disconnects.inc()  # unless_disconnected cancelled the call: the engine aborts it
        return Response(status_code=499)
    if served.outcome not in DONE_OUTCOMES:
        return JSONResponse(_error(served), status_code=503, headers=headers)
    return JSONResponse(shape.whole(served), headers=headers)


async def _chunks(
    gateway: Gateway, serving: ServeTask, shape: _Shape, first: str | ToolCallDelta | None, include_usage: bool
) -> AsyncIterator[dict[str, str]]:
    gateway.metrics.open_streams.inc()
    try:
        yield sse_event(None, shape.chunk(first or "", role=True))
        while (piece := await serving.next_item()) is not None:
            yield sse_event(None, shape.chunk(piece))
        try:
            served = await serving.result()
        except Exception as exc:
            yield sse_event(None, error_body("internal", f"{type(exc).__name__}: {exc}"))
            return
        if served.outcome not in DONE_OUTCOMES:
            yield sse_event(None, _error(served))
            return
        yield sse_event(None, shape.chunk("", finish=shape.finish_reason(served), served=served))
        if include_usage:
            yield sse_event(None, shape.usage_chunk(served))
        yield sse_event(None, "[DONE]")
    finally:
        gateway.metrics.open_streams.dec()
        if serving.cancel():
            gateway.metrics.disconnects.inc()


#: Why a named model cannot take the request -> (HTTP status, error code).
_REFUSALS = {
    "model_not_allowed": (403, "model_not_allowed"),
    "context_length_exceeded": (400, "context_length_exceeded"),
}


def refusal(model: str, decision: RouteDecision) -> ApiError:
    """A named model is served as named or refused, saying why; never silently replaced by another."""
    status, code = _REFUSALS.get(decision.refused, (503, "model_unavailable"))
    return ApiError(status, code, f"model {model!r}: {decision.empty_reason}")


def _error(served: Served) -> dict[str, object]:
    body = error_body("unavailable", served.empty_reason or "the request could not be served")
    error = body["error"]
    assert isinstance(error, dict)
    error["type"] = "server_error"
    error["attempts"] = attempts_json(served)
    return body


class _Shape:
    """OpenAI's JSON shapes for one answer (chat or text completion)."""

    def __init__(self, chat: bool, request_id: str, model: str) -> None:
        self.chat = chat
        self.id = ("chatcmpl-" if chat else "cmpl-") + request_id
        self.model = model
        self.created = int(time.time())
        self.max_tokens = 0

    def finish_reason(self, served: Served) -> str:
        """``tool_calls`` when the answer asks for calls, ``length`` when it was cut off (the target says so, or it
        used every token it was allowed), else ``stop``."""
        if served.tool_calls and served.finish_reason != "length":  # a call cut off by the limit ends "length"
            return "tool_calls"
        cut = served.finish_reason == "length" or 0 < self.max_tokens <= served.usage.completion_tokens
        return "length" if cut else "stop"

    def _usage(self, served: Served) -> dict[str, object]:
        u = served.usage
        return {
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens,
            "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
        }

    def _hybrid(self, served: Served) -> dict[str, object]:
        return {
            "request_id": self.id.split("-", 1)[1],
            "target": served.target,
            "model": served.model,
            "cost_usd": round(served.cost_usd, 6),
            "notices": list(dict.fromkeys(served.notices)),
            "empty_reason": served.empty_reason,
            "route": served.decision.to_json(),
        }

    def whole(self, served: Served) -> dict[str, object]:
        choice: dict[str, object] = {"index": 0, "finish_reason": self.finish_reason(served), "logprobs": None}
        if self.chat:
            message: dict[str, object] = {"role": "assistant", "content": served.text}
            if served.tool_calls:
                message["content"] = served.text or None
                message["tool_calls"] = tool_calls_json(served.tool_calls)
            choice["message"] = message
        else:
            choice["text"] = served.text
        return {
            "id": self.id,
            "object": "chat.completion" if self.chat else "text_completion",
            "created": self.created,
            "model": served.model or self.model,
            "choices": [choice],
            "usage": self._usage(served),
            "hybrid": self._hybrid(served),
        }

    def chunk(
        self,
        piece: str | ToolCallDelta,
        *,
        role: bool = False,
        finish: str | None = None,
        served: Served | None = None,
    ) -> dict[str, object]:
        """One streamed chunk: a piece of text or of a tool call (``role``: the first chunk, which names it)."""
        choice: dict[str, object] = {"index": 0, "finish_reason": finish, "logprobs": None}
        text = piece if isinstance(piece, str) else ""
        if self.chat:
            delta: dict[str, object] = {"role": "assistant"} if role else {}
            if isinstance(piece, ToolCallDelta):
                if role:
                    delta["content"] = None
                delta["tool_calls"] = [delta_json(piece)]
            elif text or role:
                delta["content"] = text
            choice["delta"] = delta
        else:
            choice["text"] = text
        body: dict[str, object] = {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.created,
            "model": (served.model if served is not None else "") or self.model,
            "choices": [choice],
        }
        if served is not None:
            body["hybrid"] = self._hybrid(served)
        return body

    def usage_chunk(self, served: Served) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.created,
            "model": served.model or self.model,
            "choices": [],
            "usage": self._usage(served),
        }
