"""Remote OpenAI-compatible servers (vLLM's ``vllm serve``, cloud GPU overflow) over a lean pooled HTTP client.

FIM requests go to ``/v1/completions`` as a plain ``prompt`` built here with
the model family's sentinel tokens (:mod:`inference.fim`, the table the
in-process engines use), plus the family's end tokens as stop strings
after the request's own, four in all (vLLM, like OpenAI, refuses more), with
vLLM's ``skip_special_tokens: false`` so that they can match. The
family comes from ``fim_format``; with ``auto`` each server is asked once
(cached per server and model): vLLM's ``POST /tokenize`` tells which
family's three markers are three single tokens; a server without
``/tokenize`` is judged by the model name; when neither tells, the request
fails with a message saying to set ``fim_format``.
:meth:`OpenAICompatibleBackend.count_chat_tokens` asks ``/tokenize`` to count
a chat's whole templated prompt (the gateway's ``count_tokens``). Only with
``send_suffix = true`` does the server get ``prompt=prefix`` and ``suffix``
(vLLM refuses ``suffix`` with 400 unless the model has FIM completion
rendering); ``fim_format = "none"`` sends the prefix alone. Chat requests go
to ``/v1/chat/completions``; a model without a chat template (vLLM's 400
about chat templates) fails with a message naming the model and what to
configure. Chat requests carry ``response_format`` (``structured_output``)
and ``tools``, ``tool_choice``, ``parallel_tool_calls`` and the tool-call and
tool-result turns (``tool_calls``) in the wire format the OpenAI backend
sends (:mod:`inference.remote._openai_wire`); the calls come back as
``delta.tool_calls`` pieces (or a whole answer's ``message.tool_calls``) and
end the answer with ``tool_calls`` (vLLM says ``stop`` after a named
``tool_choice``'s call, as OpenAI does). vLLM takes tools only when it runs
with ``--enable-auto-tool-choice --tool-call-parser``; its 400 without them
becomes a message saying so. Both stream with ``stream_options.include_usage``.
Usage comes from the last ``usage`` object the server sent (the final chunk
of ``include_usage``; vLLM's ``continuous_usage_stats`` repeats it on every
chunk), with ``prompt_tokens_details.cached_tokens`` as the cached part; a
server that ignores ``stream`` and answers one JSON body is read the same way
(``choices[].message.content`` or ``.text``, and its ``usage``). What a
server does not report is counted by
:meth:`~inference.remote._base.RemoteBackend.complete_usage` (``estimated``).

Several base URLs (a comma-separated ``base_url`` or ``base_urls=[...]``)
are balanced by :class:`~inference.remote._endpoints.EndpointPool`: least
outstanding requests; an URL that refuses connections or answers 5xx cools
down and is health-checked (``GET /health``, else ``GET /v1/models``) before
it gets traffic again; a failed attempt fails over to another healthy URL at
once. Aborting closes the HTTP stream, which is how vLLM's server aborts the
generation and frees the GPU slot.

Each call runs in its caller's task (:meth:`OpenAICompatibleBackend.generate`
iterates the HTTP stream itself): the other remote backends run every
attempt in a task of its own that hands its chunks over through a queue,
and as the gateway's proxy path (issue 21.6) that task, the queue and their
wake-ups were a tenth of the backend's CPU per call and two extra turns of the
event loop before the answer. The contract is the same: retries and
fail-over before the first text, one deadline, cancelling the caller or
closing the generator closes the HTTP stream, and :meth:`abort` closes the
connection at once and ends the stream with an ``abort`` chunk.

Why :class:`~inference.remote._http.HttpClient` (aiohttp) rather than the
``openai`` SDK: ``/health`` lives outside the API the SDK knows; vLLM's extra
request fields (``suffix``, ``skip_special_tokens``) go in as plain JSON; one
connection pool serves all URLs; there is no SDK retry layer to switch off;
and as the gateway's proxy path it is on every request, where httpx (which
the SDK runs on) cost about 1 ms of CPU per call and aiohttp about 0.14 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inference.errors import BadRequestError, InferenceError, InferenceTimeoutError, UnavailableError
from inference.fim import FIM_FORMATS, FimFormat, detect_fim_format
from inference.remote import _openai_wire as wire
from inference.remote._base import _SDK_TIMEOUT_MARGIN_S, RemoteBackend
from inference.remote._endpoints import Endpoint, EndpointPool, split_base_urls
from inference.remote._errors_http import (
    COMMON_CONTEXT_MARKERS,
    error_for_status,
    mentions_any,
    parse_retry_after,
)
from inference.remote._http import Answer, HttpClient, StreamedResponse, TransportError, TransportTimeout
from inference.remote._retry import RetryTiming
from inference.settings import LocalSettings, ProviderSettings
from inference.types import (
    BackendHealth,
    BackendLoad,
    ChatMessage,
    Feature,
    GenerationChunk,
    GenerationRequest,
    RequestKind,
    ToolCallDelta,
    ToolSpec,
    Usage,
)

logger = logging.getLogger(__name__)

_CONTEXT_MARKERS = (*COMMON_CONTEXT_MARKERS, "prompt is too long", "too many tokens")
#: Stop strings a server takes per request: OpenAI's limit, and vLLM's (``VLLM_MAX_STOP_STRINGS``, 400 beyond).
MAX_STOP_STRINGS = 4


@dataclass(eq=False, slots=True)
class _Call:
    """One call in flight (internal, mutable)."""

    request: GenerationRequest
    emitted: list[str] = field(default_factory=list)
    response: StreamedResponse | None = None  # the attempt's HTTP response while it is read (abort closes it)
    aborted: bool = False


class OpenAICompatibleBackend(RemoteBackend):
    """One or several OpenAI-compatible servers; see the module docstring."""

    requires_api_key = False

    def __init__(
        self,
        name: str,
        settings: ProviderSettings,
        *,
        base_urls: Sequence[str] | None = None,
        retry_timing: RetryTiming | None = None,
        cooldown_s: float = 15.0,
        health_timeout_s: float = 2.0,
        count_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(name, settings, retry_timing=retry_timing)
        urls = split_base_urls(base_urls if base_urls is not None else settings.base_url)
        if not urls:
            raise ValueError(f"{name}: an openai-compatible backend needs base_url (one or more URLs)")
        self._pool = EndpointPool(
            [Endpoint.from_url(u) for u in urls], check=self._check, cooldown_s=cooldown_s, provider=name
        )
        self._health_timeout_s = health_timeout_s
        self._count_timeout_s = count_timeout_s
        self._http: HttpClient | None = None
        self._discovered_model = ""
        self._section = f"[providers.{name}]"
        #: Per (server root, model): the FIM format its tokenizer has (None: none known).
        self._fim_formats: dict[tuple[str, str], FimFormat | None] = {}
        self._fim_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._window = 0  # the served model's max_model_len (vLLM's GET /v1/models); 0: not known yet
        self._window_task: asyncio.Task[None] | None = None
        self._calls: dict[str, _Call] = {}

    @classmethod
    def from_local_settings(cls, name: str, local: LocalSettings, **kwargs: Any) -> OpenAICompatibleBackend:
        """The ``[local]`` engine when it is a remote vLLM server (``backend = "openai-compatible"``)."""
        settings = ProviderSettings(
            kind="openai-compatible",
            base_url=local.base_url,
            api_key_env=local.api_key_env,
            models=[local.model] if local.model else [],
            default_model=local.model,
            local=True,
            fim_format=local.fim_format,
            send_suffix=local.send_suffix,
            structured_output=local.structured_output,
            tool_calls=local.tool_calls,
        )
        backend = cls(name, settings, **kwargs)
        backend._section = "[local]"
        return backend

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self._pool.endpoints

    def endpoint_label(self) -> str:
        return ", ".join(e.api_base for e in self._pool.endpoints)

    def default_model(self) -> str:
        return self.settings.model_or_default() or self._discovered_model

    def context_window(self) -> int:
        """The served model's window as its servers report it (vLLM: ``max_model_len``); 0 until known."""
        return self._window

    async def start(self) -> None:
        """Open the client; the served window is learnt in the background (a server not up yet: at health)."""
        await super().start()
        if self._missing_key() is None and self._window_task is None:
            self._window_task = asyncio.get_running_loop().create_task(self._learn_window(self._pool.endpoints))

    def load(self) -> BackendLoad:
        return BackendLoad(queued=0, running=len(self._calls), recent_ttft_ms=self._ttft.median())

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationChunk, None]:
        """The call in the caller's task: attempts until one finishes, within one deadline (module docstring)."""
        self._ensure_client()
        call = _Call(request)
        if self._calls.setdefault(request.request_id, call) is not call:
            raise BadRequestError(
                f"{self.name}: request id {request.request_id!r} is already running", provider=self.name
            )
        try:
            model = await self._resolve_model(request)
        except BaseException:
            del self._calls[request.request_id]
            raise
        loop = asyncio.get_running_loop()
        timeout_s = request.timeout_s or self.settings.timeout_s
        deadline = (started := loop.time()) + timeout_s
        logger.debug("%s: request %s to model %s", self.name, request.request_id, model)
        retries = 0
        try:
            while True:
                streamed = False
                stream = self._stream(request, model, max(0.0, deadline - loop.time()) + _SDK_TIMEOUT_MARGIN_S)
                async with contextlib.aclosing(stream):
                    try:
                        while True:
                            async with asyncio.timeout_at(deadline):
                                chunk = await anext(stream, None)
                            if call.aborted:
                                break
                            if chunk is None:
                                raise UnavailableError(
                                    f"{self.name}: the stream ended before the answer was complete", provider=self.name
                                )
                            if chunk.text or chunk.tool_calls:  # output went out: no retry from here on
                                if not call.emitted:
                                    self._ttft.add((loop.time() - started) * 1000.0)
                                streamed = True
                                call.emitted += [chunk.text, *(d.arguments for d in chunk.tool_calls)]
                            yield chunk
                            if chunk.finish_reason is not None or call.aborted:
                                break
                    except TimeoutError:
                        raise InferenceTimeoutError(
                            f"{self.name}: no complete answer within {timeout_s:g} s", provider=self.name
                        ) from None
                    except Exception as exc:
                        if not call.aborted:  # else the failure is the closed connection: the abort chunk follows
                            retries = await self._retry_or_raise(exc, streamed, retries, deadline - loop.time())
                            continue
                if call.aborted:
                    yield GenerationChunk(
                        "", finish_reason="abort", usage=self._estimate_usage(request, "".join(call.emitted))
                    )
                return
        finally:
            if self._calls.get(request.request_id) is call:
                del self._calls[request.request_id]

    async def _retry_or_raise(self, exc: Exception, streamed: bool, retries: int, remaining_s: float) -> int:
        """Raise ``exc`` (as an :mod:`inference.errors` error) unless it is retried; else wait, and count the retry."""
        error = self.as_inference_error(exc)
        if error is None:
            raise exc
        delay = None if streamed else self._retry_delay(error, retries, remaining_s)
        if delay is None:
            raise error
        logger.info(
            "%s: %s (%s); retry %d in %.3f s", self.name, type(error).__name__, error.status, retries + 1, delay
        )
        await asyncio.sleep(delay)
        return retries + 1

    async def abort(self, request_id: str) -> None:
        """Close the call's connection now (the server stops generating); its stream ends with an ``abort`` chunk."""
        call = self._calls.get(request_id)
        if call is None or call.aborted:
            return
        call.aborted = True
        if call.response is not None:
            call.response.close()
            await asyncio.sleep(0)  # the transport closes its socket on the loop's next turn: let it, before returning
        logger.debug("%s: aborted request %s", self.name, request_id)

    async def close(self) -> None:
        for request_id in list(self._calls):
            await self.abort(request_id)
        task, self._window_task = self._window_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().close()

    async def _learn_window(self, endpoints: Sequence[Endpoint]) -> None:
        """The smallest ``max_model_len`` the servers list for the model in ``GET /v1/models`` (vLLM's cards).

        A server that does not answer, or lists no window (not vLLM), is skipped; the router then keeps
        using ``[routing] local_context_tokens``.
        """
        client = self._client()
        model = self.default_model()
        windows: list[int] = []
        for endpoint in endpoints:
            try:
                response = await client.get(f"{endpoint.api_base}/models", timeout_s=self._health_timeout_s)
                cards = response.json().get("data", []) if response.status == 200 else []
            except (TransportError, ValueError, AttributeError) as exc:
                logger.debug("%s: no model list from %s: %s", self.name, endpoint.root, exc)
                continue
            for card in cards if isinstance(cards, list) else []:
                window = card.get("max_model_len") if isinstance(card, dict) else None
                if isinstance(window, int) and window > 0 and (not model or card.get("id") == model):
                    windows.append(window)
        if windows:
            self._window = min(windows)
            logger.info("%s: the served window is %d tokens", self.name, self._window)

    # ----------------------------------------------------------- client
    def _open_client(self, api_key: str | None) -> None:
        self._http = HttpClient({"Authorization": f"Bearer {api_key}"} if api_key else {})

    async def _close_client(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def _client(self) -> HttpClient:
        if self._http is None:
            raise UnavailableError(f"{self.name}: the backend is closed", provider=self.name)
        return self._http

    # --------------------------------------------------------- requests
    async def _resolve_model(self, request: GenerationRequest) -> str:
        return await self._model_named(request.model)

    async def _model_named(self, name: str) -> str:
        """``name``, else the configured default, else the model the servers list first (asked once)."""
        model = self.settings.model_or_default(name) or self._discovered_model
        if model:
            return model
        endpoint = await self._pool.acquire()
        try:
            response = await self._client().get(f"{endpoint.api_base}/models", timeout_s=self._health_timeout_s)
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            self._discovered_model = str(response.json()["data"][0]["id"])
        except (TransportError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise UnavailableError(
                f"{self.name}: no model configured and {endpoint.api_base}/models named none ({exc})",
                provider=self.name,
            ) from exc
        finally:
            self._pool.release(endpoint)
        logger.info("%s: using the served model %s", self.name, self._discovered_model)
        return self._discovered_model

    def features(self) -> frozenset[Feature]:
        """``response_format`` when the server honours it (``structured_output``, vLLM's default), tools when it
        takes them and streams their calls back (``tool_calls``: vLLM with a tool-call parser)."""
        structured = STRUCTURED if self.settings.structured_output else frozenset()
        return structured | TOOLS if self.settings.tool_calls else structured

    def _body(self, request: GenerationRequest, model: str, fim: FimFormat | None) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.seed is not None:
            body["seed"] = request.seed
        stop = list(request.stop)
        if request.kind is RequestKind.CHAT:
            body["messages"] = [wire.message(m) for m in request.messages]
            response_format = wire.response_format(request.response_format)
            if response_format is not None:  # vLLM: guided decoding to the schema
                body["response_format"] = response_format
            if request.tools:  # vLLM: tool_choice required or named is guided decoding to the arguments' schema
                body["tools"] = [wire.tool(t) for t in request.tools]
                if request.tool_choice is not None:
                    body["tool_choice"] = wire.tool_choice(request.tool_choice)
                if request.parallel_tool_calls is not None:
                    body["parallel_tool_calls"] = request.parallel_tool_calls
            path = "/chat/completions"
        else:
            path = "/completions"
            if fim is not None:
                body["prompt"] = fim.render(request.prefix, request.suffix)
                # The family's end tokens after the request's own stops, up to the servers' limit.
                stop += [t for t in fim.stop_tokens if t not in stop][: max(0, MAX_STOP_STRINGS - len(stop))]
                body["skip_special_tokens"] = False
            else:
                body["prompt"] = request.prefix
                if self.settings.send_suffix:
                    body["suffix"] = request.suffix
        if stop:
            body["stop"] = stop
        return path, body

    async def _stream(
        self, request: GenerationRequest, model: str, timeout_s: float
    ) -> AsyncGenerator[GenerationChunk, None]:
        endpoint = await self._pool.acquire()
        finish: str | None = None
        usage: Usage | None = None
        parts: list[str] = []
        called = False  # the answer asked for tool calls
        try:
            fim = await self._fim_format(endpoint, model, timeout_s) if request.kind is RequestKind.FIM else None
            path, body = self._body(request, model, fim)
            url = f"{endpoint.api_base}{path}"
            async with self._client().stream("POST", url, json_body=body, timeout_s=timeout_s) as response:
                if (call := self._calls.get(request.request_id)) is not None:
                    call.response = response
                if response.status != 200:
                    whole = Answer(response.status, response.headers, await response.read())
                    if whole.status >= 500:
                        self._pool.mark_unhealthy(endpoint, f"HTTP {whole.status}")
                    answer = _json_or_none(whole)
                    if request.kind is RequestKind.CHAT and _lacks_chat_template(whole.status, answer):
                        raise self._no_chat_template(model, endpoint, answer)
                    if request.tools and _lacks_tool_parser(whole.status, answer):
                        raise self._no_tool_parser(endpoint, answer)
                    raise self._status_error(whole.status, answer, whole.headers)
                events = _events(response, self.name) if _is_event_stream(response) else _whole(response, self.name)
                async for event in events:
                    if "error" in event:
                        raise self._status_error(None, event, None)
                    if isinstance(event.get("usage"), Mapping):
                        usage = _usage(event["usage"])
                    for choice in event.get("choices") or ():
                        text = _choice_text(choice)
                        if text:
                            parts.append(text)
                            yield GenerationChunk(text)
                        if calls := _choice_tool_calls(choice):
                            called = True
                            parts += [d.arguments for d in calls]
                            yield GenerationChunk("", tool_calls=calls)
                        if choice.get("finish_reason"):
                            finish = str(choice["finish_reason"])
        except TransportError as exc:
            call = self._calls.get(request.request_id)
            if not exc.slow and (call is None or not call.aborted):  # an abort's closed connection is not the server's
                self._pool.mark_unhealthy(endpoint, exc.kind)
            raise
        finally:
            self._pool.release(endpoint)
        if finish is None:
            raise UnavailableError(f"{self.name}: the stream ended without a finish reason", provider=self.name)
        yield GenerationChunk(
            "",
            finish_reason=_finish_reason(finish, called),
            usage=self.complete_usage(usage, request, "".join(parts)),
        )

    # ------------------------------------------------------ FIM format
    async def _fim_format(self, endpoint: Endpoint, model: str, timeout_s: float) -> FimFormat | None:
        """The family whose prompt this server gets; None: prefix only (``none``) or ``suffix`` (``send_suffix``)."""
        setting = self.settings.fim_format
        if setting in FIM_FORMATS:
            return FIM_FORMATS[setting]
        if setting == "none" or self.settings.send_suffix:
            return None
        key = (endpoint.root, model)
        if key not in self._fim_formats:
            async with self._fim_locks.setdefault(key, asyncio.Lock()):
                if key not in self._fim_formats:
                    self._fim_formats[key] = await self._detect_fim_format(endpoint, model, timeout_s)
        fmt = self._fim_formats[key]
        if fmt is None:
            raise BadRequestError(
                f"{self.name}: cannot tell which fill-in-the-middle tokens model {model!r} at {endpoint.root} "
                "uses: the server's /tokenize does not know them as single tokens (or the server has no "
                "/tokenize) and the model name matches no known family. Set fim_format in "
                f'{self._section} to one of {", ".join(FIM_FORMATS)} (or "none": the code before the cursor '
                "only), or send_suffix = true if the server builds FIM prompts from a suffix itself",
                provider=self.name,
            )
        return fmt

    async def _detect_fim_format(self, endpoint: Endpoint, model: str, timeout_s: float) -> FimFormat | None:
        """Ask the server's tokenizer which family's three markers are three tokens; else go by the name."""
        probes = [spelling for fmt in FIM_FORMATS.values() for spelling in fmt.sentinel_spellings]
        counts = await asyncio.gather(*(self._count_tokens(endpoint, model, "".join(p), timeout_s) for p in probes))
        single = {token for probe, count in zip(probes, counts, strict=True) if count == len(probe) for token in probe}
        fmt = detect_fim_format(single, model)
        how = "its tokenizer (/tokenize)" if single else "the model name"
        logger.info(
            "%s: %s serves %s; FIM format %s (from %s)",
            self.name,
            endpoint.root,
            model,
            fmt.family if fmt else "unknown",
            how,
        )
        return fmt

    async def _count_tokens(self, endpoint: Endpoint, model: str, text: str, timeout_s: float) -> int | None:
        """How many tokens the server's tokenizer makes of ``text`` (vLLM's ``POST /tokenize``); None: it cannot say."""
        body = {"model": model, "prompt": text, "add_special_tokens": False}
        response = await self._client().post(f"{endpoint.root}/tokenize", body, timeout_s=timeout_s)
        if response.status >= 500:
            self._pool.mark_unhealthy(endpoint, f"HTTP {response.status}")
            raise self._status_error(response.status, _json_or_none(response), response.headers)
        return _tokenize_count(response)  # None: not vLLM (404), or it would not tokenize for this model

    async def count_chat_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int | None:
        """The prompt tokens of this chat as the server will count them: vLLM's ``POST /tokenize`` with the
        messages and tools in the form a chat request sends them (:mod:`inference.remote._openai_wire`) and
        ``add_generation_prompt``, on a healthy server within ``count_timeout_s``. None when no server is healthy,
        it has no ``/tokenize`` (not vLLM), refuses or fails; never raises."""
        try:
            self._ensure_client()
            model = await self._model_named("")
            endpoint = await self._pool.acquire()
        except InferenceError as exc:
            logger.debug("%s: cannot count a chat's tokens: %s", self.name, exc)
            return None
        body: dict[str, Any] = {
            "model": model,
            "messages": [wire.message(m) for m in messages],
            "add_generation_prompt": True,
        }
        if tools:
            body["tools"] = [wire.tool(t) for t in tools]
        try:
            response = await self._client().post(f"{endpoint.root}/tokenize", body, timeout_s=self._count_timeout_s)
        except (TransportError, InferenceError) as exc:
            logger.debug("%s: %s/tokenize failed: %s", self.name, endpoint.root, exc)
            return None
        finally:
            self._pool.release(endpoint)
        if response.status != 200:
            logger.debug("%s: %s/tokenize answered HTTP %d", self.name, endpoint.root, response.status)
        return _tokenize_count(response)

    def _no_chat_template(self, model: str, endpoint: Endpoint, answer: Any) -> BadRequestError:
        """vLLM's 400 for a model without a chat template, said in terms of what to configure."""
        logger.debug("%s: %s refused a chat request: %s", self.name, endpoint.root, answer)
        elsewhere = (
            '[routing.tasks.NAME] local_up_to = "never" for the chat tasks (explain, code actions, reviews)'
            if self._section == "[local]"
            else "another provider for the chat tasks ([routing.tasks.NAME] cloud)"
        )
        return BadRequestError(
            f"{self.name}: model {model!r} at {endpoint.root} has no chat template, so it cannot answer chat "
            "requests (explain, code actions, reviews). Start vLLM with --chat-template FILE (a Jinja chat "
            f"template for this model), serve a model that has one, or route chat tasks elsewhere: {elsewhere}",
            provider=self.name,
        )

    def _no_tool_parser(self, endpoint: Endpoint, answer: Any) -> BadRequestError:
        """vLLM's 400 for tools when it runs without a tool-call parser, said in terms of what to configure."""
        return BadRequestError(
            f"{self.name}: the vLLM server at {endpoint.root} takes no tool calls ({_message(answer)}). Start it "
            "with --enable-auto-tool-choice --tool-call-parser <parser for the model> (hermes for Qwen2.5), or set "
            f"tool_calls = false in {self._section} so that requests with tools go elsewhere",
            provider=self.name,
        )

    def _status_error(self, status: int | None, body: Any, headers: Mapping[str, str] | None) -> InferenceError:
        """vLLM answers ``{"object": "error", "message", "code"}`` or OpenAI's ``{"error": {...}}``."""
        error = body.get("error", body) if isinstance(body, Mapping) else {}
        if not isinstance(error, Mapping):
            error = {"message": str(error)}
        message = str(error.get("message") or f"HTTP {status}")
        code = error.get("code")
        if status is None:
            status = code if isinstance(code, int) else 500
        return error_for_status(
            status,
            message,
            provider=self.name,
            retry_after=parse_retry_after(headers),
            context_too_long=mentions_any(message, _CONTEXT_MARKERS),
        )

    def _map_error(self, exc: Exception) -> InferenceError | None:
        if isinstance(exc, TransportTimeout):
            return InferenceTimeoutError(f"{self.name}: request timed out", provider=self.name)
        if isinstance(exc, TransportError):
            return UnavailableError(f"{self.name}: {exc.kind}: {exc}", provider=self.name)
        return None

    # ----------------------------------------------------------- health
    async def _check(self, endpoint: Endpoint) -> bool:
        """``GET /health`` (vLLM), else ``GET /v1/models``: True when the server answers 200."""
        client = self._client()
        try:
            response = await client.get(f"{endpoint.root}/health", timeout_s=self._health_timeout_s)
            if response.status in (404, 405):
                response = await client.get(f"{endpoint.api_base}/models", timeout_s=self._health_timeout_s)
        except TransportError as exc:
            logger.debug("%s: health check of %s failed: %s", self.name, endpoint.root, exc)
            return False
        return response.status == 200

    async def _probe(self, model: str, timeout_s: float) -> None:
        results = await asyncio.gather(*(self._check(e) for e in self._pool.endpoints))
        if not any(results):
            raise UnavailableError(f"{self.name}: no server answered its health check", provider=self.name)

    async def health(self) -> BackendHealth:
        """Healthy when at least one server answers; the detail counts them.

        A server that fails the check is taken out of rotation (for the
        cool-down; then a passing check re-admits it).
        """
        self._ensure_client()
        endpoints = self._pool.endpoints
        results = await asyncio.gather(*(self._check(e) for e in endpoints))
        for endpoint, ok in zip(endpoints, results, strict=True):
            if not ok:
                self._pool.mark_unhealthy(endpoint, "failed its health check")
        up = [e.root for e, ok in zip(endpoints, results, strict=True) if ok]
        if up and not self._window:
            await self._learn_window([e for e, ok in zip(endpoints, results, strict=True) if ok])
        down = [e.root for e, ok in zip(endpoints, results, strict=True) if not ok]
        if not up:
            return BackendHealth(
                ok=False,
                detail=f"{self.name}: no server answered its health check ({', '.join(down)})",
                remedy=f"start the vLLM server(s) or fix base_url in {self._section}",
            )
        detail = f"{self.name}: {len(up)} of {len(endpoints)} server(s) healthy"
        if down:
            detail += f"; down: {', '.join(down)}"
        model = self.default_model()
        return BackendHealth(ok=True, detail=detail, models=(model,) if model else ())

    # ---------------------------------------------------------- retries
    def _max_retries(self) -> int:
        return self.settings.max_retries + len(self._pool) - 1

    def _retry_delay(self, error: InferenceError, retries_done: int, remaining_s: float) -> float | None:
        if retries_done < self._max_retries() and isinstance(error, UnavailableError) and self._pool.has_healthy():
            return 0.0  # fail over to another server at once
        return super()._retry_delay(error, retries_done, remaining_s)


async def _events(response: StreamedResponse, provider: str) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream, up to ``data: [DONE]`` (then the body is read to its end).

    The line reader is closed here rather than left to the garbage collector, whose finalizer would wake
    the event loop through its self-pipe (a system call per request).
    """
    async with contextlib.aclosing(response.lines()) as lines:
        async for line in lines:
            if not line.startswith("data:"):
                continue
            data = line[len("data:") :].strip()
            if data == "[DONE]":
                await response.drain()
                return
            try:
                event = json.loads(data)
            except json.JSONDecodeError as exc:
                raise UnavailableError(f"{provider}: malformed stream event ({exc})", provider=provider) from exc
            if not isinstance(event, dict):
                raise UnavailableError(f"{provider}: malformed stream event (not an object)", provider=provider)
            yield event


def _is_event_stream(response: StreamedResponse) -> bool:
    """False when the server answered one JSON body although the request asked for a stream."""
    return not response.headers.get("content-type", "").lower().startswith("application/json")


async def _whole(response: StreamedResponse, provider: str) -> AsyncIterator[dict[str, Any]]:
    """A non-streamed answer as the one "event" it is (choices with ``message`` or ``text``, and ``usage``)."""
    try:
        event = json.loads(await response.read())
    except ValueError as exc:
        raise UnavailableError(f"{provider}: malformed answer ({exc})", provider=provider) from exc
    if not isinstance(event, dict):
        raise UnavailableError(f"{provider}: malformed answer (not an object)", provider=provider)
    yield event


def _choice_text(choice: Mapping[str, Any]) -> str:
    if "text" in choice:
        return str(choice.get("text") or "")
    delta = choice.get("delta", choice.get("message"))
    return str(delta.get("content") or "") if isinstance(delta, Mapping) else ""


def _choice_tool_calls(choice: Mapping[str, Any]) -> tuple[ToolCallDelta, ...]:
    """The tool-call pieces of a streamed ``delta`` or the calls of a whole answer's ``message``."""
    delta = choice.get("delta", choice.get("message"))
    return wire.tool_call_deltas(delta.get("tool_calls")) if isinstance(delta, Mapping) else ()


def _finish_reason(finish: str, called: bool) -> str:
    """``tool_calls`` when the answer asked for calls (vLLM, like OpenAI, says ``stop`` after a named tool_choice's
    call), ``length`` when it ran out of tokens, else ``stop``."""
    if finish == "tool_calls" or (called and finish == "stop"):
        return "tool_calls"
    return "length" if finish == "length" else "stop"


def _usage(usage: Mapping[str, Any]) -> Usage:
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    return Usage(
        prompt_tokens=_count(usage.get("prompt_tokens")),
        cached_tokens=_count(cached),
        completion_tokens=_count(usage.get("completion_tokens")),
    )


def _count(value: object) -> int:
    """A token count from JSON; anything else (null, a string, a negative number) is "not reported": 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _lacks_chat_template(status: int, answer: Any) -> bool:
    """vLLM's 400 for a model whose tokenizer has no chat template (and none was given with --chat-template)."""
    return status == 400 and "chat template" in _message(answer).lower()


def _lacks_tool_parser(status: int, answer: Any) -> bool:
    """vLLM's 400 for tool_choice (auto, required or named) when it runs without ``--tool-call-parser``."""
    return status == 400 and "--tool-call-parser" in _message(answer)


def _message(answer: Any) -> str:
    """The message of an error body (vLLM's ``{"message"}`` or OpenAI's ``{"error": {"message"}}``); "" if none."""
    error = answer.get("error", answer) if isinstance(answer, Mapping) else answer
    message = error.get("message") if isinstance(error, Mapping) else error
    return message if isinstance(message, str) else ""


def _tokenize_count(response: Answer) -> int | None:
    """``count`` (or the number of ``tokens``) of a 200 answer from ``/tokenize``; None for anything else."""
    if response.status != 200:
        return None
    try:
        answer = response.json()
        count = answer.get("count", len(answer["tokens"]))
    except (ValueError, AttributeError, KeyError, TypeError):
        return None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _json_or_none(response: Answer) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"message": response.text[:500]}


#: What a server that honours ``response_format`` can do (``structured_output``).
STRUCTURED = frozenset({Feature.JSON_OBJECT, Feature.JSON_SCHEMA})
#: What a server that takes tools and streams their calls back can do (``tool_calls``).
TOOLS = frozenset({Feature.TOOLS})
