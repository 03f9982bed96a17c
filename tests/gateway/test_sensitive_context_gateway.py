"""Sensitive context through the gateway: the gateway keeps local (or refuses) exactly as the language server does.

In process: a ``/v1/route/explain`` or ``/v1/assist`` body whose ``paths``
name a sensitive file after the document is kept local with the same reason
the language server gives. Then real
processes: a gateway whose cloud is the OpenAI wire server, and language
servers in gateway mode on issue 20's ``billing.py``/``secrets/keys.py``:
with ``keep_local`` (the default) nothing reaches the cloud; a language
server whose own globs miss the file still sends its path, and the gateway
keeps the request local; with ``withhold`` the cloud is called without the
file's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from routing.tasks import TaskKind
from tests.gateway.conftest import MakeGateway
from tests.gateway.harness import OPENAI_KEY_ENV, GatewayProcess, add_user, gateway_env, parse_sse
from tests.lsp.harness import command, init_params, open_doc, server_env, start_stdio, write_config
from tests.lsp.sensitive_project import MARKER, ON_CALL, project, sent
from tests.wire.openai_server import OpenAIWireServer

ALL_TO_CLOUD = "".join(f'[routing.tasks.{t.value}]\nlocal_up_to = "never"\ncloud = "openai"\n' for t in TaskKind)
KEYS_REASON = "context from /p/secrets/keys.py (sensitive path: keys.py matches '**/secrets/**'): kept on the premises"


def _body(paths: list[str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": "ha-sensitive",
        "task": "refactor",
        "scope": {"level": "multi_file", "files": [], "symbols": [], "context_tokens": 40},
        "paths": paths,
        "sensitive_reasons": [],
        "generation": {"kind": "chat", "messages": [{"role": "user", "content": "Refactor charge()."}]},
    }
    body.update(extra)
    return body


@pytest.mark.parametrize("context", ["keep_local", "withhold"])
async def test_a_sensitive_context_path_keeps_the_request_local(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch, context: str
) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test")
    # the gateway cannot take text out of what the client assembled: ``withhold`` keeps it local too
    extra = f'{ALL_TO_CLOUD}[sensitive]\ncontext = "{context}"\n'
    async with make_gateway(extra, openai_url=openai_server.base_url) as g:
        headers = {"Authorization": f"Bearer {g.key('alice')}"}
        plain = {k: v for k, v in _body(["/p/billing.py"]).items() if k != "generation"}
        response = await g.client.post("/v1/route/explain", json=plain, headers=headers)
        assert response.json()["route"]["target"] == "openai"  # the policy sends refactors out

        with_keys = _body(["/p/billing.py", "/p/secrets/keys.py"])
        explain = {k: v for k, v in with_keys.items() if k != "generation"}
        route = (await g.client.post("/v1/route/explain", json=explain, headers=headers)).json()["route"]
        assert route["target"] == "local" and KEYS_REASON in route["reasons"]

        assisted = await g.client.post("/v1/assist", json=with_keys, headers=headers)
        assert assisted.status_code == 200, assisted.text
        done = dict(parse_sse(assisted.text))["done"]
        assert isinstance(done, dict) and done["target"] == "local" and KEYS_REASON in done["route"]["reasons"]
        assert openai_server.generation_requests() == []


@pytest.fixture
def cloud_gateway(tmp_path: Path, openai_server: OpenAIWireServer) -> Iterator[tuple[GatewayProcess, str]]:
    """A gateway sending every task to the OpenAI wire server; its instant engine answers locally."""
    directory = tmp_path / "gateway"
    directory.mkdir()
    env = gateway_env(directory, ALL_TO_CLOUD, openai_url=openai_server.base_url)
    env[OPENAI_KEY_ENV] = "sk-test-not-a-real-key"
    process = GatewayProcess(env, directory / "gateway.log")
    process.wait_ready()
    key = add_user(env, "alice")
    yield process, key
    process.stop()


async def _editor(tmp: Path, name: str, url: str, key: str, root: Path, sensitive: str) -> LanguageClient:
    directory = tmp / name
    directory.mkdir()
    extra = f'[gateway]\nurl = "{url}"\nconnect_timeout_s = 2.0\n{ALL_TO_CLOUD}[sensitive]\n{sensitive}\n'
    env = server_env(directory, write_config(directory, extra))
    env["HYBRID_ASSIST_GATEWAY_KEY"] = key
    client = await start_stdio(env)
    await client.initialize_session(init_params(root, "visual-studio-code"))
    assert (await command(client, "hybrid.reindex"))["indexed"] is True
    return client


async def _refactors(client: LanguageClient, uri: str) -> None:
    at = types.Range(start=types.Position(*ON_CALL), end=types.Position(*ON_CALL))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=at,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    for title in ("refactor the selection", "refactor across files"):
        (action,) = [a for a in actions or [] if isinstance(a, types.CodeAction) and title in a.title]
        await client.code_action_resolve_async(action)


async def _route(client: LanguageClient, uri: str) -> dict[str, Any]:
    position = {"line": ON_CALL[0], "character": ON_CALL[1]}
    result = await command(client, "hybrid.explainRoute", {"uri": uri, "position": position, "task": "refactor"})
    return dict(result["route"])


@pytest.mark.parametrize(
    "sensitive",
    [
        'context = "keep_local"',  # the language server keeps it local and says why; so does the gateway
        'context = "keep_local"\npath_globs = ["**/nothing-here/**"]',  # only the gateway's globs match
        'context = "withhold"',  # the code is withheld before sending: the cloud may have the rest
    ],
    ids=["keep_local", "gateway_globs", "withhold"],
)
async def test_language_server_in_gateway_mode(
    tmp_path: Path, openai_server: OpenAIWireServer, cloud_gateway: tuple[GatewayProcess, str], sensitive: str
) -> None:
    gateway, key = cloud_gateway
    root = tmp_path / "project"
    billing, _ = project(root, nested=False)
    uri = billing.as_uri()
    client = await _editor(tmp_path, "editor", gateway.url, key, root, sensitive)
    try:
        open_doc(client, uri, billing.read_text(encoding="utf-8"))
        route = await _route(client, uri)
        reasons = " ".join(route["reasons"])
        await _refactors(client, uri)
    finally:
        await client.shutdown_session()
        await client.stop()  # type: ignore[no-untyped-call]

    assert MARKER not in sent(openai_server)
    if "withhold" in sensitive:
        assert route["target"] == "openai", route
        assert "context from secrets/keys.py withheld" in reasons
        assert len(openai_server.generation_requests()) >= 2 and "withheld: sensitive file" in sent(openai_server)
    else:
        assert route["target"] == "local", route
        keys = (root / "secrets" / "keys.py").as_posix()
        expected = "context from secrets/keys.py" if "nothing-here" not in sensitive else f"context from {keys}"
        assert expected in reasons and "kept on the premises" in reasons, reasons
        assert openai_server.generation_requests() == []
