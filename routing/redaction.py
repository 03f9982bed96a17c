"""Secrets in context bound for the cloud: find them, and redact a generation request before it leaves.

The one place both the language server and the gateway call (route
preparation scans with :func:`secret_kinds`; the service redacts the built
request with :func:`redact_request`), so they cannot differ. Detection is
:mod:`routing.usage.secrets` (detect-secrets plus the project's detectors in
:mod:`routing.usage.secret_forms`); no file name is needed, so a pasted
environment is caught in a docstring and in a chat message alike.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from inference.types import ChatMessage, GenerationRequest, ResponseFormat, ToolSpec
from routing.usage.secrets import find_secrets, redact


def secret_kinds(*texts: str) -> tuple[str, ...]:
    """The kinds of secret found in ``texts`` (sorted, without repeats)."""
    kinds = {finding.kind for text in texts if text for finding in find_secrets(text)}
    return tuple(sorted(kinds))


def redact_request(request: GenerationRequest) -> GenerationRequest:
    """``request`` with every secret in its prompt replaced by ``[REDACTED:kind]``.

    Tool results (``tool`` messages) and the arguments of tool calls in the history are redacted like any text;
    each message keeps its tool calls and the id of the call it answers. Tool definitions (description and
    parameter schema) and a response schema are redacted too (:func:`request_texts` is what the scan reads).
    """
    messages: list[ChatMessage] = []
    stable = request.stable_chars
    first_user = True
    for m in request.messages:
        if m.role == "user" and first_user and stable:
            # the stable prefix and the rest apart, so the prefix stays the same whatever the instruction says
            head, tail = redact(m.content[:stable])[0], redact(m.content[stable:])[0]
            messages.append(dataclasses.replace(m, content=head + tail))
            stable = len(head)
        else:
            calls = tuple(dataclasses.replace(c, arguments=redact(c.arguments)[0]) for c in m.tool_calls)
            messages.append(dataclasses.replace(m, content=redact(m.content)[0], tool_calls=calls))
        first_user = first_user and m.role != "user"
    return dataclasses.replace(
        request,
        prefix=redact(request.prefix)[0],
        suffix=redact(request.suffix)[0],
        messages=tuple(messages),
        stable_chars=stable,
        tools=tuple(_redact_tool(t) for t in request.tools),
        response_format=_redact_format(request.response_format),
    )


def tool_texts(tools: tuple[ToolSpec, ...], response_format: ResponseFormat | None) -> tuple[str, ...]:
    """What of the tool definitions and the response schema leaves the premises, as the secret scan reads it."""
    texts = [t.description + json.dumps(t.parameters) for t in tools]
    if response_format is not None:
        texts.append(response_format.description + json.dumps(response_format.schema))
    return tuple(texts)


def _redact_tool(tool: ToolSpec) -> ToolSpec:
    return dataclasses.replace(
        tool, description=redact(tool.description)[0], parameters=_redact_schema(tool.parameters)
    )


def _redact_format(form: ResponseFormat | None) -> ResponseFormat | None:
    if form is None:
        return None
    schema = _redact_schema(form.schema) if form.schema is not None else None
    return dataclasses.replace(form, description=redact(form.description)[0], schema=schema)


def _redact_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON schema with its secrets redacted: in its JSON text (keys give context), else string by string."""
    text = json.dumps(schema)
    redacted = redact(text)[0]
    if redacted == text:
        return dict(schema)
    try:
        value = json.loads(redacted)
    except ValueError:
        value = None
    if isinstance(value, dict) and redact(json.dumps(value))[0] == json.dumps(value):
        return value
    walked = _redact_strings(schema)
    assert isinstance(walked, dict)
    return walked


def _redact_strings(value: object) -> object:
    if isinstance(value, str):
        return redact(value)[0]
    if isinstance(value, Mapping):
        return {k: _redact_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_strings(v) for v in value]
    return value
