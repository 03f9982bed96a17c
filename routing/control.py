"""``UsageControl``: the request pipeline's view of the ledger, budgets, rate limits and metrics.

One object per process, shared by every session (and later the gateway).
It turns the usage package's parts into the few calls the pipeline makes:
``admit`` before routing (rate limit, remaining budget), ``hold`` before a
cloud call (reserve the estimate), ``finish`` after it (settle or release,
record the ledger row, update the metrics). Database work runs in threads,
so the event loop never waits on the disk.

While the database is down (:class:`~routing.usage.outage.DatabaseHealth`)
``admit`` skips the budget read, and ``hold`` — the one step a cloud call
cannot go without — raises :class:`~routing.usage.errors.UsageUnavailable`
(fail closed, the default) or, with ``fail_open``, lets the call go
unreserved: its row is marked ``unsettled`` and its cost is charged to the
budget when the row reaches the database, any overspend logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import Counter

from routing.executor import Attempt
from routing.usage.budgets import BudgetManager, Reservation
from routing.usage.errors import BudgetExceeded, UsageUnavailable
from routing.usage.ledger import Ledger, LedgerEntry
from routing.usage.metrics import UsageMetrics
from routing.usage.outage import NOTICE, UNAVAILABLE, DatabaseHealth, is_unavailable, register_ledger_metrics
from routing.usage.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Admission:
    """May the request go, and with how much budget left."""

    allowed: bool
    reason: str = ""
    budget_remaining_usd: float | None = None
    notices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hold:
    """Money reserved for one cloud call (``reservation`` is None when nothing was reserved)."""

    reservation: Reservation | None
    blocked_reason: str = ""
    notices: tuple[str, ...] = ()
    unsettled: bool = False  # fail-open during an outage: nothing reserved, the cost is charged later


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything the ledger and the metrics need to know about one finished request."""

    request_id: str
    user: str
    team: str
    task: str
    scope_level: str
    target: str
    model: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    outcome: str = "ok"
    attempts: tuple[Attempt, ...] = ()
    prompt: str = ""
    usage_estimated: bool = False  # the server reported no usage; the counts are the backend's estimate
    workspace: str = ""  # the session's workspace root ("": unknown)
    reason: str = ""  # why the request failed or was denied ("": served)
    language: str = ""  # the request's tree-sitter language id ("": unknown or mixed)
    sensitive: bool = False  # kept on the premises because the code is sensitive


