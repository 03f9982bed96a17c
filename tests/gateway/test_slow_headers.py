"""Request headers that arrive too slowly get 408 and a closed connection (issue 19.5).

A real ``gateway serve`` process with ``[gateway_server] header_timeout_s =
1``: a client trickling its headers a byte at a time ("slowloris"), one that
connects and sends nothing, and one that is slow on the second request of a
kept-alive connection are all cut off after about a second, while whole
requests on the same server are answered.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.harness import GatewayProcess, gateway_env

TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("slow-headers")
    process = GatewayProcess(gateway_env(tmp, f"[gateway_server]\nheader_timeout_s = {TIMEOUT_S}\n"), tmp / "gw.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def trickle(sock: socket.socket, data: bytes, every_s: float, for_s: float) -> bool:
    """Send ``data`` a byte every ``every_s`` for up to ``for_s``; False once the server closed the connection."""
    deadline = time.monotonic() + for_s
    for byte in data:
        if time.monotonic() > deadline:
            return True
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return False
        time.sleep(every_s)
    return True


def read_all(sock: socket.socket, timeout_s: float = 5.0) -> bytes:
    sock.settimeout(timeout_s)
    chunks = []
    while True:
        try:
            chunk = sock.recv(4096)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length body (uvicorn may send its head and body in two writes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, data
        body += chunk
    assert len(body) == length, "the server sent more than one response"
    return head + b"\r\n\r\n" + body


def test_headers_trickled_a_byte_at_a_time_get_408(gateway: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        started = time.monotonic()
        trickle(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100, 0.1, 3 * TIMEOUT_S)
        answer = read_all(sock)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert elapsed < 3 * TIMEOUT_S + 1


def test_a_connection_that_sends_nothing_is_closed(gateway: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        started = time.monotonic()
        answer = read_all(sock, timeout_s=5 * TIMEOUT_S)
        assert time.monotonic() - started < 3 * TIMEOUT_S
    assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_a_slow_second_request_on_a_kept_alive_connection_gets_408(gateway: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        time.sleep(TIMEOUT_S * 1.5)  # idle between requests: uvicorn's keep-alive timeout (5 s) governs that
        trickle(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"b" * 100, 0.1, 3 * TIMEOUT_S)
        assert read_all(sock).startswith(b"HTTP/1.1 408 ")


def test_whole_requests_are_answered(gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        for _ in range(20):
            assert client.get("/healthz").status_code == 200
