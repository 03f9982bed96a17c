"""Pasted secrets in a repository never reach the cloud through the language server; ordinary code goes unchanged.

The real server process runs ``hybrid.architecture`` and
``hybrid.securityAudit`` (tasks the policy sends to the cloud) on a
repository whose Python files carry pasted environments, YAML, compose
lists, Kubernetes Secrets, DSNs and diffs in docstrings, comments and
strings, with fresh random values (``tests/usage/secret_corpus.py``). The
cloud is the OpenAI wire server, so what is asserted is what left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from pytest_lsp import LanguageClient

from tests.lsp.harness import command, init_params, server_env, start_stdio
from tests.tasks import recorded
from tests.usage.secret_corpus import ORDINARY, planted
from tests.wire.openai_server import OpenAIWireServer

NO_FINDINGS = "No vulnerabilities found.\n\n```json\n[]\n```\n"


def _config(tmp: Path, openai: OpenAIWireServer) -> Path:
    config = tmp / "config.toml"
    config.write_text(
        f"""
data_dir = "{tmp / "data"}"

[local]
backend = "instant"
instant_reply = "local answer"

[analysis]
index_cache_dir = "{tmp / "index-cache"}"

[providers.openai]
kind = "openai"
base_url = "{openai.base_url}"
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
""",
        encoding="utf-8",
    )
    return config


def _module(texts: list[str]) -> str:
    """A Python module holding ``texts`` as raw string constants, as pasted notes are kept in code."""
    assert not any("'''" in text for text in texts)
    return "\n".join(f"NOTE_{i} = r'''\n{text}\n'''\n" for i, text in enumerate(texts)) + "\n\ndef run():\n    pass\n"


@pytest_asyncio.fixture
async def started(tmp_path: Path) -> AsyncIterator[list[LanguageClient]]:
    clients: list[LanguageClient] = []
    yield clients
    for client in clients:
        await client.shutdown_session()
        await client.stop()


async def _start(tmp: Path, root: Path, openai: OpenAIWireServer, clients: list[LanguageClient]) -> LanguageClient:
    client = await start_stdio(server_env(tmp, _config(tmp, openai), {"TEST_WIRE_KEY": "sk-test-not-a-real-key"}))
    clients.append(client)
    await client.initialize_session(init_params(root, "visual-studio-code"))
    return client


def _sent(openai: OpenAIWireServer) -> str:
    return "\n".join(
        message["content"] for request in openai.generation_requests() for message in request.body["messages"]
    )


async def test_pasted_secrets_never_reach_the_cloud(
    tmp_path: Path, openai_server: OpenAIWireServer, started: list[LanguageClient]
) -> None:
    cases = planted()
    docstring, *others = cases
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "deploy.py").write_text(docstring[1], encoding="utf-8")  # the pasted environment as written
    (root / "app" / "notes.py").write_text(_module([text for _, text, _ in others]), encoding="utf-8")
    (root / "app" / "db.py").write_text(recorded.DB_PY, encoding="utf-8")
    openai_server.reply(recorded.ARCHITECTURE_ANSWER)
    openai_server.reply(NO_FINDINGS)
    client = await _start(tmp_path, root, openai_server, started)

    architecture = await command(client, "hybrid.architecture")
    security = await command(client, "hybrid.securityAudit")

    assert architecture["route"]["target"] == "openai" and security["route"]["target"] == "openai"
    assert len(openai_server.generation_requests()) == 2
    sent = _sent(openai_server)
    assert "app/deploy.py" in sent and "app/notes.py" in sent  # the files went, redacted
    values = [value for _, _, values in cases for value in values]
    assert [v for v in values if v in sent] == []
    assert "DEPLOY_TOKEN=[REDACTED:token]" in sent and "password: [REDACTED:password]" in sent


async def test_ordinary_code_goes_to_the_cloud_unchanged(
    tmp_path: Path, openai_server: OpenAIWireServer, started: list[LanguageClient]
) -> None:
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "ordinary.py").write_text(_module([text for _, text in ORDINARY]), encoding="utf-8")
    openai_server.reply(recorded.ARCHITECTURE_ANSWER)
    client = await _start(tmp_path, root, openai_server, started)

    result = await command(client, "hybrid.architecture")

    assert result["route"]["target"] == "openai"
    sent = _sent(openai_server)
    assert "[REDACTED" not in sent
    lines = [line for _, text in ORDINARY for line in text.splitlines() if line.strip()]
    assert [line for line in lines if line not in sent] == []
