"""Repository-wide commands end to end: the real server, recorded answers from the instant engine or wire servers.

Each test asserts what the editor gets: the exact diagnostics (source
``hybrid-review``), the Markdown written and shown, the WorkspaceEdit sent
with ``workspace/applyEdit``, the ``$/progress`` sequence, and cancellation
aborting the engine's generation.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from hybrid_assist.language_server import build_assistant
from hybrid_assist.settings import settings_loader
from lsp_server.analysis.paths import path_to_uri
from lsp_server.review import SOURCE, review_fix_actions, stored_finding
from lsp_server.server import HybridLanguageServer
from lsp_server.tasks.findings import Finding, LocatedFinding
from tests.lsp.harness import change_doc, command, init_params, open_doc, server_env, start_stdio
from tests.tasks import recorded
from tests.wire.gemini_server import GeminiWireServer
from tests.wire.openai_server import OpenAIWireServer

LOCAL_TASKS = ("review", "security", "performance", "architecture", "documentation", "api_integration", "tests")
INJECTION = "SQL built with string formatting allows SQL injection. (CWE-89)"
BAD_PORT = "int() raises a bare ValueError on bad input; name the offending text."
FIX = '    query = "SELECT id, name FROM users WHERE name = ?"\n    return conn.execute(query, (name,)).fetchone()\n'


def _repo(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "db.py").write_text(recorded.DB_PY, encoding="utf-8")
    (root / "app" / "util.py").write_text(recorded.UTIL_PY, encoding="utf-8")
    (root / "secrets").mkdir()
    (root / "secrets" / "keys.py").write_text(recorded.SECRET_PY, encoding="utf-8")
    return root


def _config(
    tmp: Path, *, reply: str = "", delay_ms: float = 0.0, providers: str = "", max_output_tokens: int = 1500
) -> Path:
    """The instant engine answering ``reply``; with no ``providers``, every task is served locally."""
    if not providers:
        providers = "\n".join(f"[providers.{p}]\nenabled = false" for p in ("openai", "anthropic", "gemini"))
        providers += "".join(
            f'\n[routing.tasks.{t}]\nlocal_up_to = "repository"\ncloud = "openai"\n'
            f"max_output_tokens = {max_output_tokens}"
            for t in LOCAL_TASKS
        )
    config = tmp / "config.toml"
    config.write_text(
        f"""
data_dir = "{tmp / "data"}"

[local]
backend = "instant"
instant_reply = {json.dumps(reply)}
instant_token_delay_ms = {delay_ms}

[completion]
debounce_ms = 0

[analysis]
index_cache_dir = "{tmp / "index-cache"}"

{providers}
""",
        encoding="utf-8",
    )
    return config


def _wire_providers(openai: OpenAIWireServer, gemini: GeminiWireServer | None = None) -> str:
    text = f"""
[providers.openai]
kind = "openai"
base_url = "{openai.base_url}"
api_key_env = "TEST_WIRE_KEY"
models = ["gpt-4o"]
default_model = "gpt-4o"
max_retries = 0
[providers.anthropic]
enabled = false
"""
    if gemini is None:
        return text + '[providers.gemini]\nenabled = false\n[routing]\nprovider_order = ["openai"]\n'
    return (
        text
        + f"""
