"""The whole request pipeline with usage control: secrets never reach the cloud, budgets, ledger, fallbacks.

The cloud is the OpenAI wire test server driven through the real ``openai``
SDK; the local engine is the instant backend; the ledger is SQLite.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybrid_assist.language_server import build_assistant
from hybrid_assist.settings import HybridSettings
from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import path_to_uri
from lsp_server.assistant import Assistant
from lsp_server.requests import AssistRequest
from lsp_server.session import Session
from routing.service import RoutingService
from routing.tasks import TaskKind
from tests.wire.openai_server import OpenAIWireServer

SECRETS = {
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB",
    "db": "postgres://admin:s3cr3t-Pa55word@db.internal:5432/prod",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "slack": "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx",
}

SOURCE = f'''"""Service configuration."""
AWS_ACCESS_KEY_ID = "{SECRETS["aws"]}"
GITHUB_TOKEN = "{SECRETS["github"]}"
DATABASE_URL = "{SECRETS["db"]}"
SESSION = "{SECRETS["jwt"]}"
SLACK = "{SECRETS["slack"]}"


def connect(url):
    return url.split("@")[-1]
'''


def make_settings(tmp_path: Path, server: OpenAIWireServer, **overrides: object) -> HybridSettings:
    data: dict[str, object] = {
        "user": "alice",
        "team": "platform",
        "data_dir": str(tmp_path / "data"),
        "local": {"backend": "instant", "instant_reply": "local answer"},
        "analysis": {"index_cache_dir": str(tmp_path / "index")},
        "providers": {
            "openai": {
                "kind": "openai",
                "base_url": server.base_url,
                "api_key_env": "TEST_OPENAI_KEY",
                "models": ["gpt-4o"],
                "default_model": "gpt-4o",
                "max_retries": 0,
                "prices": {"gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10.0}},
            },
            "anthropic": {"kind": "anthropic", "enabled": False},
            "gemini": {"kind": "gemini", "enabled": False},
        },
        "routing": {"provider_order": ["openai"]},
    }
    data.update(overrides)
    return HybridSettings.model_validate(data)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test-not-a-real-key")


async def run(assistant: Assistant, settings: HybridSettings, path: Path, task: TaskKind) -> object:
    doc = Document(path_to_uri(path), path.read_text(), "python")
    session = Session(settings=settings, roots=[path.parent])
    result = await assistant.run(session, doc, AssistRequest(task, doc.uri, len(doc.source) - 5))
    await assistant.close()
    return result


def _bodies(server: OpenAIWireServer) -> str:
    return "\n".join(json.dumps(r.body) for r in server.generation_requests())


async def test_planted_secrets_never_reach_the_cloud(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    path = tmp_path / "service.py"
    path.write_text(SOURCE)
    openai_server.reply("## Architecture\nLooks fine.")
    settings = make_settings(tmp_path, openai_server)
    result = await run(build_assistant(settings), settings, path, TaskKind.ARCHITECTURE)
    assert result.target == "openai"  # type: ignore[attr-defined]
    assert result.text.startswith("## Architecture")  # type: ignore[attr-defined]
    sent = _bodies(openai_server)
    assert "[REDACTED" in sent
    for kind, secret in SECRETS.items():
        assert secret not in sent, f"{kind} secret reached the cloud"
    assert any("redacted" in r for r in result.explanation.decision.reasons)  # type: ignore[attr-defined]


async def test_secrets_keep_request_local_when_policy_says_so(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    path = tmp_path / "service.py"
    path.write_text(SOURCE)
    settings = make_settings(tmp_path, openai_server, sensitive={"on_secret": "local_only"})
    result = await run(build_assistant(settings), settings, path, TaskKind.ARCHITECTURE)
    assert result.target == "local" and result.text == "local answer"  # type: ignore[attr-defined]
    assert openai_server.generation_requests() == []


async def test_sensitive_path_never_leaves(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    path = secrets_dir / "keys.py"
    path.write_text("def key():\n    return 'not detected as a secret'\n")
    settings = make_settings(tmp_path, openai_server)
    result = await run(build_assistant(settings), settings, path, TaskKind.SECURITY)
    assert result.target == "local"  # type: ignore[attr-defined]
    assert result.explanation.decision.local_only  # type: ignore[attr-defined]
    assert openai_server.generation_requests() == []


async def test_budget_blocks_cloud_and_ledger_records(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    path = tmp_path / "plain.py"
    path.write_text("def add(a, b):\n    return a + b\n")
    settings = make_settings(tmp_path, openai_server, budgets={"user_monthly_usd": 0.000001})
    assistant = build_assistant(settings)
    result = await run(assistant, settings, path, TaskKind.ARCHITECTURE)
    assert result.target == "local"  # type: ignore[attr-defined]
    assert "budget" in result.notice  # type: ignore[attr-defined]
    assert openai_server.generation_requests() == []
    from routing.usage.database import ledger_url
    from routing.usage.ledger import Ledger

    ledger = Ledger.open(ledger_url("", settings.data_dir))
    try:
        row = ledger.get(result.request_id)  # type: ignore[attr-defined]
        assert row is not None and row.target == "local" and row.task == "architecture" and row.user == "alice"
        assert row.prompt_sha256 and row.prompt is None
    finally:
        ledger.close()


async def test_cloud_outage_falls_back_to_local_and_says_so(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    path = tmp_path / "plain.py"
    path.write_text("def add(a, b):\n    return a + b\n")
    openai_server.fail("server_error", times=5)
    settings = make_settings(tmp_path, openai_server)
    result = await run(build_assistant(settings), settings, path, TaskKind.ARCHITECTURE)
    assert result.target == "local" and result.text == "local answer"  # type: ignore[attr-defined]
    assert [a.target for a in result.attempts] == ["openai", "local"]  # type: ignore[attr-defined]
    assert "openai (UnavailableError) failed" in result.notice  # type: ignore[attr-defined]


async def test_rate_limit_refuses_with_a_reason(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    path = tmp_path / "plain.py"
    path.write_text("def add(a, b):\n    return a + b\n")
    settings = make_settings(tmp_path, openai_server, limits={"requests_per_minute": 1})
    assistant = build_assistant(settings)
    doc = Document(path_to_uri(path), path.read_text(), "python")
    session = Session(settings=settings, roots=[tmp_path])
    first = await assistant.run(session, doc, AssistRequest(TaskKind.EXPLAIN, doc.uri, 10))
    second = await assistant.run(session, doc, AssistRequest(TaskKind.EXPLAIN, doc.uri, 10))
    await assistant.close()
    assert first.text == "local answer"
    assert second.text == "" and second.empty_reason and second.notice


async def test_completion_cache_skips_the_engine(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    path = tmp_path / "plain.py"
    path.write_text("def add(a, b):\n    \n")
    settings = make_settings(tmp_path, openai_server)
    assistant = build_assistant(settings)
    doc = Document(path_to_uri(path), path.read_text(), "python")
    session = Session(settings=settings, roots=[tmp_path])
    offset = len("def add(a, b):\n    ")
    first = await assistant.run(session, doc, AssistRequest(TaskKind.INLINE_COMPLETION, doc.uri, offset))
    second = await assistant.run(session, doc, AssistRequest(TaskKind.INLINE_COMPLETION, doc.uri, offset))
    # another user's session on the same (multi-client) server, same text: their own call, not alice's answer
    bob = Session(settings=settings.model_copy(update={"user": "bob"}), roots=[tmp_path])
    third = await assistant.run(bob, doc, AssistRequest(TaskKind.INLINE_COMPLETION, doc.uri, offset))
    await assistant.close()
    assert first.text == second.text == third.text == "local answer"
    assert not first.from_cache and second.from_cache and not third.from_cache
    assert assistant.cache.hits == 1


async def test_metrics_follow_requests_fallbacks_and_circuits(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    path = tmp_path / "plain.py"
    path.write_text("def add(a, b):\n    return a + b\n")
    openai_server.fail("server_error", times=10)
    settings = make_settings(tmp_path, openai_server)
    assistant = build_assistant(settings)
    doc = Document(path_to_uri(path), path.read_text(), "python")
    session = Session(settings=settings, roots=[tmp_path])
    for _ in range(3):
        await assistant.run(session, doc, AssistRequest(TaskKind.ARCHITECTURE, doc.uri, 10))
    usage = assistant.serving.usage if isinstance(assistant.serving, RoutingService) else None
    assert usage is not None and usage.metrics is not None
    text = usage.metrics.exposition().decode()
    await assistant.close()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    fallbacks = sum(v for (name, _), v in samples.items() if "fallback" in name and name.endswith("_total"))
    assert fallbacks == 3
    circuits = {labels: v for (name, labels), v in samples.items() if "circuit" in name}
    assert circuits[(("target", "openai"),)] == 2  # open, after three consecutive failures
    assert circuits[(("target", "local"),)] == 0


async def test_fallback_chain_across_cloud_providers(
    tmp_path: Path, openai_server: OpenAIWireServer, anthropic_server: object
) -> None:
    from tests.wire.anthropic_server import AnthropicWireServer

    assert isinstance(anthropic_server, AnthropicWireServer)
    path = tmp_path / "plain.py"
    path.write_text("def add(a, b):\n    return a + b\n")
    openai_server.fail("rate_limit", times=5, retry_after=30)  # longer than we wait: move on at once
    anthropic_server.reply("## From Claude\nFine.")
    settings = make_settings(
        tmp_path,
        openai_server,
        providers={
            "openai": {
                "kind": "openai",
                "base_url": openai_server.base_url,
                "api_key_env": "TEST_OPENAI_KEY",
                "models": ["gpt-4o"],
                "default_model": "gpt-4o",
                "max_retries": 1,
            },
            "anthropic": {
                "kind": "anthropic",
                "base_url": anthropic_server.base_url,
                "api_key_env": "TEST_OPENAI_KEY",
                "models": ["claude-sonnet-4-6"],
                "default_model": "claude-sonnet-4-6",
            },
            "gemini": {"kind": "gemini", "enabled": False},
        },
        routing={"provider_order": ["openai", "anthropic"]},
    )
    result = await run(build_assistant(settings), settings, path, TaskKind.SECURITY)
    assert result.target == "anthropic" and result.text.startswith("## From Claude")  # type: ignore[attr-defined]
    assert [(a.target, a.outcome) for a in result.attempts] == [  # type: ignore[attr-defined]
        ("openai", "RateLimitedError"),
        ("anthropic", "ok"),
    ]
    assert len(anthropic_server.generation_requests()) == 1
