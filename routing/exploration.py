"""The exploration share: a few eligible requests served by the other side, so both sides' estimates stay fresh.

Routing that learns (:mod:`routing.learning`) compares the local engine's
success rate with the cloud's per cell; once the policy sends a cell one way,
the other side would get no more samples. ``[routing] exploration_share``
(default 2 %) sends every ``round(1 / share)``-th *eligible* request of a task
(counted per process, so it is deterministic: no random draw) to the other
side — :func:`routing.policy.explore` promotes the decision's first fallback
of the other side, so it never adds a target the policy did not already allow.
Eligible: not sensitive code, not a completion, no model named by the client,
and a fallback of the other side in the decision's chain. Exploring towards
the cloud stops for the month once ``[routing] exploration_budget_usd`` is
spent; towards local it costs nothing and goes on. The month's explored cloud
cost is read from the ledger, which every gateway replica writes, at most
every :data:`RELOAD_S` seconds, and this process's own explored cost is added
between reads, so replicas share one budget (overshooting it by at most what
they explore within one interval). The ledger row of an explored request
says reason ``explore``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select

from routing.policy import RouteDecision, RouteInput, exploration_target, explore
from routing.settings import RoutingSettings
from routing.usage.ledger import Ledger, requests_in
from routing.usage.models import ledger_requests, to_usd

#: The ledger reason of an explored request (``routing.learning`` counts them).
EXPLORE_REASON = "explore"
#: Seconds between reads of the month's explored cost from the ledger (the replicas' shared count).
RELOAD_S = 60.0


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def explored_cost(ledger: Ledger, since: datetime) -> float:
    """Dollars the explored requests since ``since`` cost (their ledger rows' cost)."""
    query = (
        select(func.coalesce(func.sum(ledger_requests.c.cost_nanousd), 0))
        .where(*requests_in(since, None))
        .where(ledger_requests.c.reason == EXPLORE_REASON)
    )
    with ledger.engine.connect() as connection:
        return to_usd(int(connection.execute(query).scalar_one()))


class Exploration:
    """Which requests explore, and the month's cloud spend on them (one per :class:`RoutingService`)."""

    def __init__(self, ledger: Ledger | None = None) -> None:
        self.ledger = ledger
        self._eligible: Counter[str] = Counter()
        self._month: datetime | None = None
        self._spent_usd = 0.0
        self._read_at = 0.0  # time.monotonic() of the last read from the ledger
        self._lock = threading.Lock()

    async def choose(
        self, request: RouteInput, decision: RouteDecision, routing: RoutingSettings, now: datetime | None = None
    ) -> RouteDecision:
        """``decision``, or the explored one when this eligible request is the task's turn (see the module)."""
        share = routing.exploration_share
        other = exploration_target(decision, request) if share > 0 else None
        if other is None:
            return decision
        period = max(1, round(1 / share))
        with self._lock:
            self._eligible[request.task.value] += 1
            turn = self._eligible[request.task.value] % period == 0
        if not turn:
            return decision
        if other.cloud:
            budget = routing.exploration_budget_usd
            spent = await self.spent_usd(now or datetime.now(UTC))
            if budget <= 0 or spent + other.cost_usd > budget:
                return decision
        return explore(decision, other)

    async def spent_usd(self, now: datetime) -> float:
        """The month's explored cloud cost: the ledger's (every replica's), re-read every :data:`RELOAD_S`, plus
        what this process explored since (rows not yet written count here only)."""
        month = month_start(now)
        new_month = self._month != month
        if new_month or time.monotonic() - self._read_at >= RELOAD_S:
            read: float | None = None
            if self.ledger is not None:
                with contextlib.suppress(Exception):  # the ledger is down: keep counting here; the budget still caps
                    read = await asyncio.to_thread(explored_cost, self.ledger, month)
            with self._lock:
                self._read_at = time.monotonic()
                if new_month:
                    self._month, self._spent_usd = month, read or 0.0
                elif read is not None:  # the shared count, never below what this process has counted itself
                    self._spent_usd = max(self._spent_usd, read)
        return self._spent_usd

    def spent(self, cost_usd: float) -> None:
        """An explored request cost this much."""
        with self._lock:
            self._spent_usd += cost_usd
