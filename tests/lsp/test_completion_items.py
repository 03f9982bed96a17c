"""Completion items applied the way each client applies them, through the real server (instant engine).

For every client capability profile pytest-lsp ships, at ``x = na|``,
``foo.ba|``, ``def fo|`` and after whitespace, the returned item — its
``textEdit`` (or the list's ``itemDefaults.editRange``), in insert or replace
mode as the client does it — turns the line into exactly the expected text,
and its ``label``/``filterText`` start with the typed prefix, so the client's
filter keeps it. Also: non-ASCII text before the prefix in UTF-16 and UTF-8,
multi-line continuations, cached answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_server.completion_items import CompletionSupport, TypedWord, completion_list, word_bounds
from tests.lsp.harness import init_params, open_doc, server_env, start_stdio, write_config


def _profiles() -> list[str]:
    """Every client profile pytest-lsp ships, as ``client@vX.Y.Z``."""
    names = []
    for entry in files("pytest_lsp").joinpath("clients").iterdir():
        if entry.name.endswith(".json"):
            client, _, version = entry.name[: -len(".json")].rpartition("_v")
            names.append(f"{client.replace('_', '-')}@v{version}")
    return sorted(names)


PROFILES = _profiles()


@dataclass(frozen=True)
class Session:
    client: LanguageClient
    profile: str
    encoding: str
    capabilities: types.ClientCapabilities
    root: Path


async def _session(tmp_path: Path, profile: str, reply: str, encodings: list[str] | None = None) -> Session:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    local = f'backend = "instant"\ninstant_reply = {json.dumps(reply, ensure_ascii=False)}\n'  # a TOML basic string
    env = server_env(tmp_path, write_config(tmp_path, local=local))
    client = await start_stdio(env)
    params = init_params(root, profile, encodings=encodings)
    result = await client.initialize_session(params)
    encoding = str(result.capabilities.position_encoding or "utf-16")
    return Session(client, profile, encoding, params.capabilities, root)


async def _stop(session: Session) -> None:
    await session.client.shutdown_session()
    await session.client.stop()


def _index(line: str, character: int, encoding: str) -> int:
    """Python string index of an LSP ``character`` in ``line``."""
    if encoding == "utf-32":
        return character
    codec = "utf-8" if encoding == "utf-8" else "utf-16-le"
    width = 1 if encoding == "utf-8" else 2
    return len(line.encode(codec)[: character * width].decode(codec))


def _client_edit(
    session: Session, listing: types.CompletionList, item: types.CompletionItem, mode: str
) -> tuple[types.Range, str]:
    """The range and text ``session``'s client replaces when the item is accepted (insert or replace mode)."""
    completion = session.capabilities.text_document.completion  # type: ignore[union-attr]
    assert completion is not None
    supported = completion.completion_item
    edit = item.text_edit
    if edit is None:  # the list's default range, if the client asked for them
        listed = completion.completion_list
        assert listed is not None and "editRange" in (listed.item_defaults or []), session.profile
        assert listing.item_defaults is not None and listing.item_defaults.edit_range is not None
        default = listing.item_defaults.edit_range
        text = item.text_edit_text or item.label
        if isinstance(default, types.Range):
            return default, text
        return (default.insert if mode == "insert" else default.replace), text
    if isinstance(edit, types.InsertReplaceEdit):
        assert supported is not None and supported.insert_replace_support, session.profile
        return (edit.insert if mode == "insert" else edit.replace), edit.new_text
    return edit.range, edit.new_text