[providers.gemini]
kind = "gemini"
base_url = "{gemini.base_url}"
api_key_env = "TEST_WIRE_KEY"
models = ["gemini-2.5-pro"]
default_model = "gemini-2.5-pro"
max_retries = 0
[routing]
provider_order = ["openai", "gemini"]
"""
    )


async def _start(tmp: Path, root: Path, config: Path, profile: str = "visual-studio-code") -> LanguageClient:
    client = await start_stdio(server_env(tmp, config, {"TEST_WIRE_KEY": "sk-test-not-a-real-key"}))
    client.applied_edits = []  # type: ignore[attr-defined]

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        client.applied_edits.append(params)  # type: ignore[attr-defined]
        return types.ApplyWorkspaceEditResult(applied=True)

    await client.initialize_session(init_params(root, profile))
    return client


async def _started(
    tmp: Path, stop_later: list[LanguageClient], config: Path, profile: str = "visual-studio-code"
) -> tuple[Path, LanguageClient]:
    """The sample repository under ``tmp`` and a client started on it (stopped by ``stop_later``)."""
    root = _repo(tmp / "project")
    client = await _start(tmp, root, config, profile)
    stop_later.append(client)
    return root, client


@pytest_asyncio.fixture
async def stop_later() -> AsyncIterator[list[LanguageClient]]:
    clients: list[LanguageClient] = []
    yield clients
    for client in clients:
        await client.shutdown_session()
        await client.stop()


def _uri(root: Path, rel: str) -> str:
    return path_to_uri(root.resolve() / rel)


def _diag(line: int, end_line: int, end_char: int, message: str, severity: int, code: str) -> dict[str, Any]:
    return {
        "range": ((line, 0), (end_line, end_char)),
        "message": message,
        "severity": severity,
        "source": SOURCE,
        "code": code,
    }


def _shape(diagnostics: list[types.Diagnostic]) -> list[dict[str, Any]]:
    return [
        {
            "range": ((d.range.start.line, d.range.start.character), (d.range.end.line, d.range.end.character)),
            "message": d.message,
            "severity": int(d.severity or 0),
            "source": d.source,
            "code": d.code,
        }
        for d in diagnostics
    ]


def _tokens(client: LanguageClient, title: str) -> list[str | int]:
    """The progress tokens whose ``begin`` has ``title``."""
    return [
        token
        for token, reports in client.progress_reports.items()
        if reports and getattr(getattr(reports[0], "value", reports[0]), "title", None) == title
    ]


def _kinds(client: LanguageClient, token: str | int | None = None) -> list[tuple[str, str | None]]:
    out = []
    for key, reports in client.progress_reports.items():
        if token is not None and key != token:
            continue
        for report in reports:
            value = getattr(report, "value", report)
            out.append((getattr(value, "kind", ""), getattr(value, "message", None)))
    return out


async def test_review_of_the_repository_publishes_exact_diagnostics(
    tmp_path: Path, stop_later: list[LanguageClient]
) -> None:
    root, client = await _started(tmp_path, stop_later, _config(tmp_path, reply=recorded.REVIEW_ANSWER))
    result = await command(client, "hybrid.review", {"scope": "repository"})
    [token] = _tokens(client, "hybrid-assist: review")

    db, util = _uri(root, "app/db.py"), _uri(root, "app/util.py")
    assert _shape(client.diagnostics[db]) == [_diag(5, 6, 41, INJECTION, 1, "review")]
    assert _shape(client.diagnostics[util]) == [_diag(1, 1, 20, BAD_PORT, 2, "review")]
    assert client.diagnostics[db][0].data["fix"] is True and client.diagnostics[util][0].data["fix"] is False
    assert result["findings"] == 2 and result["fixes"] == 1 and result["files"] == {db: 1, util: 1}
    assert result["problems"] == ["app/missing.py:3: not a file the review was shown"]
    assert result["digest"]["included"] == ["app/db.py", "app/util.py"]
    assert result["digest"]["withheld"] == ["secrets/keys.py"]
    assert (result["route"]["target"], result["route"]["model"], result["route"]["cloud"]) == (
        "local",
        "instant",
        False,
    )
    assert result["route"]["footer"].startswith("via local · instant · on-premises · $0.0000")
    assert _kinds(client, token) == [
        ("begin", None),
        ("report", "collecting files"),
        ("report", f"asking the model ({result['digest']['tokens']} tokens of code)"),
        ("report", "publishing findings"),
        ("end", "done"),
    ]

    # a second run replaces the findings rather than adding to them; a file review only touches that file
    await command(client, "hybrid.review", {"scope": "repository"})
    assert len(client.diagnostics[db]) == 1 and len(client.diagnostics[util]) == 1
    again = await command(client, "hybrid.review", {"scope": "file", "uri": util})
    assert again["digest"]["included"] == ["app/util.py"] and again["files"] == {util: 1}
    assert "app/db.py:6: not a file the review was shown" in again["problems"]
    assert len(client.diagnostics[db]) == 1


async def test_security_and_performance_merge_per_file_and_clear(
    tmp_path: Path, openai_server: OpenAIWireServer, stop_later: list[LanguageClient]
) -> None:
    root = _repo(tmp_path / "project")
    openai_server.reply(recorded.SECURITY_ANSWER, prompt_tokens=900)
    openai_server.reply(recorded.PERFORMANCE_ANSWER)
    openai_server.reply(recorded.NO_BLOCK_ANSWER)
    openai_server.reply("No vulnerabilities found.\n\n```json\n[]\n```\n")
    client = await _start(tmp_path, root, _config(tmp_path, providers=_wire_providers(openai_server)))
    stop_later.append(client)
    db = _uri(root, "app/db.py")
    security = _diag(5, 5, 65, "User input reaches the SQL text unescaped. (CWE-89)", 1, "security")
    performance = _diag(12, 12, 32, "List concatenation in a loop is quadratic; use append.", 3, "performance")

    result = await command(client, "hybrid.securityAudit")
    assert _shape(client.diagnostics[db]) == [security]
    assert result["route"]["target"] == "openai" and result["route"]["cloud"] is True
    prompt = json.dumps(openai_server.generation_requests()[-1].body["messages"])
    assert "6| " in prompt and "query = " in prompt and "CWE" in prompt
    assert "not-for-the-cloud" not in prompt  # the sensitive file never left

    await command(client, "hybrid.performance")
    assert _shape(client.diagnostics[db]) == [performance, security]  # kinds are merged per file

    # unchanged inputs would reuse the stored answer (tests/lsp/test_answer_reuse.py): new instructions ask again
    malformed = await command(client, "hybrid.securityAudit", {"instruction": "Look again."})
    assert malformed["error"].startswith("unusable answer: the answer has no ```json block of findings")
    assert _shape(client.diagnostics[db]) == [performance, security]  # the previous findings stand
    assert any("unusable answer" in m.message for m in client.messages)

    cleared = await command(client, "hybrid.securityAudit", {"instruction": "Once more."})
    assert cleared["findings"] == 0
    assert _shape(client.diagnostics[db]) == [performance]


async def test_truncated_answer_keeps_the_complete_findings(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    pieces = recorded.REVIEW_ANSWER.split(" ")
    cut = next(i for i in range(len(pieces)) if '"app/util.py"' in " ".join(pieces[:i]))
    config = _config(tmp_path, reply=recorded.REVIEW_ANSWER, max_output_tokens=cut)
    root, client = await _started(tmp_path, stop_later, config)
    result = await command(client, "hybrid.review")
    assert result["truncated"] is True and result["findings"] == 1
    assert result["problems"] == ["the findings block is cut off (the answer was truncated); 1 complete findings kept"]
    assert _shape(client.diagnostics[_uri(root, "app/db.py")]) == [_diag(5, 6, 41, INJECTION, 1, "review")]
    assert _uri(root, "app/util.py") not in client.diagnostics


async def test_review_of_the_git_diff(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    root = _repo(tmp_path / "project")
    git = ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)
    (root / "app" / "util.py").write_text("def parse_port(text):\n    return int(text)\n\n\nPORT = 80\n")
    client = await _start(tmp_path, root, _config(tmp_path, reply=recorded.REVIEW_ANSWER))
    stop_later.append(client)
    result = await command(client, "hybrid.review", {"scope": "diff"})
    util, db = _uri(root, "app/util.py"), _uri(root, "app/db.py")
    assert result["digest"]["included"] == ["app/util.py"]
    assert result["files"] == {util: 1} and "app/db.py:6: not a file the review was shown" in result["problems"]
    assert _shape(client.diagnostics[util]) == [_diag(1, 1, 20, BAD_PORT, 2, "review")]
    assert db not in client.diagnostics


async def test_diff_review_outside_git_is_a_clear_error(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    _, client = await _started(tmp_path, stop_later, _config(tmp_path, reply=recorded.REVIEW_ANSWER))
    with pytest.raises(JsonRpcException, match="is not a git repository"):
        await command(client, "hybrid.review", {"scope": "diff"})
    with pytest.raises(JsonRpcException, match="scope must be one of repository, diff, file"):
        await command(client, "hybrid.review", {"scope": "everything"})
    with pytest.raises(JsonRpcException, match="scope 'file' needs a 'uri'"):
        await command(client, "hybrid.review", {"scope": "file"})


async def test_cancel_aborts_the_generation(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    root = _repo(tmp_path / "project")
    slow = " ".join(["word"] * 400)
    client = await _start(tmp_path, root, _config(tmp_path, reply=slow, delay_ms=50))
    stop_later.append(client)
    running = asyncio.ensure_future(command(client, "hybrid.architecture"))
    token = None
    for _ in range(400):
        fresh = _tokens(client, "hybrid-assist: architecture")
        if fresh and any("asking the model" in (m or "") for _, m in _kinds(client, fresh[0])):
            token = fresh[0]
            break
        await asyncio.sleep(0.02)
    assert token is not None, "the command reported no progress"
    await asyncio.sleep(0.3)  # the engine is generating
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    assert await asyncio.wait_for(running, 30) == {"cancelled": True}
    end = getattr(client.progress_reports[token][-1], "value", client.progress_reports[token][-1])
    assert (end.kind, end.message) == ("end", "cancelled")
    for _ in range(100):
        status = await command(client, "hybrid.status")
        if status["local"]["aborted_total"]:
            break
        await asyncio.sleep(0.05)
    assert status["local"]["aborted_total"] == 1
    assert not (root / "docs" / "hybrid-assist" / "architecture.md").exists()


async def test_architecture_and_documentation_are_written_and_shown(
    tmp_path: Path, openai_server: OpenAIWireServer, gemini_server: GeminiWireServer, stop_later: list[LanguageClient]
) -> None:
    root = _repo(tmp_path / "project")
    openai_server.reply(recorded.ARCHITECTURE_ANSWER)
    gemini_server.reply(recorded.DOCUMENTATION_ANSWER)
    # documentation that fits the local window is served locally by default (local first): this one goes to
    # the cloud, as the table said before
    pinned = '[routing.tasks.documentation]\nlocal_up_to = "never"\ncloud = "gemini:gemini-2.5-pro"\n'
    providers = _wire_providers(openai_server, gemini_server) + pinned + "max_output_tokens = 4000\n"
    client = await _start(tmp_path, root, _config(tmp_path, providers=providers))
    stop_later.append(client)

    result = await command(client, "hybrid.architecture")
    path = root / "docs" / "hybrid-assist" / "architecture.md"
    assert result["path"] == str(path.resolve()) and result["shown"] is True and result["truncated"] is False
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0].startswith("<!-- generated by hybrid-assist (hybrid.architecture) on ")
    body = "\n".join(lines[2:])
    assert body.startswith(recorded.ARCHITECTURE_ANSWER.split("\n", 1)[1].rsplit("\n", 1)[0] + "\n\n---\n")
    assert lines[-2].startswith("_hybrid-assist · via openai · gpt-4o · cloud · $")
    assert lines[-2].endswith("· 2 of 2 files shown in full_") and lines[-1] == ""
    assert client.shown_documents == [types.ShowDocumentParams(uri=result["uri"], take_focus=True)]

    docs = await command(client, "hybrid.documentation")
    text = (root / "docs" / "hybrid-assist" / "documentation.md").read_text(encoding="utf-8")
    assert recorded.DOCUMENTATION_ANSWER.strip() in text
    assert docs["route"]["target"] == "gemini" and "gemini-2.5-pro" in docs["route"]["footer"]
    assert len(client.shown_documents) == 2
    assert "not-for-the-cloud" not in json.dumps(gemini_server.generation_requests()[-1].body)


async def test_without_show_document_the_path_is_told(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    root = _repo(tmp_path / "project")
    client = await start_stdio(server_env(tmp_path, _config(tmp_path, reply=recorded.DOCUMENTATION_ANSWER)))
    params = init_params(root, "neovim")
    assert params.capabilities.window is not None
    params.capabilities.window.show_document = None
    await client.initialize_session(params)
    stop_later.append(client)
    result = await command(client, "hybrid.apiIntegration")
    path = root.resolve() / "docs" / "hybrid-assist" / "api-integration.md"
    assert result["shown"] is False and path.is_file() and client.shown_documents == []
    assert any(m.message == f"hybrid-assist: wrote {path}" for m in client.messages)


async def test_a_document_that_cannot_be_written(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    root = _repo(tmp_path / "project")
    (root / "docs").mkdir()
    (root / "docs" / "hybrid-assist").write_text("a file where the folder should be", encoding="utf-8")
    client = await _start(tmp_path, root, _config(tmp_path, reply=recorded.DOCUMENTATION_ANSWER))
    stop_later.append(client)
    result = await command(client, "hybrid.documentation")
    path = root.resolve() / "docs" / "hybrid-assist" / "documentation.md"
    assert result["error"].startswith(f"cannot write {path}: ")
    assert client.shown_documents == []
    assert any(m.message.startswith("hybrid-assist: hybrid.documentation: cannot write") for m in client.messages)


async def test_generated_test_suite_is_applied_by_the_editor(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    root = _repo(tmp_path / "project")
    (root / "tests").mkdir()
    (root / "tests" / "test_db.py").write_text("old = 1\n", encoding="utf-8")  # an existing file is replaced
    client = await _start(tmp_path, root, _config(tmp_path, reply=recorded.TEST_SUITE_ANSWER))
    stop_later.append(client)
    result = await command(client, "hybrid.generateTestSuite", {"uri": _uri(root, "app/util.py")})
    assert result["applied"] is True and result["failure_reason"] == "", result
    assert result["digest"]["included"] == ["app/util.py"]
    first, second = _uri(root, "tests/test_util.py"), _uri(root, "tests/test_db.py")
    assert [f["uri"] for f in result["files"]] == [first, second]
    [applied] = client.applied_edits  # type: ignore[attr-defined]
    assert applied.label == "hybrid-assist: generated test suite"
    changes = applied.edit.document_changes
    assert [type(c).__name__ for c in changes] == ["CreateFile", "TextDocumentEdit", "TextDocumentEdit"]
    assert [f["created"] for f in result["files"]] == [True, False]
    assert changes[0].uri == first and changes[0].options.overwrite is False
    edit = changes[1].edits[0]
    assert changes[1].text_document.uri == first and changes[1].text_document.version is None
    assert (edit.range.start.line, edit.range.start.character, edit.range.end.line, edit.range.end.character) == (
        0,
        0,
        0,
        0,
    )
    assert edit.new_text.startswith("import pytest\n\nfrom app.util import parse_port\n")
    replace = changes[2].edits[0]
    assert changes[2].text_document.uri == second
    assert (replace.range.start.line, replace.range.start.character) == (0, 0)
    assert (replace.range.end.line, replace.range.end.character) == (1, 0)
    assert replace.new_text.endswith("    assert all_names(conn) == []\n")
    # the editor applies the edit; the server wrote nothing
    assert not (root / "tests" / "test_util.py").exists()
    assert (root / "tests" / "test_db.py").read_text(encoding="utf-8") == "old = 1\n"


async def test_test_suite_for_an_editor_that_cannot_create_files(
    tmp_path: Path, stop_later: list[LanguageClient]
) -> None:
    root = _repo(tmp_path / "project")
    (root / "tests").mkdir()
    (root / "tests" / "test_db.py").write_text("old = 1\n", encoding="utf-8")  # an existing file is replaced
    client = await _start(tmp_path, root, _config(tmp_path, reply=recorded.TEST_SUITE_ANSWER), "neovim")
    stop_later.append(client)
    # Neovim 0.11 declares neither documentChanges nor (so) CreateFile: the new file's text is shown with
    # its path, the existing test file is still replaced, through plain ``changes``
    result = await command(client, "hybrid.generateTestSuite")
    assert result["applied"] is True and result["failure_reason"] == "", result
    files = result["files"]
    assert [f["path"] for f in files] == ["tests/test_util.py", "tests/test_db.py"]
    assert [(f["created"], f.get("shown", False)) for f in files] == [(False, True), (False, False)]
    (applied,) = client.applied_edits  # type: ignore[attr-defined]
    assert applied.edit.document_changes is None and list(applied.edit.changes) == [files[1]["uri"]]
    shown = [m.message for m in client.messages if "tests/test_util.py was not created" in m.message]
    assert len(shown) == 1 and "from app.util import parse_port" in shown[0]


async def test_an_unnamed_test_file_goes_where_the_language_puts_tests(
    tmp_path: Path, stop_later: list[LanguageClient]
) -> None:
    root = _repo(tmp_path / "project")
    (root / "tests").mkdir()
    client = await _start(tmp_path, root, _config(tmp_path, reply=recorded.SINGLE_TEST_FILE_ANSWER))
    stop_later.append(client)
    result = await command(client, "hybrid.generateTestSuite", {"uri": _uri(root, "app/util.py")})
    assert result["applied"] is True
    assert result["files"] == [{"path": "tests/test_util.py", "uri": _uri(root, "tests/test_util.py"), "created": True}]
    assert result["problems"] == ["the answer named no file; its one code block becomes tests/test_util.py"]
    [applied] = client.applied_edits  # type: ignore[attr-defined]
    assert applied.edit.document_changes[1].edits[0].new_text.startswith("from app.util import parse_port\n")


async def test_test_suite_prompt_asks_for_several_files(
    tmp_path: Path, openai_server: OpenAIWireServer, stop_later: list[LanguageClient]
) -> None:
    root = _repo(tmp_path / "project")
    openai_server.reply(recorded.TEST_SUITE_ANSWER)
    openai_server.reply(recorded.TEST_SUITE_ANSWER)
    providers = _wire_providers(openai_server) + (
        '[routing.tasks.tests]\nlocal_up_to = "never"\ncloud = "openai:gpt-4o"\nmax_output_tokens = 1500\n'
    )
    client = await _start(tmp_path, root, _config(tmp_path, providers=providers))
    stop_later.append(client)
    result = await command(client, "hybrid.generateTestSuite")
    assert result["route"]["target"] == "openai"
    assert [f["path"] for f in result["files"]] == ["tests/test_util.py", "tests/test_db.py"]
    assert result["problems"] == []
    prompt = openai_server.generation_requests()[-1].body["messages"][-1]["content"]
    assert "exactly one fenced code block" not in prompt  # the tests action's single-file format is replaced
    code, answer_format = prompt.index("## Contents"), prompt.index("Answer format: for each test file")
    assert code < answer_format and "`File: <relative path>`" in prompt[answer_format:]
    assert "Put the tests in" not in prompt  # a suite for the repository has no one conventional file

    single = await command(client, "hybrid.generateTestSuite", {"uri": _uri(root, "app/util.py")})
    assert [f["path"] for f in single["files"]] == ["tests/test_util.py", "tests/test_db.py"]
    prompt = openai_server.generation_requests()[-1].body["messages"][-1]["content"]
    assert "Put the tests in `app/test_util.py`." in prompt  # python, no tests folder: beside the file


async def test_an_injected_test_suite_writes_only_its_test_file(
    tmp_path: Path, stop_later: list[LanguageClient]
) -> None:
    """Files the model names outside the test-suite lane never reach the WorkspaceEdit; each is refused with why."""
    root = _repo(tmp_path / "project")
    (root / "tests").mkdir()
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / "tools").mkdir()
    (root / "tools" / "run_test.py").write_text("print('deploy')\n", encoding="utf-8")
    (root / "tools" / "run_test.py").chmod(0o755)
    client = await _start(tmp_path, root, _config(tmp_path, reply=recorded.INJECTED_TEST_SUITE_ANSWER))
    stop_later.append(client)
    result = await command(client, "hybrid.generateTestSuite", {"uri": _uri(root, "app/util.py")})
    assert result["applied"] is True
    assert result["files"] == [{"path": "tests/test_util.py", "uri": _uri(root, "tests/test_util.py"), "created": True}]
    assert result["refused"] == recorded.INJECTED_TEST_SUITE_REFUSED
    [applied] = client.applied_edits  # type: ignore[attr-defined]
    uris = {c.uri if isinstance(c, types.CreateFile) else c.text_document.uri for c in applied.edit.document_changes}
    assert uris == {_uri(root, "tests/test_util.py")}
    [warning] = [m.message for m in client.messages if "refused" in m.message]
    assert warning.startswith("hybrid-assist: hybrid.generateTestSuite: refused ../outside/test_x.py: a path with")
    assert ".vscode/tasks.json: under the dot-directory .vscode/" in warning
    assert not (root / ".vscode").exists() and not (root / "Makefile").exists()


async def test_a_test_suite_with_no_file_in_its_lane_is_an_error_listing_the_refusals(
    tmp_path: Path, stop_later: list[LanguageClient]
) -> None:
    answer = recorded.INJECTED_TEST_SUITE_ANSWER.replace("File: tests/test_util.py", "File: .vscode/test_util.py")
    root = _repo(tmp_path / "project")
    (root / "tools").mkdir()
    (root / "tools" / "run_test.py").write_text("print('deploy')\n", encoding="utf-8")
    (root / "tools" / "run_test.py").chmod(0o700)
    client = await _start(tmp_path, root, _config(tmp_path, reply=answer))
    stop_later.append(client)
    result = await command(client, "hybrid.generateTestSuite")
    assert result["error"].startswith("no file can be written: ../outside/test_x.py: a path with `..`")
    assert result["files"] == [] and result["applied"] is False
    assert result["refused"][1] == {
        "path": ".vscode/test_util.py",
        "reason": "under the dot-directory .vscode/ (editor, VCS or CI configuration)",
    }
    assert len(result["refused"]) == 10
    assert {"path": "tools/run_test.py", "reason": "an executable file (mode 700)"} in result["refused"]
    assert client.applied_edits == []  # type: ignore[attr-defined]


async def test_malformed_test_suite_answer(tmp_path: Path, stop_later: list[LanguageClient]) -> None:
    _, client = await _started(tmp_path, stop_later, _config(tmp_path, reply=recorded.NO_BLOCK_ANSWER))
    result = await command(client, "hybrid.generateTestSuite")
    assert result["error"].startswith("unusable answer: the answer holds no generated file")
    assert client.applied_edits == []  # type: ignore[attr-defined]


async def test_review_fix_becomes_a_quick_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: the code-action provider's view of the stored findings (UTF-16 columns, staleness)."""
    monkeypatch.setenv("HYBRID_ASSIST_CONFIG", str(_config(tmp_path, reply="x")))
    loader = settings_loader()
    assistant = build_assistant(loader.load().settings)
    try:
        ls = HybridLanguageServer(assistant, loader)
        uri = path_to_uri(tmp_path / "m.py")
        text = "def greet():\n    s = 'héllo😀'\n    return s\n"
        ls.session.documents.open(uri, text, "python", 1)
        finding = Finding("m.py", 2, 2, "warning", "Unused emoji.", replacement="    s = 'hello'")
        stored = stored_finding(LocatedFinding(finding, str(tmp_path / "m.py"), 1, 1), "review", uri, text, "utf-16")
        assert stored.diagnostic.range == types.Range(
            start=types.Position(line=1, character=0), end=types.Position(line=1, character=17)
        )
        ls.session.review.replace("review", None, [stored])
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=stored.diagnostic.range,
            context=types.CodeActionContext(diagnostics=[stored.diagnostic]),
        )
        session = ls.session

        def fixes(params: types.CodeActionParams) -> list[types.CodeAction]:
            return review_fix_actions(session.review, session.documents, session.encoding, params)

        [action] = fixes(params)
        assert action.kind == types.CodeActionKind.QuickFix and action.is_preferred
        assert action.title == "Apply suggested fix: Unused emoji."
        assert action.edit == types.WorkspaceEdit(
            changes={
                uri: [
                    types.TextEdit(
                        range=types.Range(
                            start=types.Position(line=1, character=0), end=types.Position(line=2, character=0)
                        ),
                        new_text="    s = 'hello'\n",
                    )
                ]
            }
        )
        elsewhere = types.CodeActionParams(
            text_document=params.text_document,
            range=types.Range(start=types.Position(line=2, character=0), end=types.Position(line=2, character=1)),
            context=types.CodeActionContext(diagnostics=[]),
        )
        assert fixes(elsewhere) == []
        ls.session.documents.open(uri, text.replace("héllo", "hi"), "python", 2)
        assert fixes(params) == []  # the line changed: the fix is stale
    finally:
        await assistant.close()


