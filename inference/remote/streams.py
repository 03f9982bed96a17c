"""Finishing an HTTP response stream after its last event, so that httpx can reuse the connection.

httpx returns a connection to its pool only when the response was read to
its end. An event stream's last event (``data: [DONE]``, the gateway's
``done``) usually arrives just before the end of the body (the closing chunk
of a chunked transfer); a reader that stops at the event leaves those bytes
unread, and every request then pays a new TCP (and TLS) handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx

#: How long the rest of a body may take after its last event before the connection is given up.
DRAIN_S = 0.5


async def read_to_end(lines: AsyncIterator[str], timeout_s: float = DRAIN_S) -> None:
    """Consume what is left of ``lines`` (briefly: a server that keeps talking loses its connection)."""
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(timeout_s):
            async for _ in lines:
                pass
