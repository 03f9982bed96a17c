"""AnthropicBackend through the real ``anthropic`` SDK against the loopback Messages API imitation."""

from __future__ import annotations

import time

import pytest

from inference.backend import collect
from inference.errors import (
    AuthenticationError,
    ContentFilteredError,
    InferenceTimeoutError,
    RateLimitedError,
    UnavailableError,
)
from inference.remote import AnthropicBackend, RetryTiming
from inference.remote._fim_chat import CURSOR, FIM_SYSTEM_PROMPT
from inference.settings import ProviderSettings
from inference.types import ChatMessage, GenerationChunk, GenerationRequest
from tests.wire.anthropic_server import AnthropicWireServer

KEY_ENV = "HA_TEST_ANTHROPIC_KEY"
KEY = "sk-ant-test"
FAST = RetryTiming(initial_backoff_s=0.01, max_backoff_s=0.02)


def make_backend(server: AnthropicWireServer, **fields: object) -> AnthropicBackend:
    values: dict[str, object] = {
        "kind": "anthropic",
        "base_url": server.base_url,
        "api_key_env": KEY_ENV,
        "models": ["claude-sonnet-4-6", "claude-haiku-4-5"],
        "default_model": "claude-sonnet-4-6",
        "timeout_s": 10.0,
        "max_retries": 2,
    }
    values.update(fields)
    return AnthropicBackend("anthropic", ProviderSettings.model_validate(values), retry_timing=FAST)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def chat(request_id: str = "r1", **kw: object) -> GenerationRequest:
    return GenerationRequest.chat(request_id, [ChatMessage("user", "hello")], **kw)


async def drain(backend: AnthropicBackend, request: GenerationRequest) -> list[GenerationChunk]:
    return [chunk async for chunk in backend.generate(request)]


def sent_key(headers: dict[str, str]) -> str:
    """The key as the SDK sent it (``x-api-key``, or a bearer token in SDK 2.x)."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


async def test_streams_text_deltas_and_usage_including_cache_reads(
    anthropic_server: AnthropicWireServer,
) -> None:
    anthropic_server.reply(
        "for x in xs:\n    print(x)",
        pieces=["for x in xs:\n", "    print", "(x)"],
        prompt_tokens=300,
        cached_tokens=256,
        completion_tokens=9,
    )
    chunks = await drain(make_backend(anthropic_server), chat())
    assert [c.text for c in chunks[:-1]] == ["for x in xs:\n", "    print", "(x)"]
    last = chunks[-1]
    assert last.finish_reason == "stop" and last.text == ""
    assert last.usage is not None
    # input_tokens (44) excludes the cache read (256); the prompt is their sum.
    assert (last.usage.prompt_tokens, last.usage.cached_tokens, last.usage.completion_tokens) == (300, 256, 9)


async def test_system_prompt_is_separate_and_turns_alternate(anthropic_server: AnthropicWireServer) -> None:
    request = GenerationRequest.chat(
        "r1",
        [
            ChatMessage("system", "be brief"),
            ChatMessage("user", "part one"),
            ChatMessage("user", "part two"),
            ChatMessage("assistant", "ok"),
            ChatMessage("user", "go"),
        ],
        model="claude-haiku-4-5",
        max_tokens=40,
        stop=["\n\n", "  ", "END"],
    )
    await collect(make_backend(anthropic_server), request)
    [sent] = anthropic_server.generation_requests()
    assert sent.path == "/v1/messages"
    assert sent_key(sent.headers) == KEY
    assert sent.body["system"] == "be brief"
    assert sent.body["messages"] == [
        {"role": "user", "content": "part one\n\npart two"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "go"},
    ]
    assert sent.body["model"] == "claude-haiku-4-5"
    assert sent.body["max_tokens"] == 40
    assert sent.body["stream"] is True
    assert sent.body["stop_sequences"] == ["END"]  # whitespace-only ones are rejected by the API


async def test_fim_uses_the_shared_chat_prompt(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.reply("x + 1")
    result = await collect(make_backend(anthropic_server), GenerationRequest.fim("f", "y = ", "\n"))
    assert result.text == "x + 1"
    body = anthropic_server.generation_requests()[0].body
    assert body["system"] == FIM_SYSTEM_PROMPT
    assert f"y = {CURSOR}\n" in body["messages"][0]["content"]


async def test_max_tokens_stop_reason_is_length(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.reply("truncated", finish_reason="length")
    result = await collect(make_backend(anthropic_server), chat())
    assert result.finish_reason == "length"


async def test_refusal_is_content_filtered(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.reply("I can't", finish_reason="content_filter")
    with pytest.raises(ContentFilteredError):
        await drain(make_backend(anthropic_server), chat())


async def test_retry_after_is_honoured(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.fail("rate_limit", retry_after=0.25)
    anthropic_server.reply("done")
    result = await collect(make_backend(anthropic_server), chat())
    assert result.text == "done"
    first, second = anthropic_server.generation_requests()
    assert second.received_at - first.received_at >= 0.25


async def test_rate_limit_without_retries_carries_retry_after(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.fail("rate_limit", retry_after=0.05)
    with pytest.raises(RateLimitedError) as info:
        await drain(make_backend(anthropic_server, max_retries=0), chat())
    assert info.value.retry_after == pytest.approx(0.05)
    assert len(anthropic_server.generation_requests()) == 1


async def test_overloaded_529_is_retried(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.fail("overloaded")
    anthropic_server.reply("after overload")
    result = await collect(make_backend(anthropic_server), chat())
    assert result.text == "after overload"
    assert len(anthropic_server.generation_requests()) == 2


async def test_reset_mid_stream_is_not_retried(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.fail("reset", after_chunks=1)
    received: list[str] = []
    with pytest.raises(UnavailableError):
        async for chunk in make_backend(anthropic_server).generate(chat()):
            received.append(chunk.text)
    assert len(received) == 1
    assert len(anthropic_server.generation_requests()) == 1


async def test_timeout(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.fail("timeout", delay_s=5.0)
    start = time.monotonic()
    with pytest.raises(InferenceTimeoutError):
        await drain(make_backend(anthropic_server, timeout_s=0.3), chat())
    assert time.monotonic() - start < 2.0
    assert anthropic_server.wait_until(lambda: anthropic_server.generation_requests()[0].disconnected)


async def test_abort_closes_the_stream(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.slow_tokens = 0.1
    anthropic_server.reply(" ".join(f"t{i}" for i in range(40)))
    backend = make_backend(anthropic_server)
    stream = backend.generate(chat("a1"))
    assert (await anext(stream)).text
    await backend.abort("a1")
    rest = [chunk async for chunk in stream]
    assert rest[-1].finish_reason == "abort"
    assert anthropic_server.wait_until(lambda: anthropic_server.generation_requests()[0].disconnected)
    assert backend.load().running == 0


async def test_missing_key(anthropic_server: AnthropicWireServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    backend = make_backend(anthropic_server)
    health = await backend.health()
    assert not health.ok and health.detail == f"{KEY_ENV} is not set" and KEY_ENV in health.remedy
    with pytest.raises(AuthenticationError):
        await drain(backend, chat())
    assert anthropic_server.requests == []


async def test_health_probes_the_default_model(anthropic_server: AnthropicWireServer) -> None:
    backend = make_backend(anthropic_server)
    health = await backend.health()
    assert health.ok, health.detail
    probe = anthropic_server.requests[-1]
    assert probe.path == "/v1/models/claude-sonnet-4-6" and sent_key(probe.headers) == KEY
    anthropic_server.healthy = False
    health = await backend.health()
    assert not health.ok and "base_url" in health.remedy
    await backend.close()
