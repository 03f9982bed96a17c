"""Monthly cloud budgets per user and per team, enforced by reserving before a call and settling after.

A call's estimated cost is *reserved* before it starts: in one database
transaction, a conditional ``UPDATE budget_periods SET reserved = reserved + :x
WHERE spent + reserved + :x <= :limit`` on the user's and the team's row. If
either row refuses, the transaction rolls back and :class:`BudgetExceeded` is
raised — the cloud is blocked, the local engine still serves (a zero estimate
always passes). After the call the real cost is *settled* (the reservation is
swapped for the actual spend) or *released* if the call failed. Because the
check and the increment are one atomic statement on a row the database locks,
concurrent requests in any number of threads, processes or replicas sharing
the database cannot reserve past the limit; only a settled cost larger than
its estimate can overshoot, by that difference.

Periods are calendar months in UTC (``"2025-06"``). A reservation is settled
into the month it was made in. Crossing ``soft_fraction`` of a budget warns
once per month and budget — once across all processes, since the flag is
flipped by the same kind of conditional update. Money is whole nano-dollars
in the database (exact sums); the API speaks US dollars.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Row, delete, select, update

from routing.usage.database import insert_ignoring_conflicts, write_transaction
from routing.usage.errors import BudgetExceeded
from routing.usage.models import budget_limits, budget_periods, budget_reservations, to_nanos, to_usd
from routing.usage.settings import BudgetSettings

logger = logging.getLogger(__name__)

Scope = Literal["user", "team"]
_SCOPES = ("user", "team")
_SWEEP_EVERY_S = 60.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def period_of(moment: datetime) -> str:
    """The budget period (UTC calendar month, ``"YYYY-MM"``) ``moment`` falls in."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"{utc.year:04d}-{utc.month:02d}"


