"""``InstantBackend``: answers at once with a configured text — for benchmarks of everything but the model.

It is a real :class:`~inference.backend.Backend` (streaming, abort, usage,
load), selected with ``[local] backend = "instant"``; it is how the
language server's and the gateway's own overhead is measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from inference.backend import Backend, estimate_tokens
from inference.settings import LocalSettings
from inference.types import BackendHealth, BackendLoad, GenerationChunk, GenerationRequest, Usage


class InstantBackend(Backend):
    """Streams ``[local] instant_reply`` immediately (or a piece per ``instant_token_delay_ms``), split into words."""

    is_local = True

    def __init__(self, name: str, settings: LocalSettings) -> None:
        self.name = name
        self._reply = settings.instant_reply
        self._token_delay_s = settings.instant_token_delay_ms / 1000.0
        self._running: set[str] = set()
        self._aborted: set[str] = set()
        self.aborted_log: list[str] = []  # request ids aborted, oldest first (for tests)

    def default_model(self) -> str:
        return "instant"

    def token_counter(self) -> Callable[[str], int] | None:
        return estimate_tokens

    def load(self) -> BackendLoad:
        return BackendLoad(
            queued=0, running=len(self._running), recent_ttft_ms=0.0, aborted_total=len(self.aborted_log)
        )

    async def health(self) -> BackendHealth:
        return BackendHealth(ok=True, detail="instant test backend", models=("instant",))

    async def abort(self, request_id: str) -> None:
        if request_id in self._running:
            self._aborted.add(request_id)
            self.aborted_log.append(request_id)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        prompt = request.prefix + request.suffix + "".join(m.content for m in request.messages)
        self._running.add(request.request_id)
        pieces = [p for p in self._reply.split(" ")]
        emitted = 0
        try:
            for i, piece in enumerate(pieces):
                if request.request_id in self._aborted or emitted >= request.max_tokens:
                    break
                if self._token_delay_s:
                    await asyncio.sleep(self._token_delay_s)
                text = piece if i == 0 else " " + piece
                emitted += 1
                yield GenerationChunk(text)
            finish = "abort" if request.request_id in self._aborted else "stop"
            yield GenerationChunk("", finish, Usage(estimate_tokens(prompt), 0, emitted))
        finally:
            closed_early = request.request_id not in self._aborted and emitted < len(pieces)
            if closed_early and emitted < request.max_tokens:
                self.aborted_log.append(request.request_id)  # the consumer closed the stream: an abort
            self._running.discard(request.request_id)
            self._aborted.discard(request.request_id)
