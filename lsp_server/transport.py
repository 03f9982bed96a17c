"""Serving editors: stdio for one, and a multi-client TCP / WebSocket accept loop for many.

pygls' stock ``start_tcp``/``start_ws`` serve a single client and ``exit``
calls ``sys.exit()``. Here each connection gets its own
:class:`HybridLanguageServer` (own documents, settings, index) while all share
one :class:`Assistant` (one engine, one router). ``exit`` ends only its own
session; a client that disconnects mid-request has its work cancelled (and
so aborted in the engine); a port probe or garbage bytes close only that
connection. With a key verifier (``[server] auth = "keys"``) each connection
passes a :class:`~lsp_server.auth.Gate` first: ``initialize`` must carry a
valid key, else it is answered with an error and the connection closed; the
key is checked again every ``[server] key_recheck_s`` and a session whose key
was revoked since is told so and closed (:meth:`~lsp_server.auth.Gate.watch`).
WebSocket handshakes are refused (403) unless their ``Origin`` is
allow-listed or absent, and may run over TLS. In stdio mode file descriptor 1
is reserved for JSON-RPC: the process's own stdout (and that of any engine
subprocess) goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import ssl
import sys
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from lsp_server.auth import AUTH_DEADLINE_S, Gate, Verifier, bearer_token
from lsp_server.server import HybridLanguageServer

logger = logging.getLogger(__name__)

ServerFactory = Callable[[], HybridLanguageServer]
_CONTENT_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.IGNORECASE)
_MAX_HEADER_LINES = 32


class ProtocolViolation(Exception):
    """The peer does not speak LSP framing; the connection is closed."""


async def read_message(reader: asyncio.StreamReader, max_bytes: int) -> bytes | None:
    """The next framed JSON-RPC body, or None at end of stream."""
    length: int | None = None
    for _ in range(_MAX_HEADER_LINES):
        try:
            line = await reader.readline()
        except (asyncio.LimitOverrunError, ValueError) as exc:
            raise ProtocolViolation("header line too long") from exc
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            if length is None:
                continue  # stray blank line between messages
            if length > max_bytes:
                raise ProtocolViolation(f"message of {length} bytes exceeds the limit of {max_bytes}")
            try:
                return await reader.readexactly(length)
            except asyncio.IncompleteReadError:
                return None
        match = _CONTENT_LENGTH.match(line.strip())
        if match:
            length = int(match.group(1))
        elif not line.lower().startswith(b"content-type:"):
            raise ProtocolViolation(f"not an LSP header: {line[:40]!r}")
    raise ProtocolViolation("too many header lines")


def dispatch(server: HybridLanguageServer, body: bytes | str) -> None:
    """Decode one message and hand it to the session's protocol; bad JSON is logged and dropped."""
    protocol = server.protocol
    try:
        message = json.loads(body, object_hook=protocol.structure_message)
    except (ValueError, UnicodeDecodeError) as exc:
        logger.warning("dropping a message that is not JSON: %s", exc)
        _send_parse_error(server)
        return
    except Exception:
        logger.exception("dropping a message that could not be decoded")
        return
    try:
        protocol.handle_message(message)
    except Exception:
        logger.exception("error while handling a message")


def _send_parse_error(server: HybridLanguageServer) -> None:
    from pygls.exceptions import JsonRpcParseError

    server.protocol._send_data({"jsonrpc": "2.0", "id": None, "error": JsonRpcParseError().to_response_error()})


async def serve_stream(
    server: HybridLanguageServer,
    reader: asyncio.StreamReader,
    write: Callable[[bytes], Any],
    close: Callable[[], Any],
    max_bytes: int,
    gate: Gate | None = None,
) -> None:
    """Run one session over a byte stream until EOF, ``exit``, a protocol violation or a refused key."""
    done = asyncio.Event()
    gate = gate or Gate(None)
    gate.arm(server)

    class _Writer:
        def write(self, data: bytes) -> Any:
            return write(data)

        def close(self) -> Any:
            done.set()
            return None

    server.protocol.set_writer(_Writer())
    server.protocol.on_exit = done.set
    reading = asyncio.ensure_future(_read_loop(server, reader, max_bytes, gate))
    tasks: set[asyncio.Future[Any]] = {reading, asyncio.ensure_future(done.wait()), *_watching(gate, server)}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        server.cancel_all()
        result = close()
        if asyncio.iscoroutine(result):
            await result


def _watching(gate: Gate, server: HybridLanguageServer) -> list[asyncio.Future[None]]:
    """The task that re-checks the session's key (done when the key was refused), if the gate re-checks."""
    return [asyncio.ensure_future(gate.watch(server))] if gate.rechecks else []


async def _read_loop(server: HybridLanguageServer, reader: asyncio.StreamReader, max_bytes: int, gate: Gate) -> None:
    while True:
        try:
            if gate.passed:
                body = await read_message(reader, max_bytes)
            else:
                body = await asyncio.wait_for(read_message(reader, max_bytes), AUTH_DEADLINE_S)
        except ProtocolViolation as exc:
            logger.warning("closing connection: %s", exc)
            return
        except TimeoutError:
            logger.warning("closing connection: no authenticated initialize within %.0f s", AUTH_DEADLINE_S)
            return
        except (ConnectionError, OSError) as exc:
            logger.info("connection lost: %s", exc)
            return
        if body is None:
            return
        admitted = await gate.admit(server, body)
        if admitted is None:
            return
        dispatch(server, admitted)