async def _reviewed_db(
    tmp_path: Path, stop_later: list[LanguageClient], profile: str = "visual-studio-code"
) -> tuple[LanguageClient, str, types.Diagnostic]:
    """A client with app/db.py open after a repository review: the client, db.py's URI, its one finding."""
    config = _config(tmp_path, reply=recorded.REVIEW_ANSWER)
    root, client = await _started(tmp_path, stop_later, config, profile=profile)
    db = _uri(root, "app/db.py")
    open_doc(client, db, recorded.DB_PY)
    await command(client, "hybrid.review", {"scope": "repository"})
    [diagnostic] = client.diagnostics[db]
    return client, db, diagnostic


async def _actions_for(
    client: LanguageClient, uri: str, diagnostic: types.Diagnostic
) -> list[types.CodeAction | types.Command]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    assert result is not None
    return list(result)


async def test_a_review_diagnostic_below_an_inserted_line_moves_down_by_one_line(
    tmp_path: Path, stop_later: list[LanguageClient]
) -> None:
    """End to end: didChange moves the published finding and its quick fix; editing its line drops it."""
    client, db, before = await _reviewed_db(tmp_path, stop_later)
    assert (before.range.start.line, before.range.end.line) == (5, 6)
    published = asyncio.ensure_future(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS))
    change_doc(client, db, 2, (1, 0), (1, 0), "import os\n")  # above the finding
    await asyncio.wait_for(published, 10)
    [after] = client.diagnostics[db]
    assert (after.range.start.line, after.range.end.line) == (6, 7)
    assert (after.message, after.range.end.character, after.data) == (before.message, 41, before.data)
    result = await _actions_for(client, db, after)
    fix = next(a for a in result if isinstance(a, types.CodeAction) and a.title.startswith("Apply suggested"))
    assert fix.edit is not None and fix.edit.changes is not None
    moved = types.Range(start=types.Position(line=6, character=0), end=types.Position(line=8, character=0))
    assert list(fix.edit.changes[db]) == [types.TextEdit(range=moved, new_text=FIX)]
    published = asyncio.ensure_future(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS))
    change_doc(client, db, 3, (6, 4), (6, 9), "sql")  # the finding's own line is edited: it is dropped
    await asyncio.wait_for(published, 10)
    assert list(client.diagnostics[db]) == []


