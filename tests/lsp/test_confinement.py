"""Where a multi-client server's sessions may read and write: ``[server] allowed_roots``, over real TCP and WebSocket.

The server is a real ``hybrid-assist lsp --tcp/--ws`` process whose local
engine is the OpenAI wire server, so every prompt it sends is seen here. A
workspace root outside ``allowed_roots`` (or any root when none is set) is
refused at ``initialize`` and ``didChangeWorkspaceFolders``; inside an
accepted root, links that lead out of it are not followed by the index, the
repository digest, the on-disk fallbacks (``explainRoute``, generated-test
reads) nor the document the architecture command writes.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from lsp_server.analysis.paths import within
from lsp_server.confinement import expand_allowed
from tests.gateway.harness import add_user
from tests.lsp.harness import (
    ALLOWED_ROOTS_ENV,
    TcpServer,
    command,
    init_params,
    open_doc,
    server_env,
    start_stdio,
    write_config,
)
from tests.wire.openai_server import OpenAIWireServer

MARKER = f"OUTSIDE_{secrets.token_hex(8)}"
TEST_MARKER = f"OUTSIDE_TEST_{secrets.token_hex(8)}"
MAIN_PY = "from linked import leaked\n\n\ndef total(a, b):\n    return leaked(a) + b\n"
DOCUMENT = "# Architecture\n\nOne module, `main.py`.\n"
LINKED_DIFF = (
    "diff --git a/linked.py b/linked.py\n--- a/linked.py\n+++ b/linked.py\n"
    '@@ -1,2 +1,2 @@\n def leaked(x):\n-    return 1\n+    return "x"\n'
)


def env_for(tmp: Path, allowed: list[str], wire: OpenAIWireServer | None = None, extra: str = "") -> dict[str, str]:
    local = f'backend = "openai-compatible"\nbase_url = "{wire.base_url}"\nmodel = "test-model"\n' if wire else None
    return server_env(tmp, write_config(tmp, extra, local=local), {ALLOWED_ROOTS_ENV: json.dumps(allowed)})


async def connect(server: TcpServer, mode: str) -> LanguageClient:
    client = make_test_lsp_client()  # records messages, answers progress and showDocument
    if mode == "--tcp":
        await client.start_tcp("127.0.0.1", server.port)
    else:
        await client.start_ws("127.0.0.1", server.port)
    return client


async def initialize(server: TcpServer, mode: str, root: Path | None, options: Any = None) -> LanguageClient:
    client = await connect(server, mode)
    await client.initialize_session(init_params(root, "visual-studio-code", options=options))
    return client


async def refusal(server: TcpServer, mode: str, root: Path, options: Any = None) -> str:
    """The message of the error ``initialize`` with ``root`` gets (it must get one)."""
    client = await connect(server, mode)
    try:
        with pytest.raises(JsonRpcException) as refused:
            await client.initialize_session(init_params(root, "visual-studio-code", options=options))
    finally:
        client.exit(None)  # the refused session stays uninitialized; exit ends it
        await client.stop()  # type: ignore[no-untyped-call]
    return str(refused.value)


async def close(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()  # type: ignore[no-untyped-call]


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """``allowed/project`` with links out to ``outside``: a module, a test file and the ``docs`` directory."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    project = allowed / "project"
    (project / "tests").mkdir(parents=True)
    (outside / "docs").mkdir(parents=True)
    (project / "main.py").write_text(MAIN_PY, encoding="utf-8")
    (outside / "secret.py").write_text(f'def leaked(x):\n    return "{MARKER}"\n', encoding="utf-8")
    (outside / "test_secret.py").write_text(f'def test_it():\n    assert "{TEST_MARKER}"\n', encoding="utf-8")
    (project / "linked.py").symlink_to(outside / "secret.py")
    (project / "tests" / "test_main.py").symlink_to(outside / "test_secret.py")
    (project / "docs").symlink_to(outside / "docs", target_is_directory=True)
    (outside / "settings.toml").write_text(f'[completion]\nmultiline = "{MARKER}"\n', encoding="utf-8")
    (project / "hybrid-assist.toml").symlink_to(outside / "settings.toml")
    (allowed / "escape").symlink_to(outside, target_is_directory=True)
    return {"allowed": allowed, "outside": outside, "project": project}


