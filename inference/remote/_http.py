"""A lean pooled HTTP/1.1 client for the OpenAI-compatible backend (``vllm serve``), over aiohttp.

The gateway as a proxy makes one upstream call per request, so this client is
on its hot path. On the 2-core benchmark machine httpx (httpcore over anyio:
separate writes for head and body, a socket-readability probe per reuse,
cookie and auth layers) cost about 1 ms of CPU per streamed call; aiohttp
(C parser, head and body in one write) about 0.14 ms. The client is a thin
wrapper that keeps aiohttp's types out of the backend:

- one :class:`aiohttp.ClientSession` per event loop, opened on first use and
  kept (no per-call set-up); one connection per request in flight, at most
  :data:`MAX_CONNECTIONS_PER_SERVER` to a server (more wait for one, within
  the caller's deadline: vLLM queues what it cannot run anyway), idle ones
  kept :data:`KEEPALIVE_S` seconds, below uvicorn's default 5-second
  keep-alive (``vllm serve``), so the client gives an idle connection up
  before the server would;
- proxies from the environment (``HTTP(S)_PROXY``, ``NO_PROXY``) are resolved
  once per origin rather than by aiohttp's ``trust_env`` on every call;
- failures below HTTP become :class:`TransportError` (refused, reset, closed
  early, unreadable: the server is gone) or :class:`TransportTimeout`, whose
  ``slow`` says the server may only be busy (no byte within the read timeout)
  rather than gone (no connection within it).

A streamed response that is left before its end (an aborted generation)
closes its connection, which is how vLLM notices the client is gone and
aborts the request; one read to its end returns the connection to the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

#: Seconds an idle pooled connection is kept (uvicorn, which ``vllm serve`` runs on, closes them after 5).
KEEPALIVE_S = 4.0
#: Connections to one server at once (vLLM's default ``--max-num-seqs`` runs 256 requests at a time).
MAX_CONNECTIONS_PER_SERVER = 256
#: How long the rest of a body may take after its last event before the connection is given up.
DRAIN_S = 0.5
_JSON_HEADERS = {"Content-Type": "application/json"}
_Proxy = tuple[URL, aiohttp.BasicAuth | None] | None


class TransportError(Exception):
    """The exchange failed below HTTP; ``kind`` names how (for messages and the endpoint pool)."""

    #: True when the server may only be busy (a read timed out), False when it looks gone.
    slow = False

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class TransportTimeout(TransportError):
    """No connection (``slow`` False) or no data (``slow`` True) within the timeout."""

    def __init__(self, kind: str, detail: str, *, slow: bool) -> None:
        super().__init__(kind, detail)
        self.slow = slow


def _transport_error(exc: BaseException) -> TransportError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportTimeout("ConnectTimeout", str(exc) or "no connection within the timeout", slow=False)
    if isinstance(exc, TimeoutError):  # aiohttp's SocketTimeoutError, or a total timeout
        return TransportTimeout("ReadTimeout", str(exc) or "no data within the timeout", slow=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportError("ConnectError", str(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TransportError("RemoteProtocolError", str(exc) or "server disconnected")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TransportError("ReadError", str(exc) or "the response ended early")
    if isinstance(exc, aiohttp.ClientResponseError):
        return TransportError("RemoteProtocolError", exc.message or "malformed response")
    return TransportError(type(exc).__name__, str(exc) or type(exc).__name__)


#: What the client turns into :class:`TransportError`.
_FAILURES = (aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole (not streamed) response."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class StreamedResponse:
    """A response whose body is read as it arrives; errors come as :class:`TransportError`."""

    __slots__ = ("_response", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        """The rest of the body."""
        try:
            return await self._response.read()
        except _FAILURES as exc:
            raise _transport_error(exc) from exc

    async def lines(self) -> AsyncGenerator[str, None]:
        """The body's lines as text, without their line ends (``\\n``, ``\\r\\n`` or ``\\r``), of any length."""
        pending = b""
        try:
            async for chunk in self._response.content.iter_any():
                pieces = (pending + chunk).splitlines(keepends=True)
                pending = b"" if pieces[-1].endswith((b"\n", b"\r")) else pieces.pop()
                for piece in pieces:
                    yield piece.rstrip(b"\r\n").decode("utf-8", "replace")
        except _FAILURES as exc:
            raise _transport_error(exc) from exc
        if pending:
            yield pending.decode("utf-8", "replace")

    def close(self) -> None:
        """Close the connection now (a read waiting on it fails): how another task aborts this response."""
        self._response.close()

    async def drain(self, timeout_s: float = DRAIN_S) -> None:
        """Read what is left (the closing chunk after the last event), so that the connection is reused.

        Briefly: a server that keeps talking loses its connection instead.
        """
        if self._response.content.at_eof():  # already whole (Content-Length, or the closing chunk came along)
            return
        with contextlib.suppress(*_FAILURES):
            async with asyncio.timeout(timeout_s):
                await self._response.read()


