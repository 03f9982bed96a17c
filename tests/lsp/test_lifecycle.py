"""The server starts, negotiates capabilities and position encoding, and shuts down cleanly."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.harness import init_params, start_stdio


async def test_capabilities_cover_every_feature(env: dict[str, str], workspace: Path) -> None:
    client = await start_stdio(env)
    result = await client.initialize_session(init_params(workspace, "visual-studio-code"))
    caps = result.capabilities
    assert caps.completion_provider is not None
    assert caps.inline_completion_provider is not None
    assert caps.hover_provider
    assert isinstance(caps.code_action_provider, types.CodeActionOptions)
    assert caps.code_action_provider.resolve_provider is True
    assert caps.execute_command_provider is not None
    assert "hybrid.explainRoute" in caps.execute_command_provider.commands
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.change == types.TextDocumentSyncKind.Incremental
    assert result.server_info is not None and result.server_info.name == "hybrid-assist"
    assert caps.position_encoding == types.PositionEncodingKind.Utf16
    await client.shutdown_session()
    await client.stop()


async def test_utf8_chosen_when_offered(env: dict[str, str], workspace: Path) -> None:
    client = await start_stdio(env)
    result = await client.initialize_session(init_params(workspace, "neovim", encodings=["utf-16", "utf-8"]))
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
    await client.shutdown_session()
    await client.stop()


async def test_status_reports_local_engine(client: LanguageClient) -> None:
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="hybrid.status", arguments=[])
    )
    assert status["local"]["model"] == "instant"
    assert status["roots"]
