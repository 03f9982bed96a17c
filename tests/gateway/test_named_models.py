"""A model the client names through the gateway is the model it gets, or a 4xx/503 that says why.

In process (httpx over ASGI) with the instant engine as ``instant`` and the
OpenAI wire server behind the real SDK. Also: the error event after an
attempt failed mid-stream lists that attempt.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import MakeGateway
from tests.gateway.harness import OPENAI_KEY_ENV, parse_sse
from tests.gateway.test_api import bearer, chat_body
from tests.wire.openai_server import OpenAIWireServer

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def _chat(model: str, content: str = "Explain this design.") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 16}


@pytest.fixture
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test")


async def test_the_local_model_named_at_repository_scope_is_not_sent_to_the_cloud(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    async with make_gateway(openai_url=openai_server.base_url) as g:
        headers = {**bearer(g.key("alice")), "X-Hybrid-Scope": "repository", "X-Hybrid-Task": "architecture"}
        answer = await g.client.post("/v1/chat/completions", json=_chat("instant"), headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == "instant" and body["hybrid"]["target"] == "local"
    assert openai_server.generation_requests() == []


async def test_a_named_cloud_model_is_served_by_it(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    openai_server.reply("from the cloud")
    async with make_gateway(openai_url=openai_server.base_url) as g:
        answer = await g.client.post("/v1/chat/completions", json=_chat("gpt-4o-mini"), headers=bearer(g.key("a")))
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "gpt-4o-mini" and answer.json()["hybrid"]["target"] == "openai"
    assert openai_server.generation_requests()[0].body["model"] == "gpt-4o-mini"


async def test_a_named_cloud_model_without_its_key_is_refused_not_replaced(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(OPENAI_KEY_ENV, raising=False)
    async with make_gateway(openai_url=openai_server.base_url) as g:
        answer = await g.client.post("/v1/chat/completions", json=_chat("gpt-4o-mini"), headers=bearer(g.key("a")))
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "model_unavailable"
    assert "gpt-4o-mini" in error["message"] and "no API key" in error["message"]


async def test_mapping_cloud_names_to_local_is_explicit(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(OPENAI_KEY_ENV, raising=False)
    extra = "[routing]\nmap_cloud_models_to_local = true\n"
    async with make_gateway(extra, openai_url=openai_server.base_url) as g:
        answer = await g.client.post("/v1/chat/completions", json=_chat("gpt-4o-mini"), headers=bearer(g.key("a")))
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "instant"  # the response names the model that answered
    assert any("map_cloud_models_to_local" in r for r in answer.json()["hybrid"]["route"]["reasons"])


async def test_sensitive_code_to_a_named_cloud_model_is_a_403(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    extra = '[sensitive]\non_secret = "local_only"\n'
    async with make_gateway(extra, openai_url=openai_server.base_url) as g:
        content = f'GITHUB_TOKEN = "{SECRET}"\nExplain this.'
        answer = await g.client.post("/v1/chat/completions", json=_chat("gpt-4o", content), headers=bearer(g.key("a")))
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "model_not_allowed" and "sensitive code cannot go to" in error["message"]
    assert openai_server.generation_requests() == []


async def test_the_error_event_after_a_mid_stream_failure_lists_the_attempt(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    openai_server.fail("reset", after_chunks=2)
    async with make_gateway(openai_url=openai_server.base_url) as g:
        response = await g.client.post("/v1/assist", json=chat_body(), headers=bearer(g.key("alice")))
    events = parse_sse(response.text)
    assert "delta" in [n for n, _ in events]
    name, error = events[-1]
    assert name == "error" and isinstance(error, dict)
    assert [a["target"] for a in error["attempts"]] == ["openai"]
    assert error["attempts"][0]["outcome"] != "ok"
