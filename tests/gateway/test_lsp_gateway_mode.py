"""Language servers in gateway mode (real processes over stdio) against a real gateway subprocess.

Two users with their own keys and budgets; each completion lands in the
gateway's ledger under its own user; a revoked key is refused with a clear
message in the editor; ``$/cancelRequest`` during a slow generation aborts it
on the gateway; an unreachable gateway gives one message, and with
``fallback_local`` the local engine answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient
from sqlalchemy import select

from routing.usage.database import ledger_url, open_engine
from routing.usage.models import ledger_feedback, ledger_requests
from tests.gateway.harness import GatewayProcess, add_user, cli, free_port, gateway_env
from tests.lsp.harness import command, init_params, open_doc, server_env, start_stdio, write_config

SLOW_REPLY = " ".join(f"tok{i}" for i in range(40))
SOURCE = "def add(a, b):\n    \n"


@dataclass
class RunningGateway:
    env: dict[str, str]
    process: GatewayProcess
    data_dir: Path

    @property
    def url(self) -> str:
        return self.process.url

    def ledger_rows(self, request_id: str) -> list[dict[str, Any]]:
        """Ledger rows of one language-server request (the gateway suffixes the client's id)."""
        engine = open_engine(ledger_url("", str(self.data_dir)), migrate=False)
        try:
            with engine.connect() as connection:
                query = select(ledger_requests).where(ledger_requests.c.request_id.like(f"{request_id}.%"))
                return [dict(row._mapping) for row in connection.execute(query)]
        finally:
            engine.dispose()

    def wait_feedback(self, request_id: str, timeout_s: float = 10.0) -> bool:
        """The accept/reject recorded for one language-server request (waits for it to arrive)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            engine = open_engine(ledger_url("", str(self.data_dir)), migrate=False)
            try:
                with engine.connect() as connection:
                    query = select(ledger_feedback.c.accepted).where(
                        ledger_feedback.c.request_id.like(f"{request_id}.%")
                    )
                    marks = [bool(row.accepted) for row in connection.execute(query)]
            finally:
                engine.dispose()
            if marks:
                assert len(marks) == 1, marks
                return marks[0]
            time.sleep(0.1)
        raise AssertionError(f"no feedback for {request_id}:\n{self.process.log()}")

    def wait_rows(self, request_id: str, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rows = self.ledger_rows(request_id)
            if rows:
                return rows
            time.sleep(0.1)
        raise AssertionError(f"no ledger row for {request_id}:\n{self.process.log()}")


def start_gateway(tmp: Path, *, delay_ms: float = 0.0, reply: str = "return a + b") -> RunningGateway:
    directory = tmp / "gateway"
    directory.mkdir()
    env = gateway_env(directory, "[gateway_server]\nkey_cache_ttl_s = 0\n", reply=reply, delay_ms=delay_ms)
    process = GatewayProcess(env, directory / "gateway.log")
    process.wait_ready()
    return RunningGateway(env, process, directory / "data")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "calc.py").write_text(SOURCE, encoding="utf-8")
    return root


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    running = start_gateway(tmp_path)
    yield running
    running.process.stop()


@pytest.fixture
def slow_gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    running = start_gateway(tmp_path, delay_ms=100, reply=SLOW_REPLY)
    yield running
    running.process.stop()


async def editor(
    tmp: Path, name: str, url: str, key: str | None, workspace: Path, *, fallback: bool = False
) -> LanguageClient:
    """A language server in gateway mode with ``key``, its local engine (for the fallback) answering LOCAL."""
    directory = tmp / name
    directory.mkdir()
    extra = f'[gateway]\nurl = "{url}"\nfallback_local = {str(fallback).lower()}\nconnect_timeout_s = 2.0\n'
    env = server_env(directory, write_config(directory, extra, reply="return 'LOCAL'"))
    if key is not None:
        env["HYBRID_ASSIST_GATEWAY_KEY"] = key
    client = await start_stdio(env)
    await client.initialize_session(init_params(workspace, "visual-studio-code"))
    return client


def _inline(uri: str) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=1, character=4),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )


async def complete(client: LanguageClient, uri: str) -> tuple[str, str]:
    """One inline completion: its text and the request id the server gave it ("" when empty)."""
    result = await client.text_document_inline_completion_async(_inline(uri))
    items = list(result.items) if isinstance(result, types.InlineCompletionList) else list(result or [])
    if not items:
        return "", ""
    item = items[0]
    assert isinstance(item.insert_text, str) and item.command is not None
    arguments = list(item.command.arguments or [])
    assert arguments and isinstance(arguments[0], dict)
    return item.insert_text, str(arguments[0]["id"])


def messages_with(client: LanguageClient, text: str) -> list[str]:
    return [m.message for m in client.messages if text in m.message]


async def stop(*clients: LanguageClient) -> None:
    for client in clients:
        await client.shutdown_session()
        await client.stop()


async def test_each_users_completions_are_attributed_to_them_with_their_own_budget(
    tmp_path: Path, gateway: RunningGateway, workspace: Path
) -> None:
    alice_key = add_user(gateway.env, "alice", team="red")
    bob_key = add_user(gateway.env, "bob", team="blue")
    cli(gateway.env, "gateway", "budgets", "set", "--user", "alice", "--monthly-usd", "5")
    cli(gateway.env, "gateway", "budgets", "set", "--user", "bob", "--monthly-usd", "7")
    alice = await editor(tmp_path, "alice", gateway.url, alice_key, workspace)
    bob = await editor(tmp_path, "bob", gateway.url, bob_key, workspace)
    uri = (workspace / "calc.py").as_uri()
    for client in (alice, bob):
        open_doc(client, uri, SOURCE)

    ids: dict[str, list[str]] = {"alice": [], "bob": []}
    for _ in range(2):
        for name, client in (("alice", alice), ("bob", bob)):
            text, request_id = await complete(client, uri)
            assert text == "return a + b"  # the gateway's engine answered, not the local one ("LOCAL")
            ids[name].append(request_id)
    for name, request_ids in ids.items():
        rows = gateway.wait_rows(request_ids[0])
        assert [(r["user_name"], r["outcome"], r["target"]) for r in rows] == [(name, "ok", "local")]
        assert rows[0]["team"] == {"alice": "red", "bob": "blue"}[name]
        # the same context again: the language server's completion cache answered, the gateway saw nothing
        time.sleep(0.3)
        assert gateway.ledger_rows(request_ids[1]) == []

    # the editors' accept/reject reaches the gateway's ledger, beside each user's own row
    alice.protocol.notify("hybrid/completionFeedback", {"id": ids["alice"][0], "accepted": True})
    bob.protocol.notify("hybrid/completionFeedback", {"id": ids["bob"][0], "accepted": False})
    assert gateway.wait_feedback(ids["alice"][0]) is True
    assert gateway.wait_feedback(ids["bob"][0]) is False

    alice_status = await command(alice, "hybrid.status")
    bob_status = await command(bob, "hybrid.status")
    assert alice_status["gateway"]["url"] == gateway.url and alice_status["gateway"]["reachable"] is True
    assert alice_status["gateway"]["fallback_active"] is False
    assert alice_status["local"]["available"] is False  # gateway mode loads no local engine
    assert alice_status["budget"]["limit_usd"] == 5 and bob_status["budget"]["limit_usd"] == 7

    explained = await command(
        alice, "hybrid.explainRoute", {"uri": uri, "position": {"line": 1, "character": 4}, "task": "completion"}
    )
    assert explained["route"]["target"] == "local" and explained["route"]["model"] == "instant"
    assert explained["scope"]["level"] == "single_file"
    assert not alice.messages and not bob.messages
    await stop(alice, bob)


async def test_a_revoked_key_is_refused_with_a_clear_message(
    tmp_path: Path, gateway: RunningGateway, workspace: Path
) -> None:
    key = add_user(gateway.env, "carol")
    client = await editor(tmp_path, "carol", gateway.url, key, workspace)
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    assert (await complete(client, uri))[0] == "return a + b"
    cli(gateway.env, "gateway", "users", "revoke", "carol")
    assert (await complete(client, uri))[0] == "return a + b"  # the same context: the local cache, no gateway call
    other = (workspace / "other.py").as_uri()
    open_doc(client, other, "def sub(a, b):\n    \n")
    assert await complete(client, other) == ("", "")
    assert await complete(client, other) == ("", "")
    shown = messages_with(client, "rejected your key")
    assert len(shown) == 1, client.messages
    assert gateway.url in shown[0] and "HYBRID_ASSIST_GATEWAY_KEY" in shown[0]
    await stop(client)


async def test_cancel_request_aborts_the_generation_on_the_gateway(
    tmp_path: Path, slow_gateway: RunningGateway, workspace: Path
) -> None:
    key = add_user(slow_gateway.env, "dave")
    client = await editor(tmp_path, "dave", slow_gateway.url, key, workspace)
    uri = (workspace / "slow.py").as_uri()
    open_doc(client, uri, SOURCE)
    future = asyncio.ensure_future(
        client.protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(uri), msg_id="slow-1")
    )
    await asyncio.sleep(1.0)  # the gateway's engine is streaming (100 ms per token, 40 tokens)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
    with pytest.raises((JsonRpcException, asyncio.CancelledError)):
        await asyncio.wait_for(future, 10)

    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not rows:
        rows = [r for r in _all_rows(slow_gateway) if r["user_name"] == "dave"]
        await asyncio.sleep(0.1)
    assert [r["outcome"] for r in rows] == ["cancelled"], slow_gateway.process.log()
    assert rows[0]["latency_ms"] < 3000  # aborted well before the 4 s the whole answer takes
    metrics = httpx.get(f"{slow_gateway.url}/metrics", timeout=5).text
    assert _metric(metrics, "hybrid_gateway_client_disconnects_total") >= 1
    await stop(client)


async def test_unreachable_gateway_gives_one_message_and_no_answer(tmp_path: Path, workspace: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = await editor(tmp_path, "erin", url, "ha_unused", workspace)
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    for _ in range(3):
        assert await complete(client, uri) == ("", "")
    shown = messages_with(client, "unreachable")
    assert len(shown) == 1 and url in shown[0] and "fallback_local" in shown[0], client.messages
    status = await command(client, "hybrid.status")
    assert status["gateway"]["reachable"] is False and status["gateway"]["fallback_active"] is False
    await stop(client)


async def test_unreachable_gateway_with_fallback_local_answers_from_the_local_engine(
    tmp_path: Path, workspace: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = await editor(tmp_path, "frank", url, "ha_unused", workspace, fallback=True)
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    status = await command(client, "hybrid.status")
    assert status["gateway"]["fallback_active"] is False  # nothing local is loaded before it is needed
    for _ in range(2):
        text, _request_id = await complete(client, uri)
        assert text == "return 'LOCAL'"
    shown = messages_with(client, "unreachable")
    assert len(shown) == 1 and "local engine" in shown[0], client.messages
    status = await command(client, "hybrid.status")
    assert status["gateway"]["reachable"] is False and status["gateway"]["fallback_active"] is True
    await stop(client)


def _all_rows(gateway: RunningGateway) -> list[dict[str, Any]]:
    engine = open_engine(ledger_url("", str(gateway.data_dir)), migrate=False)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(ledger_requests))]
    finally:
        engine.dispose()


def _metric(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")