async def test_a_client_without_diagnostic_data_gets_none_and_still_its_quick_fix(
    tmp_path: Path, stop_later: list[LanguageClient]
) -> None:
    """Emacs 29.1 declares no publishDiagnostics.dataSupport: no data is sent; the fix is found by message and line."""
    client, db, diagnostic = await _reviewed_db(tmp_path, stop_later, "emacs@v29.1")
    assert diagnostic.message == INJECTION and diagnostic.data is None
    result = await _actions_for(client, db, diagnostic)
    fix = next(a for a in result if isinstance(a, types.CodeAction) and a.title.startswith("Apply suggested"))
    assert fix.edit is not None and fix.edit.changes is not None
    assert [e.new_text for e in fix.edit.changes[db]] == [FIX]


async def test_review_fix_is_offered_by_the_code_action_request(
    tmp_path: Path, stop_later: list[LanguageClient]
) -> None:
    """End to end: a fix in the review answer becomes the first action of ``textDocument/codeAction``."""
    client, db, diagnostic = await _reviewed_db(tmp_path, stop_later)
    assert diagnostic.source == SOURCE and diagnostic.message == INJECTION
    result = await _actions_for(client, db, diagnostic)
    fix, *others = [a for a in result if isinstance(a, types.CodeAction)]
    assert fix.title == f"Apply suggested fix: {INJECTION}"
    assert fix.kind == types.CodeActionKind.QuickFix and fix.is_preferred is True
    assert list(fix.diagnostics or ()) == [diagnostic]
    assert fix.edit is not None and fix.edit.changes is not None and list(fix.edit.changes) == [db]
    fixed = types.Range(start=types.Position(line=5, character=0), end=types.Position(line=7, character=0))
    assert list(fix.edit.changes[db]) == [types.TextEdit(range=fixed, new_text=FIX)]
    # the AI actions follow, unresolved
    assert others and others[0].title == "AI: explain this code" and all(a.edit is None for a in others)
    assert f"AI: fix “{INJECTION[:60]}”" in [a.title for a in others]
