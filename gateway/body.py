"""Reading a JSON request body with a size cap and a deadline, enforced while the bytes arrive.

A body announced (``Content-Length``) or found to be larger than the cap is
refused with 413 without reading the rest; a body that does not arrive in
time (a client that trickles bytes) is refused with 408. Both close the
connection.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import ClientDisconnect, Request

from gateway.errors import ApiError

_CLOSE = {"Connection": "close"}


async def read_body(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    """The whole body, or :class:`ApiError` 413 (too large) / 408 (too slow) / 400 (client went away)."""
    announced = request.headers.get("content-length")
    if announced is not None:
        try:
            size = int(announced)
        except ValueError:
            raise ApiError(400, "bad_request", "invalid Content-Length header") from None
        if size > max_bytes:
            raise _too_large(max_bytes)
    chunks: list[bytes] = []
    received = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes:
                    raise _too_large(max_bytes)
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(
            408, "request_timeout", f"the request body did not arrive within {timeout_s:g} s", _CLOSE
        ) from None
    except ClientDisconnect:
        raise ApiError(400, "bad_request", "the client closed the connection before the body was complete") from None
    return b"".join(chunks)


async def read_json(request: Request, max_bytes: int, timeout_s: float) -> dict[str, Any]:
    """The body as a JSON object; 400 when it is not JSON or not an object."""
    raw = await read_body(request, max_bytes, timeout_s)
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return value


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the request body exceeds {max_bytes} bytes", _CLOSE)
