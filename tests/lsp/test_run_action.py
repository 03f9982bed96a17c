"""``hybrid.runAction``: AI code actions for editors that never send ``codeAction/resolve`` (issue 15 part 2).

The real server, its instant engine giving a docstring answer, and pytest-lsp
clients with the Emacs 29.1 profile (Eglot: no ``resolveSupport``, no
``dataSupport``) — and that profile without ``workspace.applyEdit`` — against
the VS Code profile, which keeps the lazy ``data`` + resolve path.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import LanguageClient

from tests.lsp.harness import (
    command,
    init_params,
    open_doc,
    progress_token,
    progress_value,
    server_env,
    start_stdio,
    write_config,
)

SOURCE = "def total(a, b):\n    return a + b\n"
DOCSTRING = '    """Return the sum of a and b."""\n'
ANSWER = f"```python\ndef total(a, b):\n{DOCSTRING}    return a + b\n```\n"
TITLE = "AI: add or refresh the docstring"
AT = types.Range(start=types.Position(line=1, character=4), end=types.Position(line=1, character=4))
AT_JSON = {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}}


async def _editor(
    tmp_path: Path,
    stop_later: list[LanguageClient],
    profile: str = "emacs",
    *,
    apply: types.ApplyWorkspaceEditResult | list[types.ApplyWorkspaceEditResult | Exception] | None = None,
    reply: str = ANSWER,
    delay_ms: float = 0.0,
) -> tuple[LanguageClient, str, list[types.ApplyWorkspaceEditParams]]:
    """A client of ``profile`` with ``demo.py`` open; ``apply``: its answer to applyEdit (None: no applyEdit).

    A list of answers is given in turn (the last one from then on); an exception is answered as an error.
    """
    root = tmp_path / "project"
    root.mkdir()
    (root / "demo.py").write_text(SOURCE, encoding="utf-8")
    local = f'backend = "instant"\ninstant_reply = {json.dumps(reply)}\ninstant_token_delay_ms = {delay_ms}\n'
    client = await start_stdio(server_env(tmp_path, write_config(tmp_path, local=local)))
    stop_later.append(client)
    applied: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        applied.append(params)
        answers = apply if isinstance(apply, list) else [apply or types.ApplyWorkspaceEditResult(applied=False)]
        answer = answers[min(len(applied), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    params = init_params(root, profile)
    if apply is None:
        assert params.capabilities.workspace is not None
        params.capabilities.workspace.apply_edit = False
    result = await client.initialize_session(params)
    commands = result.capabilities.execute_command_provider
    assert commands is not None and "hybrid.runAction" in commands.commands
    uri = (root / "demo.py").as_uri()
    open_doc(client, uri, SOURCE)
    return client, uri, applied


async def _offered(client: LanguageClient, uri: str) -> list[types.CodeAction | types.Command]:
    context = types.CodeActionContext(diagnostics=[])
    params = types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri), range=AT, context=context)
    return list(await client.text_document_code_action_async(params) or [])


async def _docstring_command(client: LanguageClient, uri: str) -> types.Command:
    """The docstring action offered to the client: a CodeAction carrying the command, without data or edit."""
    action = next(a for a in await _offered(client, uri) if a.title == TITLE)
    assert isinstance(action, types.CodeAction)
    assert action.data is None and action.edit is None and action.command is not None
    return action.command


async def test_eglot_gets_commands_that_apply_the_docstring(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    applied_ok = types.ApplyWorkspaceEditResult(applied=True)
    client, uri, applied = await _editor(tmp_path, stop_later, apply=applied_ok)
    cmd = await _docstring_command(client, uri)
    assert cmd.command == "hybrid.runAction"
    assert list(cmd.arguments or ()) == [
        {
            "uri": uri,
            "task": "docstring",
            "range": AT_JSON,
            "title": TITLE,
        }
    ]
    result = await command(client, cmd.command, *(cmd.arguments or ()))
    assert result == {"task": "docstring", "edit": True, "applied": True}, [m.message for m in client.messages]
    [sent] = applied
    assert sent.label == TITLE
    assert sent.edit.changes is not None
    [edit] = sent.edit.changes[uri]
    assert (edit.range.start.line, edit.range.start.character, edit.new_text) == (1, 0, DOCSTRING)
    reports = [progress_value(r) for r in client.progress_reports[await progress_token(client, TITLE)]]
    assert [r.kind for r in (reports[0], reports[-1])] == ["begin", "end"] and reports[0].cancellable


async def test_resolving_clients_keep_the_lazy_action(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    client, uri, _ = await _editor(
        tmp_path, stop_later, "visual-studio-code", apply=types.ApplyWorkspaceEditResult(applied=True)
    )
    action = next(a for a in await _offered(client, uri) if a.title == TITLE)
    assert isinstance(action, types.CodeAction)
    assert action.command is None and action.edit is None
    assert isinstance(action.data, dict) and action.data["task"] == "docstring"


async def test_an_editor_without_apply_edit_is_shown_the_answer(
    tmp_path: Path, stop_later: list[LanguageClient]
) -> None:
    client, uri, applied = await _editor(tmp_path, stop_later, apply=None)
    cmd = await _docstring_command(client, uri)
    result = await command(client, cmd.command, *(cmd.arguments or ()))
    assert result["applied"] is False and result["shown"] is True, result
    assert result["failure_reason"] == "the editor does not support workspace/applyEdit"
    assert not applied
    [shown] = [m.message for m in client.messages if "apply by hand" in m.message]
    assert f"{uri} line 2:\n{DOCSTRING}" in shown


async def test_a_declined_edit_and_bad_arguments_are_told(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    """The editor answers applied=false, then (as Eglot does when the user says no) with an error."""
    declined = types.ApplyWorkspaceEditResult(applied=False, failure_reason="the buffer is read-only")
    client, uri, applied = await _editor(
        tmp_path, stop_later, apply=[declined, RuntimeError("User cancelled server edit")]
    )
    cmd = await _docstring_command(client, uri)
    result = await command(client, cmd.command, *(cmd.arguments or ()))
    assert result == {"task": "docstring", "edit": True, "applied": False, "failure_reason": "the buffer is read-only"}
    assert len(applied) == 1
    assert any("not applied: the buffer is read-only" in m.message for m in client.messages)
    result = await command(client, cmd.command, *(cmd.arguments or ()))
    assert result["applied"] is False and "User cancelled server edit" in result["failure_reason"], result
    # bad arguments: InvalidParams naming the problem; a document no longer open is told
    with pytest.raises(JsonRpcInvalidParams, match="takes one argument"):
        await command(client, "hybrid.runAction")
    with pytest.raises(JsonRpcInvalidParams, match="bad 'task' or 'range'"):
        await command(client, "hybrid.runAction", {"uri": uri, "task": "nonsense", "range": AT_JSON})
    with pytest.raises(JsonRpcInvalidParams, match="bad 'task' or 'range'"):
        await command(client, "hybrid.runAction", {"uri": uri, "task": "docstring", "range": [1, 4]})
    gone = await command(client, "hybrid.runAction", {"uri": uri + "x", "task": "docstring", "range": AT_JSON})
    assert gone["failure_reason"] == "the document is no longer open"


async def test_cancelling_the_progress_stops_the_action(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    slow = " ".join(["word"] * 400)
    ok = types.ApplyWorkspaceEditResult(applied=True)
    client, uri, applied = await _editor(tmp_path, stop_later, apply=ok, reply=slow, delay_ms=50)
    cmd = await _docstring_command(client, uri)
    running = asyncio.ensure_future(command(client, cmd.command, *(cmd.arguments or ())))
    token = await progress_token(client, TITLE)
    await asyncio.sleep(0.3)  # the engine is generating
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    assert await asyncio.wait_for(running, 30) == {"cancelled": True}
    assert getattr(progress_value(client.progress_reports[token][-1]), "message", None) == "cancelled"
    assert not applied
