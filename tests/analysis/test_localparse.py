"""Statement-local reparse: whenever it is taken it equals a full parse, and analyses built on it too."""

from __future__ import annotations

import keyword
import random
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tree_sitter import Node

from lsp_server.analysis.context import assemble_context
from lsp_server.analysis.docanalysis import _top_level
from lsp_server.analysis.documents import Document, DocumentStore
from lsp_server.analysis.languages import new_parser
from lsp_server.analysis.scope import measure_scope
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.analysis.units import enclosing_unit

STATEMENTS = [
    "x = 1",
    "import os",
    "from a import b as c",
    "def f(a, b):\n    return a + b",
    "class K:\n    '''Doc.'''\n\n    def m(self) -> int:\n        total = 0\n        for s in range(3):\n"
    "            total += s\n        return total",
    "if x:\n    y = 2\nelse:\n    y = 3",
    "@dec\ndef g():\n    pass",
    "# a comment",
    "try:\n    import json\nexcept ImportError:\n    json = None",
    "async def h():\n    await z",
    "s = '''multi\nline'''",
    "print(a); print(b)",
    "def w(\n    a,\n    b,\n):\n    return [\n        a,\n    ]",
    "value = compute(1,\n                2)",
]
PIECES = ["s", "x", " ", "    ", "\n", ":", "(", ")", "'", '"', "\\", "#", " = 1", "def ", "return ", "import y", "é"]
TYPED = ["s", "x1", "_", " ", "é", "(a)", ".b", " + 2", "# c", ", c", "import q"]
SOURCE = st.lists(st.sampled_from(STATEMENTS), min_size=2, max_size=8).flatmap(
    lambda parts: st.lists(st.sampled_from(["\n", "\n\n", "\n\n\n"]), min_size=len(parts), max_size=len(parts)).map(
        lambda seps: "".join(p + s for p, s in zip(parts, seps, strict=True))
    )
)
EDIT = st.tuples(
    st.sampled_from([True, True, True, False]),
    st.floats(0, 1),
    st.floats(0, 1),
    st.integers(0, 4),
    st.one_of(st.lists(st.sampled_from(PIECES), max_size=3).map("".join), st.sampled_from(TYPED)),
)
"""``(typing, where, column, deleted bytes, inserted text)``: typing edits land inside a line's code."""
STEP = st.tuples(st.lists(EDIT, min_size=1, max_size=4), st.floats(0, 1), st.booleans())
BENIGN = ["s", "x1", "_", " ", "é", ".b", " + 2", "(a)"]
"""Typed text that rarely makes a syntax error (analyses are compared on error-free text only)."""
CLEAN_STEP = st.tuples(
    st.lists(
        st.tuples(
            st.sampled_from([True, True, True, True, False]),
            st.floats(0, 1),
            st.floats(0, 1),
            st.integers(0, 1),
            st.sampled_from(BENIGN),
        ),
        min_size=1,
        max_size=4,
    ),
    st.floats(0, 1),
    st.booleans(),
)


def _sig(node: Node) -> tuple[object, ...]:
    return (
        node.type,
        node.start_byte,
        node.end_byte,
        tuple(node.start_point),
        tuple(node.end_point),
        node.is_missing,
        tuple(_sig(child) for child in node.children),
    )


def _apply(doc: Document, typing: bool, where: float, column: float, length: int, text: str) -> int:
    """Apply one generated edit; return the offset just after its new text."""
    source = doc.source
    size = len(source)
    start = min(size, int(where * size))
    if typing:
        line = doc.lines.line_of(start)
        first, last = doc.lines.line_start(line), doc.lines.line_end(line)
        start = min(size, first + 1 + int(column * max(0, last - first - 1)))
        length = min(length, 1)
    end = min(size, start + length)
    while start < size and source[start] & 0xC0 == 0x80:  # whole UTF-8 characters only
        start += 1
    while end < size and source[end] & 0xC0 == 0x80:
        end += 1
    doc.apply_byte_change(start, max(start, end), text.encode())
    return start + len(text.encode())