def _apply(session: Session, lines: list[str], cursor: types.Position, listing: types.CompletionList, mode: str) -> str:
    """The document's text after the client accepts the list's only item at ``cursor``."""
    assert len(listing.items) == 1, listing
    item = listing.items[0]
    edit_range, text = _client_edit(session, listing, item, mode)
    completion = session.capabilities.text_document.completion  # type: ignore[union-attr]
    snippets = bool(completion and completion.completion_item and completion.completion_item.snippet_support)
    if snippets:  # a snippet without placeholders: only escaped characters
        assert item.insert_text_format == types.InsertTextFormat.Snippet, item
        text = re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)
    else:
        assert item.insert_text_format == types.InsertTextFormat.PlainText, item
    assert edit_range.start.line == edit_range.end.line == cursor.line
    line = lines[cursor.line]
    start = _index(line, edit_range.start.character, session.encoding)
    end = _index(line, edit_range.end.character, session.encoding)
    at = _index(line, cursor.character, session.encoding)
    assert start <= at <= end, (edit_range, cursor)
    typed = line[start:at]
    # the client's filter: the typed word must be where label and filterText start (Neovim: the word inserted)
    assert item.label.startswith(typed) and (item.filter_text or item.label).startswith(typed), item
    assert text.startswith(typed), item
    if session.profile.startswith("neovim"):  # omnifunc / vim.lsp.completion: complete() from the range start
        end = max(end, at) if mode == "replace" else at
    adjusts = session.profile.startswith("visual-studio-code") or snippets  # VS Code always, snippets everywhere
    if adjusts and item.insert_text_mode != types.InsertTextMode.AsIs:
        indent = line[: len(line) - len(line.lstrip())]  # the following lines get the cursor line's indentation
        text = text.replace("\n", "\n" + indent)
    new_lines = [*lines[: cursor.line], line[:start] + text + line[end:], *lines[cursor.line + 1 :]]
    return "\n".join(new_lines)


def _modes(session: Session) -> list[str]:
    completion = session.capabilities.text_document.completion  # type: ignore[union-attr]
    item = completion.completion_item if completion else None
    return ["insert", "replace"] if item is not None and item.insert_replace_support else ["insert"]


async def _complete(session: Session, name: str, text: str, line: int, character: int) -> types.CompletionList:
    uri = (session.root / name).as_uri()
    open_doc(session.client, uri, text)
    result = await session.client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
        )
    )
    assert isinstance(result, types.CompletionList), result
    return result


@pytest_asyncio.fixture(params=PROFILES)
async def profile_session(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Session]:
    session = await _session(tmp_path, request.param, reply="me")
    yield session
    await _stop(session)


CASES = [
    # (line before the cursor, text after it, the resulting line in insert mode, in replace mode)
    ("x = na", "", "x = name", "x = name"),
    ("foo.ba", "", "foo.bame", "foo.bame"),
    ("def fo", "", "def fome", "def fome"),
    ("x = ", "", "x = me", "x = me"),
    ("x = na", "mes", "x = namemes", "x = name"),  # a word after the cursor: kept (insert) or replaced
]


async def test_items_survive_filtering_and_apply_exactly(profile_session: Session) -> None:
    session = profile_session
    assert session.profile.split("@")[0] in {"emacs", "neovim", "visual-studio-code"}
    for n, (before, after, inserted, replaced) in enumerate(CASES):
        lines = ["import os", before + after, ""]
        cursor = types.Position(line=1, character=len(before))
        listing = await _complete(session, f"case{n}.py", "\n".join(lines), cursor.line, cursor.character)
        item = listing.items[0]
        assert item.detail == "me", item  # the continuation alone
        typed = before.split(" ")[-1].split(".")[-1]
        assert item.label == typed + "me" and item.filter_text == typed + "me", item
        for mode in _modes(session):
            expected = replaced if mode == "replace" else inserted
            assert _apply(session, lines, cursor, listing, mode).splitlines()[1] == expected, (session.profile, mode)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
async def test_non_ascii_before_the_prefix(tmp_path: Path, encoding: str) -> None:
    """The word's start is counted in the negotiated encoding (😀 is 2 UTF-16 units, 4 UTF-8 bytes)."""
    session = await _session(tmp_path, "visual-studio-code", reply="me", encodings=[encoding])
    try:
        assert session.encoding == encoding
        for before, expected in (
            ('s = "😀é"; x = na', 's = "😀é"; x = name'),
            ("s = 'ü'; x = ñá", "s = 'ü'; x = ñáme"),
        ):
            lines = [before, ""]
            character = len(before.encode("utf-8" if encoding == "utf-8" else "utf-16-le")) // (
                1 if encoding == "utf-8" else 2
            )
            listing = await _complete(session, f"u{len(before)}.py", "\n".join(lines), 0, character)
            edit = listing.items[0].text_edit
            assert isinstance(edit, types.InsertReplaceEdit)
            prefix = before.rsplit(" ", 1)[-1]
            width = len(prefix.encode("utf-8")) if encoding == "utf-8" else len(prefix.encode("utf-16-le")) // 2
            assert edit.insert.start.character == character - width, edit
            cursor = types.Position(line=0, character=character)
            for mode in ("insert", "replace"):
                assert _apply(session, lines, cursor, listing, mode).splitlines()[0] == expected
    finally:
        await _stop(session)


