"""OpenAIBackend through the real ``openai`` SDK against the loopback OpenAI imitation."""

from __future__ import annotations

import asyncio
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
from inference.remote import OpenAIBackend, RetryTiming
from inference.remote._fim_chat import CURSOR, FIM_SYSTEM_PROMPT
from inference.settings import ProviderSettings
from inference.types import ChatMessage, GenerationChunk, GenerationRequest
from tests.wire.openai_server import OpenAIWireServer

KEY_ENV = "HA_TEST_OPENAI_KEY"
FAST = RetryTiming(initial_backoff_s=0.01, max_backoff_s=0.02)


def make_backend(
    server: OpenAIWireServer, *, max_retries: int = 2, timeout_s: float = 10.0, **fields: object
) -> OpenAIBackend:
    values: dict[str, object] = {
        "kind": "openai",
        "base_url": server.base_url,
        "api_key_env": KEY_ENV,
        "models": ["gpt-4o", "gpt-4o-mini"],
        "default_model": "gpt-4o",
        "timeout_s": timeout_s,
        "max_retries": max_retries,
    }
    values.update(fields)
    settings = ProviderSettings.model_validate(values)
    return OpenAIBackend("openai", settings, retry_timing=FAST)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, "sk-test-openai")
    return "sk-test-openai"


def chat(request_id: str = "r1", text: str = "hello", **kw: object) -> GenerationRequest:
    return GenerationRequest.chat(request_id, [ChatMessage("user", text)], **kw)


async def drain(backend: OpenAIBackend, request: GenerationRequest) -> list[GenerationChunk]:
    return [chunk async for chunk in backend.generate(request)]


async def test_streams_pieces_in_order_and_usage_with_cached_tokens(openai_server: OpenAIWireServer) -> None:
    openai_server.reply(
        "def add(a, b):\n    return a + b\n",
        pieces=["def add", "(a, b):\n", "    return", " a + b\n"],
        prompt_tokens=120,
        cached_tokens=96,
        completion_tokens=11,
    )
    chunks = await drain(make_backend(openai_server), chat())
    assert [c.text for c in chunks[:-1]] == ["def add", "(a, b):\n", "    return", " a + b\n"]
    assert all(c.finish_reason is None and c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.text == "" and last.finish_reason == "stop"
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.cached_tokens, last.usage.completion_tokens) == (120, 96, 11)


async def test_request_reaches_the_overridden_base_url_as_openai_expects(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server)
    request = GenerationRequest.chat(
        "r1",
        [ChatMessage("system", "be brief"), ChatMessage("user", "explain")],
        model="gpt-4o-mini",
        max_tokens=33,
        stop=["\n\n", "a", "b", "c", "d"],
    )
    result = await collect(backend, request)
    assert result.model == "gpt-4o-mini"
    [sent] = openai_server.generation_requests()
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-openai"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "explain"},
    ]
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["max_completion_tokens"] == 33
    assert sent.body["stop"] == ["\n\n", "a", "b", "c"]  # OpenAI takes at most four


async def test_fim_request_becomes_the_shared_chat_prompt(openai_server: OpenAIWireServer) -> None:
    openai_server.reply("a + b")
    result = await collect(
        make_backend(openai_server), GenerationRequest.fim("f1", "def add(a, b):\n    return ", "\n")
    )
    assert result.text == "a + b"
    body = openai_server.generation_requests()[0].body
    assert body["messages"][0] == {"role": "system", "content": FIM_SYSTEM_PROMPT}
    assert body["messages"][1]["role"] == "user"
    assert f"def add(a, b):\n    return {CURSOR}\n" in body["messages"][1]["content"]


async def test_rate_limit_retry_after_is_honoured(openai_server: OpenAIWireServer) -> None:
    openai_server.fail("rate_limit", retry_after=0.3)
    openai_server.reply("ok")
    result = await collect(make_backend(openai_server), chat())
    assert result.text == "ok"
    first, second = openai_server.generation_requests()
    assert second.received_at - first.received_at >= 0.3


async def test_rate_limit_beyond_retries_raises_with_retry_after(openai_server: OpenAIWireServer) -> None:
    openai_server.fail("rate_limit", retry_after=0.05, times=3)
    with pytest.raises(RateLimitedError) as info:
        await drain(make_backend(openai_server, max_retries=1), chat())
    assert info.value.retry_after == pytest.approx(0.05)
    assert info.value.provider == "openai" and info.value.status == 429
    assert len(openai_server.generation_requests()) == 2


async def test_server_errors_are_retried_with_backoff(openai_server: OpenAIWireServer) -> None:
    openai_server.fail("server_error", times=2)
    openai_server.reply("fine")
    result = await collect(make_backend(openai_server, max_retries=2), chat())
    assert result.text == "fine"
    assert len(openai_server.generation_requests()) == 3


