"""Sensitive files never travel as context: the real server process, the cloud as the OpenAI wire server.

``billing.py`` imports ``signing_salt`` and ``MARKER`` from ``secrets/keys.py``
(matched by the default ``**/secrets/**`` glob). Every task kind is run on
``billing.py`` — completions, hover, each code action, repository commands on
the file, the whole repository and a diff — with the policy sending all of
them to the cloud. With ``[sensitive] context = "keep_local"`` (the default)
no cloud call is made and the local engine (a second wire server) gets the
context; with ``"withhold"`` the cloud is called, and what it gets names
the definitions but carries none of the file's code. ``hybrid.explainRoute``
says which happened and why. The same at the root and nested
(``pkg/billing.py`` importing ``pkg/secrets/keys.py``), and through two
imports (``app.py`` → ``billing.py`` → ``secrets/keys.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from routing.tasks import TaskKind
from tests.lsp.harness import command, init_params, open_doc, server_env, start_stdio
from tests.lsp.sensitive_project import APP_PY, CURSOR, MARKER, ON_CALL, project, sent
from tests.wire.openai_server import OpenAIWireServer

CHAT_TASKS = ("explain", "docstring", "naming", "refactor", "fix", "tests", "multi_file_refactor", "migration")
ACTION_TITLES = {
    "explain": "explain this code",
    "docstring": "docstring",
    "naming": "better names",
    "refactor": "refactor the selection",
    "fix": "fix",
    "tests": "generate tests",
    "multi_file_refactor": "refactor across files",
    "migration": "migrate to",
}


def _config(tmp: Path, cloud: OpenAIWireServer, local: OpenAIWireServer, context: str, sensitive: str = "") -> Path:
    """Every task sent to the cloud by policy; the local engine is ``local`` (OpenAI-compatible)."""
    tasks = "".join(f'[routing.tasks.{t.value}]\nlocal_up_to = "never"\ncloud = "openai"\n' for t in TaskKind)
    config = tmp / "config.toml"
    config.write_text(
        f"""
data_dir = "{tmp / "data"}"

[local]
backend = "openai-compatible"
base_url = "{local.base_url}"
model = "test-model"
fim_format = "qwen2.5-coder"

[completion]
debounce_ms = 0

[analysis]
index_cache_dir = "{tmp / "index-cache"}"

[sensitive]
context = "{context}"
{sensitive}

