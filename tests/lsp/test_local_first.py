"""Local first through the real server: a review that fits the local window is served there, one that does not
goes to the task's cloud model (the router weighs the whole prompt, the repository digest included)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from pytest_lsp import LanguageClient

from tests.lsp.harness import command, init_params, server_env, start_stdio
from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.base import Reply

NO_FINDINGS = "Nothing to report.\n\n```json\n[]\n```\n"


@pytest_asyncio.fixture
async def client(tmp_path: Path, anthropic_server: AnthropicWireServer) -> AsyncIterator[LanguageClient]:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "small.py").write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
    for n in range(8):  # ~3,000 tokens each: the repository digest is far beyond an 8,192-token local window
        body = "\n\n".join(
            f"def f{n}_{i}(items, limit={i}):\n    kept = [x for x in items if x.size < limit]\n"
            f"    return sorted(kept, key=lambda x: (x.priority, x.name))[:{i}]\n"
            for i in range(80)
        )
        (root / "pkg" / f"mod{n}.py").write_text(body, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[local]\nbackend = "instant"\ninstant_reply = {json.dumps(NO_FINDINGS)}\n'
        f'[analysis]\nindex_cache_dir = "{tmp_path / "index-cache"}"\n'
        f'[providers.anthropic]\nkind = "anthropic"\nbase_url = "{anthropic_server.base_url}"\n'
        'api_key_env = "TEST_WIRE_KEY"\nmodels = ["claude-sonnet-4-6"]\ndefault_model = "claude-sonnet-4-6"\n'
        "max_retries = 0\n[providers.openai]\nenabled = false\n[providers.gemini]\nenabled = false\n",
        encoding="utf-8",
    )
    anthropic_server.default_reply = Reply(NO_FINDINGS)
    started = await start_stdio(server_env(tmp_path, config, {"TEST_WIRE_KEY": "sk-test-not-a-real-key"}))
    await started.initialize_session(init_params(root, "visual-studio-code"))
    started.root = root  # type: ignore[attr-defined]
    yield started
    await started.shutdown_session()
    await started.stop()  # type: ignore[no-untyped-call]


async def test_a_file_review_stays_local_and_a_repository_review_goes_to_the_cloud(
    client: LanguageClient, anthropic_server: AnthropicWireServer
) -> None:
    small = (client.root / "pkg" / "small.py").as_uri()  # type: ignore[attr-defined]
    file_review = await command(client, "hybrid.review", {"scope": "file", "uri": small})
    assert file_review["route"]["target"] == "local" and file_review["route"]["cloud"] is False
    assert anthropic_server.generation_requests() == []

    repository_review = await command(client, "hybrid.review")
    assert repository_review["digest"]["tokens"] > 8_192
    assert repository_review["route"]["target"] == "anthropic" and repository_review["route"]["cloud"] is True
    assert len(anthropic_server.generation_requests()) == 1
