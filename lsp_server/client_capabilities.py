"""What the editor of a session can do: the client's ``ClientCapabilities`` read once, as one typed object.

:class:`ClientSupport` is built at ``initialize`` (:meth:`ClientSupport.of`,
stored as :attr:`lsp_server.session.Session.client`) and is the only place
that reads lsprotocol's capability tree; handlers ask it
(``ls.session.client.document_changes``) instead of walking
``params.capabilities.text_document...`` themselves, so a capability is
interpreted one way everywhere (e.g. ``resourceOperations`` counts only with
``documentChanges``, since resource operations only exist inside
``documentChanges``). Before ``initialize`` (and for a client that declares
nothing) every field is False/empty: the server then sends the plainest form
of everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lsprotocol import types

from lsp_server.completion_items import CompletionSupport


def _kinds(values: object) -> tuple[str, ...]:
    """Enum or string values as their wire strings, in the client's order."""
    if not isinstance(values, list | tuple):
        return ()
    return tuple(str(getattr(value, "value", value)) for value in values)


@dataclass(frozen=True, slots=True)
class ClientSupport:
    """The client's declared capabilities that the server acts on (all False/empty: declared nothing)."""

    # -- code actions (textDocument.codeAction) ---------------------------
    code_action_literals: bool = False
    """``codeActionLiteralSupport``: ``CodeAction`` objects may be returned (else only ``Command``)."""
    code_action_resolve: bool = False
    """``resolveSupport`` is declared (``codeAction/resolve`` will be sent for the listed properties)."""
    code_action_resolve_properties: frozenset[str] = frozenset()
    """The properties the client resolves lazily (``edit``, ``command``, ...)."""
    code_action_data: bool = False
    """``dataSupport``: a code action's ``data`` is kept and sent back on resolve."""

    # -- workspace edits (workspace.workspaceEdit, workspace.applyEdit) ---
    apply_edit: bool = False
    """``workspace/applyEdit`` may be sent."""
    document_changes: bool = False
    """``WorkspaceEdit.documentChanges`` (versioned edits) is understood; else only ``changes``."""
    resource_operations: frozenset[str] = frozenset()
    """``create``/``rename``/``delete`` file operations allowed in ``documentChanges`` (empty without it)."""

    # -- markup ------------------------------------------------------------
    hover_formats: tuple[str, ...] = ()
    """``textDocument.hover.contentFormat``, the client's order."""
    completion_documentation_formats: tuple[str, ...] = ()
    """``completionItem.documentationFormat``, the client's order."""

    # -- completion ------------------------------------------------------
    completion: CompletionSupport = field(default_factory=CompletionSupport)
    """Edit ranges, insert/replace, label details, insertTextMode, snippets (:mod:`lsp_server.completion_items`)."""
    inline_completion: bool = False
    """``textDocument.inlineCompletion`` (LSP 3.18) is declared."""

    # -- window ------------------------------------------------------------
    work_done_progress: bool = False
    """Server-initiated ``$/progress`` (``window/workDoneProgress/create``) may be used."""
    show_document: bool = False
    """``window/showDocument`` may be sent."""
    show_message_request: bool = False
    """``window.showMessage`` is declared (``window/showMessageRequest`` with action items)."""
    diagnostic_data: bool = False
    """``publishDiagnostics.dataSupport``: a diagnostic's ``data`` comes back in ``codeAction`` context."""

    # -- general -----------------------------------------------------------
    position_encodings: tuple[str, ...] = ()
    """``general.positionEncodings`` as offered (empty: UTF-16 only)."""

    @property
    def can_create_files(self) -> bool:
        """A ``CreateFile`` operation may be sent (in ``documentChanges``)."""
        return "create" in self.resource_operations

    @property
    def hover_markdown(self) -> bool:
        """Hover contents may be Markdown."""
        return types.MarkupKind.Markdown.value in self.hover_formats

    @property
    def completion_markdown(self) -> bool:
        """Completion documentation may be Markdown."""
        return types.MarkupKind.Markdown.value in self.completion_documentation_formats

    @property
    def lazy_code_actions(self) -> bool:
        """Code actions may be listed without their edit and computed on ``codeAction/resolve``.

        Needs both ``resolveSupport`` for ``edit`` and ``dataSupport`` (the
        server finds the action's document, range and task in ``data``).
        """
        return self.code_action_resolve and self.code_action_data and "edit" in self.code_action_resolve_properties

    @classmethod
    def of(cls, capabilities: types.ClientCapabilities | None) -> ClientSupport:
        """The view of ``capabilities`` (the ``initialize`` request's); None: a client that declared nothing."""
        if capabilities is None:
            return cls()
        document = capabilities.text_document
        workspace = capabilities.workspace
        window = capabilities.window
        general = capabilities.general
        action = document.code_action if document is not None else None
        resolve = action.resolve_support if action is not None else None
        hover = document.hover if document is not None else None
        completion = document.completion if document is not None else None
        item = completion.completion_item if completion is not None else None
        diagnostics = document.publish_diagnostics if document is not None else None
        edit = workspace.workspace_edit if workspace is not None else None
        document_changes = bool(edit is not None and edit.document_changes)
        operations = _kinds(edit.resource_operations) if edit is not None and document_changes else ()
        show_document = window.show_document if window is not None else None
        return cls(
            code_action_literals=action is not None and action.code_action_literal_support is not None,
            code_action_resolve=resolve is not None,
            code_action_resolve_properties=frozenset(resolve.properties) if resolve is not None else frozenset(),
            code_action_data=bool(action is not None and action.data_support),
            apply_edit=bool(workspace is not None and workspace.apply_edit),
            document_changes=document_changes,
            resource_operations=frozenset(operations),
            hover_formats=_kinds(hover.content_format) if hover is not None else (),
            completion_documentation_formats=_kinds(item.documentation_format) if item is not None else (),
            completion=CompletionSupport.of(completion),
            inline_completion=document is not None and document.inline_completion is not None,
            work_done_progress=bool(window is not None and window.work_done_progress),
            show_document=bool(show_document is not None and show_document.support),
            show_message_request=window is not None and window.show_message is not None,
            diagnostic_data=bool(diagnostics is not None and diagnostics.data_support),
            position_encodings=_kinds(general.position_encodings) if general is not None else (),
        )
