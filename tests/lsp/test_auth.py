"""Who may use a multi-client server: keys at ``initialize`` over real TCP and WebSocket, origins, TLS, safe binds.

The server runs as a real ``hybrid-assist lsp --tcp/--ws`` process with
``[server] auth = "keys"``; users and keys come from the real
``hybrid-assist gateway users add`` in the same ledger database. Refusals are
driven with raw JSON-RPC framing, so the test sees exactly what comes back
(one error, then the end of the connection, nothing else).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from routing.usage.database import ledger_url, open_engine
from routing.usage.models import ledger_requests
from tests.gateway.harness import add_user, cli
from tests.lsp.harness import SERVER, TcpServer, command, init_params, open_doc, server_env, write_config

SOURCE = "def add(a, b):\n    \n"


def auth_env(tmp: Path, extra: str = "") -> dict[str, str]:
    return server_env(tmp, write_config(tmp, f'[server]\nauth = "keys"\n{extra}'))


def initialize(root: Path, options: Any = None, request_id: int = 1) -> dict[str, Any]:
    params = init_params(root, "neovim", options=options)
    from lsprotocol.converters import get_converter

    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": get_converter().unstructure(params)}


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    length = 0
    while True:
        line = await asyncio.wait_for(reader.readline(), 20)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    message: dict[str, Any] = json.loads(await reader.readexactly(length))
    return message


STATUS = {"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand", "params": {"command": "hybrid.status"}}
INITIALIZED = {"jsonrpc": "2.0", "method": "initialized", "params": {}}


async def refused_over_tcp(port: int, root: Path, options: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Send initialize, and at once (before the answer) initialized and a request; the answer and what followed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame(initialize(root, options)) + frame(INITIALIZED) + frame(STATUS))
    await writer.drain()
    first = await read_frame(reader)
    assert first is not None, "the connection closed without an answer"
    rest = []
    while (message := await read_frame(reader)) is not None:  # returns None only when the server closed
        rest.append(message)
    writer.close()
    return first, rest


def ledger_rows(tmp: Path) -> list[dict[str, Any]]:
    engine = open_engine(ledger_url("", str(tmp / "data")), migrate=False)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(ledger_requests))]
    finally:
        engine.dispose()


def wait_rows(tmp: Path, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = ledger_rows(tmp)
        if len(rows) >= count:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"expected {count} ledger rows, got {ledger_rows(tmp)}")


def _inline(uri: str) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=1, character=4),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "calc.py").write_text(SOURCE, encoding="utf-8")
    return directory


async def test_missing_wrong_and_revoked_keys_are_refused_at_initialize_and_the_connection_closed(
    tmp_path: Path, root: Path
) -> None:
    env = auth_env(tmp_path)
    revoked = add_user(env, "carol")
    cli(env, "gateway", "users", "revoke", "carol")
    unknown = "ha_0123456789ab_" + "x" * 43
    cases: list[tuple[Any, str]] = [
        (None, "needs a key"),
        ({"hybridAssist": {}}, "needs a key"),
        ({"hybridAssist": {"key": "hunter2"}}, "malformed API key"),
        ({"hybridAssist": {"key": unknown}}, "unknown API key"),
        ({"hybridAssist": {"key": revoked}}, "revoked"),
    ]
    async with TcpServer(env) as server:
        for options, reason in cases:
            answer, after = await refused_over_tcp(server.port, root, options)
            assert answer["id"] == 1 and "result" not in answer, answer
            assert answer["error"]["code"] == -32803 and reason in answer["error"]["message"], answer
            assert answer["error"]["data"] == {"retry": False}
            assert after == [], f"served after a refused initialize: {after}"
        assert server.alive
        log = "".join(server.stderr_lines)
        assert revoked not in log and unknown not in log  # keys are never logged


async def test_requests_before_initialize_are_refused_and_a_late_valid_key_is_served(
    tmp_path: Path, root: Path
) -> None:
    env = auth_env(tmp_path)
    key = add_user(env, "dave")
    async with TcpServer(env) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(frame(STATUS))
        early = await read_frame(reader)
        assert early is not None and early["id"] == 2 and early["error"]["code"] == -32002
        writer.write(frame(initialize(root, {"hybridAssist": {"key": key}})) + frame(INITIALIZED) + frame(STATUS))
        answer = await read_frame(reader)
        assert answer is not None and "capabilities" in answer["result"], answer
        while (message := await read_frame(reader)) is not None and message.get("id") != 2:
            pass
        assert message is not None and message["result"]["local"]["model"] == "instant"
        writer.close()


async def tcp_editor(port: int, root: Path, options: Any) -> LanguageClient:
    client = LanguageClient()
    await client.start_tcp("127.0.0.1", port)
    await client.initialize_session(init_params(root, "visual-studio-code", options=options))
    return client


async def test_two_users_sessions_are_their_own_for_budgets_and_the_ledger(tmp_path: Path, root: Path) -> None:
    env = auth_env(tmp_path)
    alice_key = add_user(env, "alice", team="red")
    bob_key = add_user(env, "bob", team="blue")
    cli(env, "gateway", "budgets", "set", "--user", "alice", "--monthly-usd", "5")
    cli(env, "gateway", "budgets", "set", "--user", "bob", "--monthly-usd", "7")
    uri = (root / "calc.py").as_uri()
    async with TcpServer(env) as server:
        # alice's editor also tries to claim another identity: the key decides, not the client's settings
        alice = await tcp_editor(
            server.port, root, {"hybridAssist": {"key": alice_key, "user": "mallory", "team": "blue"}}
        )
        bob = await tcp_editor(server.port, root, {"hybridAssist": {"key": bob_key}})
        alice.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"hybridAssist": {"user": "mallory"}})
        )
        for client, text in ((alice, SOURCE), (bob, "def add(x, y):\n    \n")):  # not one cached prompt
            open_doc(client, uri, text)
            result = await client.text_document_inline_completion_async(_inline(uri))
            items = result.items if isinstance(result, types.InlineCompletionList) else result
            assert items and items[0].insert_text == "return a + b"
        assert (await command(alice, "hybrid.status"))["budget"]["limit_usd"] == 5
        assert (await command(bob, "hybrid.status"))["budget"]["limit_usd"] == 7
        rows = wait_rows(tmp_path, 2)
        assert sorted((row["user_name"], row["team"]) for row in rows) == [("alice", "red"), ("bob", "blue")]
        assert not [m for m in alice.messages if "key" in m.message], alice.messages  # no "unknown setting" noise
        for client in (alice, bob):
            await client.shutdown_session()
            await client.stop()
    report = subprocess.run(
        [*SERVER[:-1], "report", "--all", "--by", "user", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "alice" in report.stdout and "bob" in report.stdout and "mallory" not in report.stdout


async def ws_exchange(url: str, messages: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    """Send ``messages``; every answer until the server closes (or 5 s pass after the last one)."""
    answers: list[dict[str, Any]] = []
    async with connect(url, **kwargs) as ws:
        for message in messages:
            await ws.send(json.dumps(message))
        try:
            while True:
                answers.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        except (ConnectionClosed, TimeoutError):
            pass
    return answers


async def test_websocket_key_from_the_bearer_header_or_the_options_and_refusals(tmp_path: Path, root: Path) -> None:
    env = auth_env(tmp_path)
    key = add_user(env, "erin", team="green")
    async with TcpServer(env, mode="--ws") as server:
        url = f"ws://127.0.0.1:{server.port}"
        exchange = [initialize(root), INITIALIZED, STATUS]
        served = await ws_exchange(url, exchange, additional_headers={"Authorization": f"Bearer {key}"})
        assert "capabilities" in served[0]["result"]
        assert any(a.get("id") == 2 and a["result"]["local"]["model"] == "instant" for a in served), served
        options = [initialize(root, {"hybridAssist": {"key": key}}), INITIALIZED, STATUS]
        served = await ws_exchange(url, options)
        assert any(a.get("id") == 2 and "result" in a for a in served), served

        refused = await ws_exchange(url, exchange)
        assert len(refused) == 1 and "needs a key" in refused[0]["error"]["message"], refused
        wrong = "ha_0123456789ab_" + "y" * 43
        refused = await ws_exchange(url, exchange, additional_headers={"Authorization": f"Bearer {wrong}"})
        assert len(refused) == 1 and "unknown API key" in refused[0]["error"]["message"], refused
        assert server.alive


async def test_websocket_origins_are_refused_unless_allow_listed(tmp_path: Path, root: Path) -> None:
    env = auth_env(tmp_path, 'allowed_origins = ["https://ide.example.com"]\n')
    key = add_user(env, "frank")
    async with TcpServer(env, mode="--ws") as server:
        url = f"ws://127.0.0.1:{server.port}"
        for origin in ("https://evil.example", "null", "http://127.0.0.1:8000"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, origin=origin, additional_headers={"Authorization": f"Bearer {key}"}):
                    pass
            assert refused.value.response.status_code == 403
        exchange = [initialize(root, {"hybridAssist": {"key": key}}), INITIALIZED, STATUS]
        allowed = await ws_exchange(url, exchange, origin="https://ide.example.com")
        assert any(a.get("id") == 2 and "result" in a for a in allowed), allowed
        assert any(a.get("id") == 2 and "result" in a for a in await ws_exchange(url, exchange))  # no Origin: editors
        assert server.alive


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
async def test_websocket_over_tls(tmp_path: Path, root: Path) -> None:
    cert, private = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(private), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    env = auth_env(tmp_path)
    key = add_user(env, "grace")
    extra = ("--tls-certfile", str(cert), "--tls-keyfile", str(private))
    async with TcpServer(env, mode="--ws", extra=extra) as server:
        trusted = ssl.create_default_context(cafile=str(cert))
        exchange = [initialize(root, {"hybridAssist": {"key": key}}), INITIALIZED, STATUS]
        served = await ws_exchange(f"wss://127.0.0.1:{server.port}", exchange, ssl=trusted)
        assert any(a.get("id") == 2 and "result" in a for a in served), served
        with pytest.raises((InvalidHandshake, ConnectionClosed, OSError, TimeoutError)):
            await ws_exchange(f"ws://127.0.0.1:{server.port}", exchange, open_timeout=5)  # plain text is not served


def run_cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SERVER, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("mode", ["--tcp", "--ws"])
def test_a_non_loopback_bind_without_authentication_refuses_to_start(tmp_path: Path, mode: str) -> None:
    env = server_env(tmp_path, write_config(tmp_path))
    result = run_cli(env, mode, "0.0.0.0:0")
    assert result.returncode == 2, result
    assert "without authentication" in result.stderr and 'auth = "keys"' in result.stderr, result.stderr
    assert "listening" not in result.stderr


async def test_a_port_alone_binds_loopback_and_keys_allow_every_interface(tmp_path: Path, root: Path) -> None:
    plain = server_env(tmp_path, write_config(tmp_path))
    async with TcpServer(plain, address="0") as server:
        assert any("listening on 127.0.0.1:" in line for line in server.stderr_lines), server.stderr_lines
    env = auth_env(tmp_path)
    key = add_user(env, "heidi")
    async with TcpServer(env, address="0.0.0.0:0") as server:
        assert any("listening on 0.0.0.0:" in line for line in server.stderr_lines)
        answer, _ = await refused_over_tcp(server.port, root, None)
        assert "needs a key" in answer["error"]["message"]
        client = await tcp_editor(server.port, root, {"hybridAssist": {"key": key}})
        assert (await command(client, "hybrid.status"))["local"]["model"] == "instant"
        await client.shutdown_session()
        await client.stop()


def test_tls_flags_belong_to_websocket(tmp_path: Path) -> None:
    env = server_env(tmp_path, write_config(tmp_path))
    result = run_cli(env, "--tcp", "127.0.0.1:0", "--tls-certfile", "c.pem", "--tls-keyfile", "k.pem")
    assert result.returncode == 2 and "--ws only" in result.stderr


async def relay(env: dict[str, str], *args: str) -> LanguageClient:
    """``hybrid-assist connect ...`` as the stdio server of a pytest-lsp client."""
    client = await ClientServerConfig(server_command=[*SERVER[:-1], "connect", *args], server_env=env).start()
    assert isinstance(client, LanguageClient)
    return client


async def test_the_stdio_relay_adds_the_key_from_a_file_or_the_environment(tmp_path: Path, root: Path) -> None:
    env = auth_env(tmp_path)
    key = add_user(env, "ivan", team="purple")
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n", encoding="utf-8")
    relay_env = {k: v for k, v in env.items() if k != "HYBRID_ASSIST_KEY"}
    async with TcpServer(env) as tcp, TcpServer(env, mode="--ws") as ws:
        # TCP, the key from a file; the editor's flat initializationOptions keep working beside it
        client = await relay(relay_env, f"tcp://127.0.0.1:{tcp.port}", "--key-file", str(key_file))
        await client.initialize_session(init_params(root, options={"completion": {"max_tokens": 9}}))
        status = await command(client, "hybrid.status")
        assert status["local"]["model"] == "instant"
        await client.shutdown_session()
        await client.stop()
        # WebSocket, the key from $HYBRID_ASSIST_KEY (sent as a bearer header)
        client = await relay({**relay_env, "HYBRID_ASSIST_KEY": key}, f"ws://127.0.0.1:{ws.port}")
        await client.initialize_session(init_params(root))
        assert (await command(client, "hybrid.status"))["local"]["model"] == "instant"
        await client.shutdown_session()
        await client.stop()
        # no key anywhere: refused at initialize with the message
        client = await relay(relay_env, f"127.0.0.1:{tcp.port}")
        with pytest.raises(JsonRpcException, match="needs a key"):
            await client.initialize_session(init_params(root))
        await client.stop()
    rows = ledger_rows(tmp_path)
    assert {row["user_name"] for row in rows} <= {"ivan"}


async def answered(reader: asyncio.StreamReader, request_id: int) -> dict[str, Any]:
    while (message := await read_frame(reader)) is not None:
        if message.get("id") == request_id:
            return message
    raise AssertionError(f"the connection closed before answering request {request_id}")


async def until_closed(reader: asyncio.StreamReader) -> list[dict[str, Any]]:
    """Every message until the server closes the connection (each awaited at most 20 s)."""
    return [message async for message in _frames(reader)]


async def _frames(reader: asyncio.StreamReader) -> Any:
    while (message := await read_frame(reader)) is not None:
        yield message


def ended_by_revocation(messages: list[dict[str, Any]], key: str) -> None:
    shown = [m["params"] for m in messages if m.get("method") == "window/showMessage"]
    assert shown, f"no window/showMessage before the close: {messages}"
    assert shown[-1]["type"] == types.MessageType.Error.value, shown
    assert "no longer accepted" in shown[-1]["message"] and "revoked" in shown[-1]["message"], shown
    assert key not in json.dumps(messages)


async def test_a_revoked_or_rotated_key_ends_its_running_sessions_and_other_users_keep_working(
    tmp_path: Path, root: Path
) -> None:
    env = auth_env(tmp_path, "key_recheck_s = 0.3\n")
    alice_key, bob_key, carol_key = (add_user(env, name) for name in ("alice", "bob", "carol"))
    async with TcpServer(env) as tcp, TcpServer(env, mode="--ws") as ws:
        reader, writer = await asyncio.open_connection("127.0.0.1", tcp.port)
        writer.write(frame(initialize(root, {"hybridAssist": {"key": alice_key}})) + frame(INITIALIZED) + frame(STATUS))
        assert "result" in await answered(reader, 2)
        bob = await tcp_editor(tcp.port, root, {"hybridAssist": {"key": bob_key}})
        async with connect(
            f"ws://127.0.0.1:{ws.port}", additional_headers={"Authorization": f"Bearer {carol_key}"}
        ) as carol:
            for message in (initialize(root), INITIALIZED, STATUS):
                await carol.send(json.dumps(message))
            while json.loads(await asyncio.wait_for(carol.recv(), 20)).get("id") != 2:
                pass
            await asyncio.sleep(1.0)  # several re-checks pass while the keys are valid
            cli(env, "gateway", "users", "revoke", "alice")  # the real user store, by the admin CLI
            cli(env, "gateway", "keys", "rotate", "carol")
            ended_by_revocation(await asyncio.wait_for(until_closed(reader), 10), alice_key)
            carol_messages: list[dict[str, Any]] = []
            with pytest.raises(ConnectionClosed):
                while True:
                    carol_messages.append(json.loads(await asyncio.wait_for(carol.recv(), 10)))
            ended_by_revocation(carol_messages, carol_key)
        writer.close()
        assert (await command(bob, "hybrid.status"))["local"]["model"] == "instant"  # bob's session goes on
        await bob.shutdown_session()
        await bob.stop()
        assert tcp.alive and ws.alive
        log = "".join(tcp.stderr_lines + ws.stderr_lines)
        assert "ending the session of alice" in log and "ending the session of carol" in log
        assert all(key not in log for key in (alice_key, bob_key, carol_key))  # keys are never logged
