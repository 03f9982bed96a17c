"""Google's Gemini models through the official ``google-genai`` SDK (``genai.Client``).

Streams ``client.aio.models.generate_content_stream``, which posts to
``{base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse``: with an
API key and a custom ``base_url`` the SDK appends ``api_version`` and the
path to the URL as given, so the version is pinned to ``v1beta`` here. Gemini
quirks handled here: the system prompt goes in
``config.system_instruction`` and assistant turns have the role ``model``;
at most five stop sequences are sent; the SDK is given its own ``httpx`` clients (with aiohttp installed it would
otherwise pick aiohttp, whose implicit retry sleeps 1-10 s on connection
errors) and no retry options (so it never retries; the loop in
:class:`~inference.remote._base.RemoteBackend` does, honouring the delay).
Gemini writes a rate limit's delay in a ``google.rpc.RetryInfo`` error detail
(``"retryDelay": "1.5s"``) rather than a header, and answers a bad key with
400 ``API_KEY_INVALID``. ``usage_metadata.prompt_token_count`` includes
``cached_content_token_count``; thinking tokens are billed as output, so they
count as completion tokens. A ``SAFETY``-like finish reason, or a blocked
prompt, is a content filter.

Tools are function declarations (``parameters_json_schema``), ``tool_choice``
the function-calling mode (``AUTO``, ``NONE``, ``ANY``, ``ANY`` with one allowed
name); an assistant turn's calls are ``functionCall`` parts and tool results
``functionResponse`` parts (``{"result": text}``, named by the call they
answer) of a user turn; ``response_format`` is ``response_mime_type
application/json`` with ``response_json_schema``. A streamed ``functionCall``
part arrives whole: it becomes one tool-call piece (an id is made up when
Gemini sends none, and left out again on the way back), and the answer then
finishes with ``tool_calls``. Gemini has no switch for parallel calls:
``parallel_tool_calls`` is not sent. A call's ``thought_signature`` (which
Gemini 3 requires back with the call in the next turn) travels in the call's
id: the id handed to the client ends with :data:`SIGNATURE_MARK` and the
signature in URL-safe base64 (``[A-Za-z0-9_-]``, which Anthropic's
``tool_use`` ids also allow), and the turn that sends the call back is
rebuilt from it. Nothing is kept in this process, so the next turn may reach
any gateway replica, or this one after a restart (LiteLLM does the same).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from inference.errors import (
    AuthenticationError,
    ContentFilteredError,
    InferenceError,
    InferenceTimeoutError,
    UnavailableError,
)
from inference.remote._base import SdkBackend
from inference.remote._errors_http import (
    COMMON_CONTEXT_MARKERS,
    error_for_status,
    mentions_any,
    parse_retry_after,
)
from inference.remote._fim_chat import fim_chat_messages
from inference.types import (
    ChatMessage,
    Feature,
    GenerationChunk,
    GenerationRequest,
    RequestKind,
    ToolCall,
    ToolCallDelta,
    Usage,
)

logger = logging.getLogger(__name__)

API_VERSION = "v1beta"
#: Gemini accepts at most this many stop sequences.
_MAX_STOP = 5
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT"}
)
_CONTEXT_MARKERS = (*COMMON_CONTEXT_MARKERS, "input token count", "exceeds the maximum number of tokens")
_BAD_KEY_MARKERS = ("API_KEY_INVALID", "API key not valid", "API key expired")
_DELAY = re.compile(r"^\s*([0-9]*\.?[0-9]+)s\s*$")
_FEATURES = frozenset({Feature.TOOLS, Feature.JSON_OBJECT, Feature.JSON_SCHEMA})
#: Prefix of the tool-call ids made up here for calls Gemini sent without one (not sent back to Gemini).
MADE_UP_ID = "call_gemini_"
_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}
#: Between a call's id and its thought signature (URL-safe base64, unpadded) in the id handed to the client.
SIGNATURE_MARK = "__thought__"


class GeminiBackend(SdkBackend[genai.Client]):
    """Gemini API (Google AI); see the module docstring."""

    default_endpoint = "https://generativelanguage.googleapis.com"
    _http: httpx.AsyncClient | None = None
    _http_sync: httpx.Client | None = None

    def features(self) -> frozenset[Feature]:
        return _FEATURES

    def _new_client(self, api_key: str | None) -> genai.Client:
        common = self._sdk_options(api_key)
        self._http = httpx.AsyncClient(timeout=common["timeout"])
        self._http_sync = httpx.Client(timeout=common["timeout"])
        options = types.HttpOptions(
            base_url=common["base_url"],
            api_version=API_VERSION,
            timeout=_millis(common["timeout"]),
            httpx_async_client=self._http,
            httpx_client=self._http_sync,
        )
        return genai.Client(vertexai=False, api_key=api_key, http_options=options)

    async def _release_client(self, client: genai.Client) -> None:
        http, http_sync = self._http, self._http_sync
        self._http = self._http_sync = None
        if http is not None:
            await http.aclose()
        if http_sync is not None:
            http_sync.close()

    async def _stream(self, request: GenerationRequest, model: str, timeout_s: float) -> AsyncIterator[GenerationChunk]:
        source = (
            fim_chat_messages(request.prefix, request.suffix) if request.kind is RequestKind.FIM else request.messages
        )
        system, contents = _contents(source)
        config = types.GenerateContentConfig(
            system_instruction=system or None,
            max_output_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop_sequences=list(request.stop)[:_MAX_STOP] or None,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            http_options=types.HttpOptions(timeout=_millis(timeout_s)),
            **_tool_config(request),
            **_response_config(request),
        )
        stream = await self._sdk().aio.models.generate_content_stream(model=model, contents=contents, config=config)
        finish: str | None = None
        metadata: types.GenerateContentResponseUsageMetadata | None = None
        parts: list[str] = []
        calls = 0
        try:
            async for response in stream:
                feedback = response.prompt_feedback
                if feedback is not None and feedback.block_reason is not None:
                    raise ContentFilteredError(
                        f"{self.name}: Gemini blocked the prompt ({_name(feedback.block_reason)})",
                        provider=self.name,
                    )
                if response.usage_metadata is not None:
                    metadata = response.usage_metadata
                if not response.candidates:
                    continue
                candidate = response.candidates[0]
                text = _text(candidate)
                if text:
                    parts.append(text)
                    yield GenerationChunk(text)
                for call, signature in _function_calls(candidate):
                    arguments = json.dumps(call.args or {}, separators=(",", ":"))
                    call_id = _client_id(call.id or f"{MADE_UP_ID}{secrets.token_hex(6)}", signature)
                    parts.append(arguments)
                    yield GenerationChunk("", tool_calls=(ToolCallDelta(calls, call_id, call.name or "", arguments),))
                    calls += 1
                if candidate.finish_reason is not None:
                    finish = _name(candidate.finish_reason)
        finally:
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()
        if finish in _FILTERED:
            raise ContentFilteredError(f"{self.name}: Gemini stopped the answer ({finish})", provider=self.name)
        if finish is None:
            raise UnavailableError(f"{self.name}: the stream ended without a finish reason", provider=self.name)
        usage = _usage(metadata) if metadata is not None else self._estimate_usage(request, "".join(parts))
        reason = "tool_calls" if calls and finish == "STOP" else _FINISH.get(finish, "stop")
        yield GenerationChunk("", finish_reason=reason, usage=usage)

    async def _probe(self, model: str, timeout_s: float) -> None:
        config = types.GetModelConfig(http_options=types.HttpOptions(timeout=_millis(timeout_s)))
        await self._sdk().aio.models.get(model=model, config=config)

    def _map_error(self, exc: Exception) -> InferenceError | None:
        if isinstance(exc, httpx.TimeoutException):
            return InferenceTimeoutError(f"{self.name}: request timed out", provider=self.name)
        if isinstance(exc, httpx.TransportError):
            return UnavailableError(
                f"{self.name}: connection to {self.endpoint_label()} failed ({exc})", provider=self.name
            )
        if isinstance(exc, genai_errors.APIError):
            return self._map_api_error(exc)
        if isinstance(exc, (genai_errors.UnknownApiResponseError, json.JSONDecodeError)):
            return UnavailableError(f"{self.name}: malformed stream event ({exc})", provider=self.name)
        return None

    def _map_api_error(self, exc: genai_errors.APIError) -> InferenceError:
        message = exc.message or str(exc)
        details = json.dumps(exc.details, default=str) if exc.details is not None else ""
        if exc.code == 400 and mentions_any(f"{message} {details}", _BAD_KEY_MARKERS):
            return AuthenticationError(f"{self.name}: {message}", provider=self.name, status=exc.code)
        headers = getattr(getattr(exc, "response", None), "headers", None)
        retry_after = _retry_delay(exc.details)
        if retry_after is None and isinstance(headers, Mapping):
            retry_after = parse_retry_after(headers)
        return error_for_status(
            exc.code or 500,
            message,
            provider=self.name,
            retry_after=retry_after,
            context_too_long=mentions_any(message, _CONTEXT_MARKERS),
        )


def _contents(messages: Sequence[ChatMessage]) -> tuple[str, list[types.Content]]:
    """The system instruction, and the turns with Gemini's roles (``user``/``model``).

    Tool calls are ``functionCall`` parts of the model's turn; consecutive tool results one user turn of
    ``functionResponse`` parts, each named by the call it answers.
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    contents: list[types.Content] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            part = types.Part(function_response=_function_response(m, names.get(m.tool_call_id, "")))
            last = contents[-1] if contents else None
            if last is not None and last.parts and all(p.function_response for p in last.parts):
                last.parts.append(part)
            else:
                contents.append(types.Content(role="user", parts=[part]))
            continue
        parts = [types.Part(text=m.content)] if m.content or not m.tool_calls else []
        parts += [
            types.Part(function_call=_function_call(c), thought_signature=_split_id(c.id)[1]) for c in m.tool_calls
        ]
        contents.append(types.Content(role="model" if m.role == "assistant" else "user", parts=parts))
    return system, contents


