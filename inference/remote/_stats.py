"""A small rolling window of latencies, for :meth:`Backend.load`'s recent time to first token."""

from __future__ import annotations

import statistics
import threading
from collections import deque


class LatencyWindow:
    """The last ``size`` samples in milliseconds; :meth:`median` is None until one arrives."""

    def __init__(self, size: int = 64) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, millis: float) -> None:
        with self._lock:
            self._samples.append(millis)

    def median(self) -> float | None:
        with self._lock:
            if not self._samples:
                return None
            return float(statistics.median(self._samples))

    def __len__(self) -> int:
        with self._lock:
            return len(self._samples)
