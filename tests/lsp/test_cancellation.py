"""``$/cancelRequest`` aborts the generation in the engine; a superseded completion is cancelled too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.harness import command, init_params, open_doc, server_env, start_stdio, write_config

SLOW_REPLY = " ".join(f"tok{i}" for i in range(30))


@pytest.fixture
def slow_env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path, write_config(tmp_path, reply=SLOW_REPLY, delay_ms=100))


def _inline(uri: str) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=1, character=4),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )


async def _aborted(client) -> int:  # type: ignore[no-untyped-def]
    return int((await command(client, "hybrid.status"))["local"]["aborted_total"])


async def test_cancel_request_aborts_engine(slow_env: dict[str, str], workspace: Path) -> None:
    client = await start_stdio(slow_env)
    await client.initialize_session(init_params(workspace, "neovim"))
    uri = (workspace / "slow.py").as_uri()
    open_doc(client, uri, "def f():\n    \n")
    assert await _aborted(client) == 0
    future = asyncio.ensure_future(
        client.protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(uri), msg_id="slow-1")
    )
    await asyncio.sleep(0.8)  # the engine is streaming (100 ms per token)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
    with pytest.raises((JsonRpcException, asyncio.CancelledError)):
        await asyncio.wait_for(future, 10)
    for _ in range(50):
        if await _aborted(client) == 1:
            break
        await asyncio.sleep(0.1)
    assert await _aborted(client) == 1
    await client.shutdown_session()
    await client.stop()


async def test_new_completion_supersedes_old(slow_env: dict[str, str], workspace: Path) -> None:
    client = await start_stdio(slow_env)
    await client.initialize_session(init_params(workspace, "visual-studio-code"))
    uri = (workspace / "slow.py").as_uri()
    open_doc(client, uri, "def f():\n    \n")
    first = asyncio.ensure_future(client.text_document_inline_completion_async(_inline(uri)))
    await asyncio.sleep(0.5)
    second = asyncio.ensure_future(client.text_document_inline_completion_async(_inline(uri)))
    with pytest.raises(JsonRpcException):
        await asyncio.wait_for(first, 20)
    result = await asyncio.wait_for(second, 30)
    assert result is not None
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert items and items[0].insert_text.startswith("tok0")
    assert await _aborted(client) == 1
    await client.shutdown_session()
    await client.stop()
