"""The gateway's HTTP protocol for uvicorn: request headers must arrive within a time limit (issue 19.5).

uvicorn bounds the size of request headers but not how long they may take:
a client that opens a connection and sends its headers a byte at a time
("slowloris") holds the connection, and its memory, for as long as it likes;
so does one that connects and sends nothing. :func:`http_protocol` returns
uvicorn's own protocol class (httptools when installed, else h11) with a
timer: from the connection's start, and from the first bytes of each next
request on a kept-alive connection, its headers must be complete within
``[gateway_server] header_timeout_s``, else the client gets ``408 Request
Timeout`` and the connection is closed. A whole request arriving at once sets
no timer. The body has its own limit in the application (``body_timeout_s``).

The same protocol sends a response's head and body in one write
(:class:`_HeadWithBody`): uvicorn writes the status line and headers as soon
as the application starts its response, then the body in a second write,
so every answer cost two system calls, and on the benchmark machine (a
virtual machine, where each costs about 10 µs of CPU) that was a tenth of
the gateway's CPU per request as a proxy (issue 21.6). The head is held until
the body's first write in the same step of the event loop, or is sent on its
own at the end of that step (an event stream whose first event comes later).
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 39\r\nconnection: close\r\n\r\nrequest headers took too long to arrive"
)


class _HeaderTimeout:
    """Mixin over a uvicorn HTTP protocol (which has ``loop``, ``transport`` and ``cycle``)."""

    header_timeout_s: float = 10.0
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._header_cycle: Any = None
        self._header_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.header_timeout_s, self._headers_too_slow
        )

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        between_requests = before is None or before.response_complete
        super().data_received(data)  # type: ignore[misc]
        if self.cycle is not before and self.cycle is not None:  # a new request: its response's first write waits
            self.cycle.transport = _HeadWithBody(self.transport, self.loop)
        if self._header_timer is not None:
            if self.cycle is not None and self.cycle is not self._header_cycle:  # the headers are complete
                self._header_timer.cancel()
                self._header_timer = None
        elif between_requests and self.cycle is before and not self.transport.is_closing():
            self._header_cycle = before  # a request began but its headers are not all here yet
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()


class _HeadWithBody:
    """A response's transport that holds its first write (the head) to send it with the next one, in one call.

    What is held goes out with the next write, before a close, or at the end
    of the event loop's current step, whichever comes first; every later
    write, and everything else, is the connection's transport's own.
    """

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._first = True
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._first:  # hold it until the next write or the end of this step
            self._first = False
            self._held = data
            self._loop.call_soon(self._flush)
            return
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        self._transport.write(data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def http_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's default HTTP protocol class with request headers bounded to ``header_timeout_s``."""
    base: type[asyncio.Protocol]
    if importlib.util.find_spec("httptools") is not None:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    return type("GatewayHttpProtocol", (_HeaderTimeout, base), {"header_timeout_s": header_timeout_s})
