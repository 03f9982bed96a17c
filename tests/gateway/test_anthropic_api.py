"""The official ``anthropic`` SDK against ``/v1/messages`` of a real gateway process; the rest of the OpenAI surface.

One ``hybrid-assist gateway serve`` process with the instant engine as the
local model and the Anthropic wire server (Anthropic's real protocol) as the
``anthropic`` provider: ``messages.create`` whole and streamed (Anthropic's
event sequence) from either, ``count_tokens``, errors in Anthropic's shape,
server tools and other blocks refused by name (tool use itself is tested in
``test_tools_anthropic.py``); and through the official ``openai`` SDK:
``models.retrieve`` and the chat fields the gateway refuses; LiteLLM's
``anthropic/`` models as an outside client. In process:
``/v1/messages`` takes from the same rate-limit buckets and writes the same
ledger rows as the other endpoints, and ``count_tokens`` counts with the
transformers engine's tokenizer (a tiny real-format model) when it is loaded.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from transformers import AutoTokenizer

from hybrid_assist.config import ConfigLayer, validate_layers
from hybrid_assist.gateway_app import build_gateway_app
from hybrid_assist.settings import HybridSettings
from inference.backend import estimate_tokens
from inference.testing.tiny_models import build_tiny_model
from tests.gateway.conftest import MakeGateway
from tests.gateway.harness import OPENAI_KEY_ENV, GatewayProcess, anthropic_gateway
from tests.litellm_proxy import litellm_binary
from tests.lsp.harness import cloud_providers
from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.openai_server import OpenAIWireServer, wire_token_count

pytestmark = pytest.mark.slow

CLAUDE = "claude-sonnet-4-6"
ASK: Any = [{"role": "user", "content": "add two numbers"}]  # typed loosely: the SDKs take TypedDicts
STREAM_EVENTS = ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta"]


class Served:
    def __init__(self, server: GatewayProcess, key: str, wire: AnthropicWireServer) -> None:
        self.server = server
        self.key = key
        self.wire = wire

    def anthropic(self, **options: Any) -> anthropic.Anthropic:
        options = {"api_key": self.key, **options}
        return anthropic.Anthropic(base_url=self.server.url, max_retries=0, timeout=30, **options)

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.server.url}/v1", api_key=self.key, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with AnthropicWireServer() as wire:
        tmp = tmp_path_factory.mktemp("anthropic-gateway")
        with anthropic_gateway(tmp, wire.base_url, CLAUDE) as (server, key):
            yield Served(server, key, wire)


@pytest.fixture
def gw(served: Served) -> Served:
    served.wire.clear()
    return served


def _event_types(events: list[Any]) -> list[str]:
    """The stream's event types, runs of ``content_block_delta`` collapsed to one."""
    types = [e.type for e in events]
    return [t for i, t in enumerate(types) if t != "content_block_delta" or types[i - 1] != t]


def test_messages_whole_and_streamed_from_the_local_engine(gw: Served) -> None:
    client = gw.anthropic()
    whole = client.messages.create(model="auto", max_tokens=64, system="Be brief.", messages=ASK)
    assert [(b.type, getattr(b, "text", None)) for b in whole.content] == [("text", "return a + b")]
    assert whole.role == "assistant" and whole.type == "message" and whole.model == "instant"
    assert whole.stop_reason == "end_turn" and whole.stop_sequence is None
    assert whole.usage.output_tokens == 4
    assert whole.usage.cache_read_input_tokens == 0 and whole.usage.cache_creation_input_tokens == 0
    assert whole.usage.input_tokens > 0

    events = list(client.messages.create(model="auto", max_tokens=64, messages=ASK, stream=True))
    assert _event_types(events) == [*STREAM_EVENTS, "message_stop"]
    text = "".join(getattr(e.delta, "text", "") for e in events if e.type == "content_block_delta")
    assert text == "return a + b"
    delta = next(e for e in events if e.type == "message_delta")
    assert delta.delta.stop_reason == "end_turn" and delta.usage.output_tokens == 4

    # the SDK's stream helper accumulates the same message; a bearer token authenticates as well as x-api-key
    with gw.anthropic(api_key=None, auth_token=gw.key).messages.stream(
        model="auto", max_tokens=2, messages=ASK
    ) as stream:
        assert "".join(stream.text_stream).strip() == "return a"
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 2
    assert gw.wire.generation_requests() == []  # all of it local


