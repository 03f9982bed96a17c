"""Bad input gets a well-formed error or an empty result, and the next request is still answered."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.lsp.harness import change_doc, command, document_state, init_params, open_doc, start_stdio


def _pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


async def _still_alive(client: LanguageClient) -> None:
    status = await asyncio.wait_for(command(client, "hybrid.status"), 30)
    assert status["local"]["available"] in (True, False)


async def _write_raw(client: LanguageClient, body: bytes) -> None:
    writer = client.protocol.writer
    assert writer is not None
    result = writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    if inspect.isawaitable(result):
        await result


async def _raw_request(client: LanguageClient, method: str, params: object) -> dict[str, object]:
    """Send a request whose params bypass lsprotocol's types; return the raw response."""
    msg_id = f"raw-{method}"
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    client.protocol._request_futures[msg_id] = future  # type: ignore[assignment]
    await _write_raw(client, json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode())
    try:
        return {"result": await asyncio.wait_for(future, 30)}
    except JsonRpcException as exc:
        return {"error": exc}


async def test_malformed_params_get_an_error(client: LanguageClient) -> None:
    response = await _raw_request(client, "textDocument/hover", {"textDocument": 42, "position": "nowhere"})
    assert "error" in response
    await _still_alive(client)


async def test_unknown_uri_gives_empty_results(client: LanguageClient) -> None:
    ident = types.TextDocumentIdentifier(uri="file:///does/not/exist.py")
    hover = await client.text_document_hover_async(types.HoverParams(text_document=ident, position=_pos(0, 0)))
    assert hover is None
    completion = await client.text_document_completion_async(
        types.CompletionParams(text_document=ident, position=_pos(0, 0))
    )
    assert completion is not None and not (
        completion.items if isinstance(completion, types.CompletionList) else completion
    )
    with pytest.raises(JsonRpcException):
        await command(
            client,
            "hybrid.explainRoute",
            {"uri": "untitled:1", "position": {"line": 0, "character": 0}, "task": "explain"},
        )
    with pytest.raises(JsonRpcException):
        await command(client, "hybrid.explainRoute", {"uri": "file:///x.py", "task": "nonsense"})
    await _still_alive(client)


async def test_positions_past_the_end_are_clamped(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "short.py").as_uri()
    open_doc(client, uri, "x = 1\n")
    for position in (_pos(0, 500), _pos(99, 0), _pos(10_000, 10_000)):
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=position,
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
        )
        assert result is not None
    change_doc(client, uri, 2, (50, 50), (60, 0), "y = 2\n")
    state = await document_state(client, uri)
    assert state["text"] == "x = 1\ny = 2\n"


async def test_split_surrogate_pair_position(env: dict[str, str], workspace: Path) -> None:
    client = await start_stdio(env)
    await client.initialize_session(init_params(workspace, "visual-studio-code"))
    uri = (workspace / "astral.py").as_uri()
    open_doc(client, uri, 's = "😀"\n')
    # character 6 is between the two UTF-16 units of the emoji: clamps to before it
    change_doc(client, uri, 2, (0, 6), (0, 6), "X")
    state = await document_state(client, uri)
    assert state["text"] == 's = "X😀"\n'
    await _still_alive(client)
    await client.shutdown_session()
    await client.stop()


async def test_huge_binary_and_unknown_documents(client: LanguageClient, workspace: Path) -> None:
    huge = "x = 1  # padding padding padding padding padding padding padding\n" * 320_000  # ~21 MB
    assert len(huge) > 20_000_000
    huge_uri = (workspace / "huge.py").as_uri()
    open_doc(client, huge_uri, huge)
    binary_uri = (workspace / "blob.bin").as_uri()
    open_doc(client, binary_uri, "\x00\x01\x02\ufffd\x7f" * 1000, language="binary")
    unknown_uri = (workspace / "notes.zzz").as_uri()
    open_doc(client, unknown_uri, "some text in an unknown language\n", language="zzz-lang")
    for uri, line in ((huge_uri, 100_000), (binary_uri, 0), (unknown_uri, 0)):
        result = await asyncio.wait_for(
            client.text_document_inline_completion_async(
                types.InlineCompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=_pos(line, 3),
                    context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
                )
            ),
            60,
        )
        assert result is not None
        explained = await command(
            client, "hybrid.explainRoute", {"uri": uri, "position": {"line": line, "character": 3}, "task": "explain"}
        )
        assert explained["scope"]["level"] == "single_file"
    change_doc(client, huge_uri, 2, (0, 0), (0, 1), "y")
    state = await document_state(client, huge_uri)
    assert state["length"] == len(huge) and state["has_tree"] is False
    await _still_alive(client)


async def test_request_before_initialize(env: dict[str, str]) -> None:
    client = await start_stdio(env)
    response = await _raw_request(
        client, "textDocument/hover", {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": 0}}
    )
    error = response.get("error")
    assert isinstance(error, JsonRpcException) and error.code == -32002  # ServerNotInitialized
    await client.initialize_session(init_params(None, "neovim"))
    await _still_alive(client)
    await client.shutdown_session()
    await client.stop()


async def test_notification_flood(env: dict[str, str], workspace: Path) -> None:
    client = await start_stdio(env)
    await client.initialize_session(init_params(workspace, "neovim"))
    uri = (workspace / "flood.py").as_uri()
    open_doc(client, uri, "")
    expected = ""
    for version in range(2, 3002):
        line = expected.count("\n")
        change_doc(client, uri, version, (line, 0), (line, 0), "a\n")
        expected += "a\n"
    for _ in range(200):
        client.protocol.notify("hybrid/unknownNotification", {"x": 1})
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[]))
    state = await asyncio.wait_for(document_state(client, uri), 120)
    assert state["text"] == expected
    assert state["version"] == 3001
    await client.shutdown_session()
    await client.stop()


async def test_garbage_json_body_is_survived(client: LanguageClient) -> None:
    await _write_raw(client, b"{this is not json")
    response = await _raw_request(client, "textDocument/hover", None)
    assert "error" in response
    await _still_alive(client)
