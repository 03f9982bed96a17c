"""``ClientSupport``: the client's capabilities read once, the way every handler interprets them."""

from __future__ import annotations

import ast
from pathlib import Path

from lsprotocol import types
from pytest_lsp import client_capabilities

import lsp_server
from lsp_server.client_capabilities import ClientSupport


def test_nothing_declared_means_the_plainest_form_of_everything() -> None:
    for support in (ClientSupport.of(None), ClientSupport.of(types.ClientCapabilities())):
        assert support == ClientSupport()
        assert not support.lazy_code_actions and not support.can_create_files
        assert not support.hover_markdown and not support.document_changes and not support.apply_edit


def test_vs_code_declares_resolve_document_changes_and_markdown() -> None:
    support = ClientSupport.of(client_capabilities("visual-studio-code"))
    assert support.lazy_code_actions and support.code_action_resolve_properties == {"edit"}
    assert support.document_changes and support.can_create_files and support.apply_edit
    assert support.hover_markdown and support.completion_markdown and support.completion.snippets
    assert support.work_done_progress and support.show_document and support.diagnostic_data


def test_resource_operations_count_only_with_document_changes() -> None:
    # Neovim 0.11 lists create/rename/delete but not documentChanges, where they would have to go
    support = ClientSupport.of(client_capabilities("neovim@v0.11.0"))
    assert not support.document_changes and support.resource_operations == frozenset()
    assert not support.can_create_files
    assert support.position_encodings == ("utf-8", "utf-16", "utf-32")


def test_emacs_29_declares_neither_resolve_nor_data_nor_create() -> None:
    support = ClientSupport.of(client_capabilities("emacs@v29.1"))
    assert support.code_action_literals and not support.code_action_resolve and not support.code_action_data
    assert not support.lazy_code_actions
    assert support.document_changes and not support.can_create_files
    assert support.completion_documentation_formats == ()


def test_plaintext_only_hover() -> None:
    capabilities = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.PlainText])
        )
    )
    support = ClientSupport.of(capabilities)
    assert support.hover_formats == ("plaintext",) and not support.hover_markdown


def test_no_handler_reads_the_raw_capabilities() -> None:
    """Only the module that builds ClientSupport, the initialize handler that calls it and the protocol's
    encoding negotiation touch lsprotocol's capability tree; everything else asks ``session.client``."""
    package = Path(lsp_server.__file__).parent
    allowed = {"client_capabilities.py", "handlers/workspace.py", "protocol.py"}
    readers = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("capabilities", "client_capabilities"):
                readers.append(f"{relative}:{node.lineno}")
    assert {r.split(":")[0] for r in readers} <= allowed, readers
