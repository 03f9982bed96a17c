"""Documents: incremental trees equal full parses, clamping edits, odd content never crashes."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st
from tree_sitter import Node

from lsp_server.analysis.documents import Document, DocumentStore
from lsp_server.analysis.languages import detect_language, new_parser

PIECES = ["a", "b", "(", ")", ":", " ", "    ", "\n", "é", "😀", "def ", "x = 1", "{", "}", ";", "'", '"']
NEW_TEXT = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)
EDIT = st.tuples(st.integers(0, 12), st.integers(0, 30), st.integers(0, 12), st.integers(0, 30), NEW_TEXT)

SOURCES = {
    "python": "def f(a, b):\n    '''Doc é.'''\n    return a + b\n\nclass K:\n    x = 1\n",
    "javascript": "function f(a) {\n  return a + 1;\n}\nconst k = { a: '😀' };\n",
    "rust": 'fn main() {\n    let x = 1;\n    println!("{}", x);\n}\n',
}


def _utf16_index(text: str, line: int, character: int) -> int:
    """Reference model: str index of an LSP UTF-16 position with the clamping rules."""
    lines = text.split("\n")
    if line >= len(lines):
        return len(text)
    start = sum(len(part) + 1 for part in lines[:line])
    content = lines[line]
    if content.endswith("\r") and line < len(lines) - 1:
        content = content[:-1]
    units = 0
    for i, char in enumerate(content):
        width = 2 if ord(char) > 0xFFFF else 1
        if units + width > character:
            return start + i
        units += width
    return start + len(content)


def _dump(node: Node) -> list[tuple[str, int, int, tuple[int, int], tuple[int, int]]]:
    out = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(
            (
                current.type,
                current.start_byte,
                current.end_byte,
                (current.start_point[0], current.start_point[1]),
                (current.end_point[0], current.end_point[1]),
            )
        )
        stack.extend(reversed(current.children))
    return out


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(SOURCES)), st.lists(EDIT, min_size=1, max_size=15))
def test_incremental_tree_equals_full_parse(language: str, edits: list[tuple[int, int, int, int, str]]) -> None:
    text = SOURCES[language]
    doc = Document(f"file:///t/x.{language}", text, language)
    for l1, c1, l2, c2, new_text in edits:
        (l1, c1), (l2, c2) = sorted([(l1, c1), (l2, c2)])
        a, b = _utf16_index(text, l1, c1), _utf16_index(text, l2, c2)
        text = text[:a] + new_text + text[b:]
        doc.apply_change((l1, c1), (l2, c2), new_text, "utf-16")
        assert doc.text == text
    assert doc.tree is not None
    fresh = new_parser(language).parse(text.encode("utf-8"))
    assert _dump(doc.tree.root_node) == _dump(fresh.root_node)


def test_versions_and_replace_all() -> None:
    doc = Document("file:///t/a.py", "x = 1\n", "python", version=1)
    doc.apply_change((0, 4), (0, 5), "2", "utf-16", version=2)
    assert (doc.text, doc.version) == ("x = 2\n", 2)
    doc.replace_all("def g():\n    pass\n", version=3)
    assert doc.version == 3 and doc.tree is not None
    assert doc.tree.root_node.children[0].type == "function_definition"
    assert doc.line_text(1) == "    pass"
    assert doc.line_text(5) == ""


def test_unknown_language_is_plain_text() -> None:
    doc = Document("file:///t/notes.xyz", "hello\nworld\n", "")
    assert doc.language is None and doc.tree is None
    doc.apply_change((1, 0), (1, 5), "there", "utf-16")
    assert doc.text == "hello\nthere\n"


def test_language_from_id_then_extension() -> None:
    assert detect_language("typescriptreact", "file:///a.js") == "tsx"
    assert detect_language("", "file:///a/b.rs") == "rust"
    assert detect_language("plaintext", "file:///a/b.unknown") is None
    assert Document("file:///a/B.kt", "", "").language == "kotlin"


def test_binary_and_invalid_text_never_crash() -> None:
    text = "x = '\x00\x01\ud800\udfff'\n\x00\x00\n"
    doc = Document("file:///t/bin.py", text, "python")
    assert doc.tree is not None
    doc.apply_change((0, 5), (0, 7), "\ud83d", "utf-16")
    doc.apply_change((1, 0), (1, 1), "\x00\x00\x00", "utf-8")
    assert doc.text == "x = '\ud83d\ud800\udfff'\n\x00\x00\x00\x00\n"
    assert doc.tree is not None


def test_oversized_document_is_plain_text_and_fast_to_edit() -> None:
    line = "value = compute(1, 2, 3)  # some comment text here\n"
    text = line * (20_000_000 // len(line))
    doc = Document("file:///t/big.py", text, "python")
    assert doc.language == "python" and doc.tree is None
    started = time.perf_counter()
    for i in range(20):
        doc.apply_change((200_000 + i, 0), (200_000 + i, 0), "x", "utf-16")
    per_edit = (time.perf_counter() - started) / 20
    assert per_edit < 0.1
    assert doc.line_text(200_005).startswith("xvalue")


def test_document_gets_a_tree_once_small_enough() -> None:
    doc = Document("file:///t/a.py", "x = 1\n" * 10, "python", max_parse_bytes=40)
    assert doc.tree is None
    doc.apply_change((0, 0), (9, 0), "", "utf-16")
    assert doc.tree is not None
    doc.apply_change((0, 0), (0, 0), "y = 2\n" * 10, "utf-16")
    assert doc.tree is None


def test_document_store() -> None:
    store = DocumentStore()
    doc = store.open("file:///t/My%20File.py", "x = 1\n", "python", 1)
    assert store.get("file:///t/My File.py") is doc
    assert len(store) == 1 and list(store) == [doc]
    store.close("file:///t/My%20File.py")
    assert store.get("file:///t/My%20File.py") is None
    store.close("file:///t/never-opened.py")