MULTILINE_DOC = "def total(items):\n    result = 0\n    for item in items:\n"


@pytest.mark.parametrize("profile", ["visual-studio-code", "neovim@v0.11.0", "emacs"])
async def test_multiline_continuation_keeps_indentation(tmp_path: Path, profile: str) -> None:
    """Following lines keep the model's indentation (VS Code is told ``insertTextMode: asIs``)."""
    reply = "\n        result += item\n    return result"
    session = await _session(tmp_path, profile, reply=reply)
    try:
        lines = MULTILINE_DOC.split("\n")
        cursor = types.Position(line=2, character=len(lines[2]))
        listing = await _complete(session, "multi.py", MULTILINE_DOC, cursor.line, cursor.character)
        item = listing.items[0]
        assert "\n" in item.detail  # type: ignore[operator]
        text = _apply(session, lines, cursor, listing, "insert")
        assert text.startswith("def total(items):\n    result = 0\n    for item in items:\n        result += item\n"), (
            text
        )
        assert item.label.strip() and "\n" not in item.label, item
    finally:
        await _stop(session)


@pytest.mark.parametrize("profile", ["neovim@v0.11.0", "neovim@v0.7.0", "visual-studio-code"])
async def test_snippet_characters_are_inserted_as_they_are(tmp_path: Path, profile: str) -> None:
    """``$``, ``}`` and ``\\`` in a continuation: escaped in a snippet (clients with snippets), else plain text."""
    session = await _session(tmp_path, profile, reply=r'me}${x}\n"')
    try:
        listing = await _complete(session, "s.py", 'x = f"na\n', 0, len('x = f"na'))
        applied = _apply(session, ['x = f"na', ""], types.Position(line=0, character=8), listing, "insert")
        assert applied.splitlines()[0] == r'x = f"name}${x}\n"', applied
        if listing.items[0].insert_text_format == types.InsertTextFormat.Snippet:
            assert listing.items[0].insert_text == r'name\}\${x\}\\n"', listing.items[0]
    finally:
        await _stop(session)


async def _complete_again(session: Session, name: str, line: int, character: int) -> types.CompletionList:
    result = await session.client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=(session.root / name).as_uri()),
            position=types.Position(line=line, character=character),
        )
    )
    assert isinstance(result, types.CompletionList), result
    return result


async def test_cached_answer_has_the_same_edit(tmp_path: Path) -> None:
    """The second ask is answered from the completion cache (no 0.6 s engine delay) with the same edit."""
    root = tmp_path / "project"
    root.mkdir()
    local = 'backend = "instant"\ninstant_reply = "me"\ninstant_token_delay_ms = 600\n'
    client = await start_stdio(server_env(tmp_path, write_config(tmp_path, local=local)))
    params = init_params(root, "neovim@v0.7.0")
    await client.initialize_session(params)
    session = Session(client, "neovim@v0.7.0", "utf-16", params.capabilities, root)
    try:
        first = await _complete(session, "c.py", "x = na\n", 0, 6)
        again = await _complete_again(session, "c.py", 0, 6)
        assert first.items[0].data["latency_ms"] >= 600 > again.items[0].data["latency_ms"]
        edit = again.items[0].text_edit
        assert isinstance(edit, types.TextEdit) and edit == first.items[0].text_edit
        assert edit.new_text == "name" and again.items[0].label == "name"
        cursor = types.Position(line=0, character=6)
        assert _apply(session, ["x = na", ""], cursor, again, "insert").splitlines()[0] == "x = name"
    finally:
        await _stop(session)