def _check_local(doc: Document, offset: int) -> bool:
    """Compare the local syntax at ``offset`` (if any) with a full parse; True when it was taken."""
    local = doc.local_syntax(offset)
    if local is None:
        return False
    full = new_parser("python").parse(doc.source).root_node
    assert not full.has_error
    twin = [c for c in full.named_children if c.start_byte == local.start]
    assert len(twin) == 1
    assert _sig(local.node) == _sig(twin[0])
    top = [(c.type, c.start_byte, c.end_byte) for c in local.top_level()]
    assert top == [(c.type, c.start_byte, c.end_byte) for c in full.named_children]
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SOURCE, st.lists(STEP, min_size=1, max_size=6))
def test_local_statement_parse_equals_full_parse(text: str, steps: list[tuple[list, float, bool]]) -> None:
    doc = Document("file:///t/m.py", text, "python")
    for edits, where, refresh in steps:
        typed = [_apply(doc, *edit) for edit in edits]
        _check_local(doc, int(where * len(doc.source)))
        _check_local(doc, typed[-1])
        if refresh:
            assert _sig(doc.tree.root_node) == _sig(new_parser("python").parse(doc.source).root_node)  # type: ignore[union-attr]


def test_many_typing_sessions_take_the_shortcut_and_equal_full_parses() -> None:
    rng = random.Random(7)
    taken = 0
    for _ in range(400):
        doc = Document("file:///t/m.py", "\n\n".join(rng.choices(STATEMENTS, k=6)) + "\n", "python")
        last = _apply(doc, True, rng.random(), rng.random(), rng.randrange(2), rng.choice(TYPED))
        for _ in range(rng.randrange(4)):  # go on typing at the cursor
            piece = rng.choice(BENIGN).encode()
            doc.apply_byte_change(last, last, piece)
            last += len(piece)
        taken += _check_local(doc, last)
    assert taken >= 80  # the shortcut is common, so the comparisons above are not vacuous


def _typing_session(text: str, line_text: str) -> tuple[Document, int, int]:
    lines = text.split("\n")
    line = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].strip() == line_text)
    doc = Document("file:///t/big.py", text, "python")
    return doc, line, len(lines[line])


def _module(count: int) -> str:
    return "import os\n\n" + "\n\n".join(STATEMENTS[4].replace("class K", f"class K{i}") for i in range(count)) + "\n"


def test_typing_at_the_end_of_a_function_reparses_only_its_statement() -> None:
    doc, line, column = _typing_session(_module(40), "return total")
    for i in range(6):
        if i % 2 == 0:
            doc.apply_change((line, column), (line, column), "s", "utf-16")
        else:
            doc.apply_change((line, column), (line, column + 1), "", "utf-16")
        doc.apply_change((line, column), (line, column), "x", "utf-16")
        offset = doc.offset_at(line, column + 1, "utf-16")
        assert _check_local(doc, offset)
        unit = enclosing_unit(doc, offset, local=doc.local_syntax(offset))
        assert (unit.kind, unit.name) == ("function", "m")
        doc.apply_change((line, column), (line, column + 1), "", "utf-16")


def test_edits_that_are_not_inside_one_clean_statement_reparse_the_file() -> None:
    text = _module(4)
    cases = [
        (0, 0, "x"),  # before the first statement's first byte
        (text.index("class K1"), text.index("class K1"), "# "),  # at a statement's first byte
        (text.index("\n\nclass K2"), text.index("\n\nclass K2") + 1, ""),  # between statements
        (text.index("total = 0"), text.index("total = 0"), "("),  # leaves a bracket open
        (text.index("return total") + 12, text.index("return total") + 12, " \\"),  # line continuation at its end
        (text.index("return total") + 12, text.index("return total") + 12, "\nx = 1"),  # a second statement
    ]
    for start, end, new in cases:
        doc = Document("file:///t/m.py", text, "python")
        doc.apply_byte_change(start, end, new.encode())
        assert doc.local_syntax(start) is None, new
        assert doc.tree is not None


def _same_analysis(doc: Document, offset: int, settings: AnalysisSettings) -> None:
    """Scope, context and top-level names equal those of a fresh document with the same text.

    Only for text without syntax errors: per-statement results reused from the last analysis of
    a statement that is not itself erroneous may differ from a fresh parse's error recovery.
    """
    fresh = Document(doc.uri, doc.text, "python")
    if fresh.tree is None or fresh.tree.root_node.has_error:
        return
    for task in ("inline_completion", "explain"):
        mine = measure_scope(doc, offset, task, None, settings)
        theirs = measure_scope(fresh, offset, task, None, settings)
        assert mine == theirs
        assert assemble_context(doc, offset, mine, None, 512) == assemble_context(fresh, offset, theirs, None, 512)
    assert _top_level(doc) == _top_level(fresh)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SOURCE, st.lists(st.one_of(CLEAN_STEP, STEP), min_size=1, max_size=6))
