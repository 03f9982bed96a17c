"""In-process: the authentication gate and the protocol's own refusal while a session is unauthenticated.

The end-to-end behaviour over real sockets is in ``test_auth.py``; here the
pieces are checked one by one, including the protocol-level guard that holds
even for a message that did not come through the gate.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from lsp_server.auth import AuthenticationFailed, Gate, Identity, KeyUnavailable, pop_key
from lsp_server.server import HybridLanguageServer
from lsp_server.transport import dispatch
from tests.lsp.harness import in_process_server, write_config

GOOD = "ha_0123456789ab_good"


async def verifier(key: str) -> Identity:
    if key != GOOD:
        raise AuthenticationFailed("hybrid-assist: authentication failed: unknown API key")
    return Identity("alice", "red")


class Wire:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.sent.append(json.loads(data))

    def close(self) -> None:
        pass


@pytest_asyncio.fixture
async def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[HybridLanguageServer, Wire]]:
    config = write_config(tmp_path)
    monkeypatch.setenv("HYBRID_ASSIST_CONFIG", str(config))
    wire = Wire()
    async with in_process_server(config, wire) as server:
        yield server, wire


def initialize(root: Path, options: Any, request_id: int = 1) -> str:
    params = {"processId": None, "rootUri": root.as_uri(), "capabilities": {}, "initializationOptions": options}
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": params})


async def test_an_unauthenticated_protocol_refuses_initialize_that_bypassed_the_gate(
    session: tuple[HybridLanguageServer, Wire], tmp_path: Path
) -> None:
    server, wire = session
    Gate(verifier).arm(server)
    dispatch(server, initialize(tmp_path, None))
    dispatch(server, json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    assert [m["id"] for m in wire.sent] == [1] and "not been authenticated" in wire.sent[0]["error"]["message"]
    assert server.protocol.initialized is False and server.identity is None


async def test_the_gate_sets_the_identity_and_strips_the_key(
    session: tuple[HybridLanguageServer, Wire], tmp_path: Path
) -> None:
    server, wire = session
    gate = Gate(verifier)
    gate.arm(server)
    options = {"hybridAssist": {"key": GOOD, "user": "mallory", "completion": {"max_tokens": 9}}}
    admitted = await gate.admit(server, initialize(tmp_path, options))
    assert admitted is not None and GOOD not in str(admitted)
    dispatch(server, admitted)
    assert "result" in wire.sent[-1], wire.sent
    settings = server.session.settings
    assert (settings.user, settings.team, settings.completion.max_tokens) == ("alice", "red", 9)
    assert server.protocol.initialized is True


async def test_the_gate_refuses_a_wrong_key_and_an_initialize_notification(
    session: tuple[HybridLanguageServer, Wire], tmp_path: Path
) -> None:
    server, wire = session
    gate = Gate(verifier)
    gate.arm(server)
    assert await gate.admit(server, initialize(tmp_path, {"hybridAssist": {"key": "ha_0123456789ab_bad"}})) is None
    assert wire.sent[-1]["error"]["message"].endswith("unknown API key")
    notification = json.dumps({"jsonrpc": "2.0", "method": "initialize", "params": {}})
    assert await Gate(verifier).admit(server, notification) is None
    bearer = Gate(verifier, bearer=GOOD)
    assert await bearer.admit(server, initialize(tmp_path, None)) is not None and server.identity is not None


def test_pop_key_takes_the_key_out_of_any_section_spelling() -> None:
    params: dict[str, Any] = {"initializationOptions": {"hybrid-assist": {"key": " k ", "x": 1}}}
    assert pop_key(params) == "k" and params["initializationOptions"] == {"hybrid-assist": {"x": 1}}
    assert pop_key({"initializationOptions": {"hybridAssist": {"key": 5}}}) is None
    assert pop_key({"initializationOptions": "nonsense"}) is None and pop_key(None) is None


STATUS = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "workspace/executeCommand", "params": {"command": "x"}})


async def admitted(server: HybridLanguageServer, gate: Gate, root: Path) -> None:
    gate.arm(server)
    message = await gate.admit(server, initialize(root, {"hybridAssist": {"key": GOOD}}))
    assert message is not None
    dispatch(server, message)


async def test_a_refused_recheck_tells_the_client_refuses_its_requests_and_ends_the_watch(
    session: tuple[HybridLanguageServer, Wire], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, wire = session
    state: dict[str, type[AuthenticationFailed] | None] = {"fails": None}

    async def changing(key: str) -> Identity:
        if (failure := state["fails"]) is not None:
            raise failure("hybrid-assist: authentication failed: this API key has been revoked")
        return await verifier(key)

    gate = Gate(changing, recheck_s=0.01)
    await admitted(server, gate, tmp_path)
    watching = asyncio.ensure_future(gate.watch(server))
    state["fails"] = KeyUnavailable  # the store is unreachable: the session goes on, said once
    await asyncio.sleep(0.2)
    assert not watching.done() and server.protocol.authenticated
    assert len([r for r in caplog.records if "cannot re-check" in r.getMessage()]) == 1, caplog.text
    state["fails"] = AuthenticationFailed
    await asyncio.wait_for(watching, 2)
    shown = [m["params"] for m in wire.sent if m.get("method") == "window/showMessage"]
    assert shown[-1]["type"] == 1 and "no longer accepted" in shown[-1]["message"], shown
    assert "revoked" in shown[-1]["message"] and GOOD not in shown[-1]["message"]
    dispatch(server, STATUS)  # a request that arrives before the connection is closed
    assert wire.sent[-1]["id"] == 7 and "key is no longer accepted" in wire.sent[-1]["error"]["message"]


async def test_the_real_key_store_keeps_sessions_through_an_outage_and_ends_a_revoked_one(
    session: tuple[HybridLanguageServer, Wire], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from hybrid_assist.language_server import KeyVerifier
    from hybrid_assist.settings import HybridSettings

    server, wire = session
    users = tmp_path / "users"
    keys = KeyVerifier(HybridSettings(data_dir=str(users)))
    try:
        _, key = keys.store.add_user("alice", "red")
        gate = Gate(keys, bearer=key, recheck_s=0.02)
        await admitted(server, gate, tmp_path)
        assert server.identity == Identity("alice", "red")
        keys.engine.dispose()
        users.rename(tmp_path / "away")  # the database file cannot be opened: OperationalError
        watching = asyncio.ensure_future(gate.watch(server))
        await asyncio.sleep(0.3)
        assert not watching.done() and server.protocol.authenticated
        assert len([r for r in caplog.records if "session keys cannot be checked" in r.getMessage()]) == 1
        with pytest.raises(KeyUnavailable):  # a key never checked before cannot be accepted meanwhile
            await keys("ha_0123456789ab_" + "x" * 43)
        (tmp_path / "away").rename(users)
        keys.store.revoke_user("alice")
        await asyncio.wait_for(watching, 5)
        assert "reachable again" in caplog.text
        assert any("has been revoked" in m["params"]["message"] for m in wire.sent if "params" in m)
    finally:
        keys.close()
