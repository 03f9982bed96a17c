"""``hybrid-review`` findings follow the edits of their document: moved by lines above, dropped when edited."""

from __future__ import annotations

from lsprotocol import types

from lsp_server.analysis.documents import DocumentStore
from lsp_server.review import ReviewStore, StoredFinding, TextChange, review_fix_actions, stored_finding
from lsp_server.tasks.findings import Finding, LocatedFinding

URI = "file:///w/m.py"
TEXT = "import os\n\n\ndef f(x):\n    return eval(x)\n\n\ndef g():\n    pass\n"
FIXED = "    return int(x)"


def _store(text: str = TEXT) -> tuple[ReviewStore, StoredFinding]:
    finding = Finding("m.py", 5, 5, "warning", "eval of input.", replacement=FIXED)
    stored = stored_finding(LocatedFinding(finding, "/w/m.py", 4, 4), "review", URI, text, "utf-16")
    store = ReviewStore()
    store.replace("review", None, [stored])
    return store, stored


def _pos(line: int, character: int = 0) -> types.Position:
    return types.Position(line=line, character=character)


def _lines(store: ReviewStore) -> list[tuple[int, int]]:
    return [(d.range.start.line, d.range.end.line) for d in store.diagnostics(URI)]


def test_a_line_inserted_above_moves_the_finding_and_its_fix_down_by_one() -> None:
    store, stored = _store()
    assert _lines(store) == [(4, 4)]
    assert store.follow(URI, TextChange(_pos(1), _pos(1), "import sys\n"), "utf-16")
    [moved] = store.for_uri(URI)
    assert moved.diagnostic.range == types.Range(start=_pos(5), end=_pos(5, 18))
    assert moved.fix is not None and moved.fix.range == types.Range(start=_pos(5), end=_pos(6))
    assert moved.id == stored.id and moved.diagnostic.message == stored.diagnostic.message
    assert stored.diagnostic.range.start.line == 4  # the published original is not changed in place
    # the quick fix is still offered, at the new place, for the edited document
    documents = DocumentStore()
    documents.open(URI, "import os\nimport sys\n" + TEXT.split("\n", 1)[1], "python", 2)
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        range=moved.diagnostic.range,
        context=types.CodeActionContext(diagnostics=[moved.diagnostic]),
    )
    [action] = review_fix_actions(store, documents, "utf-16", params)
    assert action.edit is not None and action.edit.changes is not None
    assert action.edit.changes[URI][0].range == types.Range(start=_pos(5), end=_pos(6))


def test_deleted_lines_above_move_it_up_and_edits_below_leave_it() -> None:
    store, _ = _store()
    assert store.follow(URI, TextChange(_pos(1), _pos(3), ""), "utf-16")  # two blank lines deleted
    assert _lines(store) == [(2, 2)]
    assert not store.follow(URI, TextChange(_pos(5), _pos(5), "# below\n"), "utf-16")
    assert not store.follow(URI, TextChange(_pos(2, 18), _pos(2, 18), "\n    "), "utf-16")  # Enter after it
    assert _lines(store) == [(2, 2)]
    # typing on the line above, within the line, does not move it either
    assert not store.follow(URI, TextChange(_pos(1, 4), _pos(1, 4), "ab"), "utf-16")
    assert _lines(store) == [(2, 2)]


def test_an_edit_of_the_finding_lines_drops_it() -> None:
    store, _ = _store()
    assert store.follow(URI, TextChange(_pos(4, 11), _pos(4, 15), "exec"), "utf-16")
    assert store.diagnostics(URI) == [] and store.for_uri(URI) == []
    store, _ = _store()  # text put in front of its first line edits it too
    assert store.follow(URI, TextChange(_pos(4), _pos(4), "#"), "utf-16")
    assert store.diagnostics(URI) == []
    store, _ = _store()  # a deletion that takes its line away
    assert store.follow(URI, TextChange(_pos(3), _pos(5), ""), "utf-16")
    assert store.diagnostics(URI) == []


def test_a_whole_document_replacement_is_followed_line_by_line() -> None:
    store, _ = _store()
    new = '"""Doc."""\n' + TEXT.replace("def g():\n    pass\n", "def g():\n    return 1\n")
    assert store.follow_text(URI, TEXT, new, "utf-16")
    assert _lines(store) == [(5, 5)]
    assert store.follow_text(URI, new, new.replace("eval(x)", "exec(x)"), "utf-16")
    assert store.diagnostics(URI) == []


def test_a_same_line_insertion_before_a_mid_line_start_counts_columns_in_the_client_encoding() -> None:
    for encoding, column in (("utf-16", 6), ("utf-8", 8), ("utf-32", 5)):
        store = ReviewStore()
        finding = Finding("m.py", 1, 1, "info", "x", replacement=None)
        stored = stored_finding(LocatedFinding(finding, "/w/m.py", 0, 0), "review", URI, "x = 1\n", encoding)
        stored.diagnostic.range = types.Range(start=_pos(0, 4), end=_pos(0, 5))  # the "1", not from column 0
        store.replace("review", None, [stored])
        assert store.follow(URI, TextChange(_pos(0, 2), _pos(0, 2), "😀"), encoding)
        [moved] = store.diagnostics(URI)
        assert moved.range == types.Range(start=_pos(0, column), end=_pos(0, column + 1)), encoding
        assert store.follow(URI, TextChange(_pos(0, 0), _pos(0, 0), "a\nb"), encoding)
        [moved] = store.diagnostics(URI)
        assert moved.range == types.Range(start=_pos(1, column + 1), end=_pos(1, column + 2)), encoding
