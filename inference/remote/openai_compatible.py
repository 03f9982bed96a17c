"""Remote OpenAI-compatible servers (vLLM's ``vllm serve``, cloud GPU overflow) over ``httpx``.

FIM requests go to ``/v1/completions``: when the model's family is known
(:func:`inference.fim.fim_format_for_model_name`) the prompt is rendered with
its sentinel tokens and its stop tokens are added (with vLLM's
``skip_special_tokens: false`` so that the stop strings can match); otherwise
the server gets ``prompt=prefix`` and ``suffix``. Chat requests go to
``/v1/chat/completions``. Both stream with ``stream_options.include_usage``.
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

Why httpx rather than the ``openai`` SDK: ``/health`` lives outside the API
the SDK knows; vLLM's extra request fields (``suffix``,
``skip_special_tokens``) go in as plain JSON; one connection pool serves all
URLs; and there is no SDK retry layer to switch off.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from inference.errors import InferenceError, InferenceTimeoutError, UnavailableError
from inference.fim import fim_format_for_model_name
from inference.remote._base import RemoteBackend
from inference.remote._endpoints import Endpoint, EndpointPool, split_base_urls
from inference.remote._errors_http import (
    COMMON_CONTEXT_MARKERS,
    error_for_status,
    mentions_any,
    parse_retry_after,
)
from inference.remote._retry import RetryTiming
from inference.remote.streams import read_to_end
from inference.settings import LocalSettings, ProviderSettings
from inference.types import BackendHealth, GenerationChunk, GenerationRequest, RequestKind, Usage

logger = logging.getLogger(__name__)

_CONTEXT_MARKERS = (*COMMON_CONTEXT_MARKERS, "prompt is too long", "too many tokens")
#: Timeouts that do not say the server is gone (it may be busy generating).
_SLOW_NOT_DEAD = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)


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
    ) -> None:
        super().__init__(name, settings, retry_timing=retry_timing)
        urls = split_base_urls(base_urls if base_urls is not None else settings.base_url)
        if not urls:
            raise ValueError(f"{name}: an openai-compatible backend needs base_url (one or more URLs)")
        self._pool = EndpointPool(
            [Endpoint.from_url(u) for u in urls], check=self._check, cooldown_s=cooldown_s, provider=name
        )
        self._health_timeout_s = health_timeout_s
        self._http: httpx.AsyncClient | None = None
        self._headers: dict[str, str] = {}
        self._discovered_model = ""

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
        )
        return cls(name, settings, **kwargs)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self._pool.endpoints

    def endpoint_label(self) -> str:
        return ", ".join(e.api_base for e in self._pool.endpoints)

    def default_model(self) -> str:
        return self.settings.model_or_default() or self._discovered_model

    # ----------------------------------------------------------- client
    def _open_client(self, api_key: str | None) -> None:
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(timeout=self.settings.timeout_s, headers=self._headers)

    async def _close_client(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            raise UnavailableError(f"{self.name}: the backend is closed", provider=self.name)
        return self._http

    # --------------------------------------------------------- requests
    async def _resolve_model(self, request: GenerationRequest) -> str:
        model = self.settings.model_or_default(request.model) or self._discovered_model
        if model:
            return model
        endpoint = await self._pool.acquire()
        try:
            response = await self._client().get(f"{endpoint.api_base}/models", timeout=self._health_timeout_s)
            response.raise_for_status()
            self._discovered_model = str(response.json()["data"][0]["id"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise UnavailableError(
                f"{self.name}: no model configured and {endpoint.api_base}/models named none ({exc})",
                provider=self.name,
            ) from exc
        finally:
            self._pool.release(endpoint)
        logger.info("%s: using the served model %s", self.name, self._discovered_model)
        return self._discovered_model

    def _body(self, request: GenerationRequest, model: str) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        stop = list(request.stop)
        if request.kind is RequestKind.CHAT:
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
            path = "/chat/completions"
        else:
            path = "/completions"
            fim = fim_format_for_model_name(model)
            if fim is not None:
                body["prompt"] = fim.render(request.prefix, request.suffix)
                stop += [t for t in fim.stop_tokens if t not in stop]
                body["skip_special_tokens"] = False
            else:
                body["prompt"] = request.prefix
                body["suffix"] = request.suffix
        if stop:
            body["stop"] = stop
        return path, body

    async def _stream(self, request: GenerationRequest, model: str, timeout_s: float) -> AsyncIterator[GenerationChunk]:
        path, body = self._body(request, model)
        endpoint = await self._pool.acquire()
        finish: str | None = None
        usage: Usage | None = None
        parts: list[str] = []
        try:
            url = f"{endpoint.api_base}{path}"
            async with self._client().stream("POST", url, json=body, timeout=timeout_s) as response:
                if response.status_code != 200:
                    await response.aread()
                    if response.status_code >= 500:
                        self._pool.mark_unhealthy(endpoint, f"HTTP {response.status_code}")
                    raise self._status_error(response.status_code, _json_or_none(response), response.headers)
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
                        if choice.get("finish_reason"):
                            finish = str(choice["finish_reason"])
        except httpx.TransportError as exc:
            if not isinstance(exc, _SLOW_NOT_DEAD):
                self._pool.mark_unhealthy(endpoint, type(exc).__name__)
            raise
        finally:
            self._pool.release(endpoint)
        if finish is None:
            raise UnavailableError(f"{self.name}: the stream ended without a finish reason", provider=self.name)
        yield GenerationChunk(
            "",
            finish_reason="length" if finish == "length" else "stop",
            usage=self.complete_usage(usage, request, "".join(parts)),
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
        if isinstance(exc, httpx.TimeoutException):
            return InferenceTimeoutError(f"{self.name}: request timed out", provider=self.name)
        if isinstance(exc, httpx.TransportError):
            return UnavailableError(f"{self.name}: {type(exc).__name__}: {exc}", provider=self.name)
        return None

    # ----------------------------------------------------------- health
    async def _check(self, endpoint: Endpoint) -> bool:
        """``GET /health`` (vLLM), else ``GET /v1/models``: True when the server answers 200."""
        client = self._client()
        try:
            response = await client.get(f"{endpoint.root}/health", timeout=self._health_timeout_s)
            if response.status_code in (404, 405):
                response = await client.get(f"{endpoint.api_base}/models", timeout=self._health_timeout_s)
        except httpx.HTTPError as exc:
            logger.debug("%s: health check of %s failed: %s", self.name, endpoint.root, exc)
            return False
        return response.status_code == 200

    async def _probe(self, model: str, timeout_s: float) -> None:
        results = await asyncio.gather(*(self._check(e) for e in self._pool.endpoints))
        if not any(results):
            raise UnavailableError(f"{self.name}: no server answered its health check", provider=self.name)

    async def health(self) -> BackendHealth:
        """Healthy when at least one server answers; the detail counts them."""
        self._ensure_client()
        endpoints = self._pool.endpoints
        results = await asyncio.gather(*(self._check(e) for e in endpoints))
        up = [e.root for e, ok in zip(endpoints, results, strict=True) if ok]
        down = [e.root for e, ok in zip(endpoints, results, strict=True) if not ok]
        if not up:
            return BackendHealth(
                ok=False,
                detail=f"{self.name}: no server answered its health check ({', '.join(down)})",
                remedy=f"start the vLLM server(s) or fix base_url in [providers.{self.name}]",
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


async def _events(response: httpx.Response, provider: str) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream, up to ``data: [DONE]`` (then the body is read to its end)."""
    lines = response.aiter_lines()
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            await read_to_end(lines)
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            raise UnavailableError(f"{provider}: malformed stream event ({exc})", provider=provider) from exc
        if not isinstance(event, dict):
            raise UnavailableError(f"{provider}: malformed stream event (not an object)", provider=provider)
        yield event


def _is_event_stream(response: httpx.Response) -> bool:
    """False when the server answered one JSON body although the request asked for a stream."""
    return not response.headers.get("content-type", "").lower().startswith("application/json")


async def _whole(response: httpx.Response, provider: str) -> AsyncIterator[dict[str, Any]]:
    """A non-streamed answer as the one "event" it is (choices with ``message`` or ``text``, and ``usage``)."""
    try:
        event = json.loads(await response.aread())
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


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"message": response.text[:500]}