@pytest.mark.parametrize("mode", ["--tcp", "--ws"])
async def test_roots_outside_allowed_roots_are_refused(tmp_path: Path, layout: dict[str, Path], mode: str) -> None:
    env = env_for(tmp_path, [str(layout["allowed"])])
    async with TcpServer(env, mode=mode) as server:
        outside = await refusal(server, mode, layout["outside"])
        assert "not inside the directories this server allows" in outside and "allowed_roots" in outside
        assert "allowed_roots" in await refusal(server, mode, Path("/etc"))
        widen = {"hybridAssist": {"server": {"allowed_roots": ["/"]}}}  # the editor cannot widen them
        assert "allowed_roots" in await refusal(server, mode, layout["outside"], widen)
        assert "allowed_roots" in await refusal(server, mode, layout["allowed"] / "escape")  # a link out
        client = await initialize(server, mode, layout["project"], widen)  # nor later, for its folders
        added = [types.WorkspaceFolder(uri=p.as_uri(), name=p.name) for p in (layout["outside"], Path("/etc"))]
        event = types.WorkspaceFoldersChangeEvent(added=added, removed=[])
        client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(event=event))
        status = await command(client, "hybrid.status")
        assert status["roots"] == [str(layout["project"])]
        said = [m.message for m in client.messages if m.type == types.MessageType.Error]
        assert any(str(layout["outside"]) in m and "refused" in m for m in said), said
        assert any("/etc" in m and "refused" in m for m in said), said
        await close(client)
        assert server.alive