def test_messages_through_the_anthropic_provider_report_cache_usage(gw: Served) -> None:
    gw.wire.reply("from claude", prompt_tokens=500, cached_tokens=300, cache_write_tokens=100, completion_tokens=7)
    gw.wire.reply("from claude", prompt_tokens=500, cached_tokens=300, cache_write_tokens=100, completion_tokens=7)
    client = gw.anthropic()
    system: Any = [{"type": "text", "text": "You review code."}, {"type": "text", "text": "Be brief."}]
    messages: Any = [
        {"role": "user", "content": [{"type": "text", "text": "Explain this design."}]},
        {"role": "assistant", "content": "It is layered."},
        {"role": "user", "content": "Why?"},
    ]
    whole = client.messages.create(
        model=CLAUDE,
        max_tokens=100,
        system=system,
        messages=messages,
        stop_sequences=["END"],
    )
    assert whole.content[0].type == "text" and whole.content[0].text == "from claude"
    assert whole.model == CLAUDE
    usage = whole.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (100, 300, 100)
    assert usage.output_tokens == 7

    with client.messages.stream(model=CLAUDE, max_tokens=100, system=system, messages=messages) as stream:
        assert "".join(stream.text_stream) == "from claude"
        final = stream.get_final_message()
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens) == (100, 300)
    assert final.usage.cache_creation_input_tokens == 100 and final.usage.output_tokens == 7

    sent = gw.wire.generation_requests()
    assert len(sent) == 2 and sent[0].body["model"] == CLAUDE
    assert "You review code." in str(sent[0].body["system"]) and "Be brief." in str(sent[0].body["system"])
    assert [m["role"] for m in sent[0].body["messages"]] == ["user", "assistant", "user"]
    assert sent[0].body["stop_sequences"] == ["END"] and sent[0].body["max_tokens"] == 100


def test_count_tokens_says_how_it_counted(gw: Served) -> None:
    client = gw.anthropic()
    counted = client.messages.count_tokens(model="auto", system="Be brief.", messages=ASK).input_tokens
    assert counted == estimate_tokens("Be brief." + "add two numbers")
    raw = client.messages.with_raw_response.count_tokens(model=CLAUDE, messages=ASK)
    assert raw.headers["x-hybrid-token-count"] == "estimate"  # the instant engine has no tokenizer


def test_errors_have_anthropics_shape(gw: Served) -> None:
    with pytest.raises(anthropic.AuthenticationError) as denied:
        gw.anthropic(api_key="ha_000000000000_nope").messages.create(model="auto", max_tokens=8, messages=ASK)
    assert denied.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "unknown API key", "code": "unauthorized"},
    }
    with pytest.raises(anthropic.NotFoundError) as unknown:
        gw.anthropic().messages.create(model="claude-unknown", max_tokens=8, messages=ASK)
    assert isinstance(unknown.value.body, dict) and unknown.value.body["error"]["type"] == "not_found_error"
    answer = httpx.post(
        f"{gw.server.url}/v1/messages", json={"model": "auto", "messages": ASK}, headers={"x-api-key": gw.key}
    )
    assert answer.status_code == 400
    assert answer.json()["type"] == "error"
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert answer.json()["error"]["message"] == "max_tokens: is required"
    assert httpx.post(f"{gw.server.url}/v1/messages", json={}).json()["error"]["type"] == "authentication_error"


