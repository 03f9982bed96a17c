"""Tool calling and structured output on ``/v1/chat/completions``, with the official ``openai`` SDK.

One real gateway process (``hybrid-assist gateway serve``) whose cloud
providers are the wire servers speaking OpenAI's, Anthropic's and Gemini's
own protocols: a two-turn tool loop (the model asks for a call, the client
sends the result, the model answers) streamed and whole through each, mapped
to each provider's native tools (checked in what the stand-in received);
``response_format`` json_schema through each provider's structured output; a
secret in a tool result (and in a tool call's arguments) never reaches a
cloud stand-in. In process (the SDK over the ASGI app): a request with
``tools`` or ``response_format`` that no target can honour is a 400 naming the
field, never a silent drop.
"""

from __future__ import annotations

import contextlib
import json
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pydantic
import pytest

from gateway.state import Gateway
from hybrid_assist.config import ConfigLayer, validate_layers
from hybrid_assist.gateway_app import build_gateway_app
from hybrid_assist.settings import HybridSettings
from tests.gateway.harness import GatewayProcess, add_user
from tests.lsp.harness import instant_local, server_env
from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.base import ScriptedCall, WireServer
from tests.wire.gemini_server import GeminiWireServer, thought_signature
from tests.wire.openai_server import OpenAIWireServer

pytestmark = pytest.mark.slow

KEY_ENV = "TOOLS_TEST_CLOUD_KEY"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
QUESTION: Any = {"role": "user", "content": "What is the weather in Paris?"}
#: A secret a tool might return (an AWS key pair as a tool reading an .env would show it).
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Q2vT3kA"
SECRET_RESULT = f"sunny, 21 C\nAWS_ACCESS_KEY_ID=AKIAZ7Q3XK5V2N4M6P8R\nAWS_SECRET_ACCESS_KEY={SECRET}\n"
TOKEN = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
#: provider -> the model a client names to be served by it.
MODELS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-6", "gemini": "gemini-2.5-flash"}


class Clouds:
    def __init__(self) -> None:
        self.servers: dict[str, WireServer] = {
            "openai": OpenAIWireServer(),
            "anthropic": AnthropicWireServer(),
            "gemini": GeminiWireServer(),
        }

    def config(self) -> str:
        return "".join(
            f'[providers.{name}]\nkind = "{name}"\nbase_url = "{server.base_url}"\napi_key_env = "{KEY_ENV}"\n'
            f'models = ["{MODELS[name]}"]\nmax_retries = 0\n'
            for name, server in self.servers.items()
        )


@pytest.fixture(scope="module")
def clouds() -> Iterator[Clouds]:
    found = Clouds()
    for server in found.servers.values():
        server.start()
    try:
        yield found
    finally:
        for server in found.servers.values():
            server.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, clouds: Clouds) -> Iterator[openai.OpenAI]:
    tmp = tmp_path_factory.mktemp("tools-gateway")
    config = tmp / "gateway.toml"
    config.write_text(f'data_dir = "{tmp / "data"}"\n\n[local]\n{instant_local("local text")}\n{clouds.config()}')
    env = server_env(tmp, config, {KEY_ENV: "sk-test"})
    key = add_user(env, "agent")
    server = GatewayProcess(env, tmp / "gateway.log")
    try:
        server.wait_ready()
        yield openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30)
    finally:
        server.stop()


@pytest.fixture
def fresh(clouds: Clouds) -> Clouds:
    for server in clouds.servers.values():
        server.clear()
    return clouds


def _ask(client: openai.OpenAI, stream: bool, **kwargs: Any) -> tuple[Any, str]:
    """The answer's message and finish reason, streamed (the SDK's stream helper assembles it) or whole."""
    if not stream:
        answer = client.chat.completions.create(**kwargs)
        return answer.choices[0].message, str(answer.choices[0].finish_reason)
    with client.chat.completions.stream(**kwargs) as events:
        final = events.get_final_completion()
    return final.choices[0].message, str(final.choices[0].finish_reason)


def _sent(server: WireServer) -> list[dict[str, Any]]:
    return [r.body for r in server.generation_requests()]


