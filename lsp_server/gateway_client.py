"""``GatewayClient``: the language server's HTTP client of a team gateway (``docs/GATEWAY_API.md``).

One :class:`httpx.AsyncClient` (one connection pool) per process, shared by
every editor session. :meth:`GatewayClient.assist` posts an assembled request
to ``/v1/assist`` and reads the server-sent events (``route``, ``delta``,
``done`` or ``error``) into a :class:`~routing.service.Served`, the same value
the in-process :class:`~routing.service.RoutingService` returns, so the
assistant treats both alike. Cancelling the awaiting task leaves the
``async with`` of the stream, which closes the HTTP connection; the gateway
then aborts the generation.

Errors (all :class:`GatewayError`)::

    GatewayError
    ├── GatewayUnreachable   no connection, connect timeout, 502/503/504: try later or fall back
    ├── GatewayAuthError     401/403: the key is missing, unknown or revoked
    └── GatewayRequestError  any other refusal (400, 413, 429, a malformed stream), with the gateway's message
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from inference.remote.streams import read_to_end
from inference.types import GenerationRequest, RequestKind, Usage
from routing.executor import Attempt
from routing.policy import LOCAL, OVERFLOW, RouteDecision, RouteTarget
from routing.service import Served

logger = logging.getLogger(__name__)

_UNAVAILABLE_STATUS = frozenset({502, 503, 504})


class GatewayError(Exception):
    """A request the gateway did not answer; ``message`` is fit for the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class GatewayUnreachable(GatewayError):
    """The gateway cannot be reached or is not ready: fall back, or try again later."""


class GatewayAuthError(GatewayError):
    """The gateway refused this user's key (missing, unknown or revoked)."""


