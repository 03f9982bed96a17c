"""Load bookkeeping shared by the local engines: queued/running counts and recent TTFT.

Only touched from the event loop thread, so it needs no lock. The router
reads it through :meth:`inference.backend.Backend.load`.
"""

from __future__ import annotations

import statistics
from collections import deque

from inference.types import BackendLoad

__all__ = ["LoadTracker"]


class LoadTracker:
    """Counts requests waiting for and holding an engine slot and aborted ones; keeps recent TTFTs."""

    def __init__(self, window: int = 64) -> None:
        self.queued = 0
        self.running = 0
        self.aborted_total = 0  # requests stopped before their natural end, since start
        self._ttft_ms: deque[float] = deque(maxlen=window)

    def enqueue(self) -> None:
        self.queued += 1

    def dequeue(self) -> None:
        self.queued = max(0, self.queued - 1)

    def begin(self) -> None:
        self.running += 1

    def end(self) -> None:
        self.running = max(0, self.running - 1)

    def record_abort(self) -> None:
        self.aborted_total += 1

    def record_ttft(self, ms: float) -> None:
        self._ttft_ms.append(ms)

    def recent_ttft_ms(self) -> float | None:
        """Median time to first token over the window, None before the first answer."""
        return statistics.median(self._ttft_ms) if self._ttft_ms else None

    def snapshot(self, *, queued: int | None = None, running: int | None = None) -> BackendLoad:
        """The load as the router sees it; the engine's own counts win when given."""
        return BackendLoad(
            queued=self.queued if queued is None else queued,
            running=self.running if running is None else running,
            recent_ttft_ms=self.recent_ttft_ms(),
            aborted_total=self.aborted_total,
        )
