"""Tool calls and structured output for the in-process engines, by guided decoding (JSON schema).

A local model has no tool-calling API: the request's tools are put in the
prompt (through the chat template's ``tools`` when the template takes them,
else a system message describing them and the answer's form) and the answer
is *constrained* to one JSON form by the engine's structured-output decoding
(vLLM: ``StructuredOutputsParams(json=...)``), so it always parses:

- ``tool_choice`` ``required`` or a named tool: ``{"tool_calls": [{"name", "arguments"}, ...]}``
  (one call, the named tool, when named; at most one when ``parallel_tool_calls`` is false);
- ``auto`` (or not said): that, or ``{"content": "<text>"}`` — the model chooses (with a
  ``response_format`` too, ``content`` is that JSON, answered as its text);
- ``response_format`` alone: its schema (``json_schema``) or any JSON object (``json_object``).

:func:`parse_answer` maps the constrained answer back to text or
:class:`~inference.types.ToolCall` values; :class:`HeldAnswer` passes a text
answer's words on as they are decoded and holds a call until it is whole. History turns with tool calls and
tool results are rendered as the template expects them (OpenAI's message
shape, which Hugging Face templates take) or, for a template without tools,
as the same JSON the model is asked to produce and a user turn with the result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inference.tool_ids import call_id
from inference.types import ChatMessage, GenerationRequest, ToolCall, ToolSpec

__all__ = [
    "GuidedPlan",
    "HeldAnswer",
    "guided_plan",
    "openai_tools",
    "parse_answer",
    "template_messages",
    "template_takes_tools",
]


@dataclass(frozen=True, slots=True)
class GuidedPlan:
    """How one request's answer is constrained: a JSON schema, or any JSON object when ``schema`` is None."""

    schema: Mapping[str, Any] | None
    tools: bool  # the answer is the tool-call form, parsed by :func:`parse_answer`


def template_takes_tools(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template renders a ``tools`` list (as Qwen2.5's, Llama 3.1's do)."""
    template = getattr(tokenizer, "chat_template", None)
    return isinstance(template, str) and "tools" in template


def _calls_schema(tools: Sequence[ToolSpec], single: bool) -> dict[str, Any]:
    one_of = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": dict(t.parameters) or {"type": "object"}},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    items: dict[str, Any] = one_of[0] if len(one_of) == 1 else {"anyOf": one_of}
    calls: dict[str, Any] = {"type": "array", "items": items, "minItems": 1}
    if single:
        calls["maxItems"] = 1
    return {
        "type": "object",
        "properties": {"tool_calls": calls},
        "required": ["tool_calls"],
        "additionalProperties": False,
    }


def _content_schema(request: GenerationRequest) -> dict[str, Any]:
    """The text alternative of an ``auto`` answer: a string, or the ``response_format``'s JSON when one is asked."""
    form = request.response_format
    content: Mapping[str, Any] = {"type": "string"}
    if form is not None and form.type == "json_schema":
        content = form.schema or {"type": "object"}
    elif form is not None and form.type == "json_object":
        content = {"type": "object"}
    return {
        "type": "object",
        "properties": {"content": dict(content)},
        "required": ["content"],
        "additionalProperties": False,
    }


def guided_plan(request: GenerationRequest) -> GuidedPlan | None:
    """The constraint on ``request``'s answer, or None when it is free text."""
    choice = request.tool_choice
    if request.tools and (choice is None or choice.mode != "none"):
        tools: Sequence[ToolSpec] = request.tools
        named = False
        if choice is not None and choice.mode == "tool":
            named = True
            tools = [t for t in request.tools if t.name == choice.name] or list(request.tools)
        schema = _calls_schema(tools, single=named or request.parallel_tool_calls is False)
        if choice is None or choice.mode == "auto":
            schema = {"anyOf": [schema, _content_schema(request)]}
        return GuidedPlan(schema, tools=True)
    form = request.response_format
    if form is None or form.type == "text":
        return None
    return GuidedPlan(form.schema if form.type == "json_schema" else None, tools=False)


def _arguments(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {}


def openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """The tools in OpenAI's ``{"type": "function", "function": {...}}`` form, which chat templates take."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
        }
        for t in tools
    ]


def _instructions(request: GenerationRequest) -> str:
    lines = ["You can call these tools:"]
    lines += [json.dumps(t) for t in openai_tools(request.tools)]
    lines.append(
        'To call tools, answer {"tool_calls": [{"name": <tool name>, "arguments": <arguments object>}]}; '
        'to answer in text, {"content": <your answer>}.'
    )
    return "\n".join(lines)


def template_messages(request: GenerationRequest, tokenizer: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``request``'s messages as chat-template dicts, and the extra arguments of ``apply_chat_template``."""
    takes_tools = template_takes_tools(tokenizer)
    messages: list[dict[str, Any]] = []
    for m in request.messages:
        messages.append(_message(m, takes_tools))
    plan = guided_plan(request)
    if plan is None or not plan.tools:
        return messages, {}
    if takes_tools:
        return messages, {"tools": openai_tools(request.tools)}
    if messages and messages[0]["role"] == "system":
        messages[0] = {"role": "system", "content": f"{messages[0]['content']}\n\n{_instructions(request)}"}
    else:
        messages.insert(0, {"role": "system", "content": _instructions(request)})
    return messages, {}


def _message(m: ChatMessage, takes_tools: bool) -> dict[str, Any]:
    if m.role == "tool":
        if takes_tools:
            return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}
        return {"role": "user", "content": f"Result of tool call {m.tool_call_id}:\n{m.content}"}
    if not m.tool_calls:
        return {"role": m.role, "content": m.content}
    if takes_tools:
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _arguments(c.arguments)}}
            for c in m.tool_calls
        ]
        return {"role": m.role, "content": m.content, "tool_calls": calls}
    asked = {"tool_calls": [{"name": c.name, "arguments": _arguments(c.arguments)} for c in m.tool_calls]}
    return {"role": m.role, "content": json.dumps(asked)}


