"""The ledger's token counts through LiteLLM's proxy (pinned 1.108.7): equal to what the upstream reported.

One LiteLLM proxy for the module, in front of the OpenAI and Anthropic wire
servers. Its ``/v1/messages`` in front of an OpenAI-style server (a
``hosted_vllm/`` model) is the case of issue 21: LiteLLM translates the
upstream's chat-completion stream into Anthropic events with zeros in
``message_start`` and the input and cache counts only in the cumulative
``message_delta``. Its ``/v1/messages`` in front of an Anthropic server
passes the events through; its ``/v1/chat/completions`` forwards the final
``include_usage`` chunk. Each request runs the whole pipeline (assistant,
router, backend, usage control) into a SQLite ledger.

Without a proxy: a server that reports no usage at all gets a ledger row
marked ``usage_estimated``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hybrid_assist.language_server import build_assistant
from hybrid_assist.settings import HybridSettings
from routing.settings import default_task_policies
from routing.tasks import TaskKind
from routing.usage.database import ledger_url
from routing.usage.ledger import Ledger, LedgerEntry
from tests.litellm_proxy import MASTER_KEY, litellm_proxy
from tests.routing.test_pipeline_usage import run
from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.openai_server import OpenAIWireServer

KEY_ENV = "HA_TEST_PROXY_KEY"
#: What the upstream reports: the whole prompt, the cached part of it, the answer.
PROMPT_TOKENS, CACHED_TOKENS, OUTPUT_TOKENS = 37_412, 30_208, 5
ANSWER = "## Architecture\nThe layers are clean."


@dataclasses.dataclass
class Upstreams:
    openai: OpenAIWireServer
    anthropic: AnthropicWireServer
    proxy: str  # LiteLLM's root URL


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with OpenAIWireServer() as openai, AnthropicWireServer() as anthropic:
        model_list: list[dict[str, Any]] = [
            {  # /v1/messages -> an OpenAI-style chat-completions upstream: LiteLLM's Anthropic adapter
                "model_name": "claude-via-chat-completions",
                "litellm_params": {"model": "hosted_vllm/test-model", "api_base": openai.base_url, "api_key": "none"},
            },
            {  # /v1/messages -> an Anthropic upstream
                "model_name": "claude-sonnet-4-6",
                "litellm_params": {
                    "model": "anthropic/claude-sonnet-4-6",
                    "api_base": anthropic.base_url,
                    "api_key": "none",
                },
            },
            {  # /v1/chat/completions -> an OpenAI upstream
                "model_name": "gpt-4o",
                "litellm_params": {"model": "openai/gpt-4o", "api_base": openai.base_url, "api_key": "none"},
            },
        ]
        with litellm_proxy(model_list) as proxy:
            yield Upstreams(openai, anthropic, proxy)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, MASTER_KEY)


def settings_for(tmp_path: Path, provider: str, kind: str, base_url: str, model: str) -> HybridSettings:
    """The architecture task (always cloud) sent to ``provider:model`` at ``base_url``; the others disabled."""
    tasks = {str(task): policy.model_dump() for task, policy in default_task_policies().items()}
    tasks[TaskKind.ARCHITECTURE.value]["cloud"] = f"{provider}:{model}"
    providers: dict[str, Any] = {name: {"kind": name, "enabled": False} for name in ("openai", "anthropic", "gemini")}
    providers[provider] = {
        "kind": kind,
        "base_url": base_url,
        "api_key_env": KEY_ENV,
        "models": [model],
        "default_model": model,
        "max_retries": 0,
    }
    return HybridSettings.model_validate(
        {
            "user": "alice",
            "team": "platform",
            "data_dir": str(tmp_path / "data"),
            "local": {"backend": "instant", "instant_reply": "local answer"},
            "analysis": {"index_cache_dir": str(tmp_path / "index")},
            "providers": providers,
            "routing": {"provider_order": [provider], "tasks": tasks},
        }
    )


async def ledger_row(tmp_path: Path, settings: HybridSettings) -> LedgerEntry:
    path = tmp_path / "service.py"
    path.write_text("class Store:\n    def get(self, key):\n        return self.rows[key]\n")
    result: Any = await run(build_assistant(settings), settings, path, TaskKind.ARCHITECTURE)
    assert result.text == ANSWER, result
    ledger = Ledger.open(ledger_url("", settings.data_dir))
    try:
        row = ledger.get(result.request_id)
    finally:
        ledger.close()
    assert row is not None and row.outcome == "ok"
    return row


def counts(row: LedgerEntry) -> tuple[int, int, int, bool]:
    return row.input_tokens, row.cached_tokens, row.output_tokens, row.usage_estimated


UPSTREAM = (PROMPT_TOKENS, CACHED_TOKENS, OUTPUT_TOKENS, False)


async def test_anthropic_messages_through_litellm_in_front_of_a_chat_completions_server(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    upstreams.openai.reply(ANSWER, prompt_tokens=PROMPT_TOKENS, cached_tokens=CACHED_TOKENS, completion_tokens=5)
    settings = settings_for(tmp_path, "anthropic", "anthropic", upstreams.proxy, "claude-via-chat-completions")
    assert counts(await ledger_row(tmp_path, settings)) == UPSTREAM
    assert upstreams.openai.generation_requests()[-1].path == "/v1/chat/completions"


async def test_anthropic_messages_through_litellm_in_front_of_an_anthropic_server(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    upstreams.anthropic.reply(ANSWER, prompt_tokens=PROMPT_TOKENS, cached_tokens=CACHED_TOKENS, completion_tokens=5)
    settings = settings_for(tmp_path, "anthropic", "anthropic", upstreams.proxy, "claude-sonnet-4-6")
    assert counts(await ledger_row(tmp_path, settings)) == UPSTREAM
    assert upstreams.anthropic.generation_requests()[-1].path == "/v1/messages"


@pytest.mark.parametrize("kind", ["openai", "openai-compatible"])
async def test_chat_completions_through_litellm(tmp_path: Path, upstreams: Upstreams, kind: str) -> None:
    upstreams.openai.reply(ANSWER, prompt_tokens=PROMPT_TOKENS, cached_tokens=CACHED_TOKENS, completion_tokens=5)
    settings = settings_for(tmp_path, "openai", kind, f"{upstreams.proxy}/v1", "gpt-4o")
    assert counts(await ledger_row(tmp_path, settings)) == UPSTREAM
    assert upstreams.openai.generation_requests()[-1].path == "/v1/chat/completions"


async def test_a_server_that_reports_no_usage_gets_an_estimated_row(
    tmp_path: Path, anthropic_server: AnthropicWireServer
) -> None:
    anthropic_server.reply(ANSWER, prompt_tokens=PROMPT_TOKENS, usage_in="none")
    settings = settings_for(tmp_path, "anthropic", "anthropic", anthropic_server.base_url, "claude-sonnet-4-6")
    row = await ledger_row(tmp_path, settings)
    assert row.usage_estimated is True
    assert 0 < row.input_tokens != PROMPT_TOKENS and row.output_tokens > 0
