"""Code actions: listed cheaply, computed only on ``codeAction/resolve``."""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from lsp_server.requests import AssistRequest
from lsp_server.server import HybridLanguageServer
from lsp_server.tasks.answers import first_code_block
from routing.tasks import TaskKind

logger = logging.getLogger(__name__)

#: task -> (title, code action kind); order is the order shown to the user
ACTIONS: dict[TaskKind, tuple[str, str]] = {
    TaskKind.EXPLAIN: ("AI: explain this code", types.CodeActionKind.Empty),
    TaskKind.DOCSTRING: ("AI: add or refresh the docstring", types.CodeActionKind.RefactorRewrite),
    TaskKind.NAMING: ("AI: suggest better names", types.CodeActionKind.RefactorRewrite),
    TaskKind.REFACTOR: ("AI: refactor the selection", types.CodeActionKind.RefactorRewrite),
    TaskKind.FIX: ("AI: fix this problem", types.CodeActionKind.QuickFix),
    TaskKind.TESTS: ("AI: generate tests", types.CodeActionKind.Refactor),
    TaskKind.MULTI_FILE_REFACTOR: ("AI: refactor across files", types.CodeActionKind.Refactor),
    TaskKind.MIGRATION: ("AI: migrate this code", types.CodeActionKind.Refactor),
}


def _range_json(r: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def register(server: HybridLanguageServer) -> None:
    options = types.CodeActionOptions(
        resolve_provider=True,
        code_action_kinds=sorted({kind for _, kind in ACTIONS.values() if kind}),
    )

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)
    def code_action(ls: HybridLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        doc = ls.document(params.text_document.uri)
        if doc is None:
            return []
        diagnostics = params.context.diagnostics or []
        actions = []
        for task, (title, kind) in ACTIONS.items():
            if task == TaskKind.FIX and not diagnostics:
                continue
            data: dict[str, Any] = {"uri": doc.uri, "task": task.value, "range": _range_json(params.range)}
            if task == TaskKind.FIX:
                data["diagnostic"] = diagnostics[0].message
                title = f"AI: fix “{diagnostics[0].message[:60]}”"
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=kind or None,
                    diagnostics=diagnostics[:1] if task == TaskKind.FIX else None,
                    data=data,
                )
            )
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: HybridLanguageServer, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        doc = ls.document(str(data.get("uri", "")))
        try:
            task = TaskKind(str(data.get("task", "")))
            rng = ls.protocol._converter.structure(data["range"], types.Range)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("cannot resolve code action: %s", exc)
            return action
        if doc is None:
            ls.show_message("hybrid-assist: the document is no longer open", types.MessageType.Warning)
            return action
        start, end = ls.offset(doc, rng.start), ls.offset(doc, rng.end)
        request = AssistRequest(
            task,
            doc.uri,
            start,
            selection=(start, end) if end > start else None,
            instruction=str(data.get("diagnostic") or data.get("target") or ""),
        )
        result = await ls.assistant.run(ls.session, doc, request)
        footer = result.footer()
        if not result.text:
            ls.show_message(f"hybrid-assist: no answer ({result.empty_reason}). {footer}", types.MessageType.Warning)
            return action
        code = first_code_block(result.text)
        if task in (TaskKind.EXPLAIN, TaskKind.NAMING) or code is None:
            ls.show_message(f"{result.text.strip()}\n\n{footer}", types.MessageType.Info)
            return action
        if request.selection is None:
            sl, sc, el, ec = result.explanation.scope.unit_range
            start, end = doc.offset_at(sl, sc, "utf-8"), doc.offset_at(el, ec, "utf-8")
        edit_range = types.Range(start=ls.position(doc, start), end=ls.position(doc, end))
        action.edit = types.WorkspaceEdit(changes={doc.uri: [types.TextEdit(range=edit_range, new_text=code)]})
        return action
