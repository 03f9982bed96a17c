"""Several OpenAI-compatible server URLs behind one backend: balancing, cool-down, re-admission.

:class:`EndpointPool` hands out the healthy endpoint with the fewest
outstanding requests (ties taken in turn). An endpoint that refuses a
connection or answers 5xx is marked unhealthy for ``cooldown_s``; once the
cool-down is over, the next :meth:`EndpointPool.acquire` health-checks it
and re-admits it only if the check passes. When no endpoint is healthy, the
cooling ones are checked at once instead of failing outright.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from inference.errors import UnavailableError

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Endpoint:
    """One server (internal, mutable): ``api_base`` ends in ``/v1``; ``root`` serves ``/health``."""

    api_base: str
    root: str
    outstanding: int = 0
    healthy: bool = True
    next_check_at: float = 0.0
    checking: bool = False

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """``http://h:8000/v1`` and ``http://h:8000`` both mean the same server."""
        clean = url.strip().rstrip("/")
        if clean.endswith("/v1"):
            return cls(api_base=clean, root=clean[: -len("/v1")])
        return cls(api_base=f"{clean}/v1", root=clean)


def split_base_urls(value: str | Sequence[str]) -> list[str]:
    """Base URLs from a comma-separated string or a list (blanks dropped)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


class EndpointPool:
    """Least-outstanding-requests choice over endpoints, with health-checked re-admission."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        check: Callable[[Endpoint], Awaitable[bool]],
        cooldown_s: float = 15.0,
        provider: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not endpoints:
            raise ValueError("an endpoint pool needs at least one base URL")
        self._endpoints = list(endpoints)
        self._check = check
        self._cooldown_s = cooldown_s
        self._provider = provider
        self._clock = clock
        self._turn = 0

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(self._endpoints)

    def __len__(self) -> int:
        return len(self._endpoints)

    def has_healthy(self) -> bool:
        return any(e.healthy for e in self._endpoints)

    async def acquire(self) -> Endpoint:
        """The endpoint for the next request (count it as outstanding until :meth:`release`)."""
        now = self._clock()
        await self._readmit([e for e in self._endpoints if not e.healthy and e.next_check_at <= now])
        if not self.has_healthy():
            await self._readmit([e for e in self._endpoints if not e.healthy])
        count = len(self._endpoints)
        order = [self._endpoints[(self._turn + i) % count] for i in range(count)]
        candidates = [e for e in order if e.healthy]
        if not candidates:
            raise UnavailableError(
                f"{self._provider}: none of the {count} server(s) is healthy "
                f"({', '.join(e.root for e in self._endpoints)})",
                provider=self._provider,
            )
        chosen = min(candidates, key=lambda e: e.outstanding)
        self._turn = (self._endpoints.index(chosen) + 1) % count
        chosen.outstanding += 1
        return chosen

    def release(self, endpoint: Endpoint) -> None:
        endpoint.outstanding = max(0, endpoint.outstanding - 1)

    def mark_unhealthy(self, endpoint: Endpoint, reason: str) -> None:
        """Take ``endpoint`` out of rotation for the cool-down."""
        if endpoint.healthy:
            logger.warning(
                "%s: %s marked unhealthy for %g s (%s)", self._provider, endpoint.root, self._cooldown_s, reason
            )
        endpoint.healthy = False
        endpoint.next_check_at = self._clock() + self._cooldown_s

    async def _readmit(self, due: Sequence[Endpoint]) -> None:
        for endpoint in due:
            if endpoint.checking:
                continue
            endpoint.checking = True
            try:
                passed = await self._check(endpoint)
            finally:
                endpoint.checking = False
            if passed:
                endpoint.healthy = True
                logger.info("%s: %s passed its health check; back in rotation", self._provider, endpoint.root)
            else:
                endpoint.next_check_at = self._clock() + self._cooldown_s