class _Exchange:
    """``async with client.stream(...) as response``: the request is sent on entry, released on exit."""

    __slots__ = ("_context", "_response")

    def __init__(self, context: Any) -> None:
        self._context = context
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> StreamedResponse:
        try:
            self._response = await self._context.__aenter__()
        except _FAILURES as exc:
            raise _transport_error(exc) from exc
        assert self._response is not None
        return StreamedResponse(self._response)

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Unread body left: aiohttp closes the connection (the server sees the client go); else it is pooled.
        with contextlib.suppress(*_FAILURES):
            await self._context.__aexit__(kind, exc, tb)


class HttpClient:
    """Pooled keep-alive connections to any number of servers; see the module docstring."""

    def __init__(self, headers: Mapping[str, str] | None = None, *, keepalive_s: float = KEEPALIVE_S) -> None:
        self._headers = dict(headers or {})
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[str, _Proxy] = {}
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is loop:
            return session
        if self._closed:
            raise TransportError("Closed", "the HTTP client is closed")
        if session is not None:  # opened on another event loop (now gone): its connections cannot be reused here
            session.detach()
        connector = aiohttp.TCPConnector(
            limit=0, limit_per_host=MAX_CONNECTIONS_PER_SERVER, keepalive_timeout=self._keepalive_s, ttl_dns_cache=60
        )
        self._session = session = aiohttp.ClientSession(
            connector=connector, headers=self._headers, trust_env=False, timeout=aiohttp.ClientTimeout(total=None)
        )
        self._loop = loop
        return session

    def _proxy(self, url: str) -> _Proxy:
        """The environment's proxy for ``url``'s origin (looked up once per origin)."""
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        if key not in self._proxies:
            try:
                self._proxies[key] = get_env_proxy_for_url(URL(key))
            except (LookupError, ValueError):
                self._proxies[key] = None
        return self._proxies[key]

    def _call(self, method: str, url: str, body: Any, timeout: aiohttp.ClientTimeout) -> Any:
        session = self._open()
        proxy = self._proxy(url)
        data = json.dumps(body).encode() if body is not None else None
        return session.request(
            method,
            url,
            data=data,
            headers=_JSON_HEADERS if body is not None else None,
            timeout=timeout,
            proxy=proxy[0] if proxy else None,
            proxy_auth=proxy[1] if proxy else None,
        )

    def stream(self, method: str, url: str, *, json_body: Any = None, timeout_s: float) -> _Exchange:
        """``async with client.stream("POST", url, json_body=..., timeout_s=...) as response``."""
        # No bound on waiting for a pooled connection (the caller's deadline is one); a connect or a read may
        # take timeout_s (httpx's semantics: each operation, not the whole exchange).
        timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=timeout_s, sock_read=timeout_s)
        return _Exchange(self._call(method, url, json_body, timeout))

    async def request(self, method: str, url: str, *, json_body: Any = None, timeout_s: float) -> Answer:
        """One whole exchange, within ``timeout_s`` in all (a wait for a pooled connection included)."""
        timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=timeout_s)
        try:
            async with self._call(method, url, json_body, timeout) as response:
                body = await response.read()
                return Answer(response.status, response.headers, body)
        except _FAILURES as exc:
            raise _transport_error(exc) from exc

    async def get(self, url: str, *, timeout_s: float) -> Answer:
        return await self.request("GET", url, timeout_s=timeout_s)

    async def post(self, url: str, json_body: Any, *, timeout_s: float) -> Answer:
        return await self.request("POST", url, json_body=json_body, timeout_s=timeout_s)

    async def close(self) -> None:
        """Close the pooled connections; the client cannot be used again."""
        self._closed = True
        session, self._session = self._session, None
        if session is None:
            return
        if self._loop is asyncio.get_running_loop():
            await session.close()
        else:
            session.detach()
