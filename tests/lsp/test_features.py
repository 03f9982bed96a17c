"""Completion, inline completion, hover, code actions and explainRoute through the real server."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.harness import command, open_doc

DOC = "def total(a, b):\n    \n"


def _pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


async def test_completion_carries_route(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "new.py").as_uri()
    open_doc(client, uri, DOC)
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=_pos(1, 4))
    )
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 1
    item = result.items[0]
    assert item.insert_text == "return a + b"
    assert item.data["target"] == "local"
    assert item.data["model"] == "instant"
    assert item.data["cloud"] is False
    assert item.detail == "return a + b"  # the continuation; the route is in the documentation
    assert "via local" in str(item.documentation)


async def test_inline_completion_and_feedback(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "new.py").as_uri()
    open_doc(client, uri, DOC)
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=_pos(1, 4),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
    )
    assert result is not None
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert items[0].insert_text == "return a + b"
    assert items[0].range == types.Range(start=_pos(1, 4), end=_pos(1, 4))
    client.protocol.notify("hybrid/completionFeedback", {"id": "x", "accepted": True})
    client.protocol.notify("hybrid/completionFeedback", {"id": "y", "accepted": False})
    status = await command(client, "hybrid.status")
    assert status["completions"] == {"accepted": 1, "rejected": 1}


async def test_hover_has_route_footer(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.py").as_uri()
    open_doc(client, uri, (workspace / "main.py").read_text())
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=_pos(4, 6))
    )
    assert hover is not None
    assert isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.value.startswith("return a + b")
    assert "via local" in hover.contents.value


async def test_code_actions_resolve_lazily(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.py").as_uri()
    open_doc(client, uri, (workspace / "main.py").read_text())
    rng = types.Range(start=_pos(4, 0), end=_pos(5, 20))
    diagnostic = types.Diagnostic(range=rng, message="undefined name 'c'", severity=types.DiagnosticSeverity.Error)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    assert actions
    titles = [a.title for a in actions if isinstance(a, types.CodeAction)]
    assert any("docstring" in t for t in titles)
    assert any("fix" in t for t in titles)
    assert all(isinstance(a, types.CodeAction) and a.edit is None for a in actions)
    refactor = next(a for a in actions if isinstance(a, types.CodeAction) and "refactor the selection" in a.title)
    resolved = await client.code_action_resolve_async(refactor)
    # The instant engine answers without a code block: nothing is applied, the user is told.
    assert resolved.edit is None
    assert any("return a + b" in m.message for m in client.messages)


async def test_explain_route_shape(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.py").as_uri()
    open_doc(client, uri, (workspace / "main.py").read_text())
    result = await command(
        client, "hybrid.explainRoute", {"uri": uri, "position": {"line": 5, "character": 8}, "task": "completion"}
    )
    assert result["scope"]["level"] in ("single_file", "multi_file", "repository")
    assert isinstance(result["scope"]["files"], list)
    assert isinstance(result["scope"]["symbols"], list)
    assert result["route"]["target"] == "local"
    assert result["route"]["model"] == "instant"
    assert result["route"]["reasons"]
    assert result["estimate"]["input_tokens"] > 0
    assert result["estimate"]["cost_usd"] == 0.0


async def test_explain_route_for_file_not_open(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "helpers.py").as_uri()
    result = await command(
        client, "hybrid.explainRoute", {"uri": uri, "position": {"line": 1, "character": 0}, "task": "explain"}
    )
    assert result["task"] == "explain"
    assert result["scope"]["level"] == "single_file"


async def test_repository_task_without_cloud_is_explained(client: LanguageClient, workspace: Path) -> None:
    uri = (workspace / "main.py").as_uri()
    result = await command(
        client, "hybrid.explainRoute", {"uri": uri, "position": {"line": 0, "character": 0}, "task": "architecture"}
    )
    assert result["scope"]["level"] == "repository"
    # every cloud provider is disabled in the test configuration: served locally, and said so
    assert result["route"]["target"] == "local"
    assert any("no cloud provider" in r for r in result["route"]["reasons"])


async def test_status_shows_budget(tmp_path: Path, workspace: Path) -> None:
    from tests.lsp.harness import init_params, server_env, start_stdio, write_config

    env = server_env(tmp_path, write_config(tmp_path, "[budgets]\nuser_monthly_usd = 25.0\n"))
    client = await start_stdio(env)
    await client.initialize_session(init_params(workspace, "visual-studio-code"))
    status = await command(client, "hybrid.status")
    assert status["budget"]["remaining_usd"] == 25.0
    assert status["budget"]["hard_exceeded"] is False
    await client.shutdown_session()
    await client.stop()
