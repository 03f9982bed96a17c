"""Tool calling through OpenAICompatibleBackend (``vllm serve``) against the loopback OpenAI wire server.

What a real server will not produce on demand: a call's arguments split over
many chunks, two parallel calls, a server that ignores the tools and answers
text, a whole (non-streamed) answer, a connection lost after the first piece
of a call, and vLLM's 400 when it runs without a tool-call parser. A real
``vllm serve`` forcing a named call is in test_vllm_serve.py.
"""

from __future__ import annotations

import json

import pytest

from inference.backend import collect
from inference.errors import BadRequestError, UnavailableError
from inference.remote import OpenAICompatibleBackend, RetryTiming
from inference.settings import LocalSettings, ProviderSettings
from inference.types import (
    ChatMessage,
    Feature,
    GenerationRequest,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from tests.wire.base import Reply, ScriptedCall
from tests.wire.openai_server import OpenAIWireServer

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    strict=True,
)
CLOCK = ToolSpec("get_time", parameters={"type": "object", "properties": {"zone": {"type": "string"}}})
ASK = (ChatMessage("user", "Weather and time in Rome?"),)
CITY = '{"city":"Rome"}'


def make_backend(server: OpenAIWireServer, **fields: object) -> OpenAICompatibleBackend:
    settings = ProviderSettings.model_validate(
        {"kind": "openai-compatible", "base_url": server.base_url, "default_model": "test-model", "local": True}
        | {"timeout_s": 10.0, "max_retries": 1}
        | fields
    )
    return OpenAICompatibleBackend(
        "local", settings, retry_timing=RetryTiming(initial_backoff_s=0.01, max_backoff_s=0.02)
    )


def ask(request_id: str, **kw: object) -> GenerationRequest:
    return GenerationRequest.chat(request_id, ASK, max_tokens=64, tools=(WEATHER, CLOCK), **kw)


async def test_tools_choice_and_the_tool_turns_reach_the_server_in_the_openai_format(
    openai_server: OpenAIWireServer,
) -> None:
    history = (
        *ASK,
        ChatMessage("assistant", "", tool_calls=(ToolCall("call_1", "get_weather", CITY),)),
        ChatMessage("tool", "sunny, 21 C", tool_call_id="call_1"),
    )
    choices = {
        "auto": ToolChoice("auto"),
        "none": ToolChoice("none"),
        "required": ToolChoice("required"),
        "named": ToolChoice("tool", "get_time"),
    }
    backend = make_backend(openai_server)
    try:
        for label, choice in choices.items():
            request = GenerationRequest.chat(
                label, history, tools=(WEATHER, CLOCK), tool_choice=choice, parallel_tool_calls=False
            )
            await collect(backend, request)
        await collect(backend, GenerationRequest.chat("no-tools", ASK))
    finally:
        await backend.close()
    *with_tools, without = openai_server.generation_requests()
    assert [r.body["tool_choice"] for r in with_tools] == [
        "auto",
        "none",
        "required",
        {"type": "function", "function": {"name": "get_time"}},
    ]
    body = with_tools[0].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": dict(WEATHER.parameters),
                "description": "The weather in a city.",
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "get_time", "parameters": dict(CLOCK.parameters)}},
    ]
    assert body["parallel_tool_calls"] is False
    assert body["messages"] == [
        {"role": "user", "content": "Weather and time in Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": CITY}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
    ]
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(without.body)


async def test_a_calls_arguments_split_over_many_chunks_come_back_whole(openai_server: OpenAIWireServer) -> None:
    arguments = {"city": "Rome", "units": "celsius", "days": [1, 2, 3]}
    openai_server.reply("", tool_calls=[ScriptedCall("get_weather", arguments, "call_w", pieces=20)])
    backend = make_backend(openai_server)
    try:
        chunks = [c async for c in backend.generate(ask("many", tool_choice=ToolChoice("tool", "get_weather")))]
        result = await collect(backend, ask("again"))  # the default reply: text
    finally:
        await backend.close()
    pieces = [d for c in chunks for d in c.tool_calls]
    assert len(pieces) == 21  # the head (id, name), then 20 fragments of the arguments
    assert (pieces[0].id, pieces[0].name) == ("call_w", "get_weather")
    assert all(d.index == 0 and not d.id and not d.name for d in pieces[1:])
    assert json.loads("".join(d.arguments for d in pieces)) == arguments
    assert chunks[-1].finish_reason == "tool_calls" and chunks[-1].usage is not None
    assert result.tool_calls == () and result.text


