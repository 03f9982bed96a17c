"""The gateway as users run it: ``hybrid-assist gateway serve`` in a real uvicorn process.

The official ``openai`` SDK against the OpenAI-compatible endpoints (streamed
and whole), slow and oversized bodies at the socket, a client that hangs up
mid-stream or before a whole answer (the call is cancelled and recorded), and ``kill -9`` mid-stream
(committed ledger rows survive; the client gets an error, not a hang).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.gateway.harness import GatewayProcess, add_user, gateway_env, parse_sse
from tests.gateway.test_api import ASSIST

pytestmark = pytest.mark.slow

LONG_REPLY = " ".join(f"word{i}" for i in range(200))


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, str]]:
    tmp = tmp_path_factory.mktemp("fast-gateway")
    env = gateway_env(tmp, "[gateway_server]\nmax_body_bytes = 4096\nbody_timeout_s = 1.0\n")
    key = add_user(env, "alice", team="red")
    server = GatewayProcess(env, tmp / "gateway.log")
    try:
        server.wait_ready()
        yield server, key
    finally:
        server.stop()


def test_openai_sdk_chat_completions_whole_and_streamed(fast: tuple[GatewayProcess, str]) -> None:
    server, key = fast
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)
    whole = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "add two numbers"}])
    assert whole.choices[0].message.content == "return a + b"
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage is not None and whole.usage.completion_tokens == 4
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "add two numbers"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "return a + b"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    models = [m.id for m in client.models.list()]
    assert models[:2] == ["auto", "instant"]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])


def test_openai_sdk_completions_whole_and_streamed(fast: tuple[GatewayProcess, str]) -> None:
    server, key = fast
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)
    whole = client.completions.create(model="auto", prompt="def add(a, b):\n    ", suffix="\n", max_tokens=32)
    assert whole.choices[0].text == "return a + b"
    streamed = client.completions.create(model="auto", prompt="def add(a, b):\n    ", max_tokens=32, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "return a + b"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="ha_000000000000_nope", max_retries=0).completions.create(
            model="auto", prompt="x"
        )


def test_assist_over_the_wire(fast: tuple[GatewayProcess, str]) -> None:
    server, key = fast
    with httpx.stream(
        "POST", f"{server.url}/v1/assist", json=ASSIST, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as response:
        assert response.status_code == 200
        events = parse_sse(response.read().decode())
    assert events[0][0] == "route" and events[-1][0] == "done"


def _raw(server: GatewayProcess, head: bytes, body_parts: list[bytes], pause_s: float) -> tuple[bytes, float]:
    """Send ``head`` then ``body_parts`` with pauses; the response and the seconds until it came."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head)
        for part in body_parts:
            try:
                sock.sendall(part)
            except OSError:
                break
            time.sleep(pause_s)
        sock.settimeout(15)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received, time.monotonic() - started


