"""Helpers every endpoint uses: the shared :class:`Gateway`, the caller, the JSON body, SSE framing."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from gateway.auth import Principal
from gateway.body import read_json
from gateway.errors import ApiError
from gateway.state import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway = request.app.state.gateway
    assert isinstance(gateway, Gateway)
    return gateway


async def caller(request: Request, *, admin: bool = False) -> tuple[Gateway, Principal]:
    """The gateway and the authenticated caller; 401 without a valid key, 403 when ``admin`` is needed."""
    gateway = gateway_of(request)
    principal = await gateway.auth.authenticate(request.headers.get("authorization"))
    if admin and not principal.admin:
        raise ApiError(403, "forbidden", "this endpoint needs an admin key")
    return gateway, principal


async def json_body(request: Request, gateway: Gateway) -> dict[str, Any]:
    cfg = gateway.settings.gateway_server
    return await read_json(request, cfg.max_body_bytes, cfg.body_timeout_s)


def sse_event(event: str | None, data: Any) -> dict[str, str]:
    """One server-sent event for sse-starlette: ``event: NAME`` (optional) and one line of JSON data."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return {"event": event, "data": payload} if event else {"data": payload}
