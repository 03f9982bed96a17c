"""Anthropic's tool-use fields, parsed into :mod:`inference.types` and written back.

Request side (``/v1/messages``): ``tools`` (client tools ``{name,
description, input_schema}``; Anthropic's server tools, which carry a
``type`` such as ``web_search_20250305``, are refused by name), ``tool_choice``
(``{"type": "auto" | "any" | "tool" | "none", "name", "disable_parallel_tool_use"}``:
``any`` is OpenAI's ``required``, ``disable_parallel_tool_use`` is
``parallel_tool_calls: false``), and the history's content blocks: an
assistant turn's ``tool_use`` blocks become its :class:`ToolCall` values, a
user turn's ``tool_result`` blocks one ``tool`` message each (in order, before
the turn's text; ``is_error`` results are prefixed ``Error:``). Every
malformed value is a 400 naming the field. Answer side: ``tool_use`` blocks
(``input`` the arguments decoded; ``{}`` when they do not decode to an object).
Structured output: ``output_config.format`` (or the older ``output_format``)
``{"type": "json_schema", "schema"}`` is the neutral ``response_format``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from gateway.errors import ApiError
from gateway.fields import get_bool, get_object, get_str, invalid
from inference.types import ChatMessage, ResponseFormat, ToolCall, ToolChoice, ToolSpec

#: Anthropic's rule for a tool name.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_CHOICES = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}
_ROLES = ("user", "assistant")
_CUSTOM = (None, "custom")


def parse_tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    """``tools``: client tool definitions (names unique)."""
    value = body.get("tools")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid("tools", "must be a list of {name, description, input_schema} objects")
    tools: list[ToolSpec] = []
    for i, item in enumerate(value):
        field = f"tools[{i}]"
        if not isinstance(item, dict):
            raise invalid(field, "must be a {name, description, input_schema} object")
        if item.get("type") not in _CUSTOM:
            raise ApiError(
                400, "unsupported_field", f"{field}.type: server tools ({item.get('type')!r}) are not supported"
            )
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise invalid(f"{field}.name", "must be 1-128 letters, digits, underscores or dashes")
        if any(t.name == name for t in tools):
            raise invalid(f"{field}.name", f"{name!r} is defined twice")
        schema = get_object(item, "input_schema", f"{field}.input_schema", required=True)
        strict = get_bool(item, "strict", f"{field}.strict") if item.get("strict") is not None else None
        tools.append(ToolSpec(name, get_str(item, "description", f"{field}.description"), schema, strict))
    return tuple(tools)


def parse_tool_choice(body: Mapping[str, Any], tools: tuple[ToolSpec, ...]) -> tuple[ToolChoice | None, bool | None]:
    """``tool_choice`` as the neutral choice and ``parallel_tool_calls`` (None: not said)."""
    if body.get("tool_choice") is None:
        return None, None
    choice = get_object(body, "tool_choice", "tool_choice")
    kind = choice.get("type")
    if kind not in _CHOICES:
        raise invalid("tool_choice.type", "must be 'auto', 'any', 'tool' or 'none'")
    name = ""
    if kind == "tool":
        name = get_str(choice, "name", "tool_choice.name", required=True)
        if all(t.name != name for t in tools):
            raise invalid("tool_choice.name", f"{name!r} is not one of the tools")
    elif kind != "none" and not tools:
        raise invalid("tool_choice", "needs tools")
    parallel = None
    if choice.get("disable_parallel_tool_use") is not None:
        parallel = not get_bool(choice, "disable_parallel_tool_use", "tool_choice.disable_parallel_tool_use")
    mode = _CHOICES[kind]
    return ToolChoice(mode, name), parallel  # type: ignore[arg-type]


def _result_text(block: Mapping[str, Any], field: str) -> str:
    content = block.get("content", "")
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ApiError(400, "unsupported_field", f"{field}.content[{j}]: only text results are supported")
            parts.append(get_str(part, "text", f"{field}.content[{j}].text", required=True))
        content = "\n\n".join(parts)
    elif not isinstance(content, str):
        raise invalid(f"{field}.content", "must be a string or a list of text blocks")
    if block.get("is_error") is not None and get_bool(block, "is_error", f"{field}.is_error"):
        return f"Error: {content}"
    return content


def _turn(role: str, value: Any, field: str) -> list[ChatMessage]:
    """One turn's messages: ``tool`` messages for its results, then its text (and calls, for the assistant)."""
    if isinstance(value, str):
        return [ChatMessage(role, value)]
    if not isinstance(value, list):
        raise invalid(field, "must be a string or a list of content blocks")
    texts: list[str] = []
    calls: list[ToolCall] = []
    results: list[ChatMessage] = []
    for i, block in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(block, dict):
            raise invalid(where, "must be a content block object")
        kind = block.get("type")
        if kind == "text":
            texts.append(get_str(block, "text", f"{where}.text", required=True))
        elif kind == "tool_use" and role == "assistant":
            call_input = get_object(block, "input", f"{where}.input", required=True)
            name = get_str(block, "name", f"{where}.name", required=True)
            calls.append(ToolCall(get_str(block, "id", f"{where}.id", required=True), name, json.dumps(call_input)))
        elif kind == "tool_result" and role == "user":
            call_id = get_str(block, "tool_use_id", f"{where}.tool_use_id", required=True)
            results.append(ChatMessage("tool", _result_text(block, where), tool_call_id=call_id))
        elif kind in ("tool_use", "tool_result"):
            raise invalid(
                f"{where}.type", f"{kind!r} blocks belong in {'assistant' if kind == 'tool_use' else 'user'} turns"
            )
        else:
            raise ApiError(400, "unsupported_field", f"{where}.type: {kind!r} blocks are not supported yet")
    text = "\n\n".join(texts)
    if calls:
        return [*results, ChatMessage(role, text, tuple(calls))]
    return [*results, ChatMessage(role, text)] if texts or not results else results


