"""GeminiBackend through the real ``google-genai`` SDK against the loopback Gemini API imitation."""

from __future__ import annotations

import re
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
from inference.remote import GeminiBackend, RetryTiming
from inference.remote._fim_chat import CURSOR, FIM_SYSTEM_PROMPT
from inference.remote.gemini_backend import SIGNATURE_MARK
from inference.settings import ProviderSettings
from inference.types import ChatMessage, GenerationChunk, GenerationRequest, ToolSpec
from tests.wire.base import ScriptedCall
from tests.wire.gemini_server import GeminiWireServer, thought_signature

KEY_ENV = "HA_TEST_GEMINI_KEY"
KEY = "gemini-test-key"
FAST = RetryTiming(initial_backoff_s=0.01, max_backoff_s=0.02)


def make_backend(server: GeminiWireServer, **fields: object) -> GeminiBackend:
    values: dict[str, object] = {
        "kind": "gemini",
        "base_url": server.base_url,
        "api_key_env": KEY_ENV,
        "models": ["gemini-2.5-flash", "gemini-2.5-pro"],
        "default_model": "gemini-2.5-flash",
        "timeout_s": 10.0,
        "max_retries": 2,
    }
    values.update(fields)
    return GeminiBackend("gemini", ProviderSettings.model_validate(values), retry_timing=FAST)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def chat(request_id: str = "r1", **kw: object) -> GenerationRequest:
    return GenerationRequest.chat(request_id, [ChatMessage("user", "hello")], **kw)


async def drain(backend: GeminiBackend, request: GenerationRequest) -> list[GenerationChunk]:
    return [chunk async for chunk in backend.generate(request)]


async def test_streams_to_the_v1beta_sse_endpoint_with_usage(gemini_server: GeminiWireServer) -> None:
    gemini_server.reply(
        "return sorted(xs)",
        pieces=["return ", "sorted", "(xs)"],
        prompt_tokens=500,
        cached_tokens=384,
        completion_tokens=5,
    )
    chunks = await drain(make_backend(gemini_server), chat())
    assert [c.text for c in chunks[:-1]] == ["return ", "sorted", "(xs)"]
    last = chunks[-1]
    assert last.finish_reason == "stop"
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.cached_tokens, last.usage.completion_tokens) == (500, 384, 5)
    [sent] = gemini_server.generation_requests()
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert sent.query == "alt=sse"
    assert sent.headers["x-goog-api-key"] == KEY


async def test_system_instruction_and_roles(gemini_server: GeminiWireServer) -> None:
    request = GenerationRequest.chat(
        "r1",
        [
            ChatMessage("system", "be brief"),
            ChatMessage("user", "q1"),
            ChatMessage("assistant", "a1"),
            ChatMessage("user", "q2"),
        ],
        model="gemini-2.5-pro",
        max_tokens=77,
        stop=["END"],
    )
    result = await collect(make_backend(gemini_server), request)
    assert result.model == "gemini-2.5-pro"
    body = gemini_server.generation_requests()[0].body
    assert body["systemInstruction"]["parts"] == [{"text": "be brief"}]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][1]["parts"] == [{"text": "a1"}]
    assert body["generationConfig"]["maxOutputTokens"] == 77
    assert body["generationConfig"]["stopSequences"] == ["END"]


async def test_fim_uses_the_shared_chat_prompt(gemini_server: GeminiWireServer) -> None:
    gemini_server.reply("1")
    await collect(make_backend(gemini_server), GenerationRequest.fim("f", "n = ", ""))
    body = gemini_server.generation_requests()[0].body
    assert body["systemInstruction"]["parts"][0]["text"] == FIM_SYSTEM_PROMPT
    assert body["contents"][0]["parts"][0]["text"].endswith(f"n = {CURSOR}")


async def test_safety_finish_is_content_filtered(gemini_server: GeminiWireServer) -> None:
    gemini_server.reply("nope", finish_reason="content_filter")
    with pytest.raises(ContentFilteredError) as info:
        await drain(make_backend(gemini_server), chat())
    assert "SAFETY" in info.value.message and info.value.provider == "gemini"


async def test_max_tokens_finish_is_length(gemini_server: GeminiWireServer) -> None:
    gemini_server.reply("cut", finish_reason="length")
    assert (await collect(make_backend(gemini_server), chat())).finish_reason == "length"


async def test_retry_info_delay_is_honoured(gemini_server: GeminiWireServer) -> None:
    gemini_server.fail("rate_limit", retry_after=0.25)
    gemini_server.reply("after the delay")
    result = await collect(make_backend(gemini_server), chat())
    assert result.text == "after the delay"
    first, second = gemini_server.generation_requests()
    assert second.received_at - first.received_at >= 0.25


async def test_rate_limit_without_retries_carries_the_retry_info_delay(gemini_server: GeminiWireServer) -> None:
    gemini_server.fail("rate_limit", retry_after=1.5)
    with pytest.raises(RateLimitedError) as info:
        await drain(make_backend(gemini_server, max_retries=0), chat())
    assert info.value.retry_after == pytest.approx(1.5)


