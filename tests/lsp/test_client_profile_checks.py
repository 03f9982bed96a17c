"""The undeclared-capability checker of the profile tests fails on each kind of message it guards against."""

from __future__ import annotations

from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from tests.lsp.client_profile_checks import CapabilityChecker

PLAIN_HOVER = types.ClientCapabilities(
    text_document=types.TextDocumentClientCapabilities(
        hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.PlainText])
    )
)
CREATE = {"kind": "create", "uri": "file:///w/test_a.py"}
TEXT_EDIT = {
    "textDocument": {"uri": "file:///w/test_a.py", "version": None},
    "edits": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "newText": "x"}],
}


def _problems(capabilities: types.ClientCapabilities, *messages: dict[str, Any], asked: str = "") -> list[str]:
    checker = CapabilityChecker(capabilities)
    if asked:
        checker._sent[1] = asked
    for message in messages:
        checker.incoming({"jsonrpc": "2.0", **message})
    return checker.problems


def _request(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"id": 7, "method": method, "params": params}


@pytest.mark.parametrize(
    ("profile", "message", "asked", "problem"),
    [
        (
            "",
            {"id": 1, "result": {"contents": {"kind": "markdown", "value": "**x**"}}},
            "textDocument/hover",
            "hover: Markdown for a client",
        ),
        (
            "",
            {"id": 1, "result": {"contents": {"kind": "plaintext", "value": "x\n---\n<sub>via</sub>"}}},
            "textDocument/hover",
            "Markdown syntax sent as plain text",
        ),
        (
            "neovim@v0.11.0",
            _request("workspace/applyEdit", {"edit": {"documentChanges": [TEXT_EDIT]}}),
            "",
            "documentChanges without workspace.workspaceEdit.documentChanges",
        ),
        (
            "emacs@v29.1",
            _request("workspace/applyEdit", {"edit": {"documentChanges": [CREATE, TEXT_EDIT]}}),
            "",
            "a create operation not in workspace.workspaceEdit.resourceOperations",
        ),
        (
            "emacs@v29.1",
            {"id": 1, "result": [{"title": "AI: x", "data": {"a": 1}}]},
            "textDocument/codeAction",
            "with data without textDocument.codeAction.dataSupport",
        ),
        (
            "emacs@v29.1",
            {"id": 1, "result": [{"title": "AI: x"}]},
            "textDocument/codeAction",
            "needs resolve for its edit",
        ),
        ("none", _request("window/workDoneProgress/create", {"token": "t"}), "", "without window.workDoneProgress"),
        (
            "none",
            {"method": "$/progress", "params": {"token": "t", "value": {"kind": "end"}}},
            "",
            "a token the client did not create",
        ),
        (
            "neovim@v0.7.0",
            _request("window/showDocument", {"uri": "file:///w/a.py"}),
            "",
            "without window.showDocument.support",
        ),
        (
            "emacs@v29.1",
            {
                "method": "textDocument/publishDiagnostics",
                "params": {
                    "uri": "file:///w/a.py",
                    "diagnostics": [{"range": TEXT_EDIT["edits"][0]["range"], "message": "m", "data": {"id": 1}}],
                },
            },
            "",
            "a diagnostic's data without textDocument.publishDiagnostics.dataSupport",
        ),
        (
            "none",
            {"id": 1, "result": {"capabilities": {"textDocumentSync": {"save": {"documentSelector": None}}}}},
            "initialize",
            "textDocumentSync.save is not SaveOptions",
        ),
        (
            "none",
            {"id": 1, "result": {"items": [{"label": "a", "insertTextFormat": 2}]}},
            "textDocument/completion",
            "without textDocument.completion.completionItem.snippetSupport",
        ),
        ("none", _request("workspace/somethingNew", {}), "", "a server request the checker does not know"),
    ],
)
def test_the_checker_fails_on_an_undeclared_capability(
    profile: str, message: dict[str, Any], asked: str, problem: str
) -> None:
    capabilities = (
        PLAIN_HOVER
        if not profile
        else types.ClientCapabilities()
        if profile == "none"
        else client_capabilities(profile)
    )
    problems = _problems(capabilities, message, asked=asked)
    assert any(problem in p for p in problems), problems


def test_what_was_declared_passes() -> None:
    vs_code = client_capabilities("visual-studio-code")
    edit = {"documentChanges": [CREATE, TEXT_EDIT]}
    messages = [
        _request("window/workDoneProgress/create", {"token": "t"}),
        {"method": "$/progress", "params": {"token": "t", "value": {"kind": "end"}}},
        _request("workspace/applyEdit", {"edit": edit}),
        _request("window/showDocument", {"uri": "file:///w/a.py"}),
        {"method": "window/showMessage", "params": {"type": 3, "message": "m"}},
    ]
    assert _problems(vs_code, *messages) == []
    plain = {"id": 1, "result": {"contents": {"kind": "plaintext", "value": "x\n\nvia local"}}}
    assert _problems(PLAIN_HOVER, plain, asked="textDocument/hover") == []
    save = {"id": 1, "result": {"capabilities": {"textDocumentSync": {"save": {"includeText": False}}}}}
    assert _problems(types.ClientCapabilities(), save, asked="initialize") == []