def test_server_tools_and_other_blocks_are_refused_by_name(gw: Served) -> None:
    client = gw.anthropic()
    search: Any = {"type": "web_search_20250305", "name": "web_search"}
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model=CLAUDE, max_tokens=64, messages=ASK, tools=[search])
    assert "tools[0].type: server tools ('web_search_20250305') are not supported" in refused.value.message
    image: Any = [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "http://x/y.png"}}]}]
    with pytest.raises(anthropic.BadRequestError) as blocks:
        client.messages.create(model=CLAUDE, max_tokens=64, messages=image)
    assert "messages[0].content[0].type: 'image' blocks are not supported yet" in blocks.value.message
    misplaced: Any = [{"role": "user", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}]
    with pytest.raises(anthropic.BadRequestError) as wrong_turn:
        client.messages.create(model=CLAUDE, max_tokens=64, messages=misplaced)
    assert "messages[0].content[0].type: 'tool_use' blocks belong in assistant turns" in wrong_turn.value.message
    with pytest.raises(anthropic.BadRequestError) as thinking:
        client.messages.count_tokens(model=CLAUDE, messages=ASK, thinking={"type": "enabled", "budget_tokens": 1024})
    assert "thinking" in thinking.value.message
    assert gw.wire.generation_requests() == []


def test_openai_models_retrieve_and_a_real_created(gw: Served) -> None:
    client = gw.openai()
    listed = {m.id: m for m in client.models.list()}
    model = client.models.retrieve("instant")
    assert model.id == "instant" and model.owned_by == "local"
    assert model.created == listed["instant"].created > 1_700_000_000
    assert client.models.retrieve(CLAUDE).owned_by == "anthropic"
    with pytest.raises(openai.NotFoundError) as unknown:
        client.models.retrieve("gpt-nope")
    assert isinstance(unknown.value.body, dict) and unknown.value.body["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("functions", [{"name": "f", "parameters": {}}]),
        ("logprobs", True),
        ("top_logprobs", 2),
        ("n", 2),
        ("presence_penalty", 0.5),
    ],
)
def test_chat_fields_the_gateway_cannot_honour_are_refused_by_name(gw: Served, field: str, value: Any) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        gw.openai().chat.completions.create(model="auto", messages=ASK, **{field: value})  # type: ignore[call-overload]
    assert refused.value.message.startswith(f"Error code: 400 - {field}: ")
    assert refused.value.code in ("unsupported_field", "invalid_field")


def test_chat_stop_user_and_harmless_values(gw: Served) -> None:
    raw = gw.openai().chat.completions.with_raw_response.create(
        model="auto",
        messages=ASK,
        stop=["\n"],
        user="dev-42",
        response_format={"type": "text"},
        logprobs=False,
        top_p=1,
    )
    assert raw.parse().choices[0].message.content == "return a + b"
    assert raw.parse().created > 1_700_000_000
    assert raw.headers["x-hybrid-request-id"].startswith("dev-42.")  # the ledger row's id
    gw.wire.reply("from claude")
    gw.openai().chat.completions.create(model=CLAUDE, messages=ASK, stop=["END", "\n\n"])
    assert gw.wire.generation_requests()[0].body["stop_sequences"] == ["END"]  # whitespace-only stops dropped


async def test_messages_share_rate_limits_and_the_ledger(make_gateway: MakeGateway) -> None:
    body = {"model": "auto", "max_tokens": 16, "messages": ASK, "metadata": {"user_id": "dev-7"}}
    async with make_gateway("[limits]\nrequests_per_minute = 1\n") as g:
        key = {"x-api-key": g.key("alice", team="red")}
        served = await g.client.post("/v1/messages", json=body, headers=key)
        assert served.status_code == 200, served.text
        limited = await g.client.post("/v1/messages", json=body, headers=key)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["type"] == "rate_limit_error"
        ledger = g.gateway.ledger
        assert ledger is not None and ledger.flush(5.0)
        row = ledger.get(served.headers["request-id"])
    assert row is not None and row.request_id.startswith("dev-7.")
    assert (row.user, row.team, row.task, row.target, row.output_tokens) == ("alice", "red", "explain", "local", 4)


_LITELLM_ANTHROPIC = """
import sys, litellm
base, key = sys.argv[1], sys.argv[2]
ask = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "add two numbers"}]
whole = litellm.completion(model="anthropic/auto", api_base=base, api_key=key, messages=ask, max_tokens=32)
print("whole", whole.choices[0].message.content, whole.usage.completion_tokens, sep="|")
stream = litellm.completion(
    model="anthropic/auto", api_base=base, api_key=key, messages=ask, max_tokens=32, stream=True
)
print("streamed", "".join(c.choices[0].delta.content or "" for c in stream), sep="|")
"""