async def test_two_parallel_calls_are_told_apart_by_index(openai_server: OpenAIWireServer) -> None:
    calls = [ScriptedCall("get_weather", {"city": "Rome"}, "call_a"), ScriptedCall("get_time", {"zone": "CET"})]
    openai_server.reply("Let me look.", tool_calls=calls)
    backend = make_backend(openai_server)
    try:
        result = await collect(backend, ask("two", tool_choice=ToolChoice("required")))
    finally:
        await backend.close()
    assert result.text == "Let me look."
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == (
        ToolCall("call_a", "get_weather", '{"city":"Rome"}'),
        ToolCall("call_1_get_time", "get_time", '{"zone":"CET"}'),
    )


async def test_a_server_that_ignores_the_tools_answers_text(openai_server: OpenAIWireServer) -> None:
    openai_server.reply("It is sunny in Rome.")
    backend = make_backend(openai_server)
    try:
        result = await collect(backend, ask("plain"))
    finally:
        await backend.close()
    assert (result.text, result.finish_reason, result.tool_calls) == ("It is sunny in Rome.", "stop", ())


async def test_a_whole_answer_carries_its_calls(openai_server: OpenAIWireServer) -> None:
    """A server (or proxy) that ignores ``stream`` and answers one JSON body with ``message.tool_calls``."""
    calls = [ScriptedCall("get_weather", {"city": "Rome"}, "call_a"), ScriptedCall("get_time", {}, "call_b")]
    openai_server.reply("", tool_calls=calls, ignore_stream=True)
    backend = make_backend(openai_server)
    try:
        result = await collect(backend, ask("whole"))
    finally:
        await backend.close()
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == (
        ToolCall("call_a", "get_weather", '{"city":"Rome"}'),
        ToolCall("call_b", "get_time", "{}"),
    )


async def test_a_connection_lost_after_a_calls_first_piece_is_not_retried(openai_server: OpenAIWireServer) -> None:
    """A retry would hand the caller the call's pieces twice: once a piece went out, the failure is the answer."""
    openai_server.default_reply = Reply("", tool_calls=[ScriptedCall("get_weather", {"city": "Rome"}, "call_a")])
    openai_server.fail("reset", after_chunks=2)  # the role chunk, the call's head and its first fragment go out
    backend = make_backend(openai_server)
    try:
        with pytest.raises(UnavailableError):
            await collect(backend, ask("lost"))
    finally:
        await backend.close()
    assert len(openai_server.generation_requests()) == 1


async def test_a_server_without_a_tool_call_parser_says_what_to_configure(openai_server: OpenAIWireServer) -> None:
    # vLLM's own words (vllm/renderers/online_renderer.py) when it runs without --tool-call-parser
    refusal = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
    openai_server.fail("bad_request", message=refusal)
    local = LocalSettings(backend="openai-compatible", base_url=openai_server.base_url, model="test-model")
    backend = OpenAICompatibleBackend.from_local_settings("local", local)
    try:
        with pytest.raises(BadRequestError) as refused:
            await collect(backend, ask("auto"))
    finally:
        await backend.close()
    message = str(refused.value)
    assert refusal in message and openai_server.root_url in message
    assert "--enable-auto-tool-choice --tool-call-parser" in message and "tool_calls = false in [local]" in message


def test_tools_are_declared_unless_tool_calls_is_off() -> None:
    def features(local: LocalSettings) -> frozenset[Feature]:
        return OpenAICompatibleBackend.from_local_settings("local", local).features()

    on = LocalSettings(backend="openai-compatible", base_url="http://vllm:8000/v1")
    assert features(on) == {Feature.TOOLS, Feature.JSON_OBJECT, Feature.JSON_SCHEMA}
    assert features(on.model_copy(update={"tool_calls": False})) == {Feature.JSON_OBJECT, Feature.JSON_SCHEMA}
    both_off = on.model_copy(update={"tool_calls": False, "structured_output": False})
    assert features(both_off) == frozenset()
