"""``OutcomeWatch`` on its own: when an edit counts as applied, and what a long session remembers."""

from __future__ import annotations

import pytest

from lsp_server import outcomes
from lsp_server.analysis.documents import Document, DocumentStore
from lsp_server.outcomes import OutcomeWatch

URI = "file:///p/m.py"


def watched(text: str, pairs: list[tuple[str, str]]) -> tuple[OutcomeWatch, Document, list[bool]]:
    store = DocumentStore()
    doc = store.open(URI, text, "python", 1)
    verdicts: list[bool] = []
    watch = OutcomeWatch()
    assert watch.expect("r1", "r1", URI, {URI: pairs}, store.get, verdicts.append)
    return watch, doc, verdicts


async def test_an_edit_that_only_deletes_is_seen_when_its_text_is_gone() -> None:
    watch, doc, verdicts = watched("a = 1\nunused = 2\nprint(a)\n", [("unused = 2\n", "")])
    doc.replace_all("a = 1\nunused = 2\nprint(a)  # touched\n", 2)
    watch.seen(doc)
    assert verdicts == []
    doc.replace_all("a = 1\nprint(a)  # touched\n", 3)
    watch.seen(doc)
    assert verdicts == [True]


async def test_a_rename_is_seen_only_when_every_occurrence_is_written() -> None:
    text = "def f(x):\n    return x\n"
    watch, doc, verdicts = watched(text, [("x", "width"), ("x", "width")])
    doc.replace_all("def f(width):\n    return x\n", 2)  # one of the two
    watch.seen(doc)
    assert verdicts == []
    doc.replace_all("def f(width):\n    return width\n", 3)
    watch.seen(doc)
    assert verdicts == [True] and watch.pending() == 0


async def test_an_edit_changing_only_whitespace_is_not_watched() -> None:
    store = DocumentStore()
    store.open(URI, "x = 1\n", "python", 1)
    assert not OutcomeWatch().expect("r", "r", URI, {URI: [("x = 1", "x  =  1")]}, store.get, print)


async def test_a_request_accepted_once_is_not_marked_rejected_by_another_watch() -> None:
    store = DocumentStore()
    doc = store.open(URI, "a\nb\n", "python", 1)
    verdicts: list[bool] = []
    watch = OutcomeWatch()
    watch.expect("r#1", "r", URI, {URI: [("a", "alpha")]}, store.get, verdicts.append)
    watch.expect("r#2", "r", URI, {URI: [("b", "beta")]}, store.get, verdicts.append)
    doc.replace_all("alpha\nb\n", 2)
    watch.seen(doc)
    watch.closed(URI)
    assert verdicts == [True]


def test_a_long_session_remembers_a_bounded_number_of_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outcomes, "REMEMBERED", 3)
    remembered = {str(i): None for i in range(5)}
    outcomes._forget_oldest(remembered)
    assert list(remembered) == ["2", "3", "4"]
