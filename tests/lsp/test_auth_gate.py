"""In-process: the authentication gate and the protocol's own refusal while a session is unauthenticated.

The end-to-end behaviour over real sockets is in ``test_auth.py``; here the
pieces are checked one by one, including the protocol-level guard that holds
even for a message that did not come through the gate.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from lsp_server.auth import AuthenticationFailed, Gate, Identity, pop_key
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
