"""The wire imitations themselves, checked with a plain HTTP client (no SDK)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.base import split_pieces
from tests.wire.gemini_server import GeminiWireServer
from tests.wire.openai_server import OpenAIWireServer


def sse_data(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


def test_split_pieces_joins_back() -> None:
    for text in ["", "a", "def f(x):\n    return x\n", "  lead  and trail  "]:
        assert "".join(split_pieces(text)) == text


def test_openai_stream_script_faults_and_recording(openai_server: OpenAIWireServer) -> None:
    openai_server.fail("server_error", times=2)
    openai_server.reply("one two", prompt_tokens=7, cached_tokens=3)
    url = f"{openai_server.base_url}/chat/completions"
    body = {"model": "m", "messages": [], "stream": True, "stream_options": {"include_usage": True}}
    with httpx.Client() as client:
        statuses = [client.post(url, json=body, headers={"x-probe": "1"}).status_code for _ in range(2)]
        response = client.post(url, json=body)
    assert statuses == [500, 500]
    data = sse_data(response.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["one ", "two"]
    assert chunks[3]["choices"][0]["finish_reason"] == "stop"
    assert chunks[4]["choices"] == [] and chunks[4]["usage"]["prompt_tokens_details"]["cached_tokens"] == 3
    recorded = openai_server.generation_requests()
    assert len(recorded) == 3 and recorded[0].headers["x-probe"] == "1" and recorded[2].body == body
    assert recorded[2].completed and not recorded[2].disconnected


def test_openai_health_toggle_and_restart_on_the_same_port(openai_server: OpenAIWireServer) -> None:
    with httpx.Client() as client:
        assert client.get(f"{openai_server.root_url}/health").status_code == 200
        openai_server.healthy = False
        assert client.get(f"{openai_server.root_url}/health").status_code == 503
        port = openai_server.port
        openai_server.stop()
        with pytest.raises(httpx.ConnectError):
            client.get(f"{openai_server.root_url}/health")
        openai_server.start()
        assert openai_server.port == port
        assert client.get(f"{openai_server.base_url}/models").status_code == 503
        openai_server.clear()
        models = client.get(f"{openai_server.base_url}/models").json()
    assert [m["id"] for m in models["data"]] == list(openai_server.models)


def test_anthropic_event_sequence(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.reply("hi there", finish_reason="length")
    body = {"model": "m", "max_tokens": 5, "messages": [], "stream": True}
    response = httpx.post(f"{anthropic_server.base_url}/v1/messages", json=body)
    events = [line[len("event: ") :] for line in response.text.splitlines() if line.startswith("event: ")]
    assert events == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    delta = json.loads(sse_data(response.text)[-2])
    assert delta["delta"]["stop_reason"] == "max_tokens"


def test_anthropic_rate_limit_headers(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.fail("rate_limit", retry_after=0.5)
    response = httpx.post(f"{anthropic_server.base_url}/v1/messages", json={"stream": True})
    assert response.status_code == 429 and response.headers["retry-after"] == "0.5"
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_gemini_stream_and_retry_info(gemini_server: GeminiWireServer) -> None:
    url = f"{gemini_server.base_url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    gemini_server.reply("a b", cached_tokens=4)
    gemini_server.fail("rate_limit", retry_after=2)
    with httpx.Client() as client:
        limited = client.post(url, json={})
        response = client.post(url, json={})
    assert limited.status_code == 429
    assert limited.json()["error"]["details"][0]["retryDelay"] == "2s"
    assert "\r\n\r\n" in response.text
    chunks = [json.loads(d) for d in sse_data(response.text)]
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks] == ["a ", "b"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["cachedContentTokenCount"] == 4
    assert gemini_server.generation_requests()[-1].query == "alt=sse"


def test_whole_answers_and_their_faults(openai_server: OpenAIWireServer) -> None:
    url = f"{openai_server.base_url}/completions"
    openai_server.reply("whole text", prompt_tokens=3)
    openai_server.fail("malformed")
    with httpx.Client() as client:
        broken = client.post(url, json={"model": "m", "prompt": "p"})
        whole = client.post(url, json={"model": "m", "prompt": "p"}).json()
    assert broken.text == "{not json"
    assert whole["choices"][0]["text"] == "whole text" and whole["usage"]["prompt_tokens"] == 3
