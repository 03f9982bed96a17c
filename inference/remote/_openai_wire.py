"""Tools, tool calls and structured output in the OpenAI Chat Completions wire format, and tool-call deltas back.

One mapping for the two backends that speak that format: the ``openai`` SDK
backend passes these values to ``chat.completions.create`` (they are the
SDK's TypedDict parameters), and the OpenAI-compatible backend (``vllm
serve``) puts the very same dicts into its JSON body. The SDK's types are
only named for the type checker, so importing this module does not import
the SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from inference.types import ChatMessage, ResponseFormat, ToolCallDelta, ToolChoice, ToolSpec

if TYPE_CHECKING:
    from openai.types.chat import (
        ChatCompletionAssistantMessageParam,
        ChatCompletionFunctionToolParam,
        ChatCompletionMessageFunctionToolCallParam,
        ChatCompletionMessageParam,
        ChatCompletionSystemMessageParam,
        ChatCompletionToolChoiceOptionParam,
        ChatCompletionToolMessageParam,
        ChatCompletionUserMessageParam,
    )
    from openai.types.chat.completion_create_params import ResponseFormat as ResponseFormatParam
    from openai.types.shared_params import FunctionDefinition, ResponseFormatJSONSchema
    from openai.types.shared_params.response_format_json_schema import JSONSchema


def message(turn: ChatMessage) -> ChatCompletionMessageParam:
    """One history turn: an assistant turn's tool calls, a ``tool`` turn answering call ``tool_call_id``."""
    if turn.role == "system":
        system: ChatCompletionSystemMessageParam = {"role": "system", "content": turn.content}
        return system
    if turn.role == "assistant" and turn.tool_calls:
        calls: list[ChatCompletionMessageFunctionToolCallParam] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in turn.tool_calls
        ]
        asking: ChatCompletionAssistantMessageParam = {
            "role": "assistant",
            "content": turn.content or None,
            "tool_calls": calls,
        }
        return asking
    if turn.role == "assistant":
        answer: ChatCompletionAssistantMessageParam = {"role": "assistant", "content": turn.content}
        return answer
    if turn.role == "tool":
        result: ChatCompletionToolMessageParam = {
            "role": "tool",
            "tool_call_id": turn.tool_call_id,
            "content": turn.content,
        }
        return result
    user: ChatCompletionUserMessageParam = {"role": "user", "content": turn.content}
    return user


def tool(spec: ToolSpec) -> ChatCompletionFunctionToolParam:
    """A function the model may call, as ``tools[]`` takes it."""
    function: FunctionDefinition = {"name": spec.name, "parameters": dict(spec.parameters)}
    if spec.description:
        function["description"] = spec.description
    if spec.strict is not None:
        function["strict"] = spec.strict
    return {"type": "function", "function": function}


def tool_choice(choice: ToolChoice) -> ChatCompletionToolChoiceOptionParam:
    """``auto``, ``none``, ``required``, or ``{"type": "function", "function": {"name": ...}}``."""
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def response_format(form: ResponseFormat | None) -> ResponseFormatParam | None:
    """``form`` as ``response_format`` (None: free text, nothing to send)."""
    if form is None or form.type == "text":
        return None
    if form.type == "json_object":
        return {"type": "json_object"}
    spec: JSONSchema = {"name": form.name or "response", "schema": dict(form.schema or {"type": "object"})}
    if form.strict is not None:
        spec["strict"] = form.strict
    if form.description:
        spec["description"] = form.description
    schema: ResponseFormatJSONSchema = {"type": "json_schema", "json_schema": spec}
    return schema


def tool_call_deltas(calls: object) -> tuple[ToolCallDelta, ...]:
    """The JSON of ``delta.tool_calls`` (streamed pieces) or ``message.tool_calls`` (whole calls) as neutral pieces.

    A piece without ``index`` (a whole answer's calls) takes its position; fields that are missing, null or not
    text are empty, as in a later piece of a streamed call; entries that are not objects are passed over.
    """
    if not isinstance(calls, list):
        return ()
    return tuple(_delta(call, position) for position, call in enumerate(calls) if isinstance(call, Mapping))


def _delta(call: Mapping[str, Any], position: int) -> ToolCallDelta:
    function = call.get("function")
    function = function if isinstance(function, Mapping) else {}
    index = call.get("index")
    return ToolCallDelta(
        index=index if isinstance(index, int) and not isinstance(index, bool) and index >= 0 else position,
        id=_text(call.get("id")),
        name=_text(function.get("name")),
        arguments=_text(function.get("arguments")),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