def test_litellm_anthropic_prefix_is_served_by_messages(gw: Served) -> None:
    """LiteLLM's SDK (pinned, own venv) as an outside Anthropic client: ``anthropic/`` models, whole and streamed."""
    python = litellm_binary().parent / "python"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [str(python), "-c", _LITELLM_ANTHROPIC, gw.server.url, gw.key],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = [line for line in done.stdout.splitlines() if line.startswith(("whole|", "streamed|"))]
    assert answers == ["whole|return a + b|4", "streamed|return a + b"]


def test_a_failed_call_is_an_api_error_before_the_stream_and_an_error_event_after(gw: Served) -> None:
    client = gw.anthropic()
    gw.wire.fail("server_error")
    with pytest.raises(anthropic.InternalServerError) as failed:
        client.messages.create(model=CLAUDE, max_tokens=32, messages=ASK)
    assert failed.value.status_code == 503
    assert isinstance(failed.value.body, dict) and failed.value.body["error"]["type"] == "api_error"
    gw.wire.fail("reset", after_chunks=2)
    gw.wire.reply("one two three four five six")
    events: list[Any] = []
    with pytest.raises(anthropic.APIStatusError) as broken:
        events.extend(client.messages.create(model=CLAUDE, max_tokens=32, messages=ASK, stream=True))
    assert _event_types(events) == ["message_start", "content_block_start", "content_block_delta"]
    assert isinstance(broken.value.body, dict) and broken.value.body["type"] == "error"
    error = broken.value.body["error"]
    assert error["type"] == "api_error" and error["message"].startswith("anthropic failed after part of its answer")


@contextlib.asynccontextmanager
async def _in_process(tmp_path: Path, local: str) -> AsyncIterator[tuple[Any, httpx.AsyncClient, dict[str, str]]]:
    """The gateway app in process with the ``[local]`` table ``local`` and no cloud: (gateway, client, headers)."""
    config = f'data_dir = "{tmp_path / "data"}"\n[local]\n{local}\n{cloud_providers()}'
    loaded = validate_layers(HybridSettings, [ConfigLayer("test config", tomllib.loads(config))])
    assert not loaded.problems, loaded.problems
    app = build_gateway_app(loaded.settings)
    gateway = app.state.gateway
    async with app.router.lifespan_context(app):
        key = gateway.store.add_user("alice", "default")[1]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield gateway, client, {"x-api-key": key}


