"""Hover: an explanation of the code under the cursor, with the route in a footer, cached per session.

The explained node is the unit (function, class, ...) that scope measurement
finds around the cursor, the same code the assistant sends to the model.
Before any model call the route is decided (``Assistant.explain``); the pair
of the node's text and the route keys a small LRU
(:mod:`lsp_server.tasks.hover_cache`, one per session: ``Session.explanations``), so hovering unchanged code again
answers from the cache, and its footer says so. The contents are Markdown for
a client that lists it, plain text otherwise (:mod:`lsp_server.markup`).
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.analysis.documents import Document
from lsp_server.host import Host, Registrar
from lsp_server.markup import with_footer
from lsp_server.requests import AssistRequest, RouteExplanation
from lsp_server.tasks.hover_cache import CachedExplanation, explanation_key
from routing.tasks import TaskKind


def _node_text(doc: Document, explanation: RouteExplanation) -> str:
    """The text of the unit being explained (the whole document when there is none)."""
    sl, sc, el, ec = explanation.scope.unit_range
    start, end = doc.offset_at(sl, sc, "utf-8"), doc.offset_at(el, ec, "utf-8")
    return doc.text_between(start, end) if end > start else doc.text


def register(server: Registrar) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: Host, params: types.HoverParams) -> types.Hover | None:
        doc = ls.document(params.text_document.uri)
        if doc is None:
            return None
        request = AssistRequest(TaskKind.EXPLAIN, doc.uri, ls.offset(doc, params.position))
        explanation = ls.assistant.explain(ls.session, doc, request)
        decision = explanation.decision
        key = explanation_key(
            doc.language, _node_text(doc, explanation), TaskKind.EXPLAIN.value, decision.target, decision.model
        )
        cache = ls.session.explanations
        cached = cache.get(key)
        if cached is not None:
            text, footer = cached.text, f"{cached.footer} · cached"
        else:
            result = await ls.assistant.run(ls.session, doc, request)
            if result.notice:
                ls.tell_once(result.notice, types.MessageType.Warning)
            text, footer = result.text.strip(), result.footer()
            if text:
                cache.put(key, CachedExplanation(text, footer))
            else:
                text = f"_hybrid-assist: no explanation ({result.empty_reason or 'empty answer'})_"
        shown_footer = footer if ls.session.settings.server.route_footer else ""
        return types.Hover(contents=with_footer(text, shown_footer, ls.session.client.hover_formats))
