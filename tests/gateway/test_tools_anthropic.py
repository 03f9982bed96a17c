"""Tool use through ``/v1/messages`` of a real gateway process, with the official ``anthropic`` SDK.

One ``hybrid-assist gateway serve`` process: the instant engine as the local
model (scripted: a request offering tools is answered with a call of the
first — or the named — tool, arguments made from its schema; after the tool's
result it answers in text) and the Anthropic wire server (Anthropic's real
protocol, scripted ``tool_use`` answers) as the ``anthropic`` provider. A
two-turn tool loop — the model asks for a call, the client sends the result,
the model answers — whole and streamed (``tool_use`` content blocks,
``input_json_delta`` fragments, ``stop_reason: tool_use``), from either
target; ``tool_choice``; a secret planted in a tool result never reaches the
cloud; count_tokens counts the tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.gateway.harness import GatewayProcess, anthropic_gateway
from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.base import ScriptedCall

pytestmark = pytest.mark.slow

CLAUDE = "claude-sonnet-4-6"
REPLY = "It is sunny in Paris."
WEATHER: Any = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
}
TIME: Any = {"name": "get_time", "description": "The time in a city", "input_schema": {"type": "object"}}
ASK: Any = [{"role": "user", "content": "What is the weather in Paris?"}]
#: A key-shaped secret the redaction recognises (an AWS access key id).
SECRET = "AKIAIOSFODNN7EXAMPLE"


class Served:
    def __init__(self, server: GatewayProcess, key: str, wire: AnthropicWireServer) -> None:
        self.server = server
        self.key = key
        self.wire = wire

    def client(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.server.url, api_key=self.key, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with AnthropicWireServer() as wire:
        tmp = tmp_path_factory.mktemp("anthropic-tools")
        with anthropic_gateway(tmp, wire.base_url, CLAUDE, REPLY) as (server, key):
            yield Served(server, key, wire)


@pytest.fixture
def gw(served: Served) -> Served:
    served.wire.clear()
    return served


def _ask(client: anthropic.Anthropic, stream: bool, **kw: Any) -> Any:
    """One ``messages`` call, whole or through the SDK's stream helper (which accumulates the tool_use blocks)."""
    if not stream:
        return client.messages.create(max_tokens=256, **kw)
    with client.messages.stream(max_tokens=256, **kw) as events:
        seen = [(e.type, getattr(getattr(e, "delta", None), "type", "")) for e in events]
        final = events.get_final_message()
    if final.stop_reason == "tool_use":
        assert ("content_block_delta", "input_json_delta") in seen  # the arguments came as partial_json fragments
    return final


def _result_turn(call: Any, content: str) -> Any:
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": content}]}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_tool_loop_on_the_local_engine(gw: Served, stream: bool) -> None:
    client = gw.client()
    first = _ask(client, stream, model="auto", messages=ASK, tools=[WEATHER, TIME])
    assert first.stop_reason == "tool_use" and first.model == "instant"
    (call,) = first.content
    assert call.type == "tool_use" and call.name == "get_weather" and call.id
    assert call.input == {"city": "instant", "unit": "celsius"}  # made from the schema by the instant engine
    history = [*ASK, {"role": "assistant", "content": first.content}, _result_turn(call, "22 C, sunny")]
    second = _ask(client, stream, model="auto", messages=history, tools=[WEATHER, TIME])
    assert second.stop_reason == "end_turn"
    assert [(b.type, b.text) for b in second.content] == [("text", REPLY)]
    assert gw.wire.generation_requests() == []  # all of it local


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_tool_loop_through_the_anthropic_provider(gw: Served, stream: bool) -> None:
    gw.wire.reply("Let me look.", tool_calls=[ScriptedCall("get_weather", {"city": "Paris"}, id="toolu_01")])
    gw.wire.reply(REPLY)
    client = gw.client()
    first = _ask(client, stream, model=CLAUDE, messages=ASK, tools=[WEATHER])
    assert first.stop_reason == "tool_use" and first.model == CLAUDE
    text, call = first.content
    assert (text.type, text.text) == ("text", "Let me look.")
    assert (call.type, call.id, call.name, call.input) == ("tool_use", "toolu_01", "get_weather", {"city": "Paris"})
    result = f"22 C, sunny; the station's key is {SECRET}"
    history = [*ASK, {"role": "assistant", "content": first.content}, _result_turn(call, result)]
    second = _ask(client, stream, model=CLAUDE, messages=history, tools=[WEATHER])
    assert second.stop_reason == "end_turn" and second.content[0].text == REPLY

    asked, answered = (r.body for r in gw.wire.generation_requests())
    assert asked["tools"][0]["name"] == "get_weather" and asked["tools"][0]["input_schema"] == WEATHER["input_schema"]
    assistant, results = answered["messages"][1:]
    (use,) = [b for b in assistant["content"] if b["type"] == "tool_use"]
    assert (use["id"], use["name"], use["input"]) == ("toolu_01", "get_weather", {"city": "Paris"})
    (tool_result,) = results["content"]
    assert tool_result["type"] == "tool_result" and tool_result["tool_use_id"] == "toolu_01"
    assert "22 C, sunny" in str(tool_result["content"])
    assert SECRET not in str(answered)  # the secret in the tool result was redacted before it left


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_call_cut_off_by_the_limit_stops_with_max_tokens(gw: Served, stream: bool) -> None:
    """Not ``tool_use``: the client must not run a call whose input was cut (``length`` on the OpenAI surface)."""
    gw.wire.reply("", tool_calls=[ScriptedCall("get_weather", {"city": "Paris"})], finish_reason="length")
    answer = _ask(gw.client(), stream, model=CLAUDE, messages=ASK, tools=[WEATHER])
    assert answer.stop_reason == "max_tokens"
    assert [b.type for b in answer.content] == ["tool_use"]  # the block as it came, as Anthropic's API keeps it


