"""Values that cross the inference interface: requests, stream chunks, usage, load.

All are frozen dataclasses; the backends build them, callers only read them.

Tool calling and structured output are provider-neutral here (each backend
maps them to its provider's wire format and back):

- a request carries :attr:`GenerationRequest.tools` (:class:`ToolSpec`: name,
  description, JSON schema of the arguments), :attr:`~GenerationRequest.tool_choice`
  (:class:`ToolChoice`), :attr:`~GenerationRequest.parallel_tool_calls` and
  :attr:`~GenerationRequest.response_format` (:class:`ResponseFormat`);
  the history carries assistant turns with :attr:`ChatMessage.tool_calls`
  (:class:`ToolCall`: id, name, arguments as a JSON string) and ``role="tool"``
  turns answering one call (:attr:`ChatMessage.tool_call_id`, the result in ``content``);
- a backend streams a call back as :class:`ToolCallDelta` pieces in
  :attr:`GenerationChunk.tool_calls` (the first piece of each ``index`` has its
  ``id`` and ``name``, later ones only ``arguments`` fragments) and ends with
  ``finish_reason == "tool_calls"``; :func:`inference.backend.collect`
  assembles them into :attr:`GenerationResult.tool_calls`;
- a backend declares what it can honour with ``Backend.features()`` (a set of
  :class:`Feature`); :meth:`GenerationRequest.features` is what a request needs,
  and the router skips a target lacking one (:func:`missing_fields` names the
  request fields it cannot honour).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


class RequestKind(enum.StrEnum):
    """What the model is asked to do."""

    FIM = "fim"  # fill in the middle: prefix + suffix -> middle
    CHAT = "chat"  # messages -> assistant answer


class Feature(enum.StrEnum):
    """A structured-output capability a request may need and a backend may honour."""

    TOOLS = "tools"  # tool definitions, tool calls in the answer, tool calls/results in the history
    JSON_OBJECT = "json_object"  # response_format {"type": "json_object"}: any JSON object
    JSON_SCHEMA = "json_schema"  # response_format {"type": "json_schema"}: JSON valid against a schema

    @property
    def field(self) -> str:
        """The request field (OpenAI's and Anthropic's name) that asks for this feature."""
        return "tools" if self is Feature.TOOLS else "response_format"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: ``parameters`` is the JSON schema of its arguments object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    strict: bool | None = None  # OpenAI's strict schema adherence; None: not said


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """Whether the model may (``auto``), must not (``none``) or must (``required``) call a tool,
    or must call the one named (``tool`` with ``name``)."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str = ""


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """The answer's form: free text, any JSON object, or JSON valid against ``schema`` (named ``name``)."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str = ""  # json_schema: the schema's name (OpenAI requires one; ``response`` when the client gave none)
    schema: Mapping[str, Any] | None = None
    strict: bool | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for: ``arguments`` is the JSON text of the arguments object."""

    id: str
    name: str
    arguments: str = "{}"


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A streamed piece of tool call ``index`` (0, 1, ... in the order the calls began).

    The first piece of an index carries ``id`` and ``name``; every piece may carry an ``arguments`` fragment.
    """

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # assistant: the calls it asked for (content may be "")
    tool_call_id: str = ""  # tool: the call this message answers (its result is ``content``)

    def texts(self) -> tuple[str, ...]:
        """Every text of this turn (content and tool-call arguments), for secret scans and estimates."""
        return (self.content, *(c.arguments for c in self.tool_calls))


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One model call. ``request_id`` is what :meth:`Backend.abort` takes."""

    request_id: str
    kind: RequestKind
    model: str = ""  # empty: the backend's default model
    prefix: str = ""  # FIM only
    suffix: str = ""  # FIM only
    messages: Sequence[ChatMessage] = ()  # CHAT only
    max_tokens: int = 64
    temperature: float = 0.0
    stop: Sequence[str] = ()
    timeout_s: float | None = None
    top_p: float | None = None  # nucleus sampling; None: the target's default (not sent)
    seed: int | None = None  # sampling seed, sent to targets that take one (not Anthropic)
    # Provider prompt caching (CHAT only): the first ``stable_chars`` characters of the first user message
    # (with every message before it) are the stable prefix that repeats across requests on the same code;
    # ``cache_key`` groups requests that share it (per repository and user), e.g. OpenAI's prompt_cache_key.
    stable_chars: int = 0
    cache_key: str = ""
    # Tool calling and structured output (CHAT only; see the module docstring).
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None  # None: not said (the provider's default, "auto" with tools)
    parallel_tool_calls: bool | None = None  # None: not said (the provider's default)
    response_format: ResponseFormat | None = None  # None or type "text": free text

    def features(self) -> frozenset[Feature]:
        """What a backend must honour to serve this request (tools not to be called need nothing)."""
        needed: set[Feature] = set()
        wants_tools = bool(self.tools) and (self.tool_choice is None or self.tool_choice.mode != "none")
        if wants_tools or any(m.tool_calls or m.role == "tool" for m in self.messages):
            needed.add(Feature.TOOLS)
        if self.response_format is not None and self.response_format.type == "json_object":
            needed.add(Feature.JSON_OBJECT)
        if self.response_format is not None and self.response_format.type == "json_schema":
            needed.add(Feature.JSON_SCHEMA)
        return frozenset(needed)

    @staticmethod
    def fim(request_id: str, prefix: str, suffix: str, **kw: object) -> GenerationRequest:
        return GenerationRequest(
            request_id=request_id,
            kind=RequestKind.FIM,
            prefix=prefix,
            suffix=suffix,
            **kw,  # type: ignore[arg-type]
        )

    @staticmethod
    def chat(request_id: str, messages: Sequence[ChatMessage], **kw: object) -> GenerationRequest:
        return GenerationRequest(
            request_id=request_id,
            kind=RequestKind.CHAT,
            messages=tuple(messages),
            **kw,  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call. ``cached_tokens`` is the part of the prompt served from cache;
    ``cache_write_tokens`` the part written to the provider's prompt cache (Anthropic bills it at a premium).

    ``estimated`` is True when the server reported no count for the prompt or
    the completion and the backend counted (or estimated) it itself; the
    ledger keeps the flag beside the row.
    """

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.cached_tokens + other.cached_tokens,
            self.completion_tokens + other.completion_tokens,
            self.estimated or other.estimated,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass(frozen=True, slots=True)
class GenerationChunk:
    """A piece of streamed output.

    The last chunk of every stream has ``finish_reason`` set (``"stop"``,
    ``"length"``, ``"abort"``, ``"tool_calls"`` when the answer ends asking for
    tool calls) and carries the call's ``usage``. ``tool_calls`` are streamed
    pieces of the calls the model asks for (see :class:`ToolCallDelta`).
    """

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """A whole answer, as :func:`inference.backend.collect` returns it."""

    text: str
    finish_reason: str
    usage: Usage
    model: str
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class BackendLoad:
    """What the router needs to know about a backend's current load."""

    queued: int = 0
    running: int = 0
    recent_ttft_ms: float | None = None  # median over a recent window, None if no data
    aborted_total: int = 0  # requests aborted since start (cancellation reached the engine)


@dataclass(frozen=True, slots=True)
class BackendHealth:
    """Whether a backend can serve, and if not, why and what to do."""

    ok: bool
    detail: str = ""
    remedy: str = ""
    models: tuple[str, ...] = field(default_factory=tuple)


def missing_fields(needed: Iterable[Feature], honoured: Iterable[Feature]) -> tuple[str, ...]:
    """The request fields (``tools``, ``response_format``) asking for a feature not in ``honoured``, sorted."""
    have = frozenset(honoured)
    return tuple(sorted({f.field for f in needed if f not in have}))


def assemble_tool_calls(deltas: Iterable[ToolCallDelta]) -> tuple[ToolCall, ...]:
    """Whole :class:`ToolCall` values from streamed pieces, in index order (arguments ``{}`` when none came)."""
    calls: dict[int, list[str]] = {}
    for d in deltas:
        entry = calls.setdefault(d.index, ["", "", ""])
        entry[0] = entry[0] or d.id
        entry[1] = entry[1] or d.name
        entry[2] += d.arguments
    return tuple(ToolCall(i, n, a or "{}") for _, (i, n, a) in sorted(calls.items()))