async def serve_tcp(
    factory: ServerFactory,
    host: str,
    port: int,
    max_bytes: int,
    ready: Callable[[str, int], None] | None = None,
    *,
    verifier: Verifier | None = None,
    key_recheck_s: float = 0.0,
) -> None:
    """Accept editors on ``host:port`` forever, one session each (each proving its key when ``verifier``, again
    every ``key_recheck_s`` seconds when positive)."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        logger.info("client connected: %s", peer)
        try:
            server = factory()
            server.session.network = True  # confined to [server] allowed_roots

            def write(data: bytes) -> None:
                if not writer.is_closing():
                    writer.write(data)

            def close() -> None:
                writer.close()

            await serve_stream(server, reader, write, close, max_bytes, Gate(verifier, recheck_s=key_recheck_s))
        except Exception:
            logger.exception("session %s failed", peer)
            writer.close()
        logger.info("client disconnected: %s", peer)

    tcp = await asyncio.start_server(on_connect, host, port, limit=2**20)
    address = tcp.sockets[0].getsockname()
    logger.info("listening for LSP clients on tcp://%s:%s", address[0], address[1])
    if ready is not None:
        ready(str(address[0]), int(address[1]))
    async with tcp:
        await tcp.serve_forever()


async def serve_websocket(
    factory: ServerFactory,
    host: str,
    port: int,
    max_bytes: int,
    ready: Callable[[str, int], None] | None = None,
    *,
    verifier: Verifier | None = None,
    key_recheck_s: float = 0.0,
    allowed_origins: Sequence[str] = (),
    tls: ssl.SSLContext | None = None,
) -> None:
    """Accept editors over WebSocket (one JSON-RPC message per text frame).

    A handshake whose ``Origin`` is neither absent nor in ``allowed_origins`` is refused with 403; with
    ``verifier`` the key comes from an ``Authorization: Bearer`` header or the ``initialize`` options, and is
    checked again every ``key_recheck_s`` seconds when positive.
    """
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Origin

    async def on_connect(ws: ServerConnection) -> None:
        server = factory()
        server.session.network = True  # confined to [server] allowed_roots
        done = asyncio.Event()
        request = ws.request
        bearer = bearer_token(request.headers.get("Authorization")) if request is not None else None
        gate = Gate(verifier, bearer, key_recheck_s)
        gate.arm(server)

        class _Writer:
            def write(self, data: bytes) -> None:
                task = asyncio.ensure_future(_send(data))
                pending.add(task)
                task.add_done_callback(pending.discard)

            def close(self) -> None:
                done.set()

        pending: set[asyncio.Future[None]] = set()

        async def _send(data: bytes) -> None:
            try:
                await ws.send(data.decode("utf-8"))
            except ConnectionClosed:
                done.set()

        server.protocol.set_writer(_Writer(), include_headers=False)
        server.protocol.on_exit = done.set

        async def receive() -> None:
            try:
                while True:
                    if gate.passed:
                        frame = await ws.recv()
                    else:
                        frame = await asyncio.wait_for(ws.recv(), AUTH_DEADLINE_S)
                    admitted = await gate.admit(server, frame)
                    if admitted is None:
                        return
                    dispatch(server, admitted)
            except ConnectionClosed:
                pass
            except TimeoutError:
                logger.warning("closing connection: no authenticated initialize within %.0f s", AUTH_DEADLINE_S)

        tasks: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(receive()),
            asyncio.ensure_future(done.wait()),
            *_watching(gate, server),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            server.cancel_all()
            if pending:  # the last answers (a refused initialize's error) go out before the close frame
                await asyncio.wait(set(pending), timeout=5.0)
            await ws.close()

    origins: list[Origin | None] = [Origin(origin) for origin in allowed_origins]
    origins.append(None)  # editors and other non-browser clients send no Origin
    async with serve(on_connect, host, port, max_size=max_bytes, origins=origins, ssl=tls) as ws_server:
        address = next(iter(ws_server.sockets)).getsockname()
        scheme = "wss" if tls is not None else "ws"
        logger.info("listening for LSP clients on %s://%s:%s", scheme, address[0], address[1])
        if ready is not None:
            ready(str(address[0]), int(address[1]))
        await ws_server.serve_forever()


def reserve_stdout_for_jsonrpc() -> BinaryIO:
    """Keep fd 1 for JSON-RPC only: return a private handle to it and point fd 1 at stderr."""
    sys.stdout.flush()
    private_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(private_fd, "wb")


async def serve_stdio(
    server: HybridLanguageServer, max_bytes: int, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> None:
    """Serve one editor over stdin/stdout."""
    loop = asyncio.get_running_loop()
    out = stdout or reserve_stdout_for_jsonrpc()
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin or sys.stdin.buffer)

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    await serve_stream(server, reader, write, lambda: None, max_bytes)
