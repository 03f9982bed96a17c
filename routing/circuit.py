"""Per-target circuit breakers: stop calling a provider that keeps failing, retry it after a cool-down."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    probe_at: float | None = None  # when the half-open circuit let its one probe through


class CircuitBreakers:
    """``closed`` -> (``threshold`` consecutive failures) -> ``open`` -> (``cooldown_s``) -> ``half_open``.

    In ``half_open`` one call is let through: success closes the circuit,
    failure opens it again for another cool-down. The others are refused while
    that probe runs (at 100 requests/s a provider that hangs would otherwise
    take every request of the moment it is retried); a probe that never
    reports (cancelled) is replaced after another cool-down.
    """

    def __init__(
        self, threshold: int = 3, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def state(self, target: str) -> str:
        circuit = self._circuits.get(target)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if self._clock() - circuit.opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def allows(self, target: str) -> bool:
        """May a call go to ``target`` now? In ``half_open`` only the one probe may (this call takes it)."""
        state = self.state(target)
        if state == "closed":
            return True
        if state == "open":
            return False
        circuit = self._circuits[target]
        now = self._clock()
        if circuit.probe_at is not None and now - circuit.probe_at < self.cooldown_s:
            return False
        circuit.probe_at = now
        return True

    def open_targets(self) -> frozenset[str]:
        return frozenset(t for t in self._circuits if self.state(t) == "open")

    def record_success(self, target: str) -> None:
        self._circuits.pop(target, None)

    def record_failure(self, target: str) -> None:
        circuit = self._circuits.setdefault(target, _Circuit())
        circuit.failures += 1
        if circuit.failures >= self.threshold or circuit.opened_at is not None:
            circuit.opened_at = self._clock()
            circuit.probe_at = None
