"""Tools and structured output for the local engines (inference/local/_tools.py), without an engine.

The constraint each request gets (a JSON schema for guided decoding), the
parse of a constrained answer back into text or tool calls, and the prompt:
through the chat template's ``tools`` when the template takes them (a
Hugging Face tokenizer with such a template renders the tools, the
assistant's calls and the tool results), else a system message describing
them and the answer's form (the tiny Qwen2 model's ChatML template).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from transformers import AutoTokenizer

from inference.local._prompts import render_prompt
from inference.local._tools import HeldAnswer, guided_plan, parse_answer
from inference.tool_ids import call_id
from inference.types import ChatMessage, GenerationRequest, ResponseFormat, ToolCall, ToolChoice, ToolSpec

from .conftest import TinyModelFactory

WEATHER = ToolSpec("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})
TIME = ToolSpec("get_time", "Time", {"type": "object", "properties": {}})
HISTORY = (
    ChatMessage("user", "Weather in Paris?"),
    ChatMessage("assistant", "", (ToolCall("call_1", "get_weather", '{"city": "Paris"}'),)),
    ChatMessage("tool", "22 C", tool_call_id="call_1"),
)
#: A template that renders tools, calls and results the way Qwen2.5's and Llama 3.1's do (in short).
TOOLS_TEMPLATE = (
    "{% if tools %}{{ 'TOOLS ' + (tools | tojson) + '\\n' }}{% endif %}"
    "{% for m in messages %}{{ m.role + ': ' + m.content }}"
    "{% if m.tool_calls %}{{ ' CALLS ' + (m.tool_calls | tojson) }}{% endif %}"
    "{% if m.tool_call_id %}{{ ' FOR ' + m.tool_call_id }}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def chat(**kw: Any) -> GenerationRequest:
    return GenerationRequest.chat("r1", HISTORY, **kw)


def test_the_constraint_follows_tool_choice_and_response_format() -> None:
    auto = guided_plan(chat(tools=(WEATHER, TIME)))
    assert auto is not None and auto.tools and auto.schema is not None
    jsonschema.validate({"content": "hi"}, auto.schema)
    jsonschema.validate({"tool_calls": [{"name": "get_time", "arguments": {}}]}, auto.schema)
    named = guided_plan(chat(tools=(WEATHER, TIME), tool_choice=ToolChoice("tool", "get_weather")))
    assert named is not None and named.schema is not None
    with pytest.raises(jsonschema.ValidationError):  # text is not allowed, nor another tool, nor two calls
        jsonschema.validate({"content": "hi"}, named.schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tool_calls": [{"name": "get_time", "arguments": {}}]}, named.schema)
    two = {"tool_calls": [{"name": "get_weather", "arguments": {}}] * 2}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(two, named.schema)
    assert guided_plan(chat(tools=(WEATHER,), tool_choice=ToolChoice("none"))) is None
    number = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    both = guided_plan(chat(tools=(WEATHER,), response_format=ResponseFormat("json_schema", "n", number)))
    assert both is not None and both.schema is not None  # under auto, the text alternative is the schema's JSON
    jsonschema.validate({"content": {"n": 3}}, both.schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"content": "three"}, both.schema)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    shaped = guided_plan(chat(response_format=ResponseFormat("json_schema", "n", schema)))
    assert shaped is not None and not shaped.tools and shaped.schema == schema
    any_object = guided_plan(chat(response_format=ResponseFormat("json_object")))
    assert any_object is not None and any_object.schema is None
    assert guided_plan(chat(response_format=ResponseFormat("text"))) is None


def test_a_constrained_answer_is_parsed_back() -> None:
    text, calls = parse_answer('{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}', "r9")
    assert text == "" and calls == (ToolCall(call_id("r9", 0), "get_weather", '{"city": "Oslo"}'),)
    long_id = "x" * 40 + ".0123456789ab"  # a gateway's ledger id at its longest
    assert call_id(long_id, 1).startswith("call_") and len(call_id(long_id, 1)) <= 40
    assert call_id(long_id, 1) != call_id(long_id, 0) != call_id("x" * 40 + ".0123456789ac", 0)
    assert parse_answer('{"content": "It is warm."}', "r9") == ("It is warm.", ())
    assert parse_answer('{"content": {"n": 3}}', "r9") == ('{"n": 3}', ())
    assert parse_answer('{"tool_calls": [{"name": "get_w', "r9") == ('{"tool_calls": [{"name": "get_w', ())


def test_a_template_that_takes_tools_renders_them_calls_and_results(tiny_model: TinyModelFactory) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model("qwen2.5-coder")))
    tokenizer.chat_template = TOOLS_TEMPLATE
    prompt = render_prompt(chat(tools=(WEATHER,)), tokenizer, None).text
    tools_line, user, assistant, tool, tail = prompt.split("\n")
    assert json.loads(tools_line.removeprefix("TOOLS "))[0]["function"]["name"] == "get_weather"
    assert user == "user: Weather in Paris?"
    calls = json.loads(assistant.split(" CALLS ", 1)[1])
    assert calls[0]["id"] == "call_1" and calls[0]["function"] == {
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
    assert tool == "tool: 22 C FOR call_1" and tail == "assistant:"


def test_a_template_without_tools_gets_them_described(tiny_model: TinyModelFactory) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model("qwen2.5-coder")))  # ChatML: no tools
    prompt = render_prompt(chat(tools=(WEATHER,)), tokenizer, None).text
    assert prompt.startswith("<|im_start|>system\nYou can call these tools:\n")
    assert '"name": "get_weather"' in prompt and '{"tool_calls": [{"name": <tool name>' in prompt
    assert '<|im_start|>assistant\n{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}' in prompt
    assert "<|im_start|>user\nResult of tool call call_1:\n22 C<|im_end|>" in prompt
    plain = render_prompt(GenerationRequest.chat("r2", HISTORY[:1]), tokenizer, None).text
    assert "tools" not in plain  # no tools asked for: the prompt is as before


@pytest.mark.parametrize("size", [1, 3, 7], ids=["by-1", "by-3", "by-7"])
def test_a_text_answer_streams_as_it_is_decoded_and_a_call_is_held(size: int) -> None:
    """The pieces of the answer's text come out decoded (escapes, a surrogate pair cut anywhere), a call whole."""
    said = r"Use \"x\" \\ then\n\ud83d\ude00 done\u00e9"  # JSON string escapes, as the engine writes them
    raw = '{"content":"' + said + '"}'
    held = HeldAnswer()
    pieces = [held.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
    assert "".join(pieces) == json.loads('"' + said + '"') == 'Use "x" \\ then\n\N{GRINNING FACE} done\u00e9'
    assert sum(1 for p in pieces if p) > 1  # several pieces, not one at the end
    assert held.finish("r1") == ("", ())

    call = '{"tool_calls":[{"name":"get_weather","arguments":{"city":"Oslo"}}]}'
    held = HeldAnswer()
    assert [held.feed(call[i : i + size]) for i in range(0, len(call), size)] == [""] * len(range(0, len(call), size))
    assert held.finish("r1") == ("", (ToolCall(call_id("r1", 0), "get_weather", '{"city": "Oslo"}'),))

    cut = HeldAnswer()
    assert cut.feed('{"content":"half an ans') == "half an ans" and cut.finish("r1") == ("", ())  # cut off: no JSON