async def test_invalid_key_400_is_an_authentication_error(gemini_server: GeminiWireServer) -> None:
    gemini_server.fail("unauthorized")
    with pytest.raises(AuthenticationError) as info:
        await drain(make_backend(gemini_server), chat())
    assert info.value.status == 400
    assert len(gemini_server.generation_requests()) == 1


async def test_unavailable_is_retried(gemini_server: GeminiWireServer) -> None:
    gemini_server.fail("overloaded")
    gemini_server.fail("server_error")
    gemini_server.reply("third time")
    assert (await collect(make_backend(gemini_server), chat())).text == "third time"
    assert len(gemini_server.generation_requests()) == 3


async def test_reset_mid_stream_is_not_retried(gemini_server: GeminiWireServer) -> None:
    gemini_server.fail("reset", after_chunks=2)
    received: list[str] = []
    with pytest.raises(UnavailableError):
        async for chunk in make_backend(gemini_server).generate(chat()):
            received.append(chunk.text)
    assert len(received) == 2
    assert len(gemini_server.generation_requests()) == 1


async def test_timeout(gemini_server: GeminiWireServer) -> None:
    gemini_server.fail("timeout", delay_s=5.0)
    start = time.monotonic()
    with pytest.raises(InferenceTimeoutError):
        await drain(make_backend(gemini_server), chat(timeout_s=0.3))
    assert time.monotonic() - start < 2.0
    assert gemini_server.wait_until(lambda: gemini_server.generation_requests()[0].disconnected)


async def test_abort_closes_the_stream(gemini_server: GeminiWireServer) -> None:
    gemini_server.slow_tokens = 0.1
    gemini_server.reply(" ".join(f"g{i}" for i in range(40)))
    backend = make_backend(gemini_server)
    stream = backend.generate(chat("g1"))
    assert (await anext(stream)).text
    await backend.abort("g1")
    rest = [chunk async for chunk in stream]
    assert rest[-1].finish_reason == "abort"
    assert gemini_server.wait_until(lambda: gemini_server.generation_requests()[0].disconnected)
    assert not gemini_server.generation_requests()[0].completed


async def test_missing_key(gemini_server: GeminiWireServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    backend = make_backend(gemini_server)
    health = await backend.health()
    assert not health.ok and health.detail == f"{KEY_ENV} is not set"
    with pytest.raises(AuthenticationError):
        await drain(backend, chat())
    assert gemini_server.requests == []


async def test_health_probes_the_default_model(gemini_server: GeminiWireServer) -> None:
    backend = make_backend(gemini_server)
    health = await backend.health()
    assert health.ok, health.detail
    assert gemini_server.requests[-1].path == "/v1beta/models/gemini-2.5-flash"
    unknown = make_backend(gemini_server, models=[], default_model="gemini-unknown")
    health = await unknown.health()
    assert not health.ok and "default_model" in health.remedy
    await backend.close()
    await unknown.close()


async def test_a_thought_signature_comes_back_through_another_replica(gemini_server: GeminiWireServer) -> None:
    """The signature Gemini 3 needs back travels in the call's id: a fresh backend (another gateway replica, or this
    one restarted) that never saw the call sends it with the call, and Gemini's own call id without it."""
    weather = ToolSpec("get_weather", parameters={"type": "object", "properties": {"city": {"type": "string"}}})
    question = ChatMessage("user", "weather in Paris?")
    gemini_server.reply(
        "",
        tool_calls=[ScriptedCall("get_weather", {"city": "Paris"}), ScriptedCall("get_time", {}, id="fc-7")],
    )
    first = await collect(make_backend(gemini_server), chat("r1", tools=(weather,)))
    made_up, given = first.tool_calls
    for call in first.tool_calls:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", call.id)  # usable as an Anthropic tool_use id too
    assert given.id.startswith("fc-7" + SIGNATURE_MARK)

    gemini_server.reply("It is sunny.")
    history = [
        question,
        ChatMessage("assistant", "", tool_calls=first.tool_calls),
        ChatMessage("tool", "sunny", tool_call_id=made_up.id),
        ChatMessage("tool", "noon", tool_call_id=given.id),
    ]
    second = await collect(make_backend(gemini_server), GenerationRequest.chat("r2", history, tools=(weather,)))
    assert second.text == "It is sunny."
    sent = gemini_server.generation_requests()[-1].body["contents"]
    assert sent[1]["parts"] == [
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": thought_signature("get_weather"),
        },
        {
            "functionCall": {"id": "fc-7", "name": "get_time", "args": {}},
            "thoughtSignature": thought_signature("get_time"),
        },
    ]
    responses = [part["functionResponse"] for part in sent[2]["parts"]]
    assert responses == [
        {"name": "get_weather", "response": {"result": "sunny"}},
        {"id": "fc-7", "name": "get_time", "response": {"result": "noon"}},
    ]