def _client_id(call_id: str, signature: bytes | None) -> str:
    """The id the client gets for a call: Gemini's (or a made-up) id, then its thought signature if any."""
    if not signature:
        return call_id
    return f"{call_id}{SIGNATURE_MARK}{base64.urlsafe_b64encode(signature).decode('ascii').rstrip('=')}"


def _split_id(client_id: str) -> tuple[str, bytes | None]:
    """A client's call id as Gemini's (or the made-up) id and the thought signature it carries (None: none)."""
    call_id, mark, encoded = client_id.partition(SIGNATURE_MARK)
    if not mark or not encoded:
        return client_id, None
    try:
        return call_id, base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:  # an id of the client's own that happens to hold the mark: sent back as it came
        return client_id, None


def _sent_id(client_id: str) -> str | None:
    """The id Gemini gave a call (None for one made up here)."""
    call_id = _split_id(client_id)[0]
    return None if not call_id or call_id.startswith(MADE_UP_ID) else call_id


def _function_call(call: ToolCall) -> types.FunctionCall:
    try:
        args = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        args = {"input": call.arguments}
    return types.FunctionCall(
        id=_sent_id(call.id), name=call.name, args=args if isinstance(args, dict) else {"input": args}
    )


def _function_response(message: ChatMessage, name: str) -> types.FunctionResponse:
    return types.FunctionResponse(id=_sent_id(message.tool_call_id), name=name, response={"result": message.content})