def test_scope_and_context_after_edits_equal_those_of_a_fresh_document(
    text: str, steps: list[tuple[list, float, bool]]
) -> None:
    settings = AnalysisSettings(context_max_tokens=256)
    doc = Document("file:///t/m.py", text, "python")
    for edits, where, refresh in steps:
        typed = [_apply(doc, *edit) for edit in edits]
        _same_analysis(doc, typed[-1] if where < 0.5 else int(where * len(doc.source)), settings)
        if refresh:
            assert doc.tree is not None


def test_typing_in_a_large_module_keeps_analysis_equal_to_a_fresh_document() -> None:
    settings = AnalysisSettings()
    doc, line, column = _typing_session(_module(60), "return total")
    for i in range(80):
        text = ["s", "", "\n        y = 1", "import sys"][i % 4]
        doc.apply_change((line, column), (line, column), text, "utf-16")
        offset = doc.offset_at(line, column + len(text), "utf-16")
        if i % 3 == 0:
            _same_analysis(doc, offset, settings)
        else:
            measure_scope(doc, offset, "inline_completion", None, settings)
        doc.apply_change((line, column), doc.position_at(offset, "utf-16"), "", "utf-16")
    _same_analysis(doc, offset, settings)


def test_store_keeps_the_trees_of_recent_documents_only() -> None:
    store = DocumentStore(max_trees=2)
    docs = [store.open(f"file:///t/{i}.py", f"def f{i}():\n    return {i}\n", "python") for i in range(3)]
    assert docs[0].has_tree and docs[0]._tree is None  # released, parsed again on demand
    docs[0].apply_byte_change(0, 0, b"x = 1\n")
    tree = docs[0].tree
    assert tree is not None
    assert _sig(tree.root_node) == _sig(new_parser("python").parse(docs[0].source).root_node)
    assert docs[1]._tree is None and docs[2]._tree is not None
    store.close(docs[2].uri)
    assert docs[2].on_tree_use is None
    plain = store.open("file:///t/notes.txt", "hello")
    assert not plain.has_tree and docs[0]._tree is not None


def test_a_position_after_the_code_of_a_line_belongs_to_that_code() -> None:
    text = "import os\n\n\ndef f(a):\n    total = a\n    return total  \n\n\nx = 1\n"
    doc = Document("file:///t/m.py", text, "python")
    end_of_return = text.index("return total") + len("return total")
    for offset in (end_of_return, end_of_return + 2):  # right after the code, and in trailing blanks
        unit = enclosing_unit(doc, offset)
        assert (unit.kind, unit.name) == ("function", "f")
    unit = enclosing_unit(doc, text.index("x = 1") + len("x = 1"))
    assert unit.kind == "statement"
    assert enclosing_unit(doc, text.index("\n\n\nx = 1") + 1).kind == "module"  # a blank line at column 0


def test_typing_identifiers_keeps_analysis_equal_to_a_fresh_document() -> None:
    settings = AnalysisSettings(context_max_tokens=256)
    rng = random.Random(11)
    compared = local = 0
    for _ in range(120):
        doc = Document("file:///t/m.py", "\n\n".join(rng.choices(STATEMENTS, k=6)) + "\n", "python")
        for _ in range(rng.randrange(1, 6)):
            names = [m for m in re.finditer(rb"[A-Za-z_]\w*", doc.source) if not keyword.iskeyword(m.group().decode())]
            end = rng.choice(names).end()
            doc.apply_byte_change(end, end, rng.choice([b"s", b"x1", b"_", b"2"]))
            offset = end + 1
            local += doc.local_syntax(offset) is not None
            if rng.random() < 0.5:
                measure_scope(doc, offset, "inline_completion", None, settings)  # a cached state to reuse
            else:
                _same_analysis(doc, offset, settings)
                compared += 1
    assert compared >= 150 and local >= 100  # the shortcuts were taken, so the comparisons are not vacuous
