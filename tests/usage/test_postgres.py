"""The same ledger, budget and rate-limit code on a real PostgreSQL server (``postgresql+psycopg://``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from routing.usage.budgets import BudgetManager, Reservation
from routing.usage.database import VERSION_TABLE, open_engine
from routing.usage.errors import BudgetExceeded
from routing.usage.ledger import Ledger, LedgerEntry
from routing.usage.models import metadata, to_nanos
from routing.usage.ratelimit import DatabaseRateLimiter
from routing.usage.settings import LimitsSettings
from tests.usage.test_ledger import assert_driver_rows_equal_core_rows


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = open_engine(pg_url, pool_size=16)
    yield engine
    engine.dispose()


def test_migrations_build_the_models_schema(pg_engine: Engine) -> None:
    with pg_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE, "compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_ledger_round_trip_writer_and_aggregate(pg_url: str) -> None:
    when = datetime(2025, 6, 3, 9, 30, 15, 123456, tzinfo=UTC)
    original = LedgerEntry(
        "pg-1", "alice", "core", "explain", "anthropic", "claude-sonnet-4-5", "multi_file",
        2048, 512, 311, 0.010203, 1234.5, 456.25, "ok", ("openai", "anthropic"), "ab" * 32, None, when,
    )  # fmt: skip
    with Ledger.open(pg_url, flush_interval_s=0.01) as ledger:
        ledger.record(original)
        ledger.record(original)  # idempotent
        for i in range(500):
            ledger.submit(LedgerEntry(f"w{i}", "bob", "core", "completion", "local", cost_usd=0.000_001))
        assert ledger.flush(30)
        ledger.record_feedback("pg-1", accepted=True)
        assert ledger.get("pg-1") == original
        assert ledger.count() == 501
        rows = {(r.key, r.target): r for r in ledger.aggregate(None, None, "user")}
        assert rows["bob", "local"].cost_nanousd == 500 * 1_000
        assert rows["alice", "anthropic"].accepted == 1


def test_the_writer_threads_driver_insert_matches_sqlalchemys(pg_url: str) -> None:
    assert_driver_rows_equal_core_rows(pg_url)


def test_200_concurrent_reservations_never_pass_the_limit(pg_engine: Engine) -> None:
    budgets = BudgetManager(pg_engine)
    budgets.set_budget("team", "core", 10.0)
    budgets.settle(budgets.reserve("seed", "core", 9.0), 9.0)
    start = threading.Barrier(32)
    granted: list[Reservation] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        if i < 32:
            start.wait()
        try:
            reservation = budgets.reserve(f"dev{i % 40}", "core", 0.013)
        except BudgetExceeded:
            return
        with lock:
            granted.append(reservation)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(attempt, range(200)))
    assert len(granted) == 76
    assert budgets.usage("team", "core").used_nanousd == to_nanos(9.0) + 76 * to_nanos(0.013)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda r: budgets.settle(r, 0.01), granted))
    usage = budgets.usage("team", "core")
    assert (usage.spent_nanousd, usage.reserved_nanousd) == (to_nanos(9.0) + 76 * to_nanos(0.01), 0)


def test_two_replicas_share_one_budget_and_one_warning(pg_url: str) -> None:
    replica_a, replica_b = open_engine(pg_url), open_engine(pg_url)
    try:
        first, second = BudgetManager(replica_a), BudgetManager(replica_b)
        first.set_budget("user", "alice", 1.0, soft_fraction=0.5)
        warnings = list(first.reserve("alice", "core", 0.3).warnings)
        warnings += second.reserve("alice", "core", 0.3).warnings  # crosses 50 %
        warnings += first.reserve("alice", "core", 0.3).warnings
        with pytest.raises(BudgetExceeded):
            second.reserve("alice", "core", 0.3)
        assert len(warnings) == 1
    finally:
        replica_a.dispose()
        replica_b.dispose()


def test_database_rate_limiter_is_exact_under_concurrency(pg_engine: Engine) -> None:
    limiter = DatabaseRateLimiter(pg_engine, LimitsSettings(requests_per_minute=50, tokens_per_minute=0), lambda: 5.0)
    with ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(lambda _: limiter.check("alice", 1).allowed, range(160)))
    assert allowed.count(True) == 50


def test_first_reservations_of_a_month_race_safely(pg_engine: Engine) -> None:
    """Many requests creating the month's budget rows at once: none is refused for a missing row."""
    budgets = BudgetManager(pg_engine)
    budgets.set_budget("team", "fresh", 100.0)
    start = threading.Barrier(24)

    def attempt(i: int) -> Reservation:
        start.wait()
        return budgets.reserve(f"new{i % 3}", "fresh", 0.5)

    with ThreadPoolExecutor(24) as pool:
        granted = list(pool.map(attempt, range(24)))
    assert len(granted) == 24
    assert budgets.usage("team", "fresh").reserved_nanousd == 24 * to_nanos(0.5)


def test_0002_adds_usage_estimated_to_an_existing_ledger(pg_engine: Engine) -> None:
    from tests.usage.test_migrations import upgrade_a_0001_ledger_with_one_row

    upgrade_a_0001_ledger_with_one_row(pg_engine)


def test_0003_adds_workspace_and_reason_to_an_existing_ledger(pg_engine: Engine) -> None:
    from tests.usage.test_migrations import upgrade_a_0002_ledger_with_one_row

    upgrade_a_0002_ledger_with_one_row(pg_engine)


def test_0006_adds_routing_adoptions_to_an_existing_database(pg_engine: Engine) -> None:
    from tests.usage.test_migrations import upgrade_a_0005_database_to_adoptions

    upgrade_a_0005_database_to_adoptions(pg_engine)
