"""Every client profile pytest-lsp ships gets every feature, in a shape its capabilities declare (issue 15).

One server process (``--tcp``, the instant engine answering with a
docstring edit) serves one session per profile: every ``*.json`` profile of
the installed pytest-lsp (VS Code, each Neovim, Emacs), plus Emacs 29.1 as
Eglot reads it without markdown-mode (plain-text hover and documentation).
Each session initializes, opens a file, completes, hovers, lists the code
actions and carries the docstring action through to an edit by the route the
profile allows — ``codeAction/resolve`` when it declares resolve (with
``data``), else the ``hybrid.runAction`` command, whose edit arrives by
``workspace/applyEdit`` — generates tests for a module with an existing
test file and for one without, and runs ``hybrid.generateTestSuite`` (under
progress where declared). :class:`~tests.lsp.client_profile_checks.CapabilityChecker`
sees every message the server sends and fails on any use of a capability
the profile did not declare.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from tests.lsp.client_profile_checks import MARKDOWN_SYNTAX, CapabilityChecker
from tests.lsp.harness import TcpServer, command, open_doc, read_code_actions_by_shape, server_env, write_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLAINTEXT = "+plaintext"
"""A profile suffix: the profile with hover and completion documentation in plain text only."""


def _profiles() -> list[str]:
    names = []
    for resource in resources.files("pytest_lsp.clients").iterdir():
        if resource.name.endswith(".json"):
            name, version = resource.name.removesuffix(".json").rsplit("_v", 1)
            names.append(f"{name.replace('_', '-')}@v{version}")
    return sorted(names)


PROFILES = [*_profiles(), f"emacs@v29.1{PLAINTEXT}"]  # Eglot without markdown-mode asks for plain text

MAIN = '"""Sample module."""\nfrom helpers import add\n\n\ndef total(a, b):\n    return add(a, b)\n'
HELPERS = "def add(a, b):\n    return a + b\n"
DOCSTRING = '    """Return the sum of a and b."""\n'
CODE = f"def total(a, b):\n{DOCSTRING}    return add(a, b)\n"
ANSWER = f"The sum, documented:\n\nFile: test_total.py\n```python\n{CODE}```\n"
AT = types.Range(start=types.Position(line=5, character=4), end=types.Position(line=5, character=4))


def _capabilities(profile: str) -> types.ClientCapabilities:
    capabilities = client_capabilities(profile.removesuffix(PLAINTEXT))
    if profile.endswith(PLAINTEXT):
        document = capabilities.text_document
        assert document is not None and document.hover is not None
        document.hover.content_format = [types.MarkupKind.PlainText]
        if document.completion is not None and document.completion.completion_item is not None:
            document.completion.completion_item.documentation_format = [types.MarkupKind.PlainText]
    return capabilities


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[int, Path]]:
    """One TCP server for every profile's session, and the workspace they open."""
    tmp = tmp_path_factory.mktemp("profiles")
    root = tmp / "project"
    root.mkdir()
    (root / "main.py").write_text(MAIN, encoding="utf-8")
    (root / "helpers.py").write_text(HELPERS, encoding="utf-8")
    (root / "main_test.py").write_text("from main import total\n", encoding="utf-8")  # not the usual name
    local = f'backend = "instant"\ninstant_reply = {json.dumps(ANSWER)}\ninstant_token_delay_ms = 0\n'
    async with TcpServer(server_env(tmp, write_config(tmp, local=local))) as server:
        yield server.port, root


class Session:
    """One profile's client, its checker and the edits it was asked to apply."""

    def __init__(self, client: LanguageClient, checker: CapabilityChecker) -> None:
        self.client = client
        self.checker = checker
        self.applied: list[types.WorkspaceEdit] = []

    @property
    def lazy(self) -> bool:
        """The profile resolves code actions' edits lazily (resolveSupport for edit, with dataSupport)."""
        properties = self.checker.declared("textDocument.codeAction.resolveSupport.properties") or []
        return "edit" in properties and bool(self.checker.declared("textDocument.codeAction.dataSupport"))

    @property
    def creates_files(self) -> bool:
        operations = self.checker.declared("workspace.workspaceEdit.resourceOperations") or []
        return bool(self.checker.declared("workspace.workspaceEdit.documentChanges")) and "create" in operations

    async def run_action(self, uri: str, title: str) -> types.WorkspaceEdit | None:
        """Choose the action ``title`` at :data:`AT` and carry it through as the profile can; the edit it got."""
        client = self.client
        listed = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=AT,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        action = next(a for a in listed or [] if a.title == title)
        if self.lazy:
            assert isinstance(action, types.CodeAction) and action.data is not None and action.edit is None
            resolved = await client.code_action_resolve_async(action)
            return resolved.edit
        run = action if isinstance(action, types.Command) else action.command
        assert run is not None and run.command == "hybrid.runAction", action
        before = len(self.applied)
        result = await command(client, run.command, *(run.arguments or []))
        if not result["edit"]:
            assert len(self.applied) == before
            return None
        assert result["applied"] is True, result
        return self.applied[-1]

    def shown(self, text: str) -> list[str]:
        return [m.message for m in self.client.messages if text in m.message]


