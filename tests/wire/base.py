"""A loopback HTTP server with a scripted reply queue, request recording and fault injection.

Each provider imitation (:mod:`tests.wire.openai_server`,
:mod:`tests.wire.anthropic_server`, :mod:`tests.wire.gemini_server`) is a
:class:`WireServer` subclass that renders the same script in its provider's
wire format, so one test reads the same for every provider::

    server.reply("return a + b", prompt_tokens=120, cached_tokens=100)
    server.fail("rate_limit", retry_after=0.05)       # the next request gets a 429
    server.fail("server_error", times=2)               # the next two get a 500
    server.slow_tokens = 0.05                          # 50 ms between streamed pieces
    ...
    request = server.generation_requests()[-1]         # what reached the "cloud"
    request.body["messages"], request.headers["authorization"], request.disconnected

Scripting:

- :meth:`WireServer.reply` queues one answer (:class:`Reply`); when the queue
  is empty the server answers with :attr:`WireServer.default_reply`.
- :meth:`WireServer.fail` queues a fault for the next ``times`` generation
  requests; faults are served before replies. Fault kinds (:data:`FaultKind`):
  ``rate_limit`` (429 with a retry-after), ``server_error`` (500),
  ``overloaded`` (503, Anthropic 529), ``unauthorized`` (401), ``forbidden``
  (403), ``bad_request`` (400), ``context_length`` (400 with the provider's
  context-window message), ``not_found`` (404), ``timeout`` (answers only
  after ``delay_s``, or never if the client gives up first), ``reset``
  (streams ``after_chunks`` pieces, then drops the connection) and
  ``malformed`` (streams ``after_chunks`` pieces, then an event that is not
  JSON).
- :attr:`Reply.tool_calls` (:class:`ScriptedCall`: name, arguments, id)
  makes the answer ask for tool calls in the provider's own form (OpenAI
  ``tool_calls`` deltas and ``finish_reason: "tool_calls"``; Anthropic
  ``tool_use`` blocks with ``input_json_delta`` pieces and ``stop_reason:
  "tool_use"``; Gemini ``functionCall`` parts), after the text if there is any.
- :attr:`WireServer.healthy` = False makes the health/model-listing routes
  answer 503 (generation routes are unaffected; use :meth:`fail` for those).
- :meth:`WireServer.stop` / :meth:`WireServer.start` take the server down and
  bring it back on the same port (a dead server refuses connections).

Non-streamed requests (``"stream": false``, Gemini's ``:generateContent``)
get the whole answer as one JSON body; the timeout, reset and malformed
faults apply to them too.

Pointing clients at a server: every server's :attr:`WireServer.base_url` is
what its provider's SDK takes as ``base_url`` and what
``ProviderSettings(base_url=...)`` takes for the matching backend
(``.../v1`` for OpenAI and OpenAI-compatible, the bare root for Anthropic and
Gemini; the Gemini backend pins ``api_version="v1beta"``). Keys are not
checked; the headers that carried them are recorded.

Every request, health checks included, is recorded as a :class:`RecordedRequest`
(method, path, query, lower-cased headers, JSON body); a streamed answer sets
``completed`` when it was sent to the end and ``disconnected`` when the client
went away first, which is how tests prove that an abort closed the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "overloaded",
    "unauthorized",
    "forbidden",
    "bad_request",
    "context_length",
    "not_found",
    "timeout",
    "reset",
    "malformed",
]

#: Faults answered with an HTTP error status instead of a stream.
STATUS_FAULTS: dict[str, int] = {
    "rate_limit": 429,
    "server_error": 500,
    "overloaded": 503,
    "unauthorized": 401,
    "forbidden": 403,
    "bad_request": 400,
    "context_length": 400,
    "not_found": 404,
}


def split_pieces(text: str) -> list[str]:
    """Split ``text`` into word-sized stream pieces that join back to ``text``."""
    return re.findall(r"\S+\s*|\s+", text)


@dataclass(frozen=True)
class ScriptedCall:
    """A tool call a scripted answer asks for; ``id`` empty: the server makes one up (Gemini sends none)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    pieces: int = 2  # how many fragments the arguments' JSON streams in (at most one per character)

    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))

    def call_id(self, index: int) -> str:
        return self.id or f"call_{index}_{self.name}"

    def argument_pieces(self) -> list[str]:
        """The arguments' JSON in ``pieces`` fragments (two by default: streamed separately, as the providers do);
        no arguments: one empty piece (Anthropic streams an empty ``partial_json`` for an empty input)."""
        if not self.arguments:
            return [""]
        if self.pieces != 2:
            text = self.arguments_json()
            n = max(1, min(self.pieces, len(text)))
            return [text[len(text) * i // n : len(text) * (i + 1) // n] for i in range(n)]
        text = self.arguments_json()
        half = len(text) // 2
        return [text[:half], text[half:]] if half else [text]


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``finish_reason`` is provider-neutral (``stop``, ``length`` or
    ``content_filter``); each server spells it the way its provider does.
    ``completion_tokens`` defaults to the number of streamed pieces.

    ``usage_in`` says where the usage goes. Anthropic: ``start`` puts the
    input and cache figures in ``message_start`` (the API's usual way),
    ``delta`` only in ``message_delta`` with zeros in ``message_start`` (as
    LiteLLM's proxy does), ``both`` an early partial count in
    ``message_start`` and the full cumulative one in ``message_delta``,
    ``none`` zeros everywhere. OpenAI: ``none`` sends no usage chunk (and no
    ``usage`` in a whole answer); the others the usual final chunk.
    ``ignore_stream`` (OpenAI) answers one JSON body even when asked to stream.
    """

    text: str = "Hello from the test server."
    prompt_tokens: int = 12
    cached_tokens: int = 0
    cache_write_tokens: int = 0  # Anthropic: cache_creation_input_tokens (part of prompt_tokens)
    completion_tokens: int | None = None
    finish_reason: Literal["stop", "length", "content_filter"] = "stop"
    pieces: Sequence[str] | None = None  # explicit split of ``text``
    usage_in: Literal["start", "delta", "both", "none"] = "start"
    ignore_stream: bool = False
    tool_calls: Sequence[ScriptedCall] = ()

    def stream_pieces(self) -> list[str]:
        return list(self.pieces) if self.pieces is not None else split_pieces(self.text)

    def output_tokens(self) -> int:
        if self.completion_tokens is not None:
            return self.completion_tokens
        return max(1, len(self.stream_pieces()))


@dataclass(frozen=True)
class Fault:
    """One scripted failure; see the module docstring for the kinds."""

    kind: FaultKind
    retry_after: float | None = None  # rate_limit: seconds, sent as the provider does
    delay_s: float = 5.0  # timeout: how long the server stalls before answering
    after_chunks: int = 1  # reset / malformed: pieces streamed before the fault
    message: str | None = None  # override the error message


@dataclass
class RecordedRequest:
    """A request the server received, as the tests see it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    received_at: float
    completed: bool = False  # a streamed answer was sent to the end
    disconnected: bool = False  # the client went away before the answer was complete
    client: str = ""  # the client's "host:port": the same for requests on one kept-alive connection


@dataclass
class _Script:
    replies: deque[Reply] = field(default_factory=deque)
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)


class WireServer:
    """Base of the provider imitations: lifecycle, script, recording (see module docstring)."""

    #: Provider label used in messages.
    provider: ClassVar[str] = ""
    #: Path fragments that mark a generation request (for :meth:`generation_requests`).
    generation_markers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, default_reply: Reply | None = None, models: Sequence[str] = ()) -> None:
        self.default_reply = default_reply or Reply()
        self.models: tuple[str, ...] = tuple(models) or self.default_models()
        self.slow_tokens = 0.0
        self.healthy = True
        self._lock = threading.Lock()
        self._script = _Script()
        self._port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Serve on 127.0.0.1 (a free port the first time, the same port after a stop)."""
        if self._server is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
            log_config=None,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"wire-{self.provider}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10.0
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.provider} test server did not start")
            time.sleep(0.005)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving; connections to the port are refused until :meth:`start`."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=5.0)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """What the provider's SDK takes as ``base_url``."""
        return self.root_url

    # -------------------------------------------------------------- script
    def reply(self, text: str = Reply.text, **fields: Any) -> Reply:
        """Queue one answer; ``fields`` are those of :class:`Reply`."""
        scripted = Reply(text=text, **fields)
        with self._lock:
            self._script.replies.append(scripted)
        return scripted

    def fail(self, kind: FaultKind, *, times: int = 1, **fields: Any) -> Fault:
        """Queue ``kind`` for the next ``times`` generation requests."""
        fault = Fault(kind=kind, **fields)
        with self._lock:
            self._script.faults.extend([fault] * times)
        return fault

    def clear(self) -> None:
        """Forget queued replies, faults and recorded requests."""
        with self._lock:
            self._script = _Script()
        self.slow_tokens = 0.0
        self.healthy = True

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._script.requests)

    def generation_requests(self) -> list[RecordedRequest]:
        """The requests that asked for a generation (not health checks or model lists)."""
        return [r for r in self.requests if any(m in r.path for m in self.generation_markers)]

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 3.0) -> bool:
        """Poll ``predicate`` (from the test's thread) until true or ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    # ------------------------------------------------- for the subclasses
    def default_models(self) -> tuple[str, ...]:
        return ("test-model",)

    def routes(self) -> list[Route]:
        raise NotImplementedError

    async def record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        body: Any
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            received_at=time.monotonic(),
            client=f"{request.client.host}:{request.client.port}" if request.client else "",
        )
        with self._lock:
            self._script.requests.append(recorded)
        return recorded

    def next_action(self) -> Reply | Fault:
        """The fault or reply that answers the next generation request."""
        with self._lock:
            if self._script.faults:
                return self._script.faults.popleft()
            if self._script.replies:
                return self._script.replies.popleft()
        return self.default_reply

    def unhealthy_response(self) -> Response:
        return JSONResponse({"error": "unhealthy"}, status_code=503)


class ScriptedStream:
    """An ASGI response that streams ``events`` and records how the stream ended.

    ``reset_at`` drops the connection before sending that event;
    ``delay_before_s`` stalls before the headers (the timeout fault). A watcher
    on ``receive`` marks the request ``disconnected`` the moment the client
    closes the connection.
    """

    def __init__(
        self,
        record: RecordedRequest,
        events: Sequence[bytes],
        *,
        delay_between_s: float = 0.0,
        delay_before_s: float = 0.0,
        reset_at: int | None = None,
        media_type: str = "text/event-stream",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.record = record
        self.events = list(events)
        self.delay_between_s = delay_between_s
        self.delay_before_s = delay_before_s
        self.reset_at = reset_at
        self.media_type = media_type
        self.headers = headers or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        streamer = loop.create_task(self._stream(send))
        watcher = loop.create_task(self._watch(receive))
        await asyncio.wait({streamer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not streamer.done():
            streamer.cancel()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await watcher
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await streamer  # re-raises the reset fault, which makes uvicorn drop the connection

    async def _watch(self, receive: Receive) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                if not self.record.completed:
                    self.record.disconnected = True
                return

    async def _stream(self, send: Send) -> None:
        if self.delay_before_s:
            await asyncio.sleep(self.delay_before_s)
        headers = [(b"content-type", self.media_type.encode())]
        headers += [(k.encode(), v.encode()) for k, v in self.headers.items()]
        headers.append((b"cache-control", b"no-cache"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, event in enumerate(self.events):
            if index and self.delay_between_s:
                await asyncio.sleep(self.delay_between_s)
            if index == self.reset_at:
                raise ConnectionResetByScript(f"scripted reset before event {index}")
            await send({"type": "http.response.body", "body": event, "more_body": True})
        self.record.completed = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class ConnectionResetByScript(Exception):
    """Raised inside the server to make uvicorn drop a half-sent response."""


def whole_answer(record: RecordedRequest, payload: Any, fault: Fault | None) -> ScriptedStream:
    """A non-streamed JSON answer that still honours the timeout, reset and malformed faults."""
    body = json.dumps(payload).encode()
    kind = fault.kind if fault is not None else None
    return ScriptedStream(
        record,
        [b"{not json" if kind == "malformed" else body],
        delay_before_s=fault.delay_s if fault is not None and kind == "timeout" else 0.0,
        reset_at=0 if kind == "reset" else None,
        media_type="application/json",
    )


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; ``data`` is JSON-encoded unless it is already a str."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def retry_after_value(seconds: float) -> str:
    """``retry-after`` as the header carries it (seconds; fractions allowed)."""
    return f"{seconds:g}"
