"""One process, many editors over TCP and WebSocket: isolated sessions, shared engine, robust accept loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.harness import TcpServer, command, document_state, init_params, open_doc, server_env, write_config


async def _connect(port: int, root: Path, mode: str = "tcp") -> LanguageClient:
    client = LanguageClient()
    if mode == "tcp":
        await client.start_tcp("127.0.0.1", port)
    else:
        await client.start_ws("127.0.0.1", port)
    await client.initialize_session(init_params(root, "neovim"))
    return client


@pytest.fixture
def slow_env(tmp_path: Path) -> dict[str, str]:
    reply = " ".join(f"w{i}" for i in range(80))
    return server_env(tmp_path, write_config(tmp_path, reply=reply, delay_ms=50))


async def test_two_tcp_sessions_never_mix(env: dict[str, str], workspace: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    async with TcpServer(env) as server:
        alice = await _connect(server.port, workspace)
        bob = await _connect(server.port, other)
        uri = (workspace / "shared_name.py").as_uri()
        open_doc(alice, uri, "alice = 1\n")
        open_doc(bob, uri, "bob = 2\n")
        assert (await document_state(alice, uri))["text"] == "alice = 1\n"
        assert (await document_state(bob, uri))["text"] == "bob = 2\n"
        assert (await command(alice, "hybrid.status"))["roots"] == [str(workspace)]
        assert (await command(bob, "hybrid.status"))["roots"] == [str(other)]
        # bob leaves with shutdown + exit: alice's session goes on
        await bob.shutdown_session()
        await bob.stop()
        await asyncio.sleep(0.3)
        assert server.alive
        assert (await document_state(alice, uri))["text"] == "alice = 1\n"
        await alice.shutdown_session()
        await alice.stop()
        assert server.alive


async def test_probes_and_garbage_do_not_take_the_server_down(env: dict[str, str], workspace: Path) -> None:
    async with TcpServer(env) as server:
        # a port probe: connect and close
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.close()
        # garbage bytes, an absurd header, and a truncated body
        for payload in (
            b"\x00\xff garbage \r\n\r\n" * 10,
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"Content-Length: 99999999999\r\n\r\n{",
            b'Content-Length: 50\r\n\r\n{"jsonrpc": "2.0"',
        ):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(payload)
            await writer.drain()
            writer.close()
        await asyncio.sleep(0.3)
        assert server.alive
        client = await _connect(server.port, workspace)
        assert (await command(client, "hybrid.status"))["local"]["model"] == "instant"
        await client.shutdown_session()
        await client.stop()


async def test_disconnect_mid_request_cancels_its_work(slow_env: dict[str, str], workspace: Path) -> None:
    async with TcpServer(slow_env) as server:
        watcher = await _connect(server.port, workspace)
        leaver = await _connect(server.port, workspace)
        uri = (workspace / "w.py").as_uri()
        open_doc(leaver, uri, "def f():\n    \n")
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=4),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
        pending = asyncio.ensure_future(leaver.text_document_inline_completion_async(params))
        await asyncio.sleep(0.6)
        writer = leaver.protocol.writer
        assert writer is not None
        writer.close()  # drops the connection without shutdown/exit
        await leaver.stop()
        pending.cancel()
        for _ in range(50):
            status = await command(watcher, "hybrid.status")
            if status["local"]["aborted_total"] >= 1:
                break
            await asyncio.sleep(0.1)
        assert status["local"]["aborted_total"] == 1
        assert server.alive
        await watcher.shutdown_session()
        await watcher.stop()


async def test_slow_session_does_not_stall_others(slow_env: dict[str, str], workspace: Path) -> None:
    async with TcpServer(slow_env) as server:
        busy = await _connect(server.port, workspace)
        quick = await _connect(server.port, workspace)
        uri = (workspace / "b.py").as_uri()
        open_doc(busy, uri, "def f():\n    \n")
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=4),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
        slow = asyncio.ensure_future(busy.text_document_inline_completion_async(params))
        await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await command(quick, "hybrid.status")
        assert loop.time() - started < 2.0, "a slow generation in one session stalled another"
        assert not slow.done()
        await slow
        for client in (busy, quick):
            await client.shutdown_session()
            await client.stop()


async def test_websocket_sessions(env: dict[str, str], workspace: Path) -> None:
    async with TcpServer(env, mode="--ws") as server:
        one = await _connect(server.port, workspace, mode="ws")
        two = await _connect(server.port, workspace, mode="ws")
        uri = (workspace / "ws.py").as_uri()
        open_doc(one, uri, "one = 1\n")
        assert (await document_state(one, uri))["text"] == "one = 1\n"
        assert await command(two, "hybrid.documentState", {"uri": uri}) is None
        result = await one.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=0)
            )
        )
        assert isinstance(result, types.CompletionList) and result.items
        for client in (one, two):
            await client.shutdown_session()
            await client.stop()
        assert server.alive
