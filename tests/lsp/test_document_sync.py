"""Incremental sync in the negotiated encoding: positions are right around emoji and CJK text."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lsp.harness import change_doc, document_state, init_params, open_doc, start_stdio


def _index(line: str, character: int, encoding: str) -> int:
    """Python string index of an LSP character offset in ``encoding`` (independent of the server)."""
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        if encoding == "utf-16":
            units += 2 if ord(ch) > 0xFFFF else 1
        elif encoding == "utf-8":
            units += len(ch.encode("utf-8"))
        else:
            units += 1
    return len(line)


def _apply(text: str, start: tuple[int, int], end: tuple[int, int], new: str, encoding: str) -> str:
    lines = text.split("\n")

    def offset(line: int, character: int) -> int:
        return sum(len(x) + 1 for x in lines[:line]) + _index(lines[line], character, encoding)

    return text[: offset(*start)] + new + text[offset(*end) :]


def _units(s: str, encoding: str) -> int:
    if encoding == "utf-16":
        return len(s.encode("utf-16-le")) // 2
    return len(s.encode("utf-8"))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
async def test_edits_after_emoji_and_cjk(env: dict[str, str], workspace: Path, encoding: str) -> None:
    client = await start_stdio(env)
    offered = ["utf-16"] if encoding == "utf-16" else ["utf-8", "utf-16"]
    result = await client.initialize_session(init_params(workspace, "neovim", encodings=offered))
    assert result.capabilities.position_encoding == encoding
    uri = (workspace / "emoji.py").as_uri()
    text = 'greeting = "😀 héllo 漢字"\nname = "𝒳"\n'
    open_doc(client, uri, text)
    edits = [
        # insert right after the emoji
        ((0, _units('greeting = "😀', encoding)), (0, _units('greeting = "😀', encoding)), "!"),
        # replace the two CJK characters
        (
            (0, _units('greeting = "😀! héllo ', encoding)),
            (0, _units('greeting = "😀! héllo 漢字', encoding)),
            "世界",
        ),
        # append after the astral-plane letter on line 1
        ((1, _units('name = "𝒳', encoding)), (1, _units('name = "𝒳', encoding)), "y"),
        # a multi-line insertion spanning the line break
        ((0, _units('greeting = "😀! héllo 世界"', encoding)), (1, 0), "\nextra = 1\n"),
    ]
    version = 1
    for start, end, new in edits:
        version += 1
        text = _apply(text, start, end, new, encoding)
        change_doc(client, uri, version, start, end, new)
    state = await document_state(client, uri)
    assert state["text"] == text
    assert state["version"] == version
    assert state["text"] == 'greeting = "😀! héllo 世界"\nextra = 1\nname = "𝒳y"\n'
    await client.shutdown_session()
    await client.stop()


async def test_full_replacement_and_close(env: dict[str, str], workspace: Path) -> None:
    from lsprotocol import types

    client = await start_stdio(env)
    await client.initialize_session(init_params(workspace, "visual-studio-code"))
    uri = (workspace / "main.py").as_uri()
    open_doc(client, uri, "x = 1\n")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="y = 2\n")],
        )
    )
    assert (await document_state(client, uri))["text"] == "y = 2\n"
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    from tests.lsp.harness import command

    assert await command(client, "hybrid.documentState", {"uri": uri}) is None
    await client.shutdown_session()
    await client.stop()