class GatewayRequestError(GatewayError):
    """The gateway refused the request itself (bad fields, too large, rate limited, a broken stream)."""


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event of a ``text/event-stream``: its name and its (joined) data lines."""

    event: str
    data: str

    def json(self) -> dict[str, Any]:
        value = json.loads(self.data) if self.data else {}
        if not isinstance(value, dict):
            raise ValueError(f"event {self.event!r}: data is not a JSON object")
        return value


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[ServerSentEvent]:
    """Events from the lines of an event stream (comments skipped, multi-line data joined)."""
    event, data = "", list[str]()
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data or event:
                yield ServerSentEvent(event or "message", "\n".join(data))
            event, data = "", list[str]()
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield ServerSentEvent(event or "message", "\n".join(data))


def generation_json(generation: GenerationRequest) -> dict[str, object]:
    """The ``generation`` object of ``/v1/assist`` (no model: the gateway picks it)."""
    body: dict[str, object] = {
        "kind": generation.kind.value,
        "max_tokens": generation.max_tokens,
        "temperature": generation.temperature,
        "stop": list(generation.stop),
    }
    if generation.kind is RequestKind.FIM:
        body.update(prefix=generation.prefix, suffix=generation.suffix)
    else:
        body["messages"] = [{"role": m.role, "content": m.content} for m in generation.messages]
        if generation.stable_chars:  # provider prompt caching: the gateway marks the same stable prefix
            body["stable_chars"] = generation.stable_chars
        if generation.cache_key:
            body["cache_key"] = generation.cache_key
    return body


def decision_from_json(route: Mapping[str, Any], estimate: Mapping[str, Any]) -> RouteDecision:
    """A :class:`RouteDecision` rebuilt from the ``route`` event (``hybrid.explainRoute``'s shape)."""
    cost = float(estimate.get("cost_usd") or 0.0)
    target = str(route.get("target") or "none")
    primary = None
    if target != "none":
        primary = RouteTarget(target, str(route.get("model") or ""), bool(route.get("cloud")), cost)
    fallbacks = tuple(
        RouteTarget(
            str(f.get("target", "")),
            str(f.get("model", "")),
            bool(f.get("cloud", f.get("target") not in (LOCAL, OVERFLOW))),
        )
        for f in route.get("fallbacks") or ()
        if isinstance(f, Mapping)
    )
    return RouteDecision(
        primary,
        fallbacks,
        int(estimate.get("input_tokens") or 0),
        int(estimate.get("output_tokens") or 0),
        tuple(str(r) for r in route.get("reasons") or ()),
        local_only=bool(route.get("local_only")),
        shed=bool(route.get("shed")),
    )


def served_from_done(done: Mapping[str, Any], decision: RouteDecision) -> Served:
    """The ``done`` event as a :class:`Served` (its ``route``, when present, is the final decision)."""
    final = done.get("route")
    if isinstance(final, Mapping):
        same = str(final.get("target") or "none") == decision.target
        estimate = {
            "input_tokens": decision.input_tokens,
            "output_tokens": decision.output_tokens,
            "cost_usd": decision.cost_usd if same else 0.0,
        }
        decision = decision_from_json(final, estimate)
    usage = done.get("usage") or {}
    ttft = done.get("ttft_ms")
    empty_reason = str(done.get("empty_reason") or "")
    return Served(
        text=str(done.get("text") or ""),
        decision=decision,
        target=str(done.get("target") or ""),
        model=str(done.get("model") or ""),
        usage=Usage(
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("cached_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
        ),
        cost_usd=float(done.get("cost_usd") or 0.0),
        latency_ms=float(done.get("latency_ms") or 0.0),
        ttft_ms=None if ttft is None else float(ttft),
        attempts=tuple(
            Attempt(
                str(a.get("target", "")), str(a.get("model", "")), str(a.get("outcome", "")), str(a.get("detail", ""))
            )
            for a in done.get("attempts") or ()
            if isinstance(a, Mapping)
        ),
        empty_reason=empty_reason,
        notices=tuple(str(n) for n in done.get("notices") or () if n),
        outcome="ok" if not empty_reason else "empty",
    )


#: how many recent requests' ledger ids are remembered for feedback
FEEDBACK_MEMORY = 4096


class GatewayClient:
    """Talks to one gateway with one user's key; see the module docstring."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        connect_timeout_s: float = 3.0,
        timeout_s: float = 300.0,
        max_connections: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s, pool=connect_timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )
        self._probe_timeout = httpx.Timeout(connect_timeout_s)
        # the language server's request id -> the gateway's ledger id, for completion feedback
        self._ledger_ids: OrderedDict[str, str] = OrderedDict()

    async def close(self) -> None:
        await self._http.aclose()

    async def assist(self, body: Mapping[str, object], on_text: Callable[[str], None] | None = None) -> Served:
        """POST ``/v1/assist`` and follow its event stream to ``done``; raises :class:`GatewayError`."""
        decision = RouteDecision(None, (), 0, 0, ())
        try:
            async with self._http.stream("POST", "/v1/assist", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _refusal(response)
                lines = response.aiter_lines()
                async for event in iter_sse(lines):
                    data = event.json()
                    if event.event == "route":
                        decision = decision_from_json(data.get("route") or {}, data.get("estimate") or {})
                    elif event.event == "delta" and on_text is not None:
                        on_text(str(data.get("text") or ""))
                    elif event.event == "done":
                        self._remember(str(body.get("request_id") or ""), str(data.get("request_id") or ""))
                        await read_to_end(lines)  # so that the next request reuses this connection
                        return served_from_done(data, decision)
                    elif event.event == "error":
                        raise GatewayRequestError(_error_text(data))
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
                raise GatewayUnreachable(_describe(exc)) from None
            raise GatewayRequestError(f"the connection to the gateway broke ({_describe(exc)})") from None
        except ValueError as exc:
            raise GatewayRequestError(f"the gateway sent a malformed event ({exc})") from None
        raise GatewayRequestError("the gateway ended the answer without a `done` event")

    async def explain(self, body: Mapping[str, object]) -> RouteDecision:
        """POST ``/v1/route/explain``: the gateway's decision, without calling a model."""
        try:
            response = await self._http.post("/v1/route/explain", json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise GatewayUnreachable(_describe(exc)) from None
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise GatewayRequestError(f"the connection to the gateway broke ({_describe(exc)})") from None
        if response.status_code != 200:
            raise _refusal(response)
        try:
            data = response.json()
            return decision_from_json(data.get("route") or {}, data.get("estimate") or {})
        except (ValueError, AttributeError) as exc:
            raise GatewayRequestError(f"the gateway sent a malformed answer ({exc})") from None

    def _remember(self, request_id: str, ledger_id: str) -> None:
        if request_id and ledger_id:
            self._ledger_ids[request_id] = ledger_id
            while len(self._ledger_ids) > FEEDBACK_MEMORY:
                self._ledger_ids.popitem(last=False)

    async def feedback(self, request_id: str, accepted: bool, task: str, kind: str = "completion") -> bool:
        """``/v1/feedback`` for a request this client sent; False when unknown or not recorded (never raises)."""
        ledger_id = self._ledger_ids.get(request_id)
        if ledger_id is None:
            return False
        body = {"request_id": ledger_id, "accepted": accepted, "task": task, "kind": kind}
        try:
            response = await self._http.post("/v1/feedback", json=body, timeout=self._probe_timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def reused(self, body: Mapping[str, object]) -> bool:
        """``/v1/reused``: an answer reused here, for the gateway's ledger; False when not recorded (never raises)."""
        try:
            response = await self._http.post("/v1/reused", json=body, timeout=self._probe_timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def my_usage(self) -> dict[str, Any] | None:
        """``/v1/usage/me``: this user's usage this month and their budget; None when it cannot be read."""
        try:
            response = await self._http.get("/v1/usage/me", timeout=self._probe_timeout)
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    async def probe(self) -> dict[str, object]:
        """``/healthz`` and ``/readyz``: ``{"reachable", "ready", "detail"}`` (never raises)."""
        state: dict[str, object] = {"reachable": False, "ready": False, "detail": ""}
        try:
            health = await self._http.get("/healthz", timeout=self._probe_timeout)
            state["reachable"] = health.status_code == 200
            ready = await self._http.get("/readyz", timeout=self._probe_timeout)
            state["ready"] = ready.status_code == 200
            if not state["ready"]:
                state["detail"] = f"/readyz answered {ready.status_code}"
        except httpx.HTTPError as exc:
            state["detail"] = _describe(exc)
        return state


def _refusal(response: httpx.Response) -> GatewayError:
    status = response.status_code
    try:
        message = _error_text(response.json().get("error") or {})
    except (ValueError, AttributeError):
        message = response.text[:200].strip() or response.reason_phrase
    if status in _UNAVAILABLE_STATUS:
        return GatewayUnreachable(f"HTTP {status}: {message}", status)
    if status in (401, 403):
        return GatewayAuthError(message, status)
    if status == 429:
        retry = response.headers.get("retry-after")
        suffix = f" (retry in {retry} s)" if retry else ""
        return GatewayRequestError(f"rate limited by the gateway: {message}{suffix}", status)
    return GatewayRequestError(f"the gateway refused the request (HTTP {status}): {message}", status)


def _error_text(error: Mapping[str, Any]) -> str:
    message = str(error.get("message") or "").strip()
    code = str(error.get("code") or "").strip()
    return message or code or "unknown error"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def request_paths(paths: Sequence[str]) -> list[str]:
    """Distinct non-empty paths, in order."""
    return list(dict.fromkeys(p for p in paths if p))
