"""A cancelled request stops in the engine within one decode step, whatever the backend's generator does.

The engine here decodes on its own (like vLLM's engine core or the
transformers worker thread): one token per step into the request's queue,
until ``abort()`` is called. Its generator never checks anything, so only
the executor can stop the decoding: by calling ``abort()`` and by closing the
stream. One generator lets the cancellation pass through it; the other
swallows it and keeps yielding (as a library that catches ``CancelledError``
would), so the caller must notice the cancellation between two pieces.
Nothing is recorded by the backend on its own: an abort counts only when
``abort()`` is called.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from types import AsyncGeneratorType

import pytest

from inference.backend import Backend
from inference.types import BackendHealth, ChatMessage, GenerationChunk, GenerationRequest
from routing.executor import RouteExecutor
from routing.policy import RouteDecision, RouteTarget

STEP_S = 0.05


class DecodingEngine(Backend):
    """Decodes a token every ``STEP_S`` per running request until aborted; the stream only reads the tokens."""

    is_local = True

    def __init__(self, *, swallow_cancel: bool) -> None:
        self.name = "local"
        self.swallow_cancel = swallow_cancel
        self.decoded: dict[str, int] = {}
        self.aborted: list[str] = []
        self.streams: list[AsyncGenerator[GenerationChunk, None]] = []  # kept: only an explicit close closes them
        self._decoders: dict[str, asyncio.Task[None]] = {}
        self._queues: dict[str, asyncio.Queue[str | None]] = {}

    async def health(self) -> BackendHealth:
        return BackendHealth(ok=True)

    async def abort(self, request_id: str) -> None:
        self.aborted.append(request_id)
        decoder = self._decoders.pop(request_id, None)
        if decoder is not None:
            decoder.cancel()
            self._queues[request_id].put_nowait(None)  # the engine ends the request's stream

    def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationChunk, None]:
        tokens: asyncio.Queue[str | None] = asyncio.Queue()
        self._queues[request.request_id] = tokens
        self.decoded[request.request_id] = 0
        self._decoders[request.request_id] = asyncio.get_running_loop().create_task(
            self._decode(request.request_id, tokens)
        )
        stream = self._swallowing(tokens) if self.swallow_cancel else self._passing(tokens)
        self.streams.append(stream)
        return stream

    async def _decode(self, request_id: str, tokens: asyncio.Queue[str | None]) -> None:
        while True:
            await asyncio.sleep(STEP_S)
            self.decoded[request_id] += 1
            tokens.put_nowait("tok ")

    @staticmethod
    async def _passing(tokens: asyncio.Queue[str | None]) -> AsyncGenerator[GenerationChunk, None]:
        while (text := await tokens.get()) is not None:
            yield GenerationChunk(text)

    @staticmethod
    async def _swallowing(tokens: asyncio.Queue[str | None]) -> AsyncGenerator[GenerationChunk, None]:
        while True:
            try:
                text = await tokens.get()
            except asyncio.CancelledError:
                continue  # ignores the cancellation and keeps streaming
            if text is None:
                return
            yield GenerationChunk(text)


def _decision() -> RouteDecision:
    return RouteDecision(RouteTarget("local", "tiny", cloud=False), (), 10, 100, ())


@pytest.mark.timeout(10)
@pytest.mark.parametrize("swallow_cancel", [False, True], ids=["passes-cancel", "swallows-cancel"])
async def test_a_cancelled_request_is_aborted_and_its_stream_closed_within_one_step(swallow_cancel: bool) -> None:
    engine = DecodingEngine(swallow_cancel=swallow_cancel)
    executor = RouteExecutor({"local": engine})
    pieces: list[str] = []

    request = GenerationRequest.chat("req-1", (ChatMessage("user", "hi"),), max_tokens=100)
    task = asyncio.create_task(executor.execute(_decision(), request, 30.0, pieces.append))
    while len(pieces) < 3:  # the answer is streaming
        await asyncio.sleep(STEP_S / 5)
    decoded_at_cancel = engine.decoded["req-1"]
    task.cancel()
    await asyncio.wait({task}, timeout=20 * STEP_S)  # not awaited: a swallowing stream would swallow that too
    if not task.done():
        await engine.abort("req-1")  # stop it for good, then fail
        pytest.fail("the cancelled request kept streaming")
    with pytest.raises(asyncio.CancelledError):
        task.result()

    assert engine.aborted == ["req-1"], "the executor aborts the request in the engine"
    (stream,) = engine.streams
    assert isinstance(stream, AsyncGeneratorType)
    assert stream.ag_frame is None, "the executor closes the stream"  # a finished generator has no frame
    assert engine.decoded["req-1"] <= decoded_at_cancel + 1, "at most one more decode step"
    await asyncio.sleep(4 * STEP_S)
    assert engine.decoded["req-1"] <= decoded_at_cancel + 1, "the engine stopped decoding"