def test_tool_choice_names_the_tool_and_none_answers_in_text(gw: Served) -> None:
    client = gw.client()
    named: Any = client.messages.create(
        model="auto",
        max_tokens=64,
        messages=ASK,
        tools=[WEATHER, TIME],
        tool_choice={"type": "tool", "name": "get_time", "disable_parallel_tool_use": True},
    )
    assert named.stop_reason == "tool_use" and [b.name for b in named.content] == ["get_time"]
    plain: Any = client.messages.create(
        model="auto", max_tokens=64, messages=ASK, tools=[WEATHER], tool_choice={"type": "none"}
    )
    assert plain.stop_reason == "end_turn" and plain.content[0].text == REPLY
    with pytest.raises(anthropic.BadRequestError) as unknown:
        client.messages.create(
            model="auto", max_tokens=64, messages=ASK, tools=[WEATHER], tool_choice={"type": "tool", "name": "nope"}
        )
    assert "tool_choice.name: 'nope' is not one of the tools" in unknown.value.message


def test_count_tokens_counts_the_tools(gw: Served) -> None:
    client = gw.client()
    bare = client.messages.count_tokens(model="auto", messages=ASK).input_tokens
    with_tools = client.messages.count_tokens(model="auto", messages=ASK, tools=[WEATHER, TIME]).input_tokens
    assert with_tools > bare + 20


def test_structured_output_by_output_config(gw: Served) -> None:
    """``output_config.format`` (a JSON schema) is honoured locally and reaches Anthropic as its own output_config."""
    schema: Any = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "degrees": {"type": "integer"}},
        "required": ["city", "degrees"],
        "additionalProperties": False,
    }
    form: Any = {"format": {"type": "json_schema", "schema": schema}}
    client = gw.client()
    local: Any = client.messages.create(model="auto", max_tokens=64, messages=ASK, output_config=form)
    assert json.loads(local.content[0].text) == {"city": "instant", "degrees": 1}  # made from the schema
    gw.wire.reply('{"city": "Paris", "degrees": 22}')
    cloud: Any = client.messages.create(model=CLAUDE, max_tokens=64, messages=ASK, output_config=form)
    assert json.loads(cloud.content[0].text) == {"city": "Paris", "degrees": 22}
    (sent,) = gw.wire.generation_requests()
    assert sent.body["output_config"]["format"]["schema"]["properties"] == schema["properties"]
    with pytest.raises(anthropic.BadRequestError) as effort:
        client.messages.create(model="auto", max_tokens=64, messages=ASK, output_config={"effort": "high"})
    assert "output_config.effort: not supported" in effort.value.message
