"""``WorkspaceEdit`` building: the project's file changes in the editor's terms (positions in its encoding).

Not a handler: the code-action resolver and the test-suite command use it.
:func:`workspace_edit` turns checked :class:`~lsp_server.tasks.edits.FileChange`
values into ``changes`` (one edit of the action's own document, or any edit
for a client without ``documentChanges``) or versioned ``documentChanges``
(``CreateFile`` first for new files; a file the client cannot create is
shown in a message instead); :func:`suite_edit` creates or replaces whole
generated files, as far as the editor's capabilities allow. What the client
accepts comes from :attr:`Session.client <lsp_server.session.Session.client>`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lsprotocol import types

from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import path_to_uri, uri_to_path
from lsp_server.analysis.positions import LineTable, encode_text, position_at
from lsp_server.host import Host
from lsp_server.tasks.edits import FileChange, Replacement
from lsp_server.tasks.findings import GeneratedFile
from lsp_server.tasks.gathering import Gathered

DocumentChange = types.TextDocumentEdit | types.CreateFile | types.RenameFile | types.DeleteFile


def range_json(r: types.Range) -> dict[str, Any]:
    """``r`` as plain JSON (to carry it in a code action's ``data``)."""
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def text_edit(ls: Host, doc: Document, rep: Replacement) -> types.TextEdit:
    """The ``TextEdit`` of the byte-range replacement ``rep`` in ``doc``."""
    rng = types.Range(start=ls.position(doc, rep.start), end=ls.position(doc, rep.end))
    return types.TextEdit(range=rng, new_text=rep.text)


def _versioned(uri: str, version: int | None, edits: list[types.TextEdit]) -> types.TextDocumentEdit:
    identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return types.TextDocumentEdit(text_document=identifier, edits=edits)


def show_uncreated(ls: Host, uri: str, text: str) -> str:
    """Tell the user the new file ``uri`` could not be created, with its intended path and ``text``; that path."""
    path = uri_to_path(uri) if uri.startswith("file:") else None
    roots = [r for r in ls.session.roots if path is not None and path.is_relative_to(r)]
    where = path.relative_to(max(roots, key=lambda r: len(r.parts))).as_posix() if path and roots else uri
    ls.show_message(
        f"hybrid-assist: this editor cannot create files through an edit, so {where} was not created. "
        f"Its text follows; save it as {where}:\n\n{text}",
        types.MessageType.Info,
    )
    return where


def workspace_edit(ls: Host, changes: tuple[FileChange, ...], uri: str) -> types.WorkspaceEdit | None:
    """The editor's view of ``changes`` (positions in the session's encoding), in a shape it accepts.

    Versioned ``documentChanges`` (``CreateFile`` first for a new file) when
    the client supports them and the edit is more than one change of the
    action's own document ``uri``; plain ``changes`` otherwise. A new file the
    client cannot create (no ``create`` resource operation) is left out and
    its text shown in a message with its intended path; None when nothing is left.
    """
    client = ls.session.client
    if not client.can_create_files:
        for change in changes:
            if change.old is None:
                show_uncreated(ls, change.uri, change.new)
        changes = tuple(change for change in changes if change.old is not None)
        if not changes:
            return None
    per_file: list[tuple[FileChange, list[types.TextEdit], int | None]] = []
    for change in changes:
        open_doc = ls.document(change.uri)
        if open_doc is not None and change.old is not None:
            converter = open_doc
        else:
            converter = Document(change.uri, change.old or "")
        edits = [text_edit(ls, converter, rep) for rep in change.edits()]
        per_file.append((change, edits, open_doc.version if open_doc is not None else None))
    alone = len(per_file) == 1 and per_file[0][0].uri == uri and per_file[0][0].old is not None
    if alone or not client.document_changes:
        plain: dict[str, list[types.TextEdit]] = {}
        for change, edits, _ in per_file:
            plain.setdefault(change.uri, []).extend(edits)
        return types.WorkspaceEdit(changes=plain)
    document_changes: list[DocumentChange] = []
    for change, edits, version in per_file:
        if change.old is None:
            options = types.CreateFileOptions(overwrite=False, ignore_if_exists=False)
            document_changes.append(types.CreateFile(uri=change.uri, options=options))
            version = None
        document_changes.append(_versioned(change.uri, version, list(edits)))
    return types.WorkspaceEdit(document_changes=document_changes)


def suite_edit(
    ls: Host, root: Path, files: tuple[GeneratedFile, ...], gathered: Gathered
) -> tuple[types.WorkspaceEdit | None, list[dict[str, object]], str]:
    """The WorkspaceEdit creating or replacing ``files``; None and why when the editor cannot apply it.

    A new file the editor cannot create (no ``workspace/applyEdit``, or no
    ``create`` resource operation) is shown in a message with its intended
    path instead (listed with ``"shown": true``); the others are still edited.
    """
    client = ls.session.client
    can_create = client.apply_edit and client.can_create_files
    changes: list[DocumentChange] = []
    plain: dict[str, list[types.TextEdit]] = {}
    listed: list[dict[str, object]] = []
    shown: list[str] = []
    for generated in files:
        path = root / generated.path
        real = os.path.realpath(path)
        uri = gathered.uri_for(real) if real in gathered.client_uris else path_to_uri(path)
        existing = gathered.read(real) if os.path.exists(real) or real in gathered.texts else None
        doc = ls.document(uri)
        if existing is None and not can_create:
            shown.append(show_uncreated(ls, uri, generated.content))
            listed.append({"path": generated.path, "uri": uri, "created": False, "shown": True})
            continue
        if existing is None:
            changes.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False)))
            end = types.Position(line=0, character=0)
        else:
            data = encode_text(existing)
            line, character = position_at(data, LineTable(data), len(data), ls.session.encoding)
            end = types.Position(line=line, character=character)
        edit = types.TextEdit(
            range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=generated.content
        )
        version = doc.version if doc is not None and existing is not None else None
        changes.append(_versioned(uri, version, [edit]))
        plain[uri] = [edit]
        listed.append({"path": generated.path, "uri": uri, "created": existing is None})
    said = f" (the text of {', '.join(shown)} was shown instead)" if shown else ""
    if not client.apply_edit:
        return None, listed, "the editor does not support workspace/applyEdit" + said
    if not plain:
        return None, listed, "the editor cannot create files through workspace/applyEdit" + said
    if client.document_changes:
        return types.WorkspaceEdit(document_changes=changes), listed, ""
    return types.WorkspaceEdit(changes=plain), listed, ""
