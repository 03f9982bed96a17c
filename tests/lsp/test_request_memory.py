"""In-process: what a request leaves behind once it is answered — nothing per request (issue 19.4).

A long-lived multi-client server answers hundreds of thousands of requests a
day; state kept per request (pygls' futures of notification handlers were)
grows its memory without bound. Each round here is what an editor sends while
typing: a one-character ``didChange`` then an ``inlineCompletion``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bench._common import python_source
from lsp_server.server import HybridLanguageServer
from lsp_server.transport import dispatch
from tests.lsp.harness import in_process_server, write_config


class Wire:
    """The client's end: keeps only the ids answered since the last look."""

    def __init__(self) -> None:
        self.answered: set[Any] = set()

    def write(self, data: bytes) -> None:
        message = json.loads(data)
        if "id" in message and "method" not in message:
            self.answered.add(message["id"])

    def close(self) -> None:
        pass


@pytest_asyncio.fixture
async def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[HybridLanguageServer, Wire]]:
    config = write_config(tmp_path, reply="x")
    monkeypatch.setenv("HYBRID_ASSIST_CONFIG", str(config))
    wire = Wire()
    async with in_process_server(config, wire) as server:
        yield server, wire


def send(server: HybridLanguageServer, method: str, params: Any, request_id: int | None = None) -> None:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if request_id is not None:
        message["id"] = request_id
    dispatch(server, json.dumps(message))


async def answered(wire: Wire, request_id: int) -> None:
    for _ in range(2000):
        if request_id in wire.answered:
            wire.answered.discard(request_id)
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"request {request_id} was never answered")


async def test_answered_requests_leave_no_state_behind(
    session: tuple[HybridLanguageServer, Wire], tmp_path: Path
) -> None:
    server, wire = session
    root = tmp_path / "ws"
    root.mkdir()
    send(server, "initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}, 1)
    await answered(wire, 1)
    send(server, "initialized", {})
    text = python_source(400)
    uri = (root / "a.py").as_uri()
    send(
        server,
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    lines = text.split("\n")
    line = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].strip() == "return total")
    end = len(lines[line])
    request_id = 1

    async def rounds(count: int) -> None:
        nonlocal request_id
        for _ in range(count):
            request_id += 1
            typed = request_id % 2 == 0
            change = {
                "range": {
                    "start": {"line": line, "character": end},
                    "end": {"line": line, "character": end + (0 if typed else 1)},
                },
                "text": "s" if typed else "",
            }
            send(
                server,
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": request_id}, "contentChanges": [change]},
            )
            position = {"line": line, "character": end + (1 if typed else 0)}
            params = {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 2}}
            send(server, "textDocument/inlineCompletion", params, request_id)
            await answered(wire, request_id)
        await asyncio.sleep(0.05)  # done-callbacks run on the next loop iterations
        gc.collect()

    await rounds(100)  # warm-up: caches, lazily built tables
    tracemalloc.start()
    try:
        await rounds(100)
        before = tracemalloc.get_traced_memory()[0]
        await rounds(600)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert server.protocol._request_futures == {}, f"{len(server.protocol._request_futures)} handler futures kept"
    # 600 rounds: before the fix about 1.8 KB each (over 1 MB); bounded caches settle well below that.
    assert grown < 600 * 150, f"{grown / 600:.0f} bytes kept per request"
