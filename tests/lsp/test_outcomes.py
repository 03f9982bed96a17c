"""In-process: what became of an answer lands in the ledger as feedback (routing that learns, #14.6).

The real server with the instant engine, driven with JSON-RPC messages as an
editor sends them: a resolved docstring action whose edit the editor applies
(as the whole document, or as an increment) is ``code_action`` accepted for
the request that produced it; another edit, once the (shortened) window has
passed, is not accepted; a review's quick fix applied is ``quick_fix``
accepted for the review's request; a completion on a Python file records
``python`` as its language.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from lsp_server.server import HybridLanguageServer
from lsp_server.transport import dispatch
from routing.usage.ledger import Ledger, LedgerEntry
from tests.lsp.harness import in_process_server, write_config
from tests.tasks import recorded

SOURCE = "def total(a, b):\n    return a + b\n"
DOCSTRING = '    """Return the sum of a and b."""\n'
ANSWER = f"```python\ndef total(a, b):\n{DOCSTRING}    return a + b\n```\n"
#: The recorded review without its finding in a file that does not exist: every finding cites a line shown.
CITED_REVIEW = recorded.REVIEW_ANSWER.replace(
    """,
  {
    "file": "app/missing.py",
    "line": 3,
    "severity": "info",
    "message": "A file the model invented."
  }""",
    "",
)
REVIEW_LOCALLY = '\n[routing.tasks.review]\nlocal_up_to = "repository"\ncloud = "openai"\nmax_output_tokens = 1500\n'


class Wire:
    """The editor's end: responses by id, notifications in order."""

    def __init__(self) -> None:
        self.responses: dict[Any, Any] = {}
        self.notifications: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        message = json.loads(data)
        if "method" not in message:
            self.responses[message.get("id")] = message
        elif "id" not in message:
            self.notifications.append(message)

    def close(self) -> None:
        pass


class Editor:
    def __init__(self, server: HybridLanguageServer, wire: Wire) -> None:
        self.server = server
        self.wire = wire
        self.next_id = 0

    def notify(self, method: str, params: Any) -> None:
        dispatch(self.server, json.dumps({"jsonrpc": "2.0", "method": method, "params": params}))

    async def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        dispatch(self.server, json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
        for _ in range(3000):
            if self.next_id in self.wire.responses:
                response = self.wire.responses.pop(self.next_id)
                assert "error" not in response, response
                return response["result"]
            await asyncio.sleep(0.005)
        raise AssertionError(f"{method} was never answered")

    async def start(self, root: Path) -> None:
        await self.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {}})
        self.notify("initialized", {})

    def open(self, uri: str, text: str) -> None:
        item = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    def change(self, uri: str, version: int, *changes: dict[str, Any]) -> None:
        params = {"textDocument": {"uri": uri, "version": version}, "contentChanges": list(changes)}
        self.notify("textDocument/didChange", params)

    @property
    def ledger(self) -> Ledger:
        usage = self.server.assistant.serving.usage  # type: ignore[attr-defined]
        assert usage is not None and usage.ledger is not None
        return usage.ledger  # type: ignore[no-any-return]


@pytest_asyncio.fixture
async def editor_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[..., Any]]:
    """Starts the in-process server answering ``reply`` (with ``extra`` configuration) on ``tmp_path/project``."""
    stack: list[Any] = []

    async def start(reply: str, extra: str = "") -> Editor:
        local = f'backend = "instant"\ninstant_reply = {json.dumps(reply)}\n'
        config = write_config(tmp_path, extra, local=local)
        monkeypatch.setenv("HYBRID_ASSIST_CONFIG", str(config))
        wire = Wire()
        context = in_process_server(config, wire)
        server = await context.__aenter__()
        stack.append(context)
        editor = Editor(server, wire)
        root = tmp_path / "project"
        root.mkdir(exist_ok=True)
        await editor.start(root)
        return editor

    yield start
    for context in reversed(stack):
        await context.__aexit__(None, None, None)


async def rows(editor: Editor, task: str, count: int = 1) -> list[LedgerEntry]:
    for _ in range(400):
        editor.ledger.flush(5.0)
        found = [e for e in editor.ledger.entries() if e.task == task]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {task} row in the ledger")