def next_period_start(period: str) -> datetime:
    year, month = (int(part) for part in period.split("-"))
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where a user stands against the tighter of their own and their team's budget."""

    remaining_usd: float | None  # None: no budget applies (what routing.policy expects)
    soft_exceeded: bool
    hard_exceeded: bool
    limit_usd: float | None  # the binding budget's monthly limit
    scope: str = ""  # "user" or "team": whose budget binds
    name: str = ""
    period: str = ""


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    """One user's or team's money in one month (whole nano-dollars; the ``*_usd`` properties convert)."""

    scope: str
    name: str
    period: str
    limit_nanousd: int | None  # None: no budget
    soft_fraction: float
    spent_nanousd: int
    reserved_nanousd: int
    soft_warned: bool

    @property
    def used_nanousd(self) -> int:
        return self.spent_nanousd + self.reserved_nanousd

    @property
    def limit_usd(self) -> float | None:
        return None if self.limit_nanousd is None else to_usd(self.limit_nanousd)

    @property
    def spent_usd(self) -> float:
        return to_usd(self.spent_nanousd)

    @property
    def reserved_usd(self) -> float:
        return to_usd(self.reserved_nanousd)

    @property
    def remaining_usd(self) -> float | None:
        if self.limit_nanousd is None:
            return None
        return to_usd(max(0, self.limit_nanousd - self.used_nanousd))

    @property
    def soft_exceeded(self) -> bool:
        return self.limit_nanousd is not None and self.used_nanousd >= int(self.limit_nanousd * self.soft_fraction)

    @property
    def hard_exceeded(self) -> bool:
        return self.limit_nanousd is not None and self.used_nanousd >= self.limit_nanousd


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money held for one call in flight; settle or release it exactly once."""

    id: str
    user: str
    team: str
    period: str
    amount_nanousd: int
    warnings: tuple[str, ...] = ()  # soft-limit warnings this reservation triggered (say them to the user)

    @property
    def amount_usd(self) -> float:
        return to_usd(self.amount_nanousd)


class BudgetManager:
    """Budgets on the usage database, shared by every process and replica that opens it."""

    def __init__(
        self,
        engine: Engine,
        settings: BudgetSettings | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings or BudgetSettings()
        self._clock = clock
        self._last_sweep = time.monotonic()

    @classmethod
    def from_settings(cls, engine: Engine, settings: BudgetSettings, **kw: Callable[[], datetime]) -> BudgetManager:
        """A manager whose ``[budgets.users]`` and ``[budgets.teams]`` entries are written to the database."""
        manager = cls(engine, settings, **kw)
        for name, usd in settings.users.items():
            manager.set_budget("user", name, usd, settings.soft_fraction)
        for name, usd in settings.teams.items():
            manager.set_budget("team", name, usd, settings.soft_fraction)
        return manager

    # --- administration ----------------------------------------------------------------------------------------

    def set_budget(self, scope: Scope, name: str, monthly_usd: float, soft_fraction: float = 0.8) -> None:
        """Set (or replace) the monthly budget of one user or team."""
        _check_scope(scope)
        if monthly_usd < 0 or not 0 < soft_fraction <= 1:
            raise ValueError("monthly_usd must be >= 0 and soft_fraction in (0, 1]")
        values = {"monthly_limit_nanousd": to_nanos(monthly_usd), "soft_fraction": soft_fraction}
        with write_transaction(self.engine) as connection:
            connection.execute(
                insert_ignoring_conflicts(connection, budget_limits, ["scope", "name"]).values(
                    scope=scope, name=name, **values
                )
            )
            connection.execute(
                update(budget_limits).where(budget_limits.c.scope == scope, budget_limits.c.name == name).values(values)
            )

    def remove_budget(self, scope: Scope, name: str) -> None:
        """Drop a budget set with :meth:`set_budget` (the ``[budgets]`` default applies again)."""
        with write_transaction(self.engine) as connection:
            connection.execute(
                delete(budget_limits).where(budget_limits.c.scope == scope, budget_limits.c.name == name)
            )

    # --- reading -----------------------------------------------------------------------------------------------

    def usage(self, scope: Scope, name: str, period: str | None = None) -> PeriodUsage:
        """Limit, spent and reserved money of one user or team in ``period`` (default: this month)."""
        _check_scope(scope)
        period = period or period_of(self._clock())
        with self.engine.connect() as connection:
            return self._usage(connection, scope, name, period)

    def remaining(self, user: str, team: str) -> BudgetStatus:
        """The tighter of the user's and the team's budget this month."""
        period = period_of(self._clock())
        with self.engine.connect() as connection:
            usages = [self._usage(connection, "user", user, period), self._usage(connection, "team", team, period)]
        limited = [u for u in usages if u.limit_nanousd is not None]
        if not limited:
            return BudgetStatus(None, False, False, None, period=period)
        binding = min(limited, key=lambda u: (u.limit_nanousd or 0) - u.used_nanousd)
        return BudgetStatus(
            remaining_usd=binding.remaining_usd,
            soft_exceeded=any(u.soft_exceeded for u in limited),
            hard_exceeded=any(u.hard_exceeded for u in limited),
            limit_usd=binding.limit_usd,
            scope=binding.scope,
            name=binding.name,
            period=period,
        )

    # --- reserving and settling --------------------------------------------------------------------------------

    def reserve(self, user: str, team: str, estimate_usd: float) -> Reservation:
        """Hold ``estimate_usd`` against the user's and the team's budget, or raise :class:`BudgetExceeded`."""
        amount = to_nanos(estimate_usd)
        if amount < 0:
            raise ValueError("a cost estimate cannot be negative")
        self._sweep_if_due()
        period = period_of(self._clock())
        warnings: list[str] = []
        p = budget_periods.c
        with write_transaction(self.engine) as connection:
            for scope, name in _keys(user, team):
                limit, soft_fraction = self._limit(connection, scope, name)
                where = [p.scope == scope, p.name == name, p.period == period]
                if limit is not None and amount > 0:
                    where.append(p.spent_nanousd + p.reserved_nanousd + amount <= limit)
                statement = (
                    update(budget_periods)
                    .where(*where)
                    .values(reserved_nanousd=p.reserved_nanousd + amount)
                    .returning(p.spent_nanousd, p.reserved_nanousd, p.soft_warned)
                )
                row = connection.execute(statement).first()
                if row is None:  # no row yet this month, or over the limit: make sure it exists, then try again
                    self._ensure_period(connection, scope, name, period)
                    row = connection.execute(statement).first()
                if row is None:
                    assert limit is not None
                    raise self._exceeded(connection, scope, name, period, limit, amount)
                warnings += self._warn_once(connection, scope, name, period, limit, soft_fraction, row)
            reservation = Reservation(str(uuid.uuid4()), user, team, period, amount, tuple(warnings))
            connection.execute(
                budget_reservations.insert().values(
                    id=reservation.id,
                    user_name=user,
                    team=team,
                    period=period,
                    amount_nanousd=amount,
                    created_at=_naive(self._clock()),
                )
            )
        return reservation

    def settle(self, reservation: Reservation, actual_usd: float) -> tuple[str, ...]:
        """Replace the reservation by the call's real cost; returns soft-limit warnings it triggered."""
        actual = to_nanos(actual_usd)
        if actual < 0:
            raise ValueError("a cost cannot be negative")
        warnings: list[str] = []
        p = budget_periods.c
        with write_transaction(self.engine) as connection:
            held = self._take_reservation(connection, reservation.id)
            for scope, name in _keys(reservation.user, reservation.team):
                statement = (
                    update(budget_periods)
                    .where(p.scope == scope, p.name == name, p.period == reservation.period)
                    .values(spent_nanousd=p.spent_nanousd + actual, reserved_nanousd=p.reserved_nanousd - held)
                    .returning(p.spent_nanousd, p.reserved_nanousd, p.soft_warned)
                )
                row = connection.execute(statement).first()
                if row is None:
                    self._ensure_period(connection, scope, name, reservation.period)
                    row = connection.execute(statement).first()
                limit, soft_fraction = self._limit(connection, scope, name)
                warnings += self._warn_once(connection, scope, name, reservation.period, limit, soft_fraction, row)
        return tuple(warnings)

    def release(self, reservation: Reservation) -> None:
        """Give the reserved money back (the call failed or went to the local engine)."""
        with write_transaction(self.engine) as connection:
            self._unreserve(connection, reservation.id, reservation.user, reservation.team, reservation.period)

    def expire_stale(self) -> int:
        """Release reservations older than ``reservation_ttl_s`` (left by crashed processes); how many."""
        cutoff = _naive(self._clock()) - timedelta(seconds=self.settings.reservation_ttl_s)
        r = budget_reservations.c
        with self.engine.connect() as connection:
            stale = connection.execute(
                select(r.id, r.user_name, r.team, r.period).where(r.created_at < cutoff).order_by(r.created_at)
            ).all()
        released = 0
        for row in stale:  # one transaction each, rows locked in the same order as reserve/settle: no deadlocks
            with write_transaction(self.engine) as connection:
                released += self._unreserve(connection, *row)
        if released:
            logger.warning(
                "released %d budget reservations abandoned for %.0f s", released, self.settings.reservation_ttl_s
            )
        return released

    async def areserve(self, user: str, team: str, estimate_usd: float) -> Reservation:
        """:meth:`reserve` in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.reserve, user, team, estimate_usd)

    async def asettle(self, reservation: Reservation, actual_usd: float) -> tuple[str, ...]:
        return await asyncio.to_thread(self.settle, reservation, actual_usd)

    async def arelease(self, reservation: Reservation) -> None:
        await asyncio.to_thread(self.release, reservation)

    # --- internals ---------------------------------------------------------------------------------------------

    def _sweep_if_due(self) -> None:
        if time.monotonic() - self._last_sweep >= _SWEEP_EVERY_S:
            self._last_sweep = time.monotonic()
            self.expire_stale()

    def _limit(self, connection: Connection, scope: str, name: str) -> tuple[int | None, float]:
        row = connection.execute(
            select(budget_limits.c.monthly_limit_nanousd, budget_limits.c.soft_fraction).where(
                budget_limits.c.scope == scope, budget_limits.c.name == name
            )
        ).first()
        if row is not None:
            return int(row.monthly_limit_nanousd), float(row.soft_fraction)
        default = self.settings.user_monthly_usd if scope == "user" else self.settings.team_monthly_usd
        return (to_nanos(default) if default > 0 else None), self.settings.soft_fraction

    def _usage(self, connection: Connection, scope: str, name: str, period: str) -> PeriodUsage:
        limit, soft_fraction = self._limit(connection, scope, name)
        p = budget_periods.c
        row = connection.execute(
            select(p.spent_nanousd, p.reserved_nanousd, p.soft_warned).where(
                p.scope == scope, p.name == name, p.period == period
            )
        ).first()
        return PeriodUsage(
            scope=scope,
            name=name,
            period=period,
            limit_nanousd=limit,
            soft_fraction=soft_fraction,
            spent_nanousd=int(row.spent_nanousd) if row else 0,
            reserved_nanousd=int(row.reserved_nanousd) if row else 0,
            soft_warned=bool(row.soft_warned) if row else False,
        )

    @staticmethod
    def _ensure_period(connection: Connection, scope: str, name: str, period: str) -> None:
        """Create the month's row if missing. On PostgreSQL a concurrent creator's insert is waited for."""
        connection.execute(
            insert_ignoring_conflicts(connection, budget_periods, ["scope", "name", "period"]).values(
                scope=scope, name=name, period=period, spent_nanousd=0, reserved_nanousd=0, soft_warned=False
            )
        )

    @staticmethod
    def _take_reservation(connection: Connection, reservation_id: str) -> int:
        """Delete the reservation row; the amount still held (0 if it was already settled, released or expired)."""
        r = budget_reservations.c
        amount = connection.execute(
            delete(budget_reservations).where(r.id == reservation_id).returning(r.amount_nanousd)
        ).scalar()
        return 0 if amount is None else int(amount)

    def _unreserve(self, connection: Connection, reservation_id: str, user: str, team: str, period: str) -> int:
        held = self._take_reservation(connection, reservation_id)
        if held:
            p = budget_periods.c
            for scope, name in _keys(user, team):
                connection.execute(
                    update(budget_periods)
                    .where(p.scope == scope, p.name == name, p.period == period)
                    .values(reserved_nanousd=p.reserved_nanousd - held)
                )
        return 1 if held else 0

    def _warn_once(
        self,
        connection: Connection,
        scope: str,
        name: str,
        period: str,
        limit: int | None,
        soft_fraction: float,
        row: Row[Any] | None,
    ) -> list[str]:
        """Flip the month's ``soft_warned`` flag if ``row`` (spent, reserved, warned) crossed the threshold."""
        if limit is None or row is None or row.soft_warned:
            return []
        used = int(row.spent_nanousd) + int(row.reserved_nanousd)
        if used < int(limit * soft_fraction):
            return []
        p = budget_periods.c
        flipped = connection.execute(
            update(budget_periods)
            .where(p.scope == scope, p.name == name, p.period == period, p.soft_warned.is_(False))
            .values(soft_warned=True)
        ).rowcount
        if flipped != 1:
            return []
        message = (
            f"{scope} {name!r} has used ${to_usd(used):.2f} of its ${to_usd(limit):.2f} monthly cloud budget "
            f"({soft_fraction:.0%} warning); past the limit, requests are served by the local engine only"
        )
        logger.warning("%s", message)
        return [message]

    def _exceeded(
        self, connection: Connection, scope: str, name: str, period: str, limit: int, amount: int
    ) -> BudgetExceeded:
        p = budget_periods.c
        used = connection.execute(
            select(p.spent_nanousd + p.reserved_nanousd).where(p.scope == scope, p.name == name, p.period == period)
        ).scalar_one()
        reopen = next_period_start(period).date().isoformat()
        message = (
            f"the monthly cloud budget of {scope} {name!r} is used up (${to_usd(used):.2f} of ${to_usd(limit):.2f} "
            f"spent or reserved; this request needs ${to_usd(amount):.4f}); cloud requests are blocked until "
            f"{reopen} and the local engine still serves. Ask for a higher [budgets] limit to lift it."
        )
        return BudgetExceeded(message, scope=scope, name=name, limit_usd=to_usd(limit), used_usd=to_usd(used))


def _keys(user: str, team: str) -> list[tuple[str, str]]:
    """The rows one request touches, always in the same order (no lock-order deadlocks)."""
    return sorted({("team", team), ("user", user)})


def _check_scope(scope: str) -> None:
    if scope not in _SCOPES:
        raise ValueError(f"budget scope must be 'user' or 'team', not {scope!r}")


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
