"""Per-target circuit breakers: stop calling a provider that keeps failing, retry it after a cool-down."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: float | None = None


class CircuitBreakers:
    """``closed`` -> (``threshold`` consecutive failures) -> ``open`` -> (``cooldown_s``) -> ``half_open``.

    In ``half_open`` one call is let through: success closes the circuit,
    failure opens it again for another cool-down.
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
        return self.state(target) != "open"

    def open_targets(self) -> frozenset[str]:
        return frozenset(t for t in self._circuits if self.state(t) == "open")

    def record_success(self, target: str) -> None:
        self._circuits.pop(target, None)

    def record_failure(self, target: str) -> None:
        circuit = self._circuits.setdefault(target, _Circuit())
        circuit.failures += 1
        if circuit.failures >= self.threshold or circuit.opened_at is not None:
            circuit.opened_at = self._clock()
