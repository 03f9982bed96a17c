"""Completion and inline completion (LSP 3.18), plus the editor's accept/reject feedback.

A new request for a document cancels the previous one (superseded, and so
aborted in the engine); each waits ``[completion] debounce_ms`` first so a
burst of keystrokes costs one model call. An item's documentation is the
suggestion as a Markdown code block with the route footer for a client that
reads Markdown, the footer alone (plain text) for any other.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types

from lsp_server.completion_items import completion_list, typed_word
from lsp_server.host import Host, Registrar
from lsp_server.markup import fenced, with_footer
from lsp_server.requests import AssistRequest, AssistResult
from routing.tasks import TaskKind

logger = logging.getLogger(__name__)

FEEDBACK_NOTIFICATION = "hybrid/completionFeedback"


async def _complete(ls: Host, uri: str, position: types.Position, task: TaskKind) -> AssistResult | None:
    """Run one completion, superseding any still running for the same document."""
    doc = ls.document(uri)
    settings = ls.session.settings.completion
    if doc is None or not settings.enabled:
        return None
    previous = ls.inflight_completions.pop(uri, None)
    if previous is not None and not previous.done():
        previous.cancel()
    current = asyncio.current_task()
    if current is not None:
        ls.inflight_completions[uri] = current
    try:
        if settings.debounce_ms:
            await asyncio.sleep(settings.debounce_ms / 1000.0)
        request = AssistRequest(task=task, uri=uri, byte_offset=ls.offset(doc, position))
        result = await ls.assistant.run(ls.session, doc, request)
    finally:
        if ls.inflight_completions.get(uri) is current:
            del ls.inflight_completions[uri]
    if result.notice:
        ls.tell_once(result.notice, types.MessageType.Warning)
    return result


def _route_data(result: AssistResult, request_id: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "target": result.target or result.explanation.decision.target,
        "model": result.model,
        "cloud": result.cloud,
        "cost_usd": round(result.cost_usd, 6),
        "latency_ms": round(result.latency_ms, 1),
    }


def register(server: Registrar) -> None:
    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def completion(ls: Host, params: types.CompletionParams) -> types.CompletionList:
        doc = ls.document(params.text_document.uri)  # the typed word as it is now, before the model is asked
        word = None if doc is None else typed_word(doc, ls.offset(doc, params.position), ls.session.encoding)
        result = await _complete(ls, params.text_document.uri, params.position, TaskKind.COMPLETION)
        if result is None or word is None or not result.text.strip():
            return types.CompletionList(is_incomplete=True, items=[])
        data = _route_data(result, result.request_id)
        route = f"hybrid-assist · {data['target']} · {result.model or 'n/a'}"
        client = ls.session.client
        documentation: str | types.MarkupContent = result.footer()
        if client.completion_markdown:  # the suggestion highlighted, with the route under it
            code = fenced(word.prefix + result.text, doc.language if doc is not None else None)
            documentation = with_footer(code, result.footer(), client.completion_documentation_formats)
        support = client.completion
        return completion_list(word, result.text, support, route=route, documentation=documentation, data=data)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: Host, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        result = await _complete(ls, params.text_document.uri, params.position, TaskKind.INLINE_COMPLETION)
        if result is None or not result.text:
            return types.InlineCompletionList(items=[])
        data = _route_data(result, result.request_id)
        item = types.InlineCompletionItem(
            insert_text=result.text,
            range=types.Range(start=params.position, end=params.position),
            command=types.Command(
                title="hybrid-assist: accepted",
                command="hybrid.completionAccepted",
                arguments=[data],
            ),
        )
        return types.InlineCompletionList(items=[item])

    @server.feature(FEEDBACK_NOTIFICATION)
    def completion_feedback(ls: Host, params: Any) -> None:
        accepted = bool(getattr(params, "accepted", False))
        ls.spawn(ls.assistant.record_feedback(str(getattr(params, "id", "") or ""), accepted))

    @server.command("hybrid.completionAccepted")
    def completion_accepted(ls: Host, *args: Any) -> None:
        data = args[0] if args and isinstance(args[0], dict) else {}
        ls.spawn(ls.assistant.record_feedback(str(data.get("id", "")), True))
