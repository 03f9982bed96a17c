"""Per-user rate limits: token buckets on requests per minute and tokens per minute.

Each user has two buckets whose size is the per-minute limit and which refill
continuously at limit/60 per second; a request takes one request and its
estimated tokens from them, or neither. A request larger than the whole token
bucket is let through when the bucket is full and leaves it in debt (so one
big repository-wide request is slow to repeat, not impossible). A limit of 0
means unlimited.

Two implementations of :class:`RateLimiter`:

- :class:`InProcessRateLimiter`: a dict and a lock; for one process.
- :class:`DatabaseRateLimiter`: one ``rate_limit_buckets`` row per user,
  read and written in one locked transaction; every replica on the same
  database enforces one limit.

Cost: ``memory`` (the default) takes no I/O and is the fast option; with
several replicas each enforces the limit on its own share of the traffic.
``database`` costs one write transaction per request (a locked SELECT and an
UPDATE on prebuilt statements, run in a worker thread; on SQLite every write
is serialised) and is what to use when the limit must hold across replicas.

Both take an injectable clock, so refill is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, bindparam, select, update

from routing.usage.database import insert_ignoring_conflicts, write_transaction
from routing.usage.models import rate_limit_buckets
from routing.usage.outage import is_unavailable
from routing.usage.settings import LimitsSettings

logger = logging.getLogger(__name__)

_MAX_IDLE_BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a request may go now; if not, when to retry and why (a sentence for the user)."""

    allowed: bool
    retry_after_s: float = 0.0
    reason: str = ""


class RateLimiter(Protocol):
    def check(self, user: str, tokens: int) -> RateDecision:
        """Take one request and ``tokens`` from ``user``'s buckets, or say why not."""
        ...


@dataclass(frozen=True, slots=True)
class BucketState:
    requests: float
    tokens: float
    updated_at: float


def take(state: BucketState | None, now: float, rpm: int, tpm: int, tokens: int) -> tuple[RateDecision, BucketState]:
    """The pure token-bucket step: refill ``state`` up to ``now``, then try to take one request and ``tokens``."""
    if state is None:
        state = BucketState(float(rpm), float(tpm), now)
    elapsed = max(0.0, now - state.updated_at)
    requests = min(float(rpm), state.requests + elapsed * rpm / 60.0)
    level = min(float(tpm), state.tokens + elapsed * tpm / 60.0)
    need_requests = 1.0 if rpm else 0.0
    need_tokens = float(min(max(tokens, 0), tpm)) if tpm else 0.0
    if requests >= need_requests and level >= need_tokens:
        return RateDecision(True), BucketState(requests - need_requests, level - (tokens if tpm else 0), now)
    waits = []
    reasons = []
    if requests < need_requests:
        waits.append((need_requests - requests) * 60.0 / rpm)
        reasons.append(f"{rpm} requests per minute")
    if level < need_tokens:
        waits.append((need_tokens - level) * 60.0 / tpm)
        reasons.append(f"{tpm} tokens per minute")
    retry = math.ceil(max(waits) * 1000) / 1000
    reason = f"rate limit of {' and '.join(reasons)} reached; retry in {retry:.1f} s"
    return RateDecision(False, retry, reason), BucketState(requests, level, now)


class InProcessRateLimiter:
    """Token buckets in this process's memory."""

    def __init__(self, settings: LimitsSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, BucketState] = {}

    def check(self, user: str, tokens: int) -> RateDecision:
        if not self.settings.enabled:
            return RateDecision(True)
        rpm, tpm = self.settings.for_user(user)
        if not rpm and not tpm:
            return RateDecision(True)
        with self._lock:
            now = self._clock()
            decision, state = take(self._buckets.get(user), now, rpm, tpm, tokens)
            self._buckets[user] = state
            if len(self._buckets) > _MAX_IDLE_BUCKETS:
                self._forget_full(now)
        return decision

    def _forget_full(self, now: float) -> None:
        """Drop buckets idle long enough to be full again: forgetting them changes nothing."""
        for user in [u for u, s in self._buckets.items() if now - s.updated_at >= 60.0]:
            del self._buckets[user]


class DatabaseRateLimiter:
    """Token buckets in the usage database, shared by every process and replica on it.

    The clock must be comparable across machines (the default is wall-clock
    time); a clock that steps backwards only delays refill. While the
    database is unreachable, this process's own buckets
    (:class:`InProcessRateLimiter`, same limits) decide, so a limit still
    holds per replica and local requests are not refused for the outage.
    """

    def __init__(self, engine: Engine, settings: LimitsSettings, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.settings = settings
        self._clock = clock
        self._fallback = InProcessRateLimiter(settings)
        self._degraded = False
        # Built once: constructing and coercing the statements cost more CPU than running them.
        b = rate_limit_buckets.c
        self._select = (
            select(b.requests, b.tokens, b.updated_at).where(b.user_name == bindparam("user")).with_for_update()
        )
        self._update = (
            update(rate_limit_buckets)
            .where(b.user_name == bindparam("user"))
            .values(
                requests=bindparam("new_requests"),
                tokens=bindparam("new_tokens"),
                updated_at=bindparam("new_updated_at"),
            )
        )

    def check(self, user: str, tokens: int) -> RateDecision:
        if not self.settings.enabled:
            return RateDecision(True)
        rpm, tpm = self.settings.for_user(user)
        if not rpm and not tpm:
            return RateDecision(True)
        try:
            decision = self._check(user, tokens, rpm, tpm)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            if not self._degraded:
                self._degraded = True
                logger.warning("rate limits are checked in this process while the usage database is unreachable")
            return self._fallback.check(user, tokens)
        self._degraded = False
        return decision

    def _check(self, user: str, tokens: int, rpm: int, tpm: int) -> RateDecision:
        key = {"user": user}
        with write_transaction(self.engine) as connection:
            row = connection.execute(self._select, key).first()
            now = self._clock()
            if row is None:
                connection.execute(
                    insert_ignoring_conflicts(connection, rate_limit_buckets, ["user_name"]).values(
                        user_name=user, requests=float(rpm), tokens=float(tpm), updated_at=now
                    )
                )
                row = connection.execute(self._select, key).one()
            decision, state = take(BucketState(row.requests, row.tokens, row.updated_at), now, rpm, tpm, tokens)
            connection.execute(
                self._update,
                {
                    "user": user,
                    "new_requests": state.requests,
                    "new_tokens": state.tokens,
                    "new_updated_at": state.updated_at,
                },
            )
        return decision

    async def acheck(self, user: str, tokens: int) -> RateDecision:
        """:meth:`check` in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.check, user, tokens)


def build_rate_limiter(settings: LimitsSettings, engine: Engine | None = None) -> RateLimiter:
    """The limiter ``[limits] backend`` asks for; ``database`` needs the ledger's engine."""
    if settings.backend == "database":
        if engine is None:
            raise ValueError("[limits] backend = 'database' needs the ledger database")
        return DatabaseRateLimiter(engine, settings)
    return InProcessRateLimiter(settings)