[providers.openai]
kind = "openai"
base_url = "{cloud.base_url}"
api_key_env = "TEST_WIRE_KEY"
models = ["gpt-4o"]
default_model = "gpt-4o"
max_retries = 0
[providers.anthropic]
enabled = false
[providers.gemini]
enabled = false
[routing]
provider_order = ["openai"]
local_to_cloud_fallback = false
{tasks}""",
        encoding="utf-8",
    )
    return config


@dataclass
class Editor:
    client: LanguageClient
    root: Path
    uri: str
    cloud: OpenAIWireServer
    local: OpenAIWireServer

    async def explain_route(self, task: str, at: tuple[int, int] = ON_CALL) -> dict[str, Any]:
        position = {"line": at[0], "character": at[1]}
        result = await command(
            self.client, "hybrid.explainRoute", {"uri": self.uri, "position": position, "task": task}
        )
        return dict(result)

    async def completions(self) -> None:
        position = types.Position(line=CURSOR[0], character=CURSOR[1])
        document = types.TextDocumentIdentifier(uri=self.uri)
        await self.client.text_document_completion_async(
            types.CompletionParams(text_document=document, position=position)
        )
        context = types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)
        await self.client.text_document_inline_completion_async(
            types.InlineCompletionParams(text_document=document, position=position, context=context)
        )

    async def hover(self) -> None:
        position = types.Position(line=ON_CALL[0], character=ON_CALL[1])
        await self.client.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=self.uri), position=position)
        )

    async def code_actions(self, at: tuple[int, int], diagnostic: str = "") -> list[types.CodeAction]:
        """The code actions offered at ``at`` (with one diagnostic there when ``diagnostic`` is given)."""
        where = types.Range(start=types.Position(*at), end=types.Position(*at))
        diagnostics = [types.Diagnostic(range=where, message=diagnostic)] if diagnostic else []
        actions = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri),
                range=where,
                context=types.CodeActionContext(diagnostics=diagnostics),
            )
        )
        return [a for a in actions or [] if isinstance(a, types.CodeAction)]

    async def resolve(self, actions: list[types.CodeAction], title: str) -> None:
        """Resolve the one action whose title contains ``title`` (offered lazily: no edit before resolve)."""
        (action,) = [a for a in actions if title in a.title]
        assert action.edit is None, [a.title for a in actions]
        await self.client.code_action_resolve_async(action)

    async def action(self, task: str) -> None:
        diagnostic = "undefined name 'pepper'" if task == "fix" else ""
        await self.resolve(await self.code_actions(ON_CALL, diagnostic), ACTION_TITLES[task])

    async def repository(self) -> dict[str, Any]:
        """``hybrid.review`` of the file and of a diff touching both files, ``hybrid.architecture`` of it all."""
        prefix = "pkg/" if "/pkg/" in self.uri else ""
        keys, billing = f"{prefix}secrets/keys.py", f"{prefix}billing.py"
        diff = (
            f"diff --git a/{billing} b/{billing}\n--- a/{billing}\n+++ b/{billing}\n@@ -14,2 +14,2 @@\n"
            " def total(amount):\n-    return amount * 2\n+    return amount * 3\n"
            f"diff --git a/{keys} b/{keys}\n--- a/{keys}\n+++ b/{keys}\n@@ -1,1 +1,2 @@\n"
            ' """Signing material: never leaves the premises."""\n'
            f'+ROTATED = "{MARKER}-rotated"\n'
            # moved out of secrets/: its lines are still the sensitive file's
            f"diff --git a/{keys} b/{prefix}moved.py\nsimilarity index 90%\nrename from {keys}\n"
            f"rename to {prefix}moved.py\n--- a/{keys}\n+++ b/{prefix}moved.py\n@@ -4,1 +4,1 @@\n"
            f'-MARKER = "{MARKER}"\n+MARKER = "{MARKER}-moved"\n'
        )
        results = {
            "review_file": await command(self.client, "hybrid.review", {"uri": self.uri}),
            "review_diff": await command(self.client, "hybrid.review", {"diff": diff, "scope": "diff"}),
            "architecture": await command(self.client, "hybrid.architecture"),
        }
        return results


@pytest_asyncio.fixture
async def clients() -> AsyncIterator[list[LanguageClient]]:
    started: list[LanguageClient] = []
    yield started
    for client in started:
        await client.shutdown_session()
        await client.stop()  # type: ignore[no-untyped-call]


async def start(
    tmp: Path,
    root: Path,
    uri: str,
    cloud: OpenAIWireServer,
    local: OpenAIWireServer,
    context: str,
    started: list[LanguageClient],
    sensitive: str = "",
) -> Editor:
    config = _config(tmp, cloud, local, context, sensitive)
    env = server_env(tmp, config, {"TEST_WIRE_KEY": "sk-test-not-a-real-key"})
    client = await start_stdio(env)
    started.append(client)
    await client.initialize_session(init_params(root, "visual-studio-code"))
    assert (await command(client, "hybrid.reindex"))["indexed"] is True  # definitions resolve from here on
    path = Path(uri.removeprefix("file://"))
    open_doc(client, uri, path.read_text(encoding="utf-8"))
    return Editor(client, root, uri, cloud, local)


@pytest.mark.parametrize("nested", [False, True], ids=["root", "nested"])
@pytest.mark.parametrize("context", ["keep_local", "withhold"])
async def test_sensitive_definitions_never_reach_the_cloud(
    tmp_path: Path,
    openai_server: OpenAIWireServer,
    openai_server_b: OpenAIWireServer,
    clients: list[LanguageClient],
    context: str,
    nested: bool,
) -> None:
    root = tmp_path / "project"
    billing, _ = project(root, nested)
    keys = "pkg/secrets/keys.py" if nested else "secrets/keys.py"
    cloud, local = openai_server, openai_server_b
    editor = await start(tmp_path, root, billing.as_uri(), cloud, local, context, clients)

    # what hybrid.explainRoute says, task by task, before anything is asked
    for task in ("completion", "inline_completion", *CHAT_TASKS):
        route = (await editor.explain_route(task, CURSOR if "completion" in task else ON_CALL))["route"]
        reasons = " ".join(route["reasons"])
        if context == "keep_local":
            assert route["target"] == "local", (task, route)
            assert f"context from {keys}" in reasons and "kept on the premises" in reasons, (task, reasons)
        else:
            assert route["target"] == "openai", (task, route)
            assert f"context from {keys} withheld" in reasons, (task, reasons)

    await editor.completions()
    await editor.hover()
    for task in CHAT_TASKS:
        await editor.action(task)
    repository = await editor.repository()

    to_cloud = sent(cloud)
    assert MARKER not in to_cloud
    assert "ledger-salt-rounds" not in to_cloud and "def signing_salt" not in to_cloud
    for name in ("review_file", "review_diff", "architecture"):
        assert keys in repository[name]["digest"]["withheld"], (name, repository[name])
    moved = "pkg/moved.py" if nested else "moved.py"
    assert moved in repository["review_diff"]["digest"]["withheld"]
    if context == "keep_local":
        # the file's code did go into the context — to the local engine, and only there
        assert MARKER in sent(local)
        # only the repository commands went out, whose digests leave the file out
        assert len(cloud.generation_requests()) == 3, [r.body for r in cloud.generation_requests()]
    else:
        # one completion (the inline one is the same prompt: cached), the hover, each action, the three commands
        assert len(cloud.generation_requests()) >= 1 + 1 + len(CHAT_TASKS) + 3
        assert f"Related definition from {keys}:" in to_cloud
        assert "signing_salt (withheld: sensitive file)" in to_cloud
        assert MARKER not in sent(local)


@pytest.mark.parametrize("context", ["keep_local", "withhold"])
async def test_a_sensitive_file_two_imports_away(
    tmp_path: Path,
    openai_server: OpenAIWireServer,
    openai_server_b: OpenAIWireServer,
    clients: list[LanguageClient],
    context: str,
) -> None:
    root = tmp_path / "project"
    project(root, nested=False)
    (root / "app.py").write_text(APP_PY.format(package=""), encoding="utf-8")
    uri = (root / "app.py").as_uri()
    cloud, local = openai_server, openai_server_b
    editor = await start(tmp_path, root, uri, cloud, local, context, clients)

    route = (await editor.explain_route("refactor", (4, 12)))["route"]
    reasons = " ".join(route["reasons"])
    assert "context from secrets/keys.py" in reasons, route
    actions = await editor.code_actions((4, 12))
    for title in ("refactor the selection", "refactor across files"):
        await editor.resolve(actions, title)
    assert MARKER not in sent(cloud)
    if context == "keep_local":
        assert cloud.generation_requests() == [] and MARKER in sent(local)
    else:
        assert len(cloud.generation_requests()) >= 2 and "withheld: sensitive file" in sent(cloud)


async def test_other_files_text_in_a_multi_file_refactor_is_scanned_for_secrets(
    tmp_path: Path, openai_server: OpenAIWireServer, openai_server_b: OpenAIWireServer, clients: list[LanguageClient]
) -> None:
    """Not a sensitive path, but a pasted token in another file the refactor shows: redacted before it leaves."""
    value = secrets.token_hex(20)
    root = tmp_path / "project"
    root.mkdir()
    deploy = f'"""Deploy notes.\n\nexport DEPLOY_TOKEN={value}\n"""\n\n\ndef deploy_target():\n    return "prod"\n'
    (root / "deploy.py").write_text(deploy, encoding="utf-8")
    (root / "billing.py").write_text(
        "from deploy import deploy_target\n\n\ndef charge(amount):\n    return deploy_target(), amount\n",
        encoding="utf-8",
    )
    uri = (root / "billing.py").as_uri()
    editor = await start(tmp_path, root, uri, openai_server, openai_server_b, "keep_local", clients)
    await editor.resolve(await editor.code_actions((4, 12)), "refactor across files")
    to_cloud = sent(openai_server)
    assert "File: deploy.py" in to_cloud and "DEPLOY_TOKEN=[REDACTED:token]" in to_cloud
    assert value not in to_cloud


@pytest.mark.parametrize("context", ["keep_local", "withhold"])
async def test_an_existing_test_file_that_is_sensitive(
    tmp_path: Path,
    openai_server: OpenAIWireServer,
    openai_server_b: OpenAIWireServer,
    clients: list[LanguageClient],
    context: str,
) -> None:
    """``generate tests`` appends to an existing test file, whose text goes with the request: it is checked too."""
    root = tmp_path / "project"
    (root / "tests").mkdir(parents=True)
    (root / "billing.py").write_text("def total(amount):\n    return amount * 2\n", encoding="utf-8")
    existing = f'from billing import total\n\n\ndef test_total():\n    assert total(1) == 2, "{MARKER}"\n'
    (root / "tests" / "test_billing.py").write_text(existing, encoding="utf-8")
    uri = (root / "billing.py").as_uri()
    globs = 'path_globs = ["**/secrets/**", "**/tests/test_billing.py"]'
    editor = await start(tmp_path, root, uri, openai_server, openai_server_b, context, clients, globs)
    await editor.resolve(await editor.code_actions((1, 4)), "generate tests")
    assert MARKER not in sent(openai_server)
    if context == "keep_local":
        assert openai_server.generation_requests() == [] and MARKER in sent(openai_server_b)
    else:
        assert "`tests/test_billing.py` (withheld: sensitive file)" in sent(openai_server)
