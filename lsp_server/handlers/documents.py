"""Text document sync: open, incremental change (in the negotiated encoding), close, save.

A change also moves the document's ``hybrid-review`` findings with its lines
(:meth:`lsp_server.review.ReviewStore.follow`) and republishes them when any
moved or was dropped. ``textDocumentSync.save`` is announced as ``SaveOptions``
(``includeText`` false: the saved text is the open document's, which the server has).
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from lsp_server.analysis.paths import uri_to_path
from lsp_server.analysis.scope import measure_scope
from lsp_server.host import Host, Registrar
from lsp_server.review import TextChange
from routing.tasks import TaskKind

logger = logging.getLogger(__name__)

#: a just-opened document is analysed this long after didOpen, so the first request finds it ready
WARM_DELAY_S = 0.2


def _warm(ls: Host, uri: str) -> None:
    """Parse and analyse a just-opened document in idle time (the first request would otherwise pay it)."""
    doc = ls.document(uri)
    if doc is None:
        return
    try:
        settings = ls.session.settings.analysis
        measure_scope(doc, 0, TaskKind.COMPLETION.value, ls.session.index, settings)
    except Exception:  # warming is an optimisation; the request will report any real problem
        logger.debug("warming %s failed", uri, exc_info=True)


def register(server: Registrar) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: Host, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        doc = ls.session.documents.open(item.uri, item.text, item.language_id, item.version)
        ls.session.outcomes.seen(doc)  # a file an edit created, opened with it
        asyncio.get_running_loop().call_later(WARM_DELAY_S, _warm, ls, item.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: Host, params: types.DidChangeTextDocumentParams) -> None:
        doc = ls.document(params.text_document.uri)
        if doc is None:
            logger.warning("didChange for a document that is not open: %s", params.text_document.uri)
            return
        version = params.text_document.version
        review, moved = ls.session.review, False
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start, end = change.range.start, change.range.end
                edit = TextChange(start, end, change.text)
                moved = review.follow(doc.uri, edit, ls.session.encoding) or moved
                doc.apply_change(
                    (start.line, start.character),
                    (end.line, end.character),
                    change.text,
                    ls.session.encoding,
                    version,
                )
            else:
                moved = review.follow_text(doc.uri, doc.text, change.text, ls.session.encoding) or moved
                doc.replace_all(change.text, version)
        if moved:  # the hybrid-review findings moved with the lines, or went with them
            ls.publish_diagnostics(doc.uri, review.diagnostics(doc.uri))
        ls.session.outcomes.seen(doc)  # an edit given to the editor, applied?
        ls.schedule_index_refresh(doc.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: Host, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        task = ls.inflight_completions.pop(uri, None)
        if task is not None:
            task.cancel()
        ls.session.documents.close(uri)
        ls.session.outcomes.closed(uri)
        index = ls.session.index
        if index is not None and uri.startswith("file:"):
            index.update_file(uri_to_path(uri))  # back to the saved content on disk

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: Host, params: types.DidSaveTextDocumentParams) -> None:
        index = ls.session.index
        uri = params.text_document.uri
        if index is None or not uri.startswith("file:"):
            return
        doc = ls.document(uri)
        text = params.text if params.text is not None else (doc.text if doc else None)
        index.update_file(uri_to_path(uri), text)