async def test_no_retry_after_the_first_token(openai_server: OpenAIWireServer) -> None:
    openai_server.fail("reset", after_chunks=2)
    backend = make_backend(openai_server, max_retries=3)
    received: list[str] = []
    with pytest.raises(UnavailableError):
        async for chunk in backend.generate(chat()):
            received.append(chunk.text)
    assert len(received) == 2
    assert len(openai_server.generation_requests()) == 1


async def test_reset_before_the_first_token_is_retried(openai_server: OpenAIWireServer) -> None:
    openai_server.fail("reset", after_chunks=0)
    openai_server.reply("second try")
    result = await collect(make_backend(openai_server), chat())
    assert result.text == "second try"
    assert len(openai_server.generation_requests()) == 2


async def test_content_filter_finish_reason(openai_server: OpenAIWireServer) -> None:
    openai_server.reply("partial", finish_reason="content_filter")
    with pytest.raises(ContentFilteredError) as info:
        await drain(make_backend(openai_server), chat())
    assert info.value.provider == "openai"


async def test_timeout_closes_the_request(openai_server: OpenAIWireServer) -> None:
    openai_server.fail("timeout", delay_s=5.0)
    backend = make_backend(openai_server)
    start = time.monotonic()
    with pytest.raises(InferenceTimeoutError):
        await drain(backend, chat(timeout_s=0.3))
    assert time.monotonic() - start < 2.0
    assert openai_server.wait_until(lambda: openai_server.generation_requests()[0].disconnected)
    assert backend.load().running == 0


async def test_abort_closes_the_stream_and_ends_with_abort(openai_server: OpenAIWireServer) -> None:
    openai_server.slow_tokens = 0.1
    openai_server.reply(" ".join(f"w{i}" for i in range(50)))
    backend = make_backend(openai_server)
    stream = backend.generate(chat("abort-me"))
    first = await anext(stream)
    assert first.text
    assert backend.load().running == 1
    await backend.abort("abort-me")
    rest = [chunk async for chunk in stream]
    assert rest[-1].finish_reason == "abort"
    assert rest[-1].usage is not None and rest[-1].usage.completion_tokens >= 1
    assert openai_server.wait_until(lambda: openai_server.generation_requests()[0].disconnected)
    assert not openai_server.generation_requests()[0].completed
    assert backend.load().running == 0
    await backend.abort("abort-me")  # no longer running: no error


async def test_closing_the_generator_closes_the_stream(openai_server: OpenAIWireServer) -> None:
    openai_server.slow_tokens = 0.1
    openai_server.reply(" ".join(f"w{i}" for i in range(50)))
    backend = make_backend(openai_server)
    stream = backend.generate(chat())
    await anext(stream)
    await stream.aclose()
    assert openai_server.wait_until(lambda: openai_server.generation_requests()[0].disconnected)
    assert backend.load().running == 0


async def test_cancelling_the_caller_closes_the_stream(openai_server: OpenAIWireServer) -> None:
    openai_server.slow_tokens = 0.1
    openai_server.reply(" ".join(f"w{i}" for i in range(50)))
    backend = make_backend(openai_server)
    task = asyncio.create_task(collect(backend, chat()))
    assert await asyncio.to_thread(openai_server.wait_until, lambda: bool(openai_server.generation_requests()))
    await asyncio.sleep(0.15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(
        openai_server.wait_until, lambda: openai_server.generation_requests()[0].disconnected
    )


async def test_missing_key_explained_without_any_network_call(
    openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    backend = make_backend(openai_server)
    await backend.start()
    health = await backend.health()
    assert not health.ok
    assert health.detail == f"{KEY_ENV} is not set"
    assert f"export {KEY_ENV}=" in health.remedy
    with pytest.raises(AuthenticationError) as info:
        await drain(backend, chat())
    assert KEY_ENV in info.value.message and info.value.provider == "openai"
    assert openai_server.requests == []


async def test_health_checks_the_key_and_model(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server)
    health = await backend.health()
    assert health.ok, health.detail
    assert health.models == ("gpt-4o", "gpt-4o-mini")
    probe = openai_server.requests[-1]
    assert probe.path == "/v1/models/gpt-4o" and probe.headers["authorization"] == "Bearer sk-test-openai"

    unknown = make_backend(openai_server, models=[], default_model="gpt-unknown")
    health = await unknown.health()
    assert not health.ok and "does not exist" in health.detail and "default_model" in health.remedy

    openai_server.stop()
    health = await backend.health()
    assert not health.ok and "base_url" in health.remedy
    await backend.close()


async def test_load_reports_running_requests_and_recent_ttft(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server)
    assert backend.load().recent_ttft_ms is None
    openai_server.slow_tokens = 0.05
    stream = backend.generate(chat("slow"))
    await anext(stream)
    assert backend.load().running == 1
    async for _ in stream:
        pass
    load = backend.load()
    assert load.running == 0
    assert load.recent_ttft_ms is not None and load.recent_ttft_ms > 0
    assert backend.default_model() == "gpt-4o"
    assert not backend.is_local
