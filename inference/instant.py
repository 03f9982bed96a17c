"""``InstantBackend``: answers at once with a configured text — for benchmarks of everything but the model.

It is a real :class:`~inference.backend.Backend` (streaming, abort, usage,
load), selected with ``[local] backend = "instant"``; it is how the
language server's and the gateway's own overhead is measured.

It honours tools and structured output by a fixed script, so the gateway's
tool-calling paths can be tested and measured without a model:

- a request offering tools (``tool_choice`` not ``none``) whose last turn is
  not a tool result is answered with one call: the named tool (``tool_choice``
  ``tool``), else the first, with arguments made from its schema
  (:func:`example_of`), streamed as a :class:`ToolCallDelta` with the id
  (:func:`~inference.tool_ids.call_id`, as the local engines make them) and
  name and then the arguments in two fragments, ending ``tool_calls``; after a
  tool result (``auto``) it answers ``[local] instant_reply``, closing the loop;
- ``response_format`` ``json_schema`` is answered with :func:`example_of` the
  schema as JSON, ``json_object`` with ``{"reply": instant_reply}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from inference.backend import Backend, estimate_tokens
from inference.settings import LocalSettings
from inference.tool_ids import call_id
from inference.types import (
    BackendHealth,
    BackendLoad,
    Feature,
    GenerationChunk,
    GenerationRequest,
    ToolCallDelta,
    ToolSpec,
    Usage,
)

_SCALARS: dict[str, object] = {"string": "instant", "integer": 1, "number": 1, "boolean": True, "null": None}


def example_of(schema: Mapping[str, Any]) -> object:
    """A value valid against the common JSON-schema forms (types, properties, items, enum, const, anyOf/oneOf)."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_of(schema[key][0])
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: example_of(sub) for name, sub in properties.items() if isinstance(sub, Mapping)}
    if kind == "array":
        items = schema.get("items")
        count = max(1, int(schema.get("minItems", 1)))
        return [example_of(items) for _ in range(count)] if isinstance(items, Mapping) else []
    return _SCALARS.get(str(kind), "instant")


def _tool_to_call(request: GenerationRequest) -> ToolSpec | None:
    """The tool this request's answer calls, or None when it answers in text."""
    choice = request.tool_choice
    if not request.tools or (choice is not None and choice.mode == "none"):
        return None
    if choice is not None and choice.mode == "tool":
        return next((t for t in request.tools if t.name == choice.name), request.tools[0])
    forced = choice is not None and choice.mode == "required"
    if not forced and request.messages and request.messages[-1].role == "tool":
        return None  # the tool answered: close the loop with text
    return request.tools[0]


class InstantBackend(Backend):
    """Streams ``[local] instant_reply`` immediately (or a piece per ``instant_token_delay_ms``), split into words."""

    is_local = True

    def __init__(self, name: str, settings: LocalSettings) -> None:
        self.name = name
        self._reply = settings.instant_reply
        self._token_delay_s = settings.instant_token_delay_ms / 1000.0
        self._running: set[str] = set()
        self._aborted: set[str] = set()
        self.aborted_log: list[str] = []  # request ids aborted, oldest first (for tests)

    def default_model(self) -> str:
        return "instant"

    def features(self) -> frozenset[Feature]:
        return frozenset(Feature)

    def token_counter(self) -> Callable[[str], int] | None:
        return estimate_tokens

    def load(self) -> BackendLoad:
        return BackendLoad(
            queued=0, running=len(self._running), recent_ttft_ms=0.0, aborted_total=len(self.aborted_log)
        )

    async def health(self) -> BackendHealth:
        return BackendHealth(ok=True, detail="instant test backend", models=("instant",))

    async def abort(self, request_id: str) -> None:
        if request_id in self._running:
            self._aborted.add(request_id)
            self.aborted_log.append(request_id)

    def _text(self, request: GenerationRequest) -> str:
        form = request.response_format
        if form is not None and form.type == "json_schema":
            return json.dumps(example_of(form.schema or {}))
        if form is not None and form.type == "json_object":
            return json.dumps({"reply": self._reply})
        return self._reply

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        prompt = request.prefix + request.suffix + "".join(t for m in request.messages for t in m.texts())
        self._running.add(request.request_id)
        tool = _tool_to_call(request)
        if tool is None:
            pieces = self._text(request).split(" ")
        else:
            arguments = json.dumps(example_of(tool.parameters))
            half = len(arguments) // 2
            pieces = [arguments[:half], arguments[half:]]
        emitted = 0
        try:
            for i, piece in enumerate(pieces):
                if request.request_id in self._aborted or emitted >= request.max_tokens:
                    break
                if self._token_delay_s:
                    await asyncio.sleep(self._token_delay_s)
                emitted += 1
                if tool is None:
                    yield GenerationChunk(piece if i == 0 else " " + piece)
                elif i == 0:
                    yield GenerationChunk(
                        "", tool_calls=(ToolCallDelta(0, call_id(request.request_id, 0), tool.name, piece),)
                    )
                else:
                    yield GenerationChunk("", tool_calls=(ToolCallDelta(0, arguments=piece),))
            finish = "tool_calls" if tool is not None else "stop"
            if request.request_id in self._aborted:
                finish = "abort"
            yield GenerationChunk("", finish, Usage(estimate_tokens(prompt), 0, emitted))
        finally:
            closed_early = request.request_id not in self._aborted and emitted < len(pieces)
            if closed_early and emitted < request.max_tokens:
                self.aborted_log.append(request.request_id)  # the consumer closed the stream: an abort
            self._running.discard(request.request_id)
            self._aborted.discard(request.request_id)
