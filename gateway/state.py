"""``Gateway``: everything one gateway process shares, and how it is built from the settings.

One :class:`~routing.runtime.RoutingRuntime` (engines, providers, circuit
breakers), one :class:`~routing.service.RoutingService`, the usage control
(ledger, budgets and metrics on the ``[ledger] url`` database), the rate
limiter (checked by the gateway itself so a refusal can be a 429 with
``Retry-After``), and the users/keys store with its authentication cache.
It is built at the top, by the composition root
(:func:`hybrid_assist.gateway_app.build_gateway`); the gateway reads the
configuration through :class:`~gateway.settings.GatewaySettings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from gateway.auth import Authenticator, Principal
from gateway.errors import ApiError
from gateway.metrics import GatewayMetrics
from gateway.settings import GatewaySettings
from gateway.store import UserStore
from routing.control import UsageControl
from routing.runtime import RoutingRuntime
from routing.service import RoutingService
from routing.usage.adoptions import Adoption
from routing.usage.budgets import BudgetManager
from routing.usage.ledger import Ledger
from routing.usage.metrics import UsageMetrics
from routing.usage.ratelimit import DatabaseRateLimiter, RateLimiter

logger = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: GatewaySettings
    runtime: RoutingRuntime
    service: RoutingService
    usage: UsageControl
    limiter: RateLimiter | None
    store: UserStore
    auth: Authenticator
    usage_metrics: UsageMetrics
    metrics: GatewayMetrics
    engine: Engine
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    #: Adopts a learned routing overlay (its TOML text, who adopts it, the proposal's summary): a row of the usage
    #: database every replica follows, the overlay file the loader reads, and its rules into :attr:`settings`;
    #: returns the path written and the row. Set by the composition root (None: cannot adopt).
    adopt_learned: Callable[[str, str, str], tuple[str, Adoption | None]] | None = None
    #: Started as tasks by the app's lifespan, cancelled at shutdown (e.g. following the adopted learned overlay).
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)

    @property
    def ledger(self) -> Ledger | None:
        return self.usage.ledger

    @property
    def budgets(self) -> BudgetManager | None:
        return self.usage.budgets

    async def admit(self, principal: Principal, estimated_tokens: int) -> None:
        """Take from the caller's rate-limit buckets, or raise 429 with ``Retry-After``."""
        if self.limiter is None:
            return
        if isinstance(self.limiter, DatabaseRateLimiter):
            decision = await asyncio.to_thread(self.limiter.check, principal.name, estimated_tokens)
        else:
            decision = self.limiter.check(principal.name, estimated_tokens)
        if not decision.allowed:
            self.usage_metrics.observe_rate_limited()
            retry = max(1, math.ceil(decision.retry_after_s))
            raise ApiError(429, "rate_limited", decision.reason, {"Retry-After": str(retry)})

    def track(self, task: asyncio.Task[Any]) -> None:
        """Keep ``task`` (a request's serve task) alive until it ends, so shutdown can wait for it."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        """Cancel what is still running, stop the engines and flush the ledger."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait(list(self.tasks), timeout=10.0)
        await self.service.close()
        self.engine.dispose()
