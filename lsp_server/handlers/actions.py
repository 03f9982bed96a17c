"""Code actions: review quick fixes first, then AI actions listed cheaply and computed only on resolve.

``textDocument/codeAction`` (pygls allows one handler) returns the quick
fixes of the ``hybrid-review`` findings in the range
(:func:`~lsp_server.review.review_fix_actions`), then the AI
actions, without any model call. ``codeAction/resolve`` computes an AI
action's edit (:mod:`lsp_server.resolver`): the answer becomes file changes
(:mod:`lsp_server.tasks.edits`) applied to a copy and re-parsed; an answer
that is malformed or breaks the syntax is sent back once with the reason,
then refused with a message and no edit (:mod:`lsp_server.tasks.checked`).
Edits are only ever returned as a ``WorkspaceEdit`` for the editor to apply
(:mod:`lsp_server.edits`). Migration targets come from marker comments or
the action's data (:mod:`lsp_server.tasks.migration`).

An editor that does not resolve edits lazily (no ``resolveSupport`` for
``edit`` with ``dataSupport``, e.g. Eglot before 1.14) gets each AI action as
the ``hybrid.runAction`` command instead, which computes the same edit and
applies it with ``workspace/applyEdit`` (:mod:`lsp_server.run_action`).
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from lsp_server.analysis.documents import Document
from lsp_server.client_capabilities import ClientSupport
from lsp_server.edits import range_json
from lsp_server.host import Host, Registrar
from lsp_server.outcomes import watch_fixes
from lsp_server.resolver import resolve_edit
from lsp_server.review import review_fix_actions
from lsp_server.run_action import RUN_ACTION, as_command, run_action
from lsp_server.tasks.migration import migration_targets
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

#: The kinds the provider announces: the AI actions' and the review fixes' (quick fixes).
CODE_ACTION_KINDS = sorted({kind for _, kind in ACTIONS.values() if kind} | {types.CodeActionKind.QuickFix})


def list_actions(
    doc: Document, rng: types.Range, diagnostics: list[types.Diagnostic], client: ClientSupport | None = None
) -> list[types.CodeAction | types.Command]:
    """The AI actions offered for ``rng`` (no model call, no edit yet), in the form ``client`` can run.

    A client that resolves edits lazily (:attr:`ClientSupport.lazy_code_actions`) gets each action with
    its ``data``, computed on ``codeAction/resolve``; any other gets it as the ``hybrid.runAction``
    command (:mod:`lsp_server.run_action`), inside a ``CodeAction`` when it takes literals.
    """
    lazy = client is None or client.lazy_code_actions
    literals = client is None or client.code_action_literals
    actions: list[types.CodeAction | types.Command] = []

    def offer(title: str, kind: str, data: dict[str, Any], diagnostic: types.Diagnostic | None = None) -> None:
        if not literals:
            actions.append(as_command(data, title))
            return
        action = types.CodeAction(title=title, kind=kind or None, diagnostics=[diagnostic] if diagnostic else None)
        if lazy:
            action.data = data
        else:
            action.command = as_command(data, title)
        actions.append(action)

    for task, (title, kind) in ACTIONS.items():
        base: dict[str, Any] = {"uri": doc.uri, "task": task.value, "range": range_json(rng)}
        if task == TaskKind.FIX:
            if not diagnostics:
                continue
            first = diagnostics[0]
            data = {**base, "diagnostic": first.message, "diagnostic_line": first.range.start.line}
            offer(f"AI: fix “{first.message[:60]}”", kind, data, first)
        elif task == TaskKind.MIGRATION:
            for target in migration_targets(doc.text):
                offer(f"AI: migrate to {target}", kind, {**base, "target": target})
        else:
            offer(title, kind, base)
    return actions


def code_actions(ls: Host, params: types.CodeActionParams) -> list[types.CodeAction | types.Command]:
    """The review quick fixes for the range first, then the AI actions (none for an unknown document)."""
    session = ls.session
    fixes: list[types.CodeAction | types.Command] = list(
        review_fix_actions(session.review, session.documents, session.encoding, params)
    )
    watch_fixes(ls, params.text_document.uri, fixes)  # applied or not: the review's ledger feedback
    doc = ls.document(params.text_document.uri)
    if doc is None:
        return fixes
    return fixes + list_actions(doc, params.range, list(params.context.diagnostics or []), session.client)


async def resolve_action(ls: Host, action: types.CodeAction) -> types.CodeAction:
    """Compute ``action``'s edit (or message); the action comes back without an edit on any failure."""
    data = action.data if isinstance(action.data, dict) else {}
    doc = ls.document(str(data.get("uri", "")))
    try:
        task = TaskKind(str(data.get("task", "")))
        rng = ls.structure(data["range"], types.Range)
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("cannot resolve code action: %s", exc)
        return action
    if doc is None:
        ls.show_message("hybrid-assist: the document is no longer open", types.MessageType.Warning)
        return action
    start, end = sorted((ls.offset(doc, rng.start), ls.offset(doc, rng.end)))
    edit = await resolve_edit(ls, doc, task, (start, end), data, action.title)
    if edit is not None:
        action.edit = edit
    return action


def register(server: Registrar) -> None:
    options = types.CodeActionOptions(resolve_provider=True, code_action_kinds=CODE_ACTION_KINDS)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)
    def code_action(ls: Host, params: types.CodeActionParams) -> list[types.CodeAction | types.Command]:
        return code_actions(ls, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: Host, action: types.CodeAction) -> types.CodeAction:
        return await resolve_action(ls, action)

    @server.command(RUN_ACTION)
    async def run(ls: Host, *args: Any) -> dict[str, object]:
        return await run_action(ls, args)
