"""OpenAI's tool-calling and structured-output fields, parsed into :mod:`inference.types` and written back.

Request side (``/v1/chat/completions``): ``tools`` (``{"type": "function",
"function": {name, description, parameters, strict}}``), ``tool_choice``
(``"auto"``, ``"none"``, ``"required"`` or ``{"type": "function", "function":
{"name"}}``), ``parallel_tool_calls`` and ``response_format`` (``text``,
``json_object``, ``json_schema`` with ``{name, schema, strict,
description}``); in the history, an assistant turn's ``tool_calls`` and a
``tool`` turn's ``tool_call_id``. Every malformed value is a 400 naming the
field. Answer side: a whole message's ``tool_calls`` and a stream's
``delta.tool_calls`` pieces (``index``; ``id``, ``type`` and ``function.name``
on a call's first piece; ``function.arguments`` fragments).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gateway.fields import get_bool, get_object, get_str, invalid
from inference.types import ResponseFormat, ToolCall, ToolCallDelta, ToolChoice, ToolSpec

#: OpenAI's rule for a function (and a response schema) name.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MODES = ("auto", "none", "required")


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise invalid(field, "must be 1-64 letters, digits, underscores or dashes")
    return value


def _schema(body: Mapping[str, Any], key: str, field: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(field, "must be a JSON schema object")
    return value


def parse_tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    """``tools``: function definitions (names unique)."""
    value = body.get("tools")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid("tools", "must be a list of {type: 'function', function: {...}} objects")
    tools: list[ToolSpec] = []
    for i, item in enumerate(value):
        field = f"tools[{i}]"
        if not isinstance(item, dict) or item.get("type") != "function":
            raise invalid(f"{field}.type", "only 'function' tools are supported")
        function = get_object(item, "function", f"{field}.function", required=True)
        name = _name(function.get("name"), f"{field}.function.name")
        if any(t.name == name for t in tools):
            raise invalid(f"{field}.function.name", f"{name!r} is defined twice")
        tools.append(
            ToolSpec(
                name,
                get_str(function, "description", f"{field}.function.description"),
                _schema(function, "parameters", f"{field}.function.parameters") or {"type": "object", "properties": {}},
                _optional_bool(function, "strict", f"{field}.function.strict"),
            )
        )
    return tuple(tools)


def parse_tool_choice(body: Mapping[str, Any], tools: tuple[ToolSpec, ...]) -> ToolChoice | None:
    """``tool_choice``: a mode, or the function that must be called (one of ``tools``)."""
    value = body.get("tool_choice")
    if value is None:
        return None
    if isinstance(value, str):
        if value not in _MODES:
            raise invalid("tool_choice", "must be 'auto', 'none', 'required' or {type: 'function', function: {name}}")
        if value == "required" and not tools:
            raise invalid("tool_choice", "'required' needs tools")
        return ToolChoice(mode=value)  # type: ignore[arg-type]  # checked against _MODES
    if not isinstance(value, dict) or value.get("type") != "function":
        raise invalid("tool_choice", "must be 'auto', 'none', 'required' or {type: 'function', function: {name}}")
    function = get_object(value, "function", "tool_choice.function", required=True)
    name = _name(function.get("name"), "tool_choice.function.name")
    if all(t.name != name for t in tools):
        raise invalid("tool_choice.function.name", f"{name!r} is not one of tools")
    return ToolChoice(mode="tool", name=name)


def parse_parallel(body: Mapping[str, Any]) -> bool | None:
    return _optional_bool(body, "parallel_tool_calls", "parallel_tool_calls")


def parse_response_format(body: Mapping[str, Any]) -> ResponseFormat | None:
    """``response_format``: text (None), any JSON object, or JSON valid against a named schema."""
    value = body.get("response_format")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("response_format", "must be an object with a type")
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind != "json_schema":
        raise invalid("response_format.type", "must be 'text', 'json_object' or 'json_schema'")
    spec = get_object(value, "json_schema", "response_format.json_schema", required=True)
    schema = _schema(spec, "schema", "response_format.json_schema.schema")
    return ResponseFormat(
        "json_schema",
        name=_name(spec.get("name"), "response_format.json_schema.name"),
        schema=schema or {"type": "object"},
        strict=_optional_bool(spec, "strict", "response_format.json_schema.strict"),
        description=get_str(spec, "description", "response_format.json_schema.description"),
    )


def parse_tool_calls(item: Mapping[str, Any], field: str) -> tuple[ToolCall, ...]:
    """An assistant turn's ``tool_calls`` (``field`` names the message)."""
    value = item.get("tool_calls")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid(f"{field}.tool_calls", "must be a list of tool calls")
    calls: list[ToolCall] = []
    for j, call in enumerate(value):
        where = f"{field}.tool_calls[{j}]"
        if not isinstance(call, dict) or call.get("type", "function") != "function":
            raise invalid(where, "must be a {id, type: 'function', function: {name, arguments}} object")
        function = get_object(call, "function", f"{where}.function", required=True)
        calls.append(
            ToolCall(
                get_str(call, "id", f"{where}.id", required=True),
                _name(function.get("name"), f"{where}.function.name"),
                get_str(function, "arguments", f"{where}.function.arguments") or "{}",
            )
        )
    return tuple(calls)


def _optional_bool(body: Mapping[str, Any], key: str, field: str) -> bool | None:
    return None if body.get(key) is None else get_bool(body, key, field)


def tool_calls_json(calls: tuple[ToolCall, ...]) -> list[dict[str, object]]:
    """A whole message's ``tool_calls``."""
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls]


def delta_json(delta: ToolCallDelta) -> dict[str, object]:
    """One streamed ``delta.tool_calls`` entry: the call's first piece names it, the others add arguments."""
    function: dict[str, str] = {"arguments": delta.arguments}
    entry: dict[str, object] = {"index": delta.index}
    if delta.id:
        entry["id"] = delta.id
        entry["type"] = "function"
    if delta.name:
        function = {"name": delta.name, **function}
    entry["function"] = function
    return entry
