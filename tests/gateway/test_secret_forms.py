"""The gateway's OpenAI-compatible chat endpoint: pasted secrets never reach the provider, ordinary text is untouched.

The corpus (``tests/usage/secret_corpus.py``) draws fresh random values on
every run; the provider is the OpenAI wire server, reached by the real SDK.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.gateway.conftest import InProcess, MakeGateway
from tests.gateway.harness import OPENAI_KEY_ENV
from tests.usage.secret_corpus import ORDINARY, planted
from tests.wire.openai_server import OpenAIWireServer

CLOUD = {"X-Hybrid-Task": "architecture", "X-Hybrid-Scope": "repository"}  # a task the policy sends to the cloud


@pytest.fixture
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test")


async def _chat(g: InProcess, messages: list[dict[str, str]]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {g.key('alice')}", **CLOUD}
    response = await g.client.post(
        "/v1/chat/completions", json={"model": "auto", "messages": messages}, headers=headers
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_pasted_secrets_in_chat_never_reach_the_provider(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    cases = planted()
    messages = []
    for name, text, _ in cases:
        messages += [{"role": "user", "content": f"Here is my {name}:\n{text}"}, {"role": "assistant", "content": "ok"}]
    messages.append({"role": "user", "content": "Why does the deploy fail?"})
    async with make_gateway(openai_url=openai_server.base_url) as g:
        answer = await _chat(g, messages)
    assert answer["hybrid"]["target"] == "openai"
    [request] = openai_server.generation_requests()
    sent = json.dumps(request.body)
    values = [value for _, _, values in cases for value in values]
    assert len(values) >= 40
    assert [v for v in values if v in sent or json.dumps(v)[1:-1] in sent] == []
    assert sent.count("[REDACTED:") >= len(values)
    assert "DB_PASSWORD=[REDACTED:password]" in sent and "export DEPLOY_TOKEN=[REDACTED:token]" in sent


async def test_ordinary_text_reaches_the_provider_unchanged(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    content = "\n".join(text for _, text in ORDINARY)
    async with make_gateway(openai_url=openai_server.base_url) as g:
        answer = await _chat(g, [{"role": "user", "content": content}])
    assert answer["hybrid"]["target"] == "openai"
    [request] = openai_server.generation_requests()
    assert [m["content"] for m in request.body["messages"] if m["role"] == "user"] == [content]
