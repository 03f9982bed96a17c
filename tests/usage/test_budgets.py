"""Budgets: reservations near the limit under concurrency, settle/release, warnings, hard limit, rollover."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from routing.usage.budgets import BudgetManager, Reservation, period_of
from routing.usage.errors import BudgetExceeded
from routing.usage.models import to_nanos
from routing.usage.settings import BudgetSettings

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 6, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
def budgets(engine: Engine, clock: Clock) -> BudgetManager:
    return BudgetManager(engine, clock=clock)


def fill(budgets: BudgetManager, user: str, team: str, usd: float) -> None:
    budgets.settle(budgets.reserve(user, team, usd), usd)


def test_200_concurrent_threads_never_reserve_past_the_limit(budgets: BudgetManager) -> None:
    budgets.set_budget("team", "core", 10.0)
    fill(budgets, "seed", "core", 9.0)  # $1.00 left; 200 x $0.013 asked, 76 fit
    start = threading.Barrier(64)
    granted: list[Reservation] = []
    refused: list[BudgetExceeded] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        if i < 64:
            start.wait()
        try:
            reservation = budgets.reserve(f"dev{i}", "core", 0.013)
            with lock:
                granted.append(reservation)
        except BudgetExceeded as exc:
            with lock:
                refused.append(exc)

    with ThreadPoolExecutor(64) as pool:
        list(pool.map(attempt, range(200)))

    usage = budgets.usage("team", "core")
    assert len(granted) + len(refused) == 200
    assert len(granted) == to_nanos(1.0) // to_nanos(0.013) == 76  # exactly as many as fit: no overspend
    assert usage.used_nanousd == to_nanos(9.0) + 76 * to_nanos(0.013) <= to_nanos(10.0)
    assert all(e.scope == "team" and e.name == "core" for e in refused)


async def test_200_concurrent_async_reservations_never_pass_the_limit(budgets: BudgetManager) -> None:
    budgets.set_budget("user", "alice", 2.0)
    results = await asyncio.gather(
        *(budgets.areserve("alice", "core", 0.03) for _ in range(200)), return_exceptions=True
    )
    granted = [r for r in results if isinstance(r, Reservation)]
    assert len(granted) == 66  # floor(2.00 / 0.03)
    assert all(isinstance(r, BudgetExceeded) for r in results if not isinstance(r, Reservation))
    assert budgets.usage("user", "alice").used_nanousd == 66 * to_nanos(0.03)
    await asyncio.gather(*(budgets.asettle(r, 0.01) for r in granted))
    usage = budgets.usage("user", "alice")
    assert (usage.spent_nanousd, usage.reserved_nanousd) == (66 * to_nanos(0.01), 0)


@pytest.mark.slow
def test_processes_sharing_the_database_enforce_one_budget(
    sqlite_url: str, budgets: BudgetManager, tmp_path: Path
) -> None:
    budgets.set_budget("team", "shared", 1.0)
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.usage.budget_child", sqlite_url, "25", "0.02", str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        for _ in range(4)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        go.touch()
        granted = sum(int(child.communicate(timeout=120)[0].strip()) for child in children)
    finally:
        for child in children:
            child.kill()
    assert granted == 50  # floor(1.00 / 0.02) of the 100 asked, across 4 processes
    this_month = period_of(datetime.now(UTC))  # the children run on the real clock
    assert budgets.usage("team", "shared", this_month).used_nanousd == 50 * to_nanos(0.02)


def test_settle_replaces_the_estimate_with_the_real_cost(budgets: BudgetManager) -> None:
    budgets.set_budget("user", "alice", 5.0)
    reservation = budgets.reserve("alice", "core", 1.0)
    assert budgets.usage("user", "alice").reserved_usd == 1.0
    budgets.settle(reservation, 0.25)
    usage = budgets.usage("user", "alice")
    assert (usage.spent_usd, usage.reserved_usd) == (0.25, 0.0)
    assert budgets.remaining("alice", "core").remaining_usd == 4.75
    team = budgets.usage("team", "core")  # tracked without a budget, so a later budget sees the month's spend
    assert (team.spent_usd, team.limit_usd, team.remaining_usd) == (0.25, None, None)


def test_a_call_dearer_than_its_estimate_overshoots_by_the_difference_only(budgets: BudgetManager) -> None:
    budgets.set_budget("user", "alice", 1.0)
    reservation = budgets.reserve("alice", "core", 0.9)
    budgets.settle(reservation, 1.2)
    usage = budgets.usage("user", "alice")
    assert usage.spent_usd == 1.2 and usage.hard_exceeded
    with pytest.raises(BudgetExceeded):
        budgets.reserve("alice", "core", 0.01)


def test_release_gives_the_money_back(budgets: BudgetManager) -> None:
    budgets.set_budget("team", "core", 1.0)
    reservation = budgets.reserve("alice", "core", 1.0)
    with pytest.raises(BudgetExceeded):
        budgets.reserve("bob", "core", 0.5)
    budgets.release(reservation)
    budgets.release(reservation)  # twice is harmless
    assert budgets.usage("team", "core").used_nanousd == 0
    budgets.reserve("bob", "core", 0.5)


def test_hard_limit_blocks_cloud_but_a_zero_estimate_passes(budgets: BudgetManager) -> None:
    budgets.set_budget("team", "core", 3.0)
    fill(budgets, "alice", "core", 3.0)
    with pytest.raises(BudgetExceeded) as raised:
        budgets.reserve("bob", "core", 0.001)
    message = raised.value.message
    assert "team 'core'" in message and "$3.00 of $3.00" in message and "local engine still serves" in message
    assert "2025-07-01" in message
    status = budgets.remaining("bob", "core")
    assert status.hard_exceeded and status.remaining_usd == 0.0 and status.limit_usd == 3.0
    local = budgets.reserve("bob", "core", 0.0)  # local work is free and still served
    budgets.settle(local, 0.0)


def test_the_tighter_of_user_and_team_budget_binds(budgets: BudgetManager) -> None:
    budgets.set_budget("team", "core", 100.0)
    budgets.set_budget("user", "alice", 2.0)
    status = budgets.remaining("alice", "core")
    assert (status.scope, status.name, status.remaining_usd) == ("user", "alice", 2.0)
    with pytest.raises(BudgetExceeded) as raised:
        budgets.reserve("alice", "core", 2.5)
    assert raised.value.scope == "user"
    assert budgets.usage("team", "core").used_nanousd == 0  # the team's reservation rolled back too
    assert budgets.remaining("bob", "core").remaining_usd == 100.0


def test_soft_warning_is_given_once_across_threads(budgets: BudgetManager) -> None:
    budgets.set_budget("team", "core", 10.0, soft_fraction=0.5)
    warnings: list[str] = []
    lock = threading.Lock()

    def spend(i: int) -> None:
        reservation = budgets.reserve(f"dev{i}", "core", 0.1)
        found = list(reservation.warnings) + list(budgets.settle(reservation, 0.1))
        with lock:
            warnings.extend(found)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(spend, range(80)))  # $8.00 spent, threshold $5.00 crossed once
    assert len(warnings) == 1
    assert "team 'core'" in warnings[0] and "$10.00" in warnings[0] and "50%" in warnings[0]
    assert budgets.remaining("x", "core").soft_exceeded


def test_month_rollover_starts_a_fresh_budget_and_settles_into_the_old_month(
    budgets: BudgetManager, clock: Clock
) -> None:
    budgets.set_budget("team", "core", 1.0)
    clock.now = datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC)
    fill(budgets, "alice", "core", 0.7)
    late = budgets.reserve("alice", "core", 0.2)
    assert late.warnings  # 80 % crossed in June
    with pytest.raises(BudgetExceeded):
        budgets.reserve("alice", "core", 0.2)

    clock.now = datetime(2025, 7, 1, 0, 0, 1, tzinfo=UTC)
    assert budgets.remaining("alice", "core").remaining_usd == 1.0
    budgets.settle(late, 0.2)  # the June call finishes in July: June pays
    assert budgets.usage("team", "core", "2025-06").spent_usd == 0.9
    assert budgets.usage("team", "core").spent_usd == 0.0
    july = budgets.reserve("alice", "core", 0.85)
    assert july.period == "2025-07" and july.warnings  # warned again in the new month


def test_stale_reservations_of_a_crashed_process_are_released(engine: Engine, clock: Clock) -> None:
    budgets = BudgetManager(engine, BudgetSettings(reservation_ttl_s=60), clock=clock)
    budgets.set_budget("team", "core", 1.0)
    budgets.reserve("ghost", "core", 0.7)  # never settled
    kept = budgets.reserve("alice", "core", 0.2)
    clock.now += timedelta(seconds=61)
    fresh = budgets.reserve("bob", "core", 0.05)
    assert budgets.expire_stale() == 2
    assert budgets.usage("team", "core").reserved_nanousd == to_nanos(0.05)
    budgets.settle(kept, 0.2)  # an expired reservation still counts its real cost once settled
    assert budgets.usage("team", "core").spent_usd == 0.2
    budgets.release(fresh)


def test_configured_budgets_apply(engine: Engine, clock: Clock) -> None:
    settings = BudgetSettings(user_monthly_usd=5.0, teams={"ml": 50.0}, users={"bob": 1.0}, soft_fraction=0.9)
    budgets = BudgetManager.from_settings(engine, settings, clock=clock)
    assert budgets.remaining("alice", "core").limit_usd == 5.0  # default per user
    assert budgets.remaining("bob", "core").limit_usd == 1.0  # override
    assert budgets.usage("team", "ml").limit_usd == 50.0 and budgets.usage("team", "ml").soft_fraction == 0.9
    assert budgets.usage("team", "core").limit_usd is None  # no team default
    budgets.remove_budget("user", "bob")
    assert budgets.remaining("bob", "core").limit_usd == 5.0


def test_no_budget_means_no_limit(budgets: BudgetManager) -> None:
    status = budgets.remaining("alice", "core")
    assert status.remaining_usd is None and not status.hard_exceeded and not status.soft_exceeded
    budgets.settle(budgets.reserve("alice", "core", 1_000.0), 1_000.0)


def test_invalid_arguments_are_refused(budgets: BudgetManager) -> None:
    with pytest.raises(ValueError):
        budgets.set_budget("org", "x", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        budgets.reserve("alice", "core", -1.0)
    assert period_of(datetime(2025, 12, 31, 23, 0, tzinfo=UTC)) == "2025-12"