async def test_count_tokens_uses_the_local_tokenizer_when_one_is_loaded(tmp_path: Path) -> None:
    """In process, the transformers engine on a tiny real-format model: its tokenizer counts, and the header says so."""
    model = build_tiny_model(tmp_path / "qwen", "qwen2.5-coder")
    local = f'backend = "transformers"\nmodel = "{model}"\ndevice = "cpu"\ndownload = false'
    system, question = "You explain code.", "What does   def   add(a, b): return a+b   do?"
    body = {"model": "auto", "system": system, "messages": [{"role": "user", "content": question}]}
    async with _in_process(tmp_path, local) as (gateway, client, headers):
        await gateway.runtime.wait_local(120.0)
        assert gateway.runtime.local_state().available
        answer = await client.post("/v1/messages/count_tokens", json=body, headers=headers)
    tokenizer: Any = AutoTokenizer.from_pretrained(str(model))
    expected = len(tokenizer(system + question, add_special_tokens=False)["input_ids"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-hybrid-token-count"] == "tokenizer"
    assert answer.json() == {"input_tokens": expected} and expected != estimate_tokens(system + question)


#: A Claude Code-like body: system, a tool, a call and its result, the user's next turn.
COUNTED: Any = {
    "model": "auto",
    "system": "You are a coding agent.",
    "tools": [{"name": "Read", "description": "Read a file.", "input_schema": {"type": "object", "properties": {}}}],
    "messages": [
        {"role": "user", "content": "What is in a.py?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "x = 1"}]},
        {"role": "user", "content": "Explain it."},
    ],
}


@pytest.mark.parametrize("tokenizes", [True, False], ids=["vllm-tokenize", "no-tokenize"])
async def test_count_tokens_asks_a_local_vllm_server_else_estimates(
    tmp_path: Path, openai_server: OpenAIWireServer, tokenizes: bool
) -> None:
    """``[local] backend = "openai-compatible"``: a server with vLLM's ``/tokenize`` counts the chat as
    ``/v1/messages`` sends it (the same messages and tools, ``add_generation_prompt``; header ``server``); one
    without (404, as OpenAI's) leaves the estimate, with no error."""
    openai_server.tokenizes = tokenizes
    local = f'backend = "openai-compatible"\nbase_url = "{openai_server.base_url}"\nmodel = "test-model"'
    async with _in_process(tmp_path, local) as (_, client, headers):
        counted = await client.post("/v1/messages/count_tokens", json=COUNTED, headers=headers)
        answered = await client.post("/v1/messages", json={**COUNTED, "max_tokens": 8}, headers=headers)
    assert counted.status_code == 200, counted.text
    assert answered.status_code == 200, answered.text
    (sent,) = openai_server.generation_requests()
    asked = [r for r in openai_server.requests if r.path == "/tokenize"]
    if not tokenizes:
        assert counted.headers["x-hybrid-token-count"] == "estimate" and asked == []
        assert counted.json()["input_tokens"] > 0
        return
    (tokenize,) = asked
    assert counted.headers["x-hybrid-token-count"] == "server"
    assert tokenize.body == {
        "model": "test-model",
        "messages": sent.body["messages"],
        "tools": sent.body["tools"],
        "add_generation_prompt": True,
    }
    assert counted.json() == {"input_tokens": wire_token_count(tokenize.body)}


def test_a_secret_in_a_message_never_reaches_the_cloud_provider(gw: Served) -> None:
    """The gateway's secret scan covers /v1/messages: with the default policy the secret is redacted on the way out."""
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    gw.wire.reply("done")
    ask = [{"role": "user", "content": [{"type": "text", "text": f'GITHUB_TOKEN = "{secret}"\nExplain this.'}]}]
    answer = gw.anthropic().messages.create(model=CLAUDE, max_tokens=32, system=f"token {secret}", messages=ask)  # type: ignore[arg-type]
    assert answer.content[0].type == "text" and answer.content[0].text == "done"
    (sent,) = gw.wire.generation_requests()
    assert secret not in str(sent.body) and "Explain this." in str(sent.body)


async def test_seed_and_top_p_reach_the_target(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test")
    openai_server.reply("seeded")
    chat = {"model": "gpt-4o-mini", "messages": ASK, "seed": 7, "top_p": 0.5, "max_tokens": 8}
    async with make_gateway(openai_url=openai_server.base_url) as g:
        headers = {"Authorization": f"Bearer {g.key('alice')}"}
        answer = await g.client.post("/v1/chat/completions", json=chat, headers=headers)
        assert answer.status_code == 200, answer.text
        refused = await g.client.post("/v1/chat/completions", json={**chat, "top_p": 1.5}, headers=headers)
    assert refused.status_code == 400 and refused.json()["error"]["message"].startswith("top_p: ")
    (sent,) = openai_server.generation_requests()
    assert (sent.body["seed"], sent.body["top_p"]) == (7, 0.5)


async def test_an_answer_cut_by_the_gateways_cap_says_so(make_gateway: MakeGateway) -> None:
    """``length`` / ``max_tokens`` follow the limit actually sent (the policy's default, the gateway's cap)."""
    async with make_gateway("[gateway_server]\nmax_output_tokens = 2\n") as g:
        key = g.key("alice")
        chat = await g.client.post(
            "/v1/chat/completions", json={"model": "auto", "messages": ASK}, headers={"Authorization": f"Bearer {key}"}
        )
        message = await g.client.post(
            "/v1/messages", json={"model": "auto", "max_tokens": 64, "messages": ASK}, headers={"x-api-key": key}
        )
    assert chat.json()["choices"][0]["finish_reason"] == "length"
    assert chat.json()["usage"]["completion_tokens"] == 2
    assert message.json()["stop_reason"] == "max_tokens" and message.json()["usage"]["output_tokens"] == 2