def test_a_body_that_trickles_in_is_cut_off_with_408(fast: tuple[GatewayProcess, str]) -> None:
    server, key = fast
    head = (
        f"POST /v1/assist HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    ).encode()
    response, elapsed = _raw(server, head, [b"{"] * 30, pause_s=0.2)
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert elapsed < 5.0


def test_an_oversized_chunked_body_is_refused_while_it_is_read(fast: tuple[GatewayProcess, str]) -> None:
    server, key = fast
    head = (
        f"POST /v1/assist HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    part = b"x" * 1024
    chunk = f"{len(part):x}\r\n".encode() + part + b"\r\n"
    response, _ = _raw(server, head, [chunk] * 64, pause_s=0.01)  # 64 KiB offered, 4 KiB allowed
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    announced = head.replace(b"Transfer-Encoding: chunked", b"Content-Length: 1000000")
    response, _ = _raw(server, announced, [], pause_s=0)
    assert response.startswith(b"HTTP/1.1 413"), response[:200]


def _usage_totals_once_recorded(server: GatewayProcess, admin_key: str, user: str) -> dict[str, int]:
    """``user``'s usage totals once one request is in the ledger (or after 10 s)."""
    totals: dict[str, int] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and totals.get("requests") != 1:
        usage = httpx.get(f"{server.url}/v1/admin/usage?user={user}", headers={"Authorization": f"Bearer {admin_key}"})
        totals = usage.json()["totals"]
        time.sleep(0.1)
    return totals


def test_closing_the_stream_cancels_the_call_and_records_it(tmp_path: Path) -> None:
    env = gateway_env(tmp_path, reply=LONG_REPLY, delay_ms=20.0)
    key = add_user(env, "alice")
    admin = add_user(env, "root", admin=True)
    server = GatewayProcess(env, tmp_path / "gateway.log")
    try:
        server.wait_ready()
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.stream("POST", f"{server.url}/v1/assist", json=ASSIST, headers=auth, timeout=30) as response:
            deltas = 0
            for line in response.iter_lines():
                deltas += line.startswith("event: delta")
                if deltas == 3:
                    break  # hang up with ~197 words to go
        totals = _usage_totals_once_recorded(server, admin, "alice")
        assert totals["requests"] == 1 and totals["failed"] == 1  # recorded, and not as a success
        metrics = httpx.get(f"{server.url}/metrics").text
        assert (
            'hybrid_assist_requests_total{outcome="cancelled",target="local",task="inline_completion"} 1.0' in metrics
        )
        assert "hybrid_gateway_client_disconnects_total 1.0" in metrics
    finally:
        server.stop()


def test_hanging_up_on_a_whole_answer_cancels_the_call_and_records_it(tmp_path: Path) -> None:
    """A non-streamed chat completion: the client closes the socket while the answer is generated."""
    env = gateway_env(tmp_path, reply=LONG_REPLY, delay_ms=20.0)  # 200 words, about 4 s
    key = add_user(env, "alice")
    admin = add_user(env, "root", admin=True)
    server = GatewayProcess(env, tmp_path / "gateway.log")
    try:
        server.wait_ready()
        body = b'{"model": "auto", "messages": [{"role": "user", "content": "explain"}], "max_tokens": 400}'
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
            sock.sendall(head + body)
            time.sleep(0.5)  # generating; nothing is sent back before the whole answer
        totals = _usage_totals_once_recorded(server, admin, "alice")
        assert totals["requests"] == 1 and totals["failed"] == 1
        assert time.monotonic() - started < 3.5  # recorded before the 4 s answer could have finished
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'hybrid_assist_requests_total{outcome="cancelled",target="local",task="explain"} 1.0' in metrics
        assert "hybrid_gateway_client_disconnects_total 1.0" in metrics
    finally:
        server.stop()


def test_kill_9_mid_stream_keeps_committed_rows_and_the_client_sees_an_error(tmp_path: Path) -> None:
    env = gateway_env(tmp_path, reply=LONG_REPLY, delay_ms=20.0)
    key = add_user(env, "alice")
    admin = add_user(env, "root", admin=True)
    server = GatewayProcess(env, tmp_path / "gateway.log")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)
    try:
        server.wait_ready()
        for _ in range(3):
            assert client.completions.create(model="auto", prompt="x = ", max_tokens=2).choices[0].text == "word0 word1"
        time.sleep(0.5)  # the ledger commits within [ledger] flush_interval_ms (50 ms)
        stream = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "talk"}], stream=True, max_tokens=500
        )
        started = time.monotonic()
        with pytest.raises(openai.APIConnectionError):  # the SDK's clear error, not a hang
            for i, _chunk in enumerate(stream):
                if i == 2:
                    server.kill()
        assert time.monotonic() - started < 10
    finally:
        server.stop()
    restarted = GatewayProcess(env, tmp_path / "gateway.log")
    try:
        restarted.wait_ready()
        usage = httpx.get(f"{restarted.url}/v1/admin/usage?user=alice", headers={"Authorization": f"Bearer {admin}"})
        totals = usage.json()["totals"]
        assert totals["requests"] >= 3
        assert totals["requests"] - totals["failed"] == 3
    finally:
        restarted.stop()