def system_text(value: Any) -> str:
    """``system``: a string or a list of text blocks (joined by blank lines)."""
    (message,) = _turn("system", value, "system")
    if message.tool_calls or message.role != "system":
        raise invalid("system", "takes text blocks only")
    return message.content


def parse_messages(body: Mapping[str, Any]) -> tuple[ChatMessage, ...]:
    """``system`` and ``messages`` as chat messages (with tool calls and results); 400 naming the first bad field."""
    result: list[ChatMessage] = []
    if body.get("system") is not None:
        result.append(ChatMessage("system", system_text(body["system"])))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages", "is required: a non-empty list of {role, content} objects")
    for i, item in enumerate(messages):
        if not isinstance(item, dict):
            raise invalid(f"messages[{i}]", "must be an object with role and content")
        role = get_str(item, "role", f"messages[{i}].role", required=True)
        if role not in _ROLES:
            raise invalid(f"messages[{i}].role", "must be 'user' or 'assistant'")
        if item.get("content") is None:
            raise invalid(f"messages[{i}].content", "is required")
        result.extend(_turn(role, item["content"], f"messages[{i}].content"))
    return tuple(result)


def tool_input(call: ToolCall) -> dict[str, Any]:
    """A call's arguments as the ``input`` object of a ``tool_use`` block (``{}`` when they are not one)."""
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def tool_use_block(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call)}


def tools_text(tools: tuple[ToolSpec, ...]) -> str:
    """The tool definitions as the text count_tokens counts (name, description and schema of each)."""
    return "".join(
        json.dumps({"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}) for t in tools
    )


def _json_schema_format(value: Any, field: str) -> ResponseFormat:
    if not isinstance(value, dict) or value.get("type") != "json_schema":
        raise invalid(f"{field}.type", "must be 'json_schema'")
    for key in value:
        if key not in ("type", "schema"):
            raise invalid(f"{field}.{key}", "is not a field of an output format (type, schema)")
    return ResponseFormat("json_schema", "response", get_object(value, "schema", f"{field}.schema", required=True))


def parse_output_format(body: Mapping[str, Any]) -> ResponseFormat | None:
    """Structured output: ``output_config.format`` (or the older top-level ``output_format``), a JSON schema.

    ``output_config.effort`` is refused by name (no target here takes it); None when no format is asked for.
    """
    found = None
    if body.get("output_format") is not None:
        found = _json_schema_format(body["output_format"], "output_format")
    config = get_object(body, "output_config", "output_config")
    for key, value in config.items():
        if key == "effort" and value is not None:
            raise ApiError(400, "unsupported_field", "output_config.effort: not supported")
        if key not in ("effort", "format"):
            raise invalid(f"output_config.{key}", "is not a field of output_config (format, effort)")
    if config.get("format") is not None:
        if found is not None:
            raise invalid("output_format", "give output_config.format or output_format, not both")
        found = _json_schema_format(config["format"], "output_config.format")
    return found
