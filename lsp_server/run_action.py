"""``hybrid.runAction``: an AI code action run as a command, for editors that never send ``codeAction/resolve``.

Not a handler: :mod:`lsp_server.handlers.actions` offers each AI action as a
``Command`` (inside a ``CodeAction`` when the client takes literals) with the
argument :func:`action_argument` builds, and registers :data:`RUN_ACTION`,
which calls :func:`run_action`. It computes the edit exactly as
``codeAction/resolve`` would (:func:`lsp_server.resolver.resolve_edit`) under
a cancellable work-done progress token (:func:`lsp_server.long_commands.with_progress`:
``window/workDoneProgress/cancel`` stops it, since pygls does not cancel a
running command on ``$/cancelRequest``), then sends it with
``workspace/applyEdit``. An editor that cannot apply edits is shown the
answer in a message instead; one that declines the edit is told so.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from lsp_server.host import Host
from lsp_server.long_commands import Report, with_progress
from lsp_server.resolver import resolve_edit
from routing.tasks import TaskKind

RUN_ACTION = "hybrid.runAction"
#: The most characters of an answer shown in a message (an editor that cannot apply edits).
MAX_SHOWN_CHARS = 20_000
NO_APPLY_EDIT = "the editor does not support workspace/applyEdit"


def action_argument(data: dict[str, Any], title: str) -> dict[str, Any]:
    """The command's one argument: the action's ``{uri, range, task, ...}`` and its title."""
    return {**data, "title": title}


def as_command(data: dict[str, Any], title: str) -> types.Command:
    """The ``hybrid.runAction`` command that runs the action ``title`` with ``data``."""
    return types.Command(title=title, command=RUN_ACTION, arguments=[action_argument(data, title)])


def _parse(ls: Host, args: tuple[Any, ...]) -> tuple[dict[str, Any], TaskKind, types.Range, str]:
    if len(args) != 1 or not isinstance(args[0], dict):
        raise JsonRpcInvalidParams(f"{RUN_ACTION} takes one argument {{uri, range, task, ...}}")
    arg: dict[str, Any] = args[0]
    if not isinstance(arg.get("uri"), str):
        raise JsonRpcInvalidParams(f"{RUN_ACTION}: 'uri' must be a string")
    try:
        task = TaskKind(str(arg.get("task", "")))
        rng = ls.structure(arg["range"], types.Range)
    except Exception as exc:  # ValueError, KeyError, cattrs' validation errors (an ExceptionGroup)
        raise JsonRpcInvalidParams(f"{RUN_ACTION}: bad 'task' or 'range' ({exc})") from None
    title = arg.get("title")
    return arg, task, rng, title if isinstance(title, str) and title else f"AI: {task.value}"


def _shown(uri: str, edit: types.TextEdit | types.AnnotatedTextEdit | types.SnippetTextEdit) -> str:
    text = edit.snippet.value if isinstance(edit, types.SnippetTextEdit) else edit.new_text
    return f"{uri} line {edit.range.start.line + 1}:\n{text}"


def answer_text(edit: types.WorkspaceEdit) -> str:
    """The text an edit would put in each file, for an editor that cannot apply it."""
    parts: list[str] = []
    for uri, edits in (edit.changes or {}).items():
        parts += [_shown(uri, e) for e in edits]
    for change in edit.document_changes or ():
        if isinstance(change, types.TextDocumentEdit):
            parts += [_shown(change.text_document.uri, e) for e in change.edits]
        elif isinstance(change, types.CreateFile):
            parts.append(f"(a new file: {change.uri})")
    text = "\n\n".join(parts)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "\n[… cut]"


async def _deliver(ls: Host, task: TaskKind, title: str, edit: types.WorkspaceEdit) -> dict[str, object]:
    """Apply ``edit`` through the editor, or show it when the editor cannot apply edits."""
    if not ls.session.client.apply_edit:
        said = f"hybrid-assist: {title}: {NO_APPLY_EDIT}, so here is the answer to apply by hand:"
        ls.show_message(f"{said}\n\n{answer_text(edit)}", types.MessageType.Info)
        return {"task": task.value, "edit": True, "applied": False, "shown": True, "failure_reason": NO_APPLY_EDIT}
    try:
        response = await ls.apply_edit(edit, title)
    except JsonRpcException as exc:  # the editor answered with an error (Eglot: "User cancelled server edit")
        response = types.ApplyWorkspaceEditResult(applied=False, failure_reason=exc.message or str(exc))
    if response.applied:
        return {"task": task.value, "edit": True, "applied": True}
    reason = response.failure_reason or "the editor did not apply the edit"
    ls.show_message(f"hybrid-assist: {title}: not applied: {reason}", types.MessageType.Warning)
    return {"task": task.value, "edit": True, "applied": False, "failure_reason": reason}


async def run_action(ls: Host, args: tuple[Any, ...]) -> dict[str, object]:
    """Run the AI action of ``args`` (see :func:`action_argument`) and apply its edit; what came of it."""
    data, task, rng, title = _parse(ls, args)
    doc = ls.document(data["uri"])
    if doc is None:
        reason = "the document is no longer open"
        ls.show_message(f"hybrid-assist: {title}: {reason}", types.MessageType.Warning)
        return {"task": task.value, "edit": False, "applied": False, "failure_reason": reason}
    start, end = sorted((ls.offset(doc, rng.start), ls.offset(doc, rng.end)))

    async def body(report: Report) -> dict[str, object]:
        report("asking the model", 10)
        edit = await resolve_edit(ls, doc, task, (start, end), data, title)
        if edit is None:  # explained, or no edit: the resolver told the user what came of it
            return {"task": task.value, "edit": False, "applied": False}
        report("applying the edit", 90)
        return await _deliver(ls, task, title, edit)

    return await with_progress(ls, title, body)
