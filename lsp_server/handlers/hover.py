"""Hover: an explanation of the code under the cursor, with the route in a footer."""

from __future__ import annotations

from lsprotocol import types

from lsp_server.requests import AssistRequest
from lsp_server.server import HybridLanguageServer
from routing.tasks import TaskKind


def register(server: HybridLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: HybridLanguageServer, params: types.HoverParams) -> types.Hover | None:
        doc = ls.document(params.text_document.uri)
        if doc is None:
            return None
        request = AssistRequest(TaskKind.EXPLAIN, doc.uri, ls.offset(doc, params.position))
        result = await ls.assistant.run(ls.session, doc, request)
        if result.notice:
            ls.tell_once(result.notice, types.MessageType.Warning)
        body = result.text.strip() or f"_hybrid-assist: no explanation ({result.empty_reason or 'empty answer'})_"
        if ls.session.settings.server.route_footer:
            body += f"\n\n---\n<sub>{result.footer()}</sub>"
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=body))
