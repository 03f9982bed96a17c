"""A new user without a local model: completions say once what they need, not a missing cloud key."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from routing.policy import COMPLETIONS_NEED_LOCAL
from tests.lsp.harness import init_params, open_doc, server_env, start_stdio, write_config


async def test_completions_without_a_local_model_say_once_what_they_need(tmp_path: Path) -> None:
    workspace = tmp_path / "project"
    workspace.mkdir()
    (workspace / "main.py").write_text("def total(a, b):\n    \n", encoding="utf-8")
    missing = tmp_path / "no-such-model"
    local = f'backend = "transformers"\nmodel = "{missing}"\ndownload = false\n'
    # a cloud key is set: it must not be named as the remedy, nor silently change anything
    env = server_env(tmp_path, write_config(tmp_path, local=local), {"OPENAI_API_KEY": "sk-test"})
    client: LanguageClient = await start_stdio(env)
    try:
        await client.initialize_session(init_params(workspace, "neovim"))
        uri = (workspace / "main.py").as_uri()
        open_doc(client, uri, "def total(a, b):\n    \n")
        params = types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=4)
        )

        async def complete() -> None:
            result = await client.text_document_completion_async(params)
            items = result.items if isinstance(result, types.CompletionList) else (result or [])
            assert list(items) == []

        def told() -> list[str]:
            return [m.message for m in client.messages if COMPLETIONS_NEED_LOCAL in m.message]

        deadline = asyncio.get_running_loop().time() + 90  # the engine first tries to load, then gives up
        while not told() and asyncio.get_running_loop().time() < deadline:
            await complete()
            await asyncio.sleep(0.5)
        for _ in range(3):  # later completions say nothing new
            await complete()
        said = told()
        assert len(said) == 1, [m.message for m in client.messages]
        assert "no-such-model" in said[0]
        assert "API key" not in said[0]
    finally:
        await client.shutdown_session()
        await client.stop()