async def test_gateway_mode_answers_get_the_same_items(tmp_path: Path) -> None:
    """In gateway mode (a real gateway process answering "me"; the local engine would say LOCAL), fresh and cached."""
    from tests.gateway.harness import add_user
    from tests.gateway.test_lsp_gateway_mode import editor, start_gateway

    gateway = start_gateway(tmp_path, reply="me")
    try:
        root = tmp_path / "project"
        root.mkdir()
        client = await editor(tmp_path, "ann", gateway.url, add_user(gateway.env, "ann"), root)
        capabilities = init_params(root, "visual-studio-code").capabilities
        session = Session(client, "visual-studio-code", "utf-16", capabilities, root)
        try:
            lines = ["import os", "x = na", ""]
            cursor = types.Position(line=1, character=6)
            fresh = await _complete(session, "g.py", "\n".join(lines), 1, 6)
            cached = await _complete_again(session, "g.py", 1, 6)
            for listing in (fresh, cached):
                assert listing.items[0].data["target"] == "local"  # the gateway's engine
                for mode in ("insert", "replace"):
                    assert _apply(session, lines, cursor, listing, mode).splitlines()[1] == "x = name", listing
        finally:
            await _stop(session)
    finally:
        gateway.process.stop()


# -- the item builder alone (no server) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "before", "after", "expected"),
    [
        ("python", "x = na", "", (2, 0)),
        ("python", "foo.ba", "r()", (2, 1)),
        ("python", "x = ", "", (0, 0)),
        ("python", "s = ñá", "é + 1", (2, 1)),
        ("python", "x = _a1", "_b", (3, 2)),
        ("javascript", "const v = $el", "", (3, 0)),
        ("python", "v = $el", "", (2, 0)),  # `$` is no identifier character in Python
        ("ruby", "  @cou", "nt", (4, 2)),
        ("php", "echo $na", "", (3, 0)),
        ("cpp", "std::ve", "", (2, 0)),
        (None, "plain wo", "rd", (2, 2)),
    ],
)
def test_word_bounds_follow_the_language(
    language: str | None, before: str, after: str, expected: tuple[int, int]
) -> None:
    assert word_bounds(before, after, language) == expected


def _word(prefix: str) -> TypedWord:
    start = types.Position(line=3, character=4)
    cursor = types.Position(line=3, character=4 + len(prefix))
    return TypedWord(prefix=prefix, start=start, cursor=cursor, end=types.Position(line=3, character=9))


def test_multiline_text_keeps_the_prefix_on_the_first_line() -> None:
    support = CompletionSupport(insert_replace=False)
    listing = completion_list(_word("na"), "me = 1\n    other = 2", support, route="r", documentation="d", data={})
    item = listing.items[0]
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.new_text == "name = 1\n    other = 2"
    assert item.text_edit.range == types.Range(
        start=types.Position(line=3, character=4), end=types.Position(line=3, character=6)
    )
    assert item.label == "name = 1" and item.filter_text == "name = 1"
    assert item.detail == "me = 1\n    other = 2" and item.insert_text_mode is None


def test_item_defaults_and_label_details_where_supported() -> None:
    support = CompletionSupport(insert_replace=True, default_edit_range=True, label_details=True, as_is=True)
    listing = completion_list(_word("na"), "me", support, route="hybrid-assist · local", documentation="d", data={})
    item = listing.items[0]
    assert item.text_edit is None and item.text_edit_text == "name"
    assert listing.item_defaults is not None
    edit_range = listing.item_defaults.edit_range
    assert isinstance(edit_range, types.EditRangeWithInsertReplace)
    assert edit_range.insert.end.character == 6 and edit_range.replace.end.character == 9
    assert item.label_details == types.CompletionItemLabelDetails(description="hybrid-assist · local")
    assert item.insert_text_mode == types.InsertTextMode.AsIs


def test_long_label_keeps_the_prefix() -> None:
    prefix = "a" * 100
    listing = completion_list(_word(prefix), "b" * 50, CompletionSupport(), route="r", documentation="d", data={})
    assert listing.items[0].label.startswith(prefix)


def test_snippet_for_a_client_that_indents_it() -> None:
    """A snippet's following lines lose the cursor line's indentation (the client adds it back); asIs keeps them."""
    word = TypedWord(
        "",
        types.Position(line=0, character=4),
        types.Position(line=0, character=4),
        types.Position(line=0, character=4),
        "    ",
    )
    text = "\n        total += $x\n    return total"
    indenting = completion_list(word, text, CompletionSupport(snippets=True), route="r", documentation="d", data={})
    assert indenting.items[0].insert_text == "\n    total += \\$x\nreturn total"
    as_is = completion_list(
        word, text, CompletionSupport(snippets=True, as_is=True), route="r", documentation="d", data={}
    )
    assert as_is.items[0].insert_text == "\n        total += \\$x\n    return total"
    assert as_is.items[0].insert_text_mode == types.InsertTextMode.AsIs