def _call_id(provider: str) -> str:
    return "" if provider == "gemini" else "toolu_01" if provider == "anthropic" else "call_01"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_two_turn_tool_loop_through_each_cloud(
    gateway: openai.OpenAI, fresh: Clouds, provider: str, stream: bool
) -> None:
    server = fresh.servers[provider]
    server.reply("", tool_calls=[ScriptedCall("get_weather", {"city": "Paris"}, _call_id(provider))])
    server.reply("It is sunny in Paris.")
    model = MODELS[provider]
    message, finish = _ask(gateway, stream, model=model, messages=[QUESTION], tools=[WEATHER])
    assert finish == "tool_calls"
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id and (call.id == _call_id(provider) or provider == "gemini")

    history = [
        QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    message, finish = _ask(gateway, stream, model=model, messages=history, tools=[WEATHER])
    assert (message.content, finish) == ("It is sunny in Paris.", "stop")
    assert not message.tool_calls

    first, second = _sent(server)
    if provider == "openai":  # passed through as OpenAI's own tools
        assert first["tools"] == [WEATHER]
        assert second["messages"][1]["tool_calls"][0]["function"] == {
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        }
        assert second["messages"][2] == {"role": "tool", "tool_call_id": "call_01", "content": "sunny, 21 C"}
    elif provider == "anthropic":  # Anthropic tools, tool_use and tool_result blocks
        assert first["tools"] == [
            {
                "name": "get_weather",
                "input_schema": WEATHER["function"]["parameters"],
                "description": "The weather in a city.",
            }
        ]
        assert second["messages"][1]["content"] == [
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}
        ]
        assert second["messages"][2] == {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny, 21 C"}],
        }
    else:  # Gemini function declarations, functionCall and functionResponse parts (no made-up id sent back)
        declaration = first["tools"][0]["functionDeclarations"][0]
        assert declaration["name"] == "get_weather"
        sent_schema = declaration.get("parametersJsonSchema", declaration.get("parameters_json_schema"))
        assert sent_schema == WEATHER["function"]["parameters"]  # the SDK writes the field name either way
        assert second["contents"][1] == {
            "role": "model",
            "parts": [  # with the call's thought signature, which Gemini 3 requires back
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": thought_signature("get_weather"),
                }
            ],
        }
        assert second["contents"][2] == {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "sunny, 21 C"}}}],
        }


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_two_turn_tool_loop_on_the_local_engine(gateway: openai.OpenAI, fresh: Clouds, stream: bool) -> None:
    """``auto`` keeps the question local (policy); the instant engine calls the tool, then answers the result."""
    message, finish = _ask(gateway, stream, model="auto", messages=[QUESTION], tools=[WEATHER])
    assert finish == "tool_calls"
    (call,) = message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "instant"}
    history = [
        QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    message, finish = _ask(gateway, stream, model="auto", messages=history, tools=[WEATHER])
    assert (message.content, finish) == ("local text", "stop")
    assert not any(server.generation_requests() for server in fresh.servers.values())


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_text_then_two_calls_in_one_streamed_answer(gateway: openai.OpenAI, fresh: Clouds, provider: str) -> None:
    first, second = (_call_id(provider) and f"{_call_id(provider)}_{n}" for n in "AB")
    calls = [ScriptedCall("get_weather", {"city": "A"}, first), ScriptedCall("get_weather", {}, second)]
    fresh.servers[provider].reply("Let me check both.", tool_calls=calls)
    message, finish = _ask(gateway, True, model=MODELS[provider], messages=[QUESTION], tools=[WEATHER])
    assert (message.content, finish) == ("Let me check both.", "tool_calls")
    assert [json.loads(c.function.arguments) for c in message.tool_calls] == [{"city": "A"}, {}]  # {} when empty
    assert len({c.id for c in message.tool_calls}) == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_call_cut_off_by_the_limit_ends_with_length(gateway: openai.OpenAI, fresh: Clouds, provider: str) -> None:
    fresh.servers[provider].reply(
        "", tool_calls=[ScriptedCall("get_weather", {"city": "Paris"})], finish_reason="length"
    )
    answer = gateway.chat.completions.create(model=MODELS[provider], messages=[QUESTION], tools=[WEATHER])
    assert answer.choices[0].finish_reason == "length"


def test_tool_choice_and_parallel_calls_are_mapped(gateway: openai.OpenAI, fresh: Clouds) -> None:
    for provider, server in fresh.servers.items():
        server.reply("", tool_calls=[ScriptedCall("get_weather", {"city": "Oslo"}, _call_id(provider))])
        named = {"type": "function", "function": {"name": "get_weather"}}
        message, finish = _ask(
            gateway,
            False,
            model=MODELS[provider],
            messages=[QUESTION],
            tools=[WEATHER],
            tool_choice=named,
            parallel_tool_calls=False,
        )
        assert finish == "tool_calls" and message.tool_calls[0].function.name == "get_weather"
    assert _sent(fresh.servers["openai"])[0]["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert _sent(fresh.servers["openai"])[0]["parallel_tool_calls"] is False
    assert _sent(fresh.servers["anthropic"])[0]["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }
    assert _sent(fresh.servers["gemini"])[0]["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }


class Weather(pydantic.BaseModel):
    city: str
    celsius: int


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_response_format_json_schema_through_each_cloud(gateway: openai.OpenAI, fresh: Clouds, provider: str) -> None:
    server = fresh.servers[provider]
    server.reply('{"city": "Paris", "celsius": 21}')
    parsed = gateway.chat.completions.parse(model=MODELS[provider], messages=[QUESTION], response_format=Weather)
    assert parsed.choices[0].message.parsed == Weather(city="Paris", celsius=21)
    body = _sent(server)[0]
    schema = Weather.model_json_schema()
    if provider == "openai":
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["name"] == "Weather"
        assert body["response_format"]["json_schema"]["strict"] is True
        assert body["response_format"]["json_schema"]["schema"]["properties"] == schema["properties"]
    elif provider == "anthropic":
        assert body["output_config"]["format"]["type"] == "json_schema"
        assert body["output_config"]["format"]["schema"]["properties"] == schema["properties"]
    else:
        assert body["generationConfig"]["responseMimeType"] == "application/json"
        assert body["generationConfig"]["responseJsonSchema"]["properties"] == schema["properties"]


def test_json_object_and_open_schemas_per_cloud(gateway: openai.OpenAI, fresh: Clouds) -> None:
    """json_object: OpenAI passes it, Gemini answers JSON; Anthropic has no open object, so naming it is a 400.
    A schema that leaves objects open reaches Anthropic closed (its structured output requires it)."""
    json_object: Any = {"type": "json_object"}
    for provider in ("openai", "gemini"):
        fresh.servers[provider].reply('{"ok": true}')
        answer = gateway.chat.completions.create(
            model=MODELS[provider], messages=[QUESTION], response_format=json_object
        )
        assert json.loads(answer.choices[0].message.content or "") == {"ok": True}
    assert _sent(fresh.servers["openai"])[0]["response_format"] == {"type": "json_object"}
    assert _sent(fresh.servers["gemini"])[0]["generationConfig"]["responseMimeType"] == "application/json"
    with pytest.raises(openai.BadRequestError) as refused:
        gateway.chat.completions.create(model=MODELS["anthropic"], messages=[QUESTION], response_format=json_object)
    assert refused.value.body["message"].startswith("response_format: ")  # type: ignore[index]
    assert "anthropic:claude-sonnet-4-6 skipped: cannot honour response_format" in str(refused.value.body)
    assert not fresh.servers["anthropic"].generation_requests()

    fresh.servers["anthropic"].reply('{"city": "Paris", "where": {"lat": 48.9}}')
    place = {"type": "object", "properties": {"lat": {"type": "number"}}}
    open_schema = {"type": "object", "properties": {"city": {"type": "string"}, "where": place}}
    form: Any = {"type": "json_schema", "json_schema": {"name": "place", "schema": open_schema}}
    gateway.chat.completions.create(model=MODELS["anthropic"], messages=[QUESTION], response_format=form)
    sent = _sent(fresh.servers["anthropic"])[0]["output_config"]["format"]["schema"]
    assert sent["additionalProperties"] is False
    assert sent["properties"]["where"]["additionalProperties"] is False


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_secret_in_a_tool_result_never_reaches_a_cloud_stand_in(
    gateway: openai.OpenAI, fresh: Clouds, provider: str
) -> None:
    server = fresh.servers[provider]
    server.reply("Done.")
    leaked_call = {
        "id": "call_07",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": f"AWS_SECRET_ACCESS_KEY={SECRET}"})},
    }
    history: Any = [
        QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [leaked_call]},
        {"role": "tool", "tool_call_id": "call_07", "content": SECRET_RESULT},
    ]
    leaky_tool = json.loads(json.dumps(WEATHER))  # a tool definition carrying a token, in its text and its schema
    leaky_tool["function"]["description"] += f" Authenticate with GITHUB_TOKEN={TOKEN}."
    leaky_tool["function"]["parameters"]["properties"]["token"] = {"type": "string", "default": TOKEN}
    answer = gateway.chat.completions.create(model=MODELS[provider], messages=history, tools=[leaky_tool])
    assert answer.choices[0].message.content == "Done."
    (request,) = server.generation_requests()
    raw = json.dumps(request.body)
    assert SECRET not in raw
    assert TOKEN not in raw
    assert "[REDACTED" in raw
    assert "sunny, 21 C" in raw  # the rest of the result went


@contextlib.asynccontextmanager
async def in_process(config: str) -> AsyncIterator[openai.AsyncOpenAI]:
    """The gateway app of ``config`` in process, and the official SDK talking to it (its own HTTP client, ASGI)."""
    async with in_process_gateway(config) as (client, _):
        yield client


@contextlib.asynccontextmanager
async def in_process_gateway(config: str) -> AsyncIterator[tuple[openai.AsyncOpenAI, Gateway]]:
    """:func:`in_process`, and the gateway itself (its ledger)."""
    loaded = validate_layers(HybridSettings, [ConfigLayer("test", tomllib.loads(config))])
    assert not loaded.problems, loaded.problems
    app = build_gateway_app(loaded.settings)
    gateway: Gateway = app.state.gateway
    async with app.router.lifespan_context(app):
        await gateway.runtime.wait_local(10.0)
        key = gateway.store.add_user("agent", "default")[1]
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://gateway/v1") as http:
            sdk = openai.AsyncOpenAI(base_url="http://gateway/v1", api_key=key, http_client=http, max_retries=0)
            yield sdk, gateway


def vllm_server_config(
    tmp: Path, local: OpenAIWireServer, openai_url: str = "", *, structured: bool = True, tools: bool = True
) -> str:
    """The local engine a vLLM server (OpenAI-compatible: ``response_format`` unless ``structured`` is false, tools
    unless ``tools`` is false), OpenAI at ``openai_url`` or off."""
    cloud = (
        f'[providers.openai]\nbase_url = "{openai_url}"\napi_key_env = "{KEY_ENV}"\nmax_retries = 0\n'
        if openai_url
        else "[providers.openai]\nenabled = false\n"
    )
    return (
        f'data_dir = "{tmp / "data"}"\n[local]\nbackend = "openai-compatible"\n'
        f'base_url = "{local.base_url}"\nmodel = "test-model"\nstructured_output = {str(structured).lower()}\n'
        f"tool_calls = {str(tools).lower()}\n"
        f"{cloud}[providers.anthropic]\nenabled = false\n[providers.gemini]\nenabled = false\n"
    )


async def test_tools_or_a_schema_no_target_can_honour_is_a_400_naming_the_field(tmp_path: Path) -> None:
    with OpenAIWireServer() as local:
        async with in_process(vllm_server_config(tmp_path, local, structured=False, tools=False)) as client:
            with pytest.raises(openai.BadRequestError) as refused:
                await client.chat.completions.create(model="auto", messages=[QUESTION], tools=[WEATHER])
            error = refused.value.body
            assert isinstance(error, dict) and error["code"] == "unsupported_field"
            assert error["message"].startswith("tools: ")
            assert "local:test-model skipped: cannot honour tools" in error["message"]
            with pytest.raises(openai.BadRequestError) as refused:
                await client.chat.completions.parse(model="auto", messages=[QUESTION], response_format=Weather)
            assert refused.value.body["message"].startswith("response_format: ")  # type: ignore[index]
            plain = await client.chat.completions.create(model="auto", messages=[QUESTION])  # still served
            assert plain.choices[0].message.content
        assert not [r for r in local.generation_requests() if "tools" in r.body]  # nothing silently dropped


async def test_a_vllm_server_gets_the_response_format(tmp_path: Path) -> None:
    with OpenAIWireServer() as local:
        local.reply('{"city": "Rome", "celsius": 21}')
        async with in_process(vllm_server_config(tmp_path, local)) as client:
            answer = await client.chat.completions.parse(model="auto", messages=[QUESTION], response_format=Weather)
            assert answer.choices[0].message.parsed == Weather(city="Rome", celsius=21)
        sent = local.generation_requests()[-1].body["response_format"]
        assert sent["type"] == "json_schema" and sent["json_schema"]["schema"]["properties"]["city"]["type"] == "string"


async def test_a_vllm_server_answers_an_agents_tool_calls_on_the_premises(
    tmp_path: Path, openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``vllm serve`` as the local engine (its wire format) serves a tool-calling turn, streamed and whole, and the
    tool result turn after it; OpenAI is configured too and gets nothing."""
    monkeypatch.setenv(KEY_ENV, "sk-test")
    calls = [ScriptedCall("get_weather", {"city": "Paris"}, "call_p", pieces=6), ScriptedCall("get_weather", {})]
    with OpenAIWireServer() as local:
        local.reply("", tool_calls=calls)
        local.reply("", tool_calls=calls[:1])
        local.reply("Sunny in Paris.")
        async with in_process_gateway(vllm_server_config(tmp_path, local, openai_server.base_url)) as (client, gw):
            raw = await client.chat.completions.with_raw_response.create(
                model="auto", messages=[QUESTION], tools=[WEATHER], tool_choice="required"
            )
            answer = raw.parse()
            stream = await client.chat.completions.create(
                model="auto", messages=[QUESTION], tools=[WEATHER], stream=True
            )
            pieces = [c async for c in stream]
            asked = {
                "id": "call_p",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
            history: Any = [
                QUESTION,
                {"role": "assistant", "content": None, "tool_calls": [asked]},
                {"role": "tool", "tool_call_id": "call_p", "content": "sunny, 21 C"},
            ]
            final = await client.chat.completions.create(model="auto", messages=history, tools=[WEATHER])
            ledger = gw.ledger
            assert ledger is not None and ledger.flush(5.0)
            row = ledger.get(json.loads(raw.text)["hybrid"]["request_id"])
    assert answer.choices[0].finish_reason == "tool_calls"
    calls_back = answer.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls_back] == [  # type: ignore[union-attr]
        ("call_p", "get_weather", {"city": "Paris"}),
        ("call_1_get_weather", "get_weather", {}),
    ]
    assert json.loads(raw.text)["hybrid"]["target"] == "local"
    assert row is not None and row.target == "local"
    streamed = [t for c in pieces if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert "".join(t.function.arguments or "" for t in streamed if t.function) == '{"city":"Paris"}'
    assert [c.choices[0].finish_reason for c in pieces if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert final.choices[0].message.content == "Sunny in Paris."
    first, _, last = (r.body for r in local.generation_requests())
    assert first["tools"][0]["function"]["name"] == "get_weather" and first["tool_choice"] == "required"
    assert last["messages"][1]["tool_calls"][0]["id"] == "call_p" and last["messages"][2]["role"] == "tool"
    assert not openai_server.generation_requests()


async def test_a_target_that_cannot_honour_tools_is_skipped_with_its_reason(
    tmp_path: Path, openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    openai_server.reply("", tool_calls=[ScriptedCall("get_weather", {"city": "Rome"}, "call_r")])
    with OpenAIWireServer() as local:
        async with in_process(vllm_server_config(tmp_path, local, openai_server.base_url, tools=False)) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="auto", messages=[QUESTION], tools=[WEATHER]
            )
            answer = raw.parse()
            assert answer.choices[0].finish_reason == "tool_calls"
            hybrid = json.loads(raw.text)["hybrid"]
            assert hybrid["target"] == "openai"
            assert "local:test-model skipped: cannot honour tools" in hybrid["route"]["reasons"]
        assert not local.generation_requests()


async def test_malformed_tool_fields_are_400s_naming_the_field(tmp_path: Path) -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({"tools": {"type": "function"}}, "tools: must be a list"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type: only 'function' tools"),
        ({"tools": [{"type": "function", "function": {"name": "two words"}}]}, "tools[0].function.name: must be"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice.function.name",
        ),
        ({"tool_choice": "required"}, "tool_choice: 'required' needs tools"),
        ({"parallel_tool_calls": "yes"}, "parallel_tool_calls: must be true or false"),
        ({"response_format": {"type": "xml"}}, "response_format.type: must be"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
            "response_format.json_schema.name",
        ),
        ({"messages": [QUESTION, {"role": "tool", "content": "42"}]}, "messages[1].tool_call_id: is required"),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]},
            "messages[0].tool_calls[0].function: is required",
        ),
        ({"functions": [WEATHER["function"]]}, "functions: the deprecated function calling"),
    ]
    with OpenAIWireServer() as local:
        async with in_process(vllm_server_config(tmp_path, local)) as client:
            for fields, message in bad:
                body: Any = {"model": "auto", "messages": [QUESTION], **fields}
                with pytest.raises(openai.BadRequestError) as refused:
                    await client.chat.completions.create(**body)
                assert refused.value.body["message"].startswith(message), (fields, refused.value.body)  # type: ignore[index]
        assert not local.generation_requests()