class UsageControl:
    def __init__(
        self,
        ledger: Ledger | None,
        budgets: BudgetManager | None,
        limiter: RateLimiter | None,
        metrics: UsageMetrics | None,
        *,
        fail_open: bool = False,
    ) -> None:
        self.ledger = ledger
        self.budgets = budgets
        self.limiter = limiter
        self.metrics = metrics
        self.fail_open = fail_open
        self.health: DatabaseHealth = ledger.health if ledger is not None else DatabaseHealth()
        if ledger is not None and budgets is not None:
            ledger.on_unsettled = self._charge_unsettled
        self._refusals: Counter | None = None
        if metrics is not None:
            journal = ledger.journal if ledger is not None else None
            self._refusals = register_ledger_metrics(
                metrics.registry, self.health, lambda: journal.entries if journal is not None else 0
            )

    def unavailable(self) -> UsageUnavailable:
        """The refusal of a request that needs the budget while the database is down (counted)."""
        if self._refusals is not None:
            self._refusals.inc()
        retry = self.health.retry_after_s
        return UsageUnavailable(
            f"{UNAVAILABLE}: requests that need a budget are refused until it is back (retry in {retry:.0f} s); "
            "local requests are served",
            retry_after_s=retry,
        )

    async def _budget_call(self, call: Callable[[], T]) -> T | None:
        """``call`` in a thread; None when the database is (or turns out to be) down."""
        if not self.health.available:
            return None
        try:
            return await asyncio.to_thread(call)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self.health.failed(exc)
            return None

    async def admit(self, user: str, team: str, estimated_tokens: int, *, may_cost: bool = True) -> Admission:
        """Rate limit and remaining budget for one request.

        ``may_cost=False`` (no target of the request's chain is a cloud target or has a price) skips the
        budget read: the remaining budget cannot change such a route, and reading it is a database round
        trip (two budget rows) that a local-only request does not need. Cloud calls are still held
        atomically in the database by :meth:`hold`.
        """
        if self.limiter is not None:
            decision = self.limiter.check(user, estimated_tokens)
            if not decision.allowed:
                if self.metrics is not None:
                    self.metrics.observe_rate_limited()
                return Admission(False, decision.reason or f"rate limited; retry in {decision.retry_after_s:.0f} s")
        if self.budgets is None or not may_cost:
            return Admission(True)
        budgets = self.budgets
        status = await self._budget_call(lambda: budgets.remaining(user, team))
        if status is None:  # the database is down: hold() decides for a cloud call
            return Admission(True)
        if self.metrics is not None and status.remaining_usd is not None and status.scope == "team":
            self.metrics.set_budget_remaining(team, status.remaining_usd)
        notices: tuple[str, ...] = ()
        if status.hard_exceeded:
            notices = (
                f"hybrid-assist: the monthly {status.scope} budget is spent; cloud features are off, local ones go on",
            )
        return Admission(True, budget_remaining_usd=status.remaining_usd, notices=notices)

    async def budget_summary(self, user: str, team: str) -> dict[str, object] | None:
        """Remaining budget of ``user`` (the tighter of theirs and their team's), or None without budgets."""
        if self.budgets is None:
            return None
        budgets = self.budgets
        status = await self._budget_call(lambda: budgets.remaining(user, team))
        if status is None or status.remaining_usd is None:
            return None
        return {
            "remaining_usd": round(status.remaining_usd, 6),
            "limit_usd": status.limit_usd,
            "scope": status.scope,
            "soft_exceeded": status.soft_exceeded,
            "hard_exceeded": status.hard_exceeded,
        }

    async def hold(self, user: str, team: str, estimate_usd: float) -> Hold:
        """Reserve ``estimate_usd`` for a cloud call; a refusal says why (the caller serves locally)."""
        if self.budgets is None or estimate_usd <= 0:
            return Hold(None)
        budgets = self.budgets
        try:
            reservation = await self._budget_call(lambda: budgets.reserve(user, team, estimate_usd))
        except BudgetExceeded as exc:
            if self.metrics is not None:
                self.metrics.observe_budget_blocked(getattr(exc, "scope", "user"))
            return Hold(None, blocked_reason=str(exc))
        if reservation is None:
            if not self.fail_open:
                raise self.unavailable()
            return Hold(None, notices=(NOTICE,), unsettled=True)
        return Hold(reservation, notices=reservation.warnings)

    async def finish(self, hold: Hold | None, outcome: Outcome) -> tuple[str, ...]:
        """Settle or release the hold, record the ledger row and the metrics; returns budget warnings."""
        warnings: tuple[str, ...] = ()
        unsettled = hold is not None and hold.unsettled
        if hold is not None and hold.reservation is not None and self.budgets is not None:
            try:
                if outcome.outcome == "ok":
                    warnings = await self.budgets.asettle(hold.reservation, outcome.cost_usd)
                else:
                    await self.budgets.arelease(hold.reservation)
            except Exception as exc:  # accounting must not break the answer; the ledger still has the row
                if is_unavailable(exc):  # the reservation expires; the cost is charged when the row is written
                    self.health.failed(exc)
                    unsettled = True
                else:
                    logger.exception("settling the budget of %s failed", outcome.request_id)
        if self.ledger is not None:
            self.ledger.submit(
                LedgerEntry(
                    request_id=outcome.request_id,
                    user=outcome.user,
                    team=outcome.team,
                    task=outcome.task,
                    target=outcome.target,
                    model=outcome.model,
                    scope_level=outcome.scope_level,
                    input_tokens=outcome.prompt_tokens,
                    cached_tokens=outcome.cached_tokens,
                    output_tokens=outcome.completion_tokens,
                    cost_usd=outcome.cost_usd,
                    latency_ms=outcome.latency_ms,
                    ttft_ms=outcome.ttft_ms,
                    outcome=outcome.outcome,
                    fallback_chain=tuple(a.target for a in outcome.attempts),
                    prompt_sha256=hashlib.sha256(outcome.prompt.encode("utf-8", "surrogatepass")).hexdigest(),
                    prompt=outcome.prompt if self.ledger.store_prompts else None,
                    usage_estimated=outcome.usage_estimated,
                    workspace=outcome.workspace,
                    reason=outcome.reason,
                    language=outcome.language,
                    sensitive=outcome.sensitive,
                    unsettled=unsettled and outcome.cost_usd > 0,
                )
            )
        if self.ledger is not None and not self.health.available and NOTICE not in warnings:
            warnings = (*warnings, NOTICE)  # the row waits (journal or memory); the user hears it once
        if self.metrics is not None:
            from inference.types import Usage

            self.metrics.observe_request(
                outcome.task,
                outcome.target,
                outcome.outcome,
                outcome.latency_ms / 1000.0,
                None if outcome.ttft_ms is None else outcome.ttft_ms / 1000.0,
                Usage(outcome.prompt_tokens, outcome.cached_tokens, outcome.completion_tokens),
                outcome.cost_usd,
            )
            for failed, served in zip(outcome.attempts, outcome.attempts[1:], strict=False):
                self.metrics.observe_fallback(failed.target, served.target)
        return warnings

    async def record_feedback(self, request_id: str, accepted: bool, task: str, kind: str = "completion") -> None:
        """An answer was accepted or not (``kind``: a completion, a code action's edit, a quick fix, a check):
        count it and note it on the ledger row."""
        if self.metrics is not None and kind == "completion":  # the metric counts completions' verdicts
            self.metrics.observe_feedback(accepted, task)
        if self.ledger is not None and request_id:
            try:
                await asyncio.to_thread(self.ledger.record_feedback, request_id, accepted, kind=kind)
            except Exception:
                logger.exception("recording feedback for %s failed", request_id)

    def _charge_unsettled(self, entries: Sequence[LedgerEntry]) -> None:
        """Charge rows served fail-open during an outage to their budgets (in the ledger's writer thread)."""
        assert self.budgets is not None
        for entry in entries:
            reservation = self.budgets.reserve(entry.user, entry.team, 0.0)  # a zero reservation always passes
            self.budgets.settle(reservation, entry.cost_usd)
            status = self.budgets.remaining(entry.user, entry.team)
            if status.remaining_usd is not None and status.remaining_usd < 0:
                logger.warning(
                    "budget overspent during the usage database outage: %s (%s) is $%.4f over its %s budget",
                    entry.user,
                    entry.team,
                    -status.remaining_usd,
                    status.scope,
                )

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
