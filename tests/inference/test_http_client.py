"""inference.remote._http.HttpClient (the openai-compatible backend's client) against scripted raw HTTP servers.

The servers are plain asyncio sockets so that each test controls the bytes:
where the body is cut into chunks, when the connection closes, what never comes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from inference.remote._http import HttpClient, TransportError, TransportTimeout

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Raw"], Awaitable[None]]


@dataclass
class Raw:
    """A loopback server running ``handler`` for each connection; it counts connections and request lines."""

    handler: Handler
    port: int = 0
    connections: int = 0
    request_lines: list[str] = field(default_factory=list)
    closed_by_client: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await self.handler(reader, writer, self)
        writer.close()


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[Raw]:
    raw = Raw(handler)
    server = await asyncio.start_server(raw._serve, "127.0.0.1", 0)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader, raw: Raw) -> bool:
    """Read one request (head and Content-Length body); False at the end of the connection."""
    line = await reader.readline()
    if not line:
        return False
    raw.request_lines.append(line.decode().strip())
    length = 0
    while (header := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = header.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return True


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


async def test_lines_end_at_every_line_end_and_may_be_long() -> None:
    long_line = "x" * 300_000  # longer than aiohttp's readline limit
    pieces = [b"data: a\r\n", b"data: b\nda", b"ta: c\rdata: \xc3", b"\xa9t\xc3\xa9\n", long_line.encode(), b"\nlast"]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        await read_request(reader, raw)
        writer.write(HEAD)
        for piece in pieces:
            writer.write(chunk(piece))
            await writer.drain()
            await asyncio.sleep(0.01)  # separate reads on the client
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    client = HttpClient()
    async with (
        raw_server(handler) as raw,
        client.stream("POST", f"{raw.url}/v1/completions", json_body={}, timeout_s=5) as response,
    ):
        lines = [line async for line in response.lines()]
    await client.close()
    assert lines == ["data: a", "data: b", "data: c", "data: été", long_line, "last"]


def sse_handler(*, hold_after: int | None = None) -> Handler:
    """Answers every request with three events and ``[DONE]``; ``hold_after``: stops after that many and waits."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        while await read_request(reader, raw):
            writer.write(HEAD)
            events = [b"data: {}\n\n"] * 3 + [b"data: [DONE]\n\n"]
            for index, event in enumerate(events):
                if hold_after is not None and index == hold_after:
                    if not await reader.read(1):  # nothing comes: it returns when the client closes
                        raw.closed_by_client.set()
                    return
                writer.write(chunk(event))
                await writer.drain()
            await asyncio.sleep(0.02)  # the closing chunk comes after the last event, as with uvicorn
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    return handler


async def test_a_drained_stream_keeps_its_connection() -> None:
    client = HttpClient()
    async with raw_server(sse_handler()) as raw:
        for _ in range(3):
            async with client.stream("POST", f"{raw.url}/v1/completions", json_body={}, timeout_s=5) as response:
                async for line in response.lines():
                    if line == "data: [DONE]":
                        await response.drain()
                        break
        await client.close()
    assert raw.connections == 1 and len(raw.request_lines) == 3


async def test_leaving_a_stream_early_closes_its_connection() -> None:
    """How an aborted generation reaches vLLM: the connection closes, and the server aborts the request."""
    client = HttpClient()
    async with raw_server(sse_handler(hold_after=2)) as raw:
        async with client.stream("POST", f"{raw.url}/v1/completions", json_body={}, timeout_s=5) as response:
            async for line in response.lines():
                if line.startswith("data:"):
                    break
        await asyncio.wait_for(raw.closed_by_client.wait(), 5)
        await client.close()


async def test_failures_say_whether_the_server_is_gone_or_slow() -> None:
    client = HttpClient()
    async with raw_server(sse_handler()) as raw:
        url = raw.url
    with pytest.raises(TransportError) as refused:  # nothing listens there any more
        await client.get(f"{url}/health", timeout_s=2)
    assert not refused.value.slow and refused.value.kind == "ConnectError"

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        await read_request(reader, raw)
        await reader.read(1)

    async with raw_server(silent) as raw:
        with pytest.raises(TransportTimeout) as slow:
            async with client.stream("POST", f"{raw.url}/v1/completions", json_body={}, timeout_s=0.3):
                pass
        assert slow.value.slow

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        await read_request(reader, raw)
        writer.write(HEAD + chunk(b"data: {}\n\n"))
        await writer.drain()
        writer.transport.abort()

    async with raw_server(cut) as raw:
        async with client.stream("POST", f"{raw.url}/v1/completions", json_body={}, timeout_s=5) as response:
            with pytest.raises(TransportError) as gone:
                async for _ in response.lines():
                    pass
        assert not gone.value.slow
    await client.close()


async def test_the_environments_proxy_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        while await read_request(reader, raw):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()

    async with raw_server(proxy) as raw:
        monkeypatch.setenv("HTTP_PROXY", raw.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        client = HttpClient()
        answer = await client.get("http://vllm.invalid:8000/health", timeout_s=5)
        assert answer.status == 200 and answer.json() == {}
        assert raw.request_lines == ["GET http://vllm.invalid:8000/health HTTP/1.1"]
        direct = await client.get(f"{raw.url}/health", timeout_s=5)  # NO_PROXY: straight to the server
        assert direct.status == 200 and raw.request_lines[-1] == "GET /health HTTP/1.1"
        await client.close()