def _tool_config(request: GenerationRequest) -> dict[str, Any]:
    """``tools`` and ``tool_config`` of the request's config (empty without tools)."""
    if not request.tools:
        return {}
    declarations = [
        types.FunctionDeclaration(
            name=t.name, description=t.description or None, parameters_json_schema=dict(t.parameters)
        )
        for t in request.tools
    ]
    config: dict[str, Any] = {"tools": [types.Tool(function_declarations=declarations)]}
    choice = request.tool_choice
    if choice is not None:
        calling = types.FunctionCallingConfig(
            mode=types.FunctionCallingConfigMode(_MODES[choice.mode]),
            allowed_function_names=[choice.name] if choice.mode == "tool" else None,
        )
        config["tool_config"] = types.ToolConfig(function_calling_config=calling)
    return config


def _response_config(request: GenerationRequest) -> dict[str, Any]:
    """JSON output: ``response_mime_type`` and, for a schema, ``response_json_schema``."""
    form = request.response_format
    if form is None or form.type == "text":
        return {}
    config: dict[str, Any] = {"response_mime_type": "application/json"}
    if form.type == "json_schema" and form.schema:
        config["response_json_schema"] = dict(form.schema)
    return config


def _function_calls(candidate: types.Candidate) -> list[tuple[types.FunctionCall, bytes | None]]:
    """The candidate's function calls, each with its thought signature (None: none came)."""
    if candidate.content is None or not candidate.content.parts:
        return []
    parts = candidate.content.parts
    return [(part.function_call, part.thought_signature) for part in parts if part.function_call is not None]


def _text(candidate: types.Candidate) -> str:
    if candidate.content is None or not candidate.content.parts:
        return ""
    return "".join(part.text for part in candidate.content.parts if part.text and not part.thought)


def _usage(metadata: types.GenerateContentResponseUsageMetadata) -> Usage:
    return Usage(
        prompt_tokens=metadata.prompt_token_count or 0,
        cached_tokens=metadata.cached_content_token_count or 0,
        completion_tokens=(metadata.candidates_token_count or 0) + (metadata.thoughts_token_count or 0),
    )


def _retry_delay(details: Any) -> float | None:
    """The delay of a ``google.rpc.RetryInfo`` detail in an error body, in seconds."""
    error = details.get("error", details) if isinstance(details, Mapping) else None
    items = error.get("details") if isinstance(error, Mapping) else None
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, Mapping) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DELAY.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _name(value: object) -> str:
    """An SDK enum member's wire name (``FinishReason.SAFETY`` -> ``"SAFETY"``)."""
    raw = getattr(value, "value", value)
    return str(raw)


def _millis(seconds: float) -> int:
    return max(1, int(seconds * 1000))