async def test_without_allowed_roots_a_network_server_serves_no_workspace(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    async with TcpServer(env_for(tmp_path, [])) as server:
        message = await refusal(server, "--tcp", project)
        assert "[server] allowed_roots" in message
        client = await initialize(server, "--tcp", None)  # no workspace: served (only what the editor sends)
        assert (await command(client, "hybrid.status"))["roots"] == []
        await close(client)


async def test_user_entries_give_each_key_its_own_tree(tmp_path: Path) -> None:
    homes = tmp_path / "homes"
    for name in ("alice", "bob"):
        (homes / name).mkdir(parents=True)
    env = env_for(tmp_path, [str(homes / "{user}")], extra='[server]\nauth = "keys"\n')
    alice = {"hybridAssist": {"key": add_user(env, "alice")}}
    async with TcpServer(env) as server:
        assert "allowed_roots" in await refusal(server, "--tcp", homes / "bob", alice)
        client = await initialize(server, "--tcp", homes / "alice", alice)
        assert (await command(client, "hybrid.status"))["roots"] == [str(homes / "alice")]
        await close(client)


@pytest.mark.parametrize("mode", ["--tcp", "--ws"])
async def test_links_out_of_an_allowed_root_are_not_followed(
    tmp_path: Path, layout: dict[str, Path], openai_server: OpenAIWireServer, mode: str
) -> None:
    project, outside = layout["project"], layout["outside"]
    env = env_for(tmp_path, [str(layout["allowed"])], openai_server)
    linked = (project / "linked.py").as_uri()
    async with TcpServer(env, mode=mode) as server:
        client = await initialize(server, mode, project)
        # the index: only main.py (linked.py and tests/test_main.py lead outside)
        assert (await command(client, "hybrid.reindex")) == {"indexed": True, "files": 1}
        # documentState serves only what the editor sent; explainRoute's disk fallback stays inside
        assert await command(client, "hybrid.documentState", {"uri": linked}) is None
        position = {"line": 0, "character": 0}
        with pytest.raises(JsonRpcException, match="outside this session's workspace folders"):
            await command(client, "hybrid.explainRoute", {"uri": linked, "position": position})
        main_uri = (project / "main.py").as_uri()
        assert (await command(client, "hybrid.explainRoute", {"uri": main_uri, "position": position}))["task"]
        # the digest and the written document
        openai_server.reply(DOCUMENT)
        refused = await command(client, "hybrid.architecture")
        assert "will not write" in refused["error"] and "outside this session's workspace folders" in refused["error"]
        assert refused["digest"]["included"] == ["main.py"]
        assert not (outside / "docs" / "hybrid-assist").exists()
        with pytest.raises(JsonRpcException, match="outside this session's workspace folders"):
            await command(client, "hybrid.architecture", {"uri": linked})
        # a review of a diff naming the link: the file is not read into the digest
        openai_server.reply("No findings.")
        await command(client, "hybrid.review", {"diff": LINKED_DIFF})
        os.unlink(project / "docs")  # the same command writes inside the workspace
        openai_server.reply(DOCUMENT)
        written = await command(client, "hybrid.architecture")
        assert written["path"] == str(project / "docs" / "hybrid-assist" / "architecture.md"), written
        assert "One module" in (project / "docs" / "hybrid-assist" / "architecture.md").read_text()
        # generated tests: the existing test file is a link out, so it is neither read nor written
        open_doc(client, main_uri, MAIN_PY)
        tests = await code_action(client, main_uri, "generate tests")
        prompts = [json.dumps(r.body) for r in openai_server.generation_requests()]
        assert not any(MARKER in p or TEST_MARKER in p for p in prompts)
        assert tests.edit is None
        assert any("test_main.py" in m.message and "outside" in m.message for m in client.messages), client.messages
        assert len(prompts) == 3 and "leaked(x)" in prompts[1]  # the review saw the diff, not the file
        assert not any(MARKER in m.message for m in client.messages)  # nor was the linked hybrid-assist.toml read
        await close(client)


async def test_stdio_is_confined_only_when_allowed_roots_is_set(tmp_path: Path, layout: dict[str, Path]) -> None:
    """The editor's own process keeps today's behaviour without the setting; with it, the same refusals."""
    plain = await start_stdio(server_env(tmp_path, write_config(tmp_path)))
    await plain.initialize_session(init_params(layout["project"]))
    assert (await command(plain, "hybrid.reindex"))["files"] == 3  # links followed, as the editor's own user
    await close(plain)
    confined = await start_stdio(env_for(tmp_path, [str(layout["project"])]))
    with pytest.raises(JsonRpcException, match="allowed_roots"):
        await confined.initialize_session(init_params(layout["outside"]))
    await confined.initialize_session(init_params(layout["project"]))
    assert (await command(confined, "hybrid.reindex"))["files"] == 1
    await close(confined)


async def code_action(client: LanguageClient, uri: str, title: str) -> types.CodeAction:
    at = types.Range(start=types.Position(line=3, character=4), end=types.Position(line=3, character=4))
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=at, context=types.CodeActionContext(diagnostics=[])
    )
    actions = await client.text_document_code_action_async(params)
    assert actions is not None
    action = next(a for a in actions if isinstance(a, types.CodeAction) and title in a.title)
    return await client.code_action_resolve_async(action)


def test_user_and_home_expansion(tmp_path: Path) -> None:
    entries = [str(tmp_path / "{user}"), "~/src", "relative/{user}", ""]
    assert expand_allowed(entries, "alice") == (str(tmp_path / "alice"), os.path.realpath(Path.home() / "src"))
    for unsafe in ("../alice", ".hidden", "a/b", "", None):
        assert expand_allowed([str(tmp_path / "{user}")], unsafe) == ()


def test_within_compares_whole_components_after_resolving_links(tmp_path: Path) -> None:
    (tmp_path / "ab").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "out").symlink_to(tmp_path / "ab", target_is_directory=True)
    root = os.path.realpath(tmp_path / "a")
    assert within(tmp_path / "a", [root]) and within(tmp_path / "a" / "new" / "file.py", [root])
    assert not within(tmp_path / "ab" / "x.py", [root])  # a sibling sharing the prefix
    assert not within(tmp_path / "a" / "out" / "x.py", [root])  # through a link
    assert not within(tmp_path / "a" / ".." / "ab", [root])
