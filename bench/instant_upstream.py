"""A minimal OpenAI-compatible server that answers at once: the common upstream of ``bench_gateway``.

Plain asyncio HTTP/1.1 with keep-alive (no framework), so that the upstream
costs as little as possible and the proxies in front of it (the gateway,
LiteLLM) are what the benchmark measures. Routes: ``POST /v1/chat/completions``
and ``POST /v1/completions`` (whole JSON, or server-sent events when
``stream`` is true, with the usage chunk of ``stream_options.include_usage``),
``GET /v1/models`` and vLLM's ``GET /health``. Every answer is
:data:`REPLY`; the model is whatever the request named.

    python -m bench.instant_upstream --port 0     # prints "listening on 127.0.0.1:PORT"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import Any

REPLY = "return a + b"
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12}


def _answer(path: str, request: dict[str, Any]) -> tuple[str, bytes]:
    """Content type and body of the answer to a generation request."""
    model = str(request.get("model") or "instant")
    chat = path.endswith("/chat/completions")
    created = int(time.time())
    if not request.get("stream"):
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "logprobs": None}
        if chat:
            choice["message"] = {"role": "assistant", "content": REPLY}
        else:
            choice["text"] = REPLY
        body = {
            "id": "cmpl-instant",
            "object": "chat.completion" if chat else "text_completion",
            "created": created,
            "model": model,
            "choices": [choice],
            "usage": _usage(),
        }
        return "application/json", json.dumps(body).encode()
    kind = "chat.completion.chunk" if chat else "text_completion"

    def chunk(delta: str | None, finish: str | None) -> dict[str, Any]:
        piece: dict[str, Any] = {"index": 0, "finish_reason": finish}
        if chat:
            piece["delta"] = {"role": "assistant", "content": delta} if delta is not None else {}
        else:
            piece["text"] = delta or ""
        return {"id": "cmpl-instant", "object": kind, "created": created, "model": model, "choices": [piece]}

    events = [chunk(REPLY, None), chunk(None, "stop")]
    if (request.get("stream_options") or {}).get("include_usage"):
        final = {"id": "cmpl-instant", "object": kind, "created": created, "model": model, "choices": []}
        events.append({**final, "usage": _usage()})
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return "text/event-stream", text.encode()


def _route(method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
    path = path.split("?", 1)[0]
    if method == "GET" and path == "/health":
        return 200, "application/json", b"{}"
    if method == "GET" and path == "/v1/models":
        data = {"object": "list", "data": [{"id": "instant", "object": "model", "created": 0, "owned_by": "bench"}]}
        return 200, "application/json", json.dumps(data).encode()
    if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return 400, "application/json", b'{"error": {"message": "bad JSON"}}'
        content_type, payload = _answer(path, request)
        return 200, content_type, payload
    return 404, "application/json", b'{"error": {"message": "not found"}}'


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            method, path, _version = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = await _read_chunked(reader)
            else:
                body = await reader.readexactly(int(headers.get("content-length") or 0))
            status, content_type, payload = _route(method, path, body)
            close = headers.get("connection", "").lower() == "close"
            connection = "close" if close else "keep-alive"
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: {connection}\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + payload)
            await writer.drain()
            if close:
                return
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return
    finally:
        writer.close()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readline()


async def serve(host: str, port: int) -> None:
    server = await asyncio.start_server(_serve_connection, host, port, backlog=4096)
    bound = server.sockets[0].getsockname()
    print(f"listening on {bound[0]}:{bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
