"""Context windows: what the language server sends fits the window of a model that may serve it.

The context assembler and the repository digest are sized to the largest
window among the targets the policy may send the request to (less the
answer); a request that still fits none is refused, naming the sizes,
before any network call. In process (the Assistant with the instant engine
or the OpenAI wire server) and through the real server process (a repository
command against the wire server, which records what it was sent).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from hybrid_assist.language_server import build_assistant
from hybrid_assist.settings import settings_loader
from inference.backend import estimate_tokens
from lsp_server.analysis.paths import path_to_uri
from lsp_server.requests import AssistRequest, AssistResult
from lsp_server.server import HybridLanguageServer
from routing.tasks import TaskKind
from tests.lsp.harness import command, init_params, server_env, start_stdio, write_config
from tests.wire.openai_server import OpenAIWireServer

KEY_ENV = "TEST_WIRE_KEY"


def _module(functions: int) -> str:
    """A Python module of ``functions`` small functions (about 30 tokens each)."""
    return "".join(
        f"def step_{i}(value):\n    total = value * {i} + {i * 7}\n    return total - step_{max(0, i - 1)}(value)\n\n\n"
        for i in range(functions)
    )


def _openai(server: OpenAIWireServer, window: int | None = None) -> str:
    windows = f'windows = {{ "gpt-4o" = {window} }}\n' if window is not None else ""
    return (
        f'[providers.openai]\nenabled = true\nkind = "openai"\nbase_url = "{server.base_url}"\n'
        f'api_key_env = "{KEY_ENV}"\nmodels = ["gpt-4o"]\ndefault_model = "gpt-4o"\nmax_retries = 0\n{windows}'
    )


def _config(tmp: Path, extra: str, openai: str = "") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    config = write_config(tmp, extra, reply="the answer")
    if openai:  # replaces the disabled [providers.openai] table
        text = config.read_text(encoding="utf-8").replace("[providers.openai]\nenabled = false\n", openai)
        config.write_text(text, encoding="utf-8")
    return config


async def _run(
    tmp: Path, monkeypatch: pytest.MonkeyPatch, config: Path, task: TaskKind, text: str, offset: int
) -> AssistResult:
    monkeypatch.setenv("HYBRID_ASSIST_CONFIG", str(config))
    loader = settings_loader()
    assistant = build_assistant(loader.load().settings)
    try:
        ls = HybridLanguageServer(assistant, loader)
        uri = path_to_uri(tmp / "steps.py")
        doc = ls.session.documents.open(uri, text, "python", 1)
        await assistant.runtime.wait_local(30.0)
        return await assistant.run(ls.session, doc, AssistRequest(task, uri, offset))
    finally:
        await assistant.close()


async def test_a_completion_larger_than_a_small_local_window_is_trimmed_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _module(300)  # ~9,000 tokens; the completion budget is 2,048, the local window 512
    config = _config(tmp_path, "[routing]\nlocal_context_tokens = 512\n")
    result = await _run(tmp_path, monkeypatch, config, TaskKind.COMPLETION, text, len(text) - 200)
    assert result.target == "local" and result.text
    # the instant engine counts the prompt it was given: within the window less the answer (64)
    assert 0 < result.usage.prompt_tokens <= 512 - 64


async def test_an_explain_larger_than_the_local_window_is_trimmed_when_no_cloud_may_serve_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "def big(value):\n" + "".join(f"    value = value * {i} + {i * 3}\n" for i in range(400))
    config = _config(tmp_path, "[routing]\nlocal_context_tokens = 1024\n")
    result = await _run(tmp_path, monkeypatch, config, TaskKind.EXPLAIN, text, 20)
    assert result.target == "local" and result.text == "the answer"
    assert 0 < result.usage.prompt_tokens <= 1024 - 400  # explain's answer budget is 400


async def test_an_explain_larger_than_the_local_window_goes_to_the_cloud_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: OpenAIWireServer
) -> None:
    openai_server.reply("explained")
    text = "def big(value):\n" + "".join(f"    value = value * {i} + {i * 3}\n" for i in range(400))
    extra = '[routing]\nlocal_context_tokens = 1024\n[routing.tasks.explain]\nlocal_up_to = "repository"\n'
    extra += 'cloud = "openai:gpt-4o"\nmax_output_tokens = 400\n'
    monkeypatch.setenv(KEY_ENV, "sk-test-not-a-real-key")
    config = _config(tmp_path, extra, _openai(openai_server))
    result = await _run(tmp_path, monkeypatch, config, TaskKind.EXPLAIN, text, 20)
    assert (result.target, result.text) == ("openai", "explained")
    sent = json.dumps(openai_server.generation_requests()[-1].body["messages"])
    assert "value * 399 + 1197" in sent  # the whole function: the cloud window holds it


async def test_a_request_that_fits_no_window_is_refused_before_any_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openai_server: OpenAIWireServer
) -> None:
    # a refactor's code is never cut (its answer replaces it): 3,000+ tokens against windows of 1,024 and 2,000
    text = "def big(value):\n" + "".join(f"    value = value * {i} + {i * 3}\n" for i in range(500))
    monkeypatch.setenv(KEY_ENV, "sk-test-not-a-real-key")
    extra = '[routing]\nlocal_context_tokens = 1024\n[routing.tasks.refactor]\nlocal_up_to = "single_file"\n'
    extra += 'cloud = "openai:gpt-4o"\nmax_output_tokens = 800\n'
    config = _config(tmp_path / "cloud", extra, _openai(openai_server, window=2000))
    result = await _run(tmp_path, monkeypatch, config, TaskKind.REFACTOR, text, 20)
    assert result.text == "" and result.attempts == ()
    assert "fits no model's window (local 1024, openai:gpt-4o 2000); nothing was sent" in result.empty_reason
    assert result.explanation.decision.refused == "context_length_exceeded"
    assert openai_server.generation_requests() == []

    # no cloud provider at all: the local engine's window alone, and the engine is not called either
    config = _config(tmp_path / "local", extra)
    result = await _run(tmp_path, monkeypatch, config, TaskKind.REFACTOR, text, 20)
    assert result.text == "" and result.attempts == ()
    assert "fits no model's window (local 1024); nothing was sent" in result.empty_reason


async def test_a_repository_digest_is_trimmed_to_a_small_cloud_window_and_served(
    tmp_path: Path, openai_server: OpenAIWireServer
) -> None:
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "steps.py").write_text(_module(400), encoding="utf-8")  # ~12,000 tokens; the budget is 24,000
    openai_server.reply("No vulnerabilities found.\n\n```json\n[]\n```\n")
    config = _config(tmp_path, "", _openai(openai_server, window=6000))
    client: LanguageClient = await start_stdio(server_env(tmp_path, config, {KEY_ENV: "sk-test-not-a-real-key"}))
    try:
        await client.initialize_session(init_params(root, "visual-studio-code"))
        result = await command(client, "hybrid.securityAudit")  # policy: never local, openai:gpt-4o, 2,500 out
    finally:
        await client.shutdown_session()
        await client.stop()  # type: ignore[no-untyped-call]
    assert result["route"]["target"] == "openai" and result["findings"] == 0
    assert result["digest"]["truncated"] is True
    [sent] = openai_server.generation_requests()
    prompt = "".join(m["content"] for m in sent.body["messages"])
    assert "def step_0" in prompt
    assert estimate_tokens(prompt) <= 6000 - 2500  # the window less the answer
