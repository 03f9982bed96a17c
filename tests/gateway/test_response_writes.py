"""The gateway's HTTP protocol sends a response's head and body in one write (issue 21.6).

uvicorn's protocol (the gateway's, :func:`hybrid_assist.http_protocol.http_protocol`)
is fed a request over a recording transport: a whole answer is one write,
a streamed answer's head goes out at the end of the loop's step even before
its first event, and one that closes the connection sends its head first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from hybrid_assist.http_protocol import http_protocol

REQUEST = b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\n{}"


class Recorder(asyncio.Transport):
    """A transport that keeps what is written, one entry per call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def serve(app: Any, request: bytes = REQUEST) -> Recorder:
    config = Config(app, log_config=None, lifespan="off")
    config.load()
    protocol_class: Any = http_protocol(10.0)
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = Recorder()
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(20):
        await asyncio.sleep(0)
    return transport


async def whole(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def test_a_whole_answer_is_one_write() -> None:
    transport = await serve(whole)
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and transport.writes[0].endswith(b"\r\n\r\nhello")


async def test_a_streamed_answer_sends_its_head_before_its_first_event() -> None:
    release = asyncio.Event()

    async def streamed(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await release.wait()
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    transport = await serve(streamed)
    assert len(transport.writes) == 1 and transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    release.set()
    await asyncio.sleep(0.01)
    assert transport.writes[1:] == [b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]


async def test_a_closing_answer_is_one_write_then_the_close() -> None:
    transport = await serve(whole, REQUEST.replace(b"host: t\r\n", b"host: t\r\nconnection: close\r\n"))
    assert transport.closed
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\nhello")
