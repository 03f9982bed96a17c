"""``bench.openloop``: the load generator the gateway's rate benchmark relies on counts and times correctly."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from bench.openloop import OpenLoopResult, _complete_status, build_request, drive, drive_async

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """``bench.instant_upstream`` on a free port: its base URL."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.instant_upstream", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("listening on "), line
        yield f"http://{line.split()[-1]}"
    finally:
        child.terminate()
        child.wait(10)


def test_every_request_is_sent_on_schedule_and_answered(upstream: str) -> None:
    body = b'{"model": "instant", "messages": [{"role": "user", "content": "hi"}]}'
    result = drive(f"{upstream}/v1/chat/completions", body, {}, rate=100, seconds=1.0, connections=2)
    assert result.statuses == {200: 100} and result.failures == 0
    assert len(result.latencies_ms) == 100 and all(0 < ms < 1000 for ms in result.latencies_ms)
    assert 50 < result.achieved <= 110  # about the scheduled rate, not as fast as possible
    assert result.summary()["errors"] == 0


def test_error_statuses_are_counted_as_errors(upstream: str) -> None:
    result = drive(f"{upstream}/no/such/route", b"{}", {}, rate=50, seconds=0.4, connections=1)
    assert result.ok == 0 and result.errors == 20 and set(result.statuses) == {404}


def test_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(OSError):
        drive("http://127.0.0.1:9/v1/chat/completions", b"{}", {}, rate=10, seconds=0.1)


def test_answers_are_complete_only_when_their_body_is() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4\r\n\r\n"
    assert _complete_status(bytearray(head[:20])) is None
    assert _complete_status(bytearray(head + b"{}")) is None
    assert _complete_status(bytearray(head + b"{  }")) == 200
    chunked = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n"
    assert _complete_status(bytearray(chunked)) is None
    assert _complete_status(bytearray(chunked + b"0\r\n\r\n")) == 503


def test_the_request_carries_host_length_and_headers() -> None:
    host, port, request = build_request("http://127.0.0.1:8080/v1/x?a=1", b"{}", {"Authorization": "Bearer k"})
    assert (host, port) == ("127.0.0.1", 8080)
    assert request.startswith(b"POST /v1/x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 2\r\n")
    assert request.endswith(b"Authorization: Bearer k\r\n\r\n{}")
    with pytest.raises(ValueError, match="only http://"):
        build_request("https://example.com/", b"", {})


async def _idle_closing_server(idle_s: float) -> asyncio.Server:
    """A server that answers each request with 200 and sends 408 + close to a connection idle for ``idle_s``."""

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)
            self.timer = asyncio.get_running_loop().call_later(idle_s, self.too_slow)

        def data_received(self, data: bytes) -> None:
            self.timer.cancel()
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
            self.timer = asyncio.get_running_loop().call_later(idle_s, self.too_slow)

        def too_slow(self) -> None:
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self.timer.cancel()

    return await asyncio.get_running_loop().create_server(Protocol, "127.0.0.1", 0)


def test_a_server_closing_idle_connections_is_not_an_error_of_the_run() -> None:
    """Connections opened up front and never used get the server's 408 when its idle timer ends: no answer of ours."""

    async def run() -> OpenLoopResult:
        server = await _idle_closing_server(0.3)
        port = server.sockets[0].getsockname()[1]
        try:
            return await drive_async(f"http://127.0.0.1:{port}/", b"{}", {}, rate=20, seconds=1.0, connections=4)
        finally:
            server.close()

    result = asyncio.run(run())
    assert result.statuses == {200: 20} and result.failures == 0 and result.errors == 0
