"""A small rolling window of latencies, for :meth:`Backend.load`'s recent time to first token."""

from __future__ import annotations

import statistics
import threading
from collections import deque


class LatencyWindow:
    """The last ``size`` samples in milliseconds; :meth:`median` is None until one arrives.

    The median is kept until the next sample: the gateway asks for it twice a
    request (routing, then metrics) and sorting the window each time was
    measurable on its proxy path (issue 21.6).
    """

    def __init__(self, size: int = 64) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._median: float | None = None

    def add(self, millis: float) -> None:
        with self._lock:
            self._samples.append(millis)
            self._median = None

    def median(self) -> float | None:
        with self._lock:
            if self._median is None and self._samples:
                self._median = float(statistics.median(self._samples))
            return self._median

    def __len__(self) -> int:
        with self._lock:
            return len(self._samples)
