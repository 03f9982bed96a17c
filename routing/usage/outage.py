"""Whether the usage database is reachable, as every part of usage control last saw it.

:class:`DatabaseHealth` is one process's view: any database call that fails
because the database is unreachable (:func:`is_unavailable`) marks it down
with the reason; the ledger's journal thread probes it while it is down and
marks it up when a probe and the journal's drain succeed
(:mod:`routing.usage.journal`). While it is down, the failure policy holds
(``docs/GATEWAY.md``, "When the usage database is down"):

- requests that cannot cost money are served; their ledger rows go to the
  journal and reach the database when it is back, exactly once;
- requests that need the budget fail closed with
  :class:`~routing.usage.errors.UsageUnavailable` (HTTP 503 and
  ``Retry-After`` at the gateway), unless ``[budgets]
  on_database_unavailable = "fail_open"``;
- rate limits fall back to this process's buckets.

:func:`register_ledger_metrics` exports the state and the journal's size to
Prometheus (``hybrid_assist_ledger_available``,
``hybrid_assist_ledger_journal_entries``), which the sample alert rules in
``deploy/prometheus/`` watch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

logger = logging.getLogger(__name__)

#: What a client is told in the message of a refusal (a contract: docs/GATEWAY.md).
UNAVAILABLE = "usage database unavailable"
#: The one message a user sees while requests are served without the database (the editor shows it once).
NOTICE = (
    f"hybrid-assist: {UNAVAILABLE} (down, a read-only or a full disk); answers go on, "
    "and their usage is recorded (and charged to budgets) once it can be written"
)


def is_unavailable(exc: BaseException) -> bool:
    """Unreachable, restarting, locked or full database: the call may succeed later, unchanged."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@dataclass(frozen=True, slots=True)
class HealthState:
    """A snapshot: ``available``, why not (``reason``) and since when (``since``, time.time())."""

    available: bool
    reason: str = ""
    since: float = 0.0


class DatabaseHealth:
    """Thread-safe up/down state of the usage database, with the ``Retry-After`` to give clients."""

    def __init__(self, retry_after_s: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = HealthState(True)

    @property
    def available(self) -> bool:
        return self._state.available

    def state(self) -> HealthState:
        return self._state

    def failed(self, exc: BaseException | str) -> None:
        """A call found the database unreachable: down from now (the first reason is kept)."""
        reason = (
            exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        with self._lock:
            if not self._state.available:
                return
            self._state = HealthState(False, reason, self._clock())
        logger.error("%s (%s); local requests go on, their rows are journalled", UNAVAILABLE, reason)

    def recovered(self) -> None:
        """A probe reached the database and the journal was written: up again."""
        with self._lock:
            if self._state.available:
                return
            down_s = self._clock() - self._state.since
            self._state = HealthState(True, "", self._clock())
        logger.warning("the usage database is reachable again after %.1f s", down_s)


def register_ledger_metrics(
    registry: CollectorRegistry, health: DatabaseHealth, journal_entries: Callable[[], int]
) -> Counter:
    """Gauges read at scrape time (the database's state, the journal's backlog); returns the refusals' counter."""
    Gauge(
        "hybrid_assist_ledger_available",
        "1 while the usage database (ledger, budgets) is reachable, 0 while it is down.",
        registry=registry,
    ).set_function(lambda: 1.0 if health.available else 0.0)
    Gauge(
        "hybrid_assist_ledger_journal_entries",
        "Ledger rows kept in the local journal, waiting for the usage database.",
        registry=registry,
    ).set_function(lambda: float(journal_entries()))
    return Counter(
        "hybrid_assist_usage_unavailable_refusals",
        "Requests refused (fail closed) because they needed the budget while the usage database was down.",
        registry=registry,
    )