async def verdict(editor: Editor, request_id: str, *, wait_s: float = 5.0) -> tuple[bool | None, str | None]:
    """The feedback on ``request_id`` once there is one (or (None, None) after ``wait_s``)."""
    for _ in range(int(wait_s / 0.01)):
        accepted = editor.ledger.feedback(request_id)
        if accepted is not None:
            return accepted, editor.ledger.feedback_kind(request_id)
        await asyncio.sleep(0.01)
    return None, None


async def resolve_docstring(editor: Editor, uri: str) -> tuple[str, dict[str, Any]]:
    """Resolve the docstring action on ``total``: (the request id that answered it, the edit's one TextEdit)."""
    at = {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}}
    action = {"title": "AI: add or refresh the docstring", "data": {"uri": uri, "task": "docstring", "range": at}}
    resolved = await editor.request("codeAction/resolve", action)
    [edit] = resolved["edit"]["changes"][uri]
    [row] = await rows(editor, "docstring")
    return row.request_id, edit


def review_project(tmp_path: Path) -> str:
    """The sample repository of the review tests; the URI of its ``app/db.py``."""
    root = tmp_path / "project"
    (root / "app").mkdir()
    (root / "app" / "db.py").write_text(recorded.DB_PY, encoding="utf-8")
    (root / "app" / "util.py").write_text(recorded.UTIL_PY, encoding="utf-8")
    return (root / "app" / "db.py").resolve().as_uri()


async def used_review(editor: Editor) -> LedgerEntry:
    """The row of the review answer the command used: the last one asked (a failed check asks again)."""
    return [r for r in await rows(editor, "review") if r.outcome == "ok"][-1]


def apply(text: str, edit: dict[str, Any]) -> str:
    lines = text.splitlines(keepends=True)

    def offset(position: dict[str, int]) -> int:  # ASCII text: UTF-16 columns are characters
        return sum(len(line) for line in lines[: position["line"]]) + position["character"]

    new_text: str = edit["newText"]
    return text[: offset(edit["range"]["start"])] + new_text + text[offset(edit["range"]["end"]) :]


async def test_an_applied_docstring_edit_is_an_accepted_code_action(
    editor_for: Callable[..., Any], tmp_path: Path
) -> None:
    editor = await editor_for(ANSWER)
    uri = (tmp_path / "project" / "demo.py").as_uri()
    editor.open(uri, SOURCE)
    request_id, edit = await resolve_docstring(editor, uri)
    assert await verdict(editor, request_id, wait_s=0.2) == (None, None)  # given, not yet applied
    editor.change(uri, 2, {"text": apply(SOURCE, edit)})  # the editor sends the whole document
    assert await verdict(editor, request_id) == (True, "code_action")
    assert editor.server.session.outcomes.pending() == 0


async def test_an_edit_applied_as_increments_is_seen_too(editor_for: Callable[..., Any], tmp_path: Path) -> None:
    editor = await editor_for(ANSWER)
    uri = (tmp_path / "project" / "demo.py").as_uri()
    editor.open(uri, SOURCE)
    request_id, _ = await resolve_docstring(editor, uri)
    here = {"line": 1, "character": 0}
    half = len(DOCSTRING) // 2  # the docstring arrives in two changes, as an editor may split an edit
    editor.change(uri, 2, {"range": {"start": here, "end": here}, "text": DOCSTRING[:half]})
    assert await verdict(editor, request_id, wait_s=0.2) == (None, None)
    after = {"line": 1, "character": half}
    editor.change(uri, 3, {"range": {"start": after, "end": after}, "text": DOCSTRING[half:]})
    assert await verdict(editor, request_id) == (True, "code_action")


async def test_another_edit_is_not_accepted_once_the_window_passes(
    editor_for: Callable[..., Any], tmp_path: Path
) -> None:
    editor = await editor_for(ANSWER)
    editor.server.session.outcomes.window_s = 0.3
    uri = (tmp_path / "project" / "demo.py").as_uri()
    editor.open(uri, SOURCE)
    request_id, _ = await resolve_docstring(editor, uri)
    here = {"line": 1, "character": 0}
    editor.change(uri, 2, {"range": {"start": here, "end": here}, "text": '    """Adds."""\n'})  # the user's own
    assert await verdict(editor, request_id) == (False, "code_action")