def parse_answer(text: str, request_id: str) -> tuple[str, tuple[ToolCall, ...]]:
    """The text and the tool calls of a constrained tool-form answer (a cut-off answer is returned as text)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text, ()
    if not isinstance(value, dict):
        return text, ()
    calls = value.get("tool_calls")
    if isinstance(calls, list) and calls:
        return "", tuple(
            ToolCall(call_id(request_id, i), str(c.get("name", "")), json.dumps(c.get("arguments", {})))
            for i, c in enumerate(calls)
            if isinstance(c, dict)
        )
    content = value.get("content")
    if isinstance(content, str):
        return content, ()
    return (text if content is None else json.dumps(content)), ()


_CONTENT_PREFIX = '{"content":"'  # compact JSON (the engines decode without free whitespace)
_HIGH_SURROGATES = range(0xD800, 0xDC00)


def _decodable(body: str) -> tuple[int, bool]:
    """How much of ``body`` (the inside of a JSON string, as it streams) decodes now, and whether the string ended."""
    i = 0
    while i < len(body):
        c = body[i]
        if c == '"':
            return i, True
        if c != "\\":
            i += 1
            continue
        if i + 1 >= len(body):
            break
        if body[i + 1] != "u":
            i += 2
            continue
        if i + 6 > len(body):
            break
        if int(body[i + 2 : i + 6], 16) in _HIGH_SURROGATES:  # its pair must come too: one character
            if i + 12 > len(body):
                break
            i += 12
        else:
            i += 6
    return i, False


class HeldAnswer:
    """A tool-form answer as it streams: a ``{"content": "..."}`` answer's text is passed on as it comes (decoded),
    a tool call is held whole and parsed at the end (:meth:`finish`)."""

    def __init__(self) -> None:
        self._raw = ""
        self._sent = 0  # characters of the decoded content passed on
        self._ended = False

    @property
    def _text_form(self) -> bool:
        return self._raw.startswith(_CONTENT_PREFIX)

    def feed(self, piece: str) -> str:
        """The new text of the answer after ``piece`` ("" while undecided, a call, or the string's end passed)."""
        self._raw += piece
        if self._ended or not self._text_form:
            return ""
        end, self._ended = _decodable(self._raw[len(_CONTENT_PREFIX) :])
        try:
            decoded = json.loads('"' + self._raw[len(_CONTENT_PREFIX) : len(_CONTENT_PREFIX) + end] + '"')
        except ValueError:  # not the JSON the constraint allows: left to finish()
            self._ended = True
            return ""
        new, self._sent = decoded[self._sent :], len(decoded)
        return str(new)

    def finish(self, request_id: str) -> tuple[str, tuple[ToolCall, ...]]:
        """The rest of the answer's text (what :meth:`feed` did not pass on) and its tool calls."""
        if self._text_form:  # every decodable character was passed on (a cut-off answer ends there)
            return "", ()
        return parse_answer(self._raw, request_id)
