"""``POST /v1/assist`` (the language server's request, answered as SSE) and ``POST /v1/route/explain``.

Events, in order: ``route`` (the decision and its estimate), ``delta`` (text
as it streams), then ``done`` or ``error``. Closing the stream cancels the
call: the generation is aborted in the engine and the ledger row is written
with outcome ``cancelled``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.calls import estimate_json, parse_assist, prepare
from gateway.http import caller, json_body, sse_event
from gateway.outage import as_api_error, refuse_if_unavailable
from gateway.state import Gateway
from gateway.streaming import ServeTask
from routing.service import RoutedCall, Served

#: Outcomes that end a stream with ``done`` (possibly empty, with its reason); the others end with ``error``.
DONE_OUTCOMES = frozenset({"ok", "no_target"})
SSE_PING_S = 15.0


async def assist(request: Request) -> Response:
    gateway, principal = await caller(request)
    spec = parse_assist(await json_body(request, gateway), with_generation=True)
    prepared = prepare(gateway, principal, spec)
    await gateway.admit(principal, prepared.call.route_input.context_tokens)
    refuse_if_unavailable(gateway, prepared.decision)  # 503 before the stream starts
    route: dict[str, object] = {
        "route": prepared.decision.to_json(),
        "estimate": estimate_json(prepared.decision),
        "request_id": prepared.call.request_id,
    }
    return EventSourceResponse(
        _events(gateway, prepared.call, route),
        ping=SSE_PING_S,
        sep="\n",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(gateway: Gateway, call: RoutedCall, route: dict[str, object]) -> AsyncIterator[dict[str, str]]:
    yield sse_event("route", route)
    stream = ServeTask(gateway, call)
    gateway.metrics.open_streams.inc()
    try:
        while (piece := await stream.next_piece()) is not None:
            yield sse_event("delta", {"text": piece})
        try:
            served = await stream.result()
        except Exception as exc:  # a bug must end the stream cleanly, not hang the client
            if (unavailable := as_api_error(gateway, exc)) is not None:
                yield sse_event("error", {"code": unavailable.code, "message": unavailable.message})
                return
            yield sse_event("error", {"code": "internal", "message": f"{type(exc).__name__}: {exc}"})
            return
        if served.outcome in DONE_OUTCOMES:
            yield sse_event("done", done_json(served, call.request_id))
        else:
            yield sse_event("error", error_json(served))
    finally:
        gateway.metrics.open_streams.dec()
        if stream.cancel():
            gateway.metrics.disconnects.inc()


def done_json(served: Served, request_id: str) -> dict[str, object]:
    return {
        "text": served.text,
        "target": served.target,
        "model": served.model,
        "usage": {
            "prompt_tokens": served.usage.prompt_tokens,
            "cached_tokens": served.usage.cached_tokens,
            "completion_tokens": served.usage.completion_tokens,
        },
        "cost_usd": round(served.cost_usd, 6),
        "latency_ms": round(served.latency_ms, 1),
        "ttft_ms": None if served.ttft_ms is None else round(served.ttft_ms, 1),
        "attempts": attempts_json(served),
        "notices": list(dict.fromkeys(served.notices)),
        "empty_reason": served.empty_reason,
        "request_id": request_id,
        "route": served.decision.to_json(),
    }


def error_json(served: Served) -> dict[str, object]:
    code = "unavailable" if served.outcome in ("unavailable", "no_target") else served.outcome
    return {
        "code": code,
        "message": served.empty_reason or "the request could not be served",
        "attempts": attempts_json(served),
        "notices": list(dict.fromkeys(served.notices)),
    }


def attempts_json(served: Served) -> list[dict[str, str]]:
    return [{"target": a.target, "model": a.model, "outcome": a.outcome, "detail": a.detail} for a in served.attempts]


async def explain(request: Request) -> Response:
    gateway, principal = await caller(request)
    spec = parse_assist(await json_body(request, gateway), with_generation=False)
    prepared = prepare(gateway, principal, spec)
    return JSONResponse({"route": prepared.decision.to_json(), "estimate": estimate_json(prepared.decision)})