@pytest_asyncio.fixture(loop_scope="module", params=PROFILES)
async def session(request: pytest.FixtureRequest, served: tuple[int, Path]) -> AsyncIterator[Session]:
    port, root = served
    capabilities = _capabilities(request.param)
    checker = CapabilityChecker(capabilities)
    client = make_test_lsp_client()
    read_code_actions_by_shape(client)
    checker.attach(client)
    session = Session(client, checker)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        session.applied.append(params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    await client.start_tcp("127.0.0.1", port)
    folder = types.WorkspaceFolder(uri=root.as_uri(), name=root.name)
    params = types.InitializeParams(capabilities=capabilities, root_uri=root.as_uri(), workspace_folders=[folder])
    await client.initialize_session(params)
    yield session
    await client.shutdown_session()
    await client.stop()  # type: ignore[no-untyped-call]


def _texts(edit: types.WorkspaceEdit) -> dict[str, str]:
    """URI -> the text the edit inserts there (all its text edits, in order)."""
    out: dict[str, str] = {}
    for uri, edits in (edit.changes or {}).items():
        out[uri] = "".join(e.new_text for e in edits)
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit):
            out[change.text_document.uri] = out.get(change.text_document.uri, "") + "".join(
                e.new_text for e in change.edits if isinstance(e, types.TextEdit)
            )
    return out


def _created(edit: types.WorkspaceEdit | None) -> list[str]:
    return [c.uri for c in (edit.document_changes or []) if isinstance(c, types.CreateFile)] if edit else []


async def test_the_profile_gets_every_feature_in_a_shape_it_declared(session: Session, served: Any) -> None:
    _, root = served
    client, checker = session.client, session.checker
    main, helpers = (root / "main.py").as_uri(), (root / "helpers.py").as_uri()
    open_doc(client, main, MAIN)
    open_doc(client, helpers, HELPERS)
    document = types.TextDocumentIdentifier(uri=main)

    completion = await client.text_document_completion_async(
        types.CompletionParams(text_document=document, position=types.Position(line=5, character=14))
    )
    items = completion.items if isinstance(completion, types.CompletionList) else completion or []
    assert items, "no completion"

    hover = await client.text_document_hover_async(types.HoverParams(text_document=document, position=AT.start))
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    formats = checker.declared("textDocument.hover.contentFormat") or []
    if "markdown" in formats:
        assert hover.contents.kind == types.MarkupKind.Markdown and "```python" in hover.contents.value
    else:
        assert hover.contents.kind == types.MarkupKind.PlainText
        assert MARKDOWN_SYNTAX.search(hover.contents.value) is None, hover.contents.value
        assert "    def total(a, b):" in hover.contents.value and "via local" in hover.contents.value

    # the docstring, by resolve or by hybrid.runAction + workspace/applyEdit
    edit = await session.run_action(main, "AI: add or refresh the docstring")
    assert edit is not None and DOCSTRING in _texts(edit)[main]

    # tests for main.py: created as test_main.py where files can be created, else appended to main_test.py
    edit = await session.run_action(main, "AI: generate tests")
    assert edit is not None
    if session.creates_files:
        assert _created(edit) == [(root / "test_main.py").as_uri()]
    else:
        assert _created(edit) == [] and list(_texts(edit)) == [(root / "main_test.py").as_uri()]
        assert session.shown("Appended to main_test.py: the editor cannot create test_main.py.")

    # tests for helpers.py, which has none: created, or its text shown with its intended path
    edit = await session.run_action(helpers, "AI: generate tests")
    if session.creates_files:
        assert _created(edit) == [(root / "test_helpers.py").as_uri()]
    else:
        assert edit is None
        [shown] = session.shown("so test_helpers.py was not created")
        assert DOCSTRING in shown

    checked = {"initialize", "textDocument/completion", "textDocument/hover", "textDocument/codeAction"}
    assert checked <= set(checker.answered), checker.answered  # the checker saw the answers it checks
    requests = {m.get("method") for m in checker.seen if "id" in m and "method" in m}
    assert ("codeAction/resolve" in checker.answered) == session.lazy
    assert ("workspace/applyEdit" in requests) != session.lazy

    # the whole test suite command (under progress where declared): created, or shown with its path
    suite = await command(client, "hybrid.generateTestSuite")
    [listed] = suite["files"]
    if session.creates_files:
        assert suite["applied"] is True and listed["created"] is True
        assert _created(session.applied[-1]) == [(root / "test_total.py").as_uri()]
    else:
        assert suite["applied"] is False and listed["shown"] is True
        assert DOCSTRING in session.shown("so test_total.py was not created")[-1]
    checker.assert_clean()