async def test_closing_the_document_ends_the_watch_unapplied(editor_for: Callable[..., Any], tmp_path: Path) -> None:
    editor = await editor_for(ANSWER)
    uri = (tmp_path / "project" / "demo.py").as_uri()
    editor.open(uri, SOURCE)
    request_id, _ = await resolve_docstring(editor, uri)
    editor.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert await verdict(editor, request_id) == (False, "code_action")


async def test_an_applied_review_quick_fix_is_the_reviews_accepted_quick_fix(
    editor_for: Callable[..., Any], tmp_path: Path
) -> None:
    editor = await editor_for(recorded.REVIEW_ANSWER, REVIEW_LOCALLY)
    db = review_project(tmp_path)
    editor.open(db, recorded.DB_PY)
    params = {"command": "hybrid.review", "arguments": [{"scope": "repository"}]}
    result = await editor.request("workspace/executeCommand", params)
    assert result["fixes"] == 1, result
    review = await used_review(editor)
    [published] = [
        n["params"]
        for n in editor.wire.notifications
        if n["method"] == "textDocument/publishDiagnostics" and n["params"]["uri"] == db
    ]
    [diagnostic] = published["diagnostics"]
    context = {"diagnostics": [diagnostic]}
    actions = await editor.request(
        "textDocument/codeAction", {"textDocument": {"uri": db}, "range": diagnostic["range"], "context": context}
    )
    fix = actions[0]
    assert fix["kind"] == "quickfix", fix
    [edit] = fix["edit"]["changes"][db]
    editor.change(db, 2, {"range": edit["range"], "text": edit["newText"]})  # the editor applies the fix
    for _ in range(500):  # the check verdict comes first, then the quick fix's replaces it
        if (editor.ledger.feedback(review.request_id), editor.ledger.feedback_kind(review.request_id)) == (
            True,
            "quick_fix",
        ):
            break
        await asyncio.sleep(0.01)
    assert (editor.ledger.feedback(review.request_id), editor.ledger.feedback_kind(review.request_id)) == (
        True,
        "quick_fix",
    )


async def test_a_completion_records_its_language_and_whether_it_was_sensitive(
    editor_for: Callable[..., Any], tmp_path: Path
) -> None:
    editor = await editor_for("x")
    (tmp_path / "project" / "secrets").mkdir()
    plain = (tmp_path / "project" / "demo.py").as_uri()
    secret = (tmp_path / "project" / "secrets" / "keys.py").as_uri()  # [sensitive] path_globs: **/secrets/**
    for uri in (plain, secret):
        editor.open(uri, SOURCE)
        position = {"line": 1, "character": 16}
        await editor.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": position})
    served = await rows(editor, "completion", 2)
    assert [(row.language, row.sensitive) for row in served] == [("python", False), ("python", True)]


async def test_an_edit_answer_that_does_not_parse_is_a_failed_check(
    editor_for: Callable[..., Any], tmp_path: Path
) -> None:
    editor = await editor_for("```python\ndef total(a, b:\n    return a + b\n```\n")
    uri = (tmp_path / "project" / "demo.py").as_uri()
    editor.open(uri, SOURCE)
    at = {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}}
    action = {"title": "AI: add or refresh the docstring", "data": {"uri": uri, "task": "docstring", "range": at}}
    resolved = await editor.request("codeAction/resolve", action)
    assert "edit" not in resolved  # refused
    first, *_ = await rows(editor, "docstring")
    assert await verdict(editor, first.request_id) == (False, "check")


@pytest.mark.parametrize(("answer", "passed"), [(recorded.REVIEW_ANSWER, False), (CITED_REVIEW, True)])
async def test_a_review_answer_records_whether_it_passed_its_check(
    editor_for: Callable[..., Any], tmp_path: Path, answer: str, passed: bool
) -> None:
    editor = await editor_for(answer, REVIEW_LOCALLY)
    review_project(tmp_path)
    await editor.request("workspace/executeCommand", {"command": "hybrid.review", "arguments": [{}]})
    review = await used_review(editor)
    assert await verdict(editor, review.request_id) == (passed, "check")
