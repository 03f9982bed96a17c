"""The ledger: rows round-trip, prompts are hashed unless stored, the writer thread batches, feedback."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from routing.usage.errors import LedgerError
from routing.usage.ledger import Ledger, LedgerEntry, prompt_digest

T0 = datetime(2025, 6, 3, 9, 30, 15, 123456, tzinfo=UTC)


def entry(request_id: str, **kw: object) -> LedgerEntry:
    values: dict[str, object] = {
        "user": "alice",
        "team": "core",
        "task": "explain",
        "target": "anthropic",
        "model": "claude-sonnet-4-5",
        "scope_level": "multi_file",
        "input_tokens": 2048,
        "cached_tokens": 512,
        "output_tokens": 311,
        "cost_usd": 0.010_203,
        "latency_ms": 1234.5,
        "ttft_ms": 456.25,
        "outcome": "ok",
        "fallback_chain": ("openai", "anthropic"),
        "prompt_sha256": "ab" * 32,
        "time": T0,
    }
    values.update(kw)
    return LedgerEntry(request_id, **values)  # type: ignore[arg-type]


@pytest.fixture
def ledger(sqlite_url: str) -> Ledger:
    with Ledger.open(sqlite_url) as opened:
        yield opened  # type: ignore[misc]


def test_entry_round_trips_every_field(ledger: Ledger) -> None:
    original = entry("r-1")
    ledger.record(original)
    assert ledger.get("r-1") == original
    assert ledger.get("missing") is None


def test_record_many_and_ordering(ledger: Ledger) -> None:
    entries = [entry(f"r-{i}", time=T0 + timedelta(seconds=i), ttft_ms=None, fallback_chain=()) for i in range(5)]
    ledger.record_many(reversed(entries))
    assert ledger.entries() == entries
    assert ledger.entries(since=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=3)) == entries[1:3]
    assert ledger.count() == 5


def test_naive_times_are_utc_and_aware_times_are_converted(ledger: Ledger) -> None:
    ledger.record(entry("aware", time=T0.astimezone(timezone(timedelta(hours=2)))))
    ledger.record(entry("naive", time=T0.replace(tzinfo=None)))
    assert ledger.get("aware").time == T0  # type: ignore[union-attr]
    assert ledger.get("naive").time == T0  # type: ignore[union-attr]


def test_prompt_is_hashed_not_stored_by_default(ledger: Ledger) -> None:
    ledger.record(entry("p", prompt="def secret_algorithm(): ...", prompt_sha256=""))
    stored = ledger.get("p")
    assert stored is not None
    assert stored.prompt is None
    assert stored.prompt_sha256 == hashlib.sha256(b"def secret_algorithm(): ...").hexdigest()
    with ledger.engine.connect() as connection:
        raw = connection.execute(text("SELECT prompt_text FROM ledger_requests")).scalar()
    assert raw is None


def test_prompt_is_stored_when_asked(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url, store_prompts=True) as ledger:
        ledger.record(entry("p", prompt="print('hi')", prompt_sha256=""))
        stored = ledger.get("p")
    assert stored is not None and stored.prompt == "print('hi')"
    assert stored.prompt_sha256 == prompt_digest("print('hi')")


def test_recording_is_idempotent_by_request_id(ledger: Ledger) -> None:
    ledger.record(entry("dup", cost_usd=1.0))
    ledger.record(entry("dup", cost_usd=2.0))
    ledger.record_many([entry("dup", cost_usd=3.0), entry("other")])
    assert ledger.count() == 2
    assert ledger.get("dup").cost_usd == 1.0  # type: ignore[union-attr]


def test_cost_is_exact_to_the_nano_dollar(ledger: Ledger) -> None:
    costs = [0.000_000_075, 0.0045, 12.345_678_901, 0.1, 0.2]
    ledger.record_many(entry(f"c{i}", cost_usd=c) for i, c in enumerate(costs))
    (row,) = ledger.aggregate(None, None, "user")
    assert row.cost_nanousd == 75 + 4_500_000 + 12_345_678_901 + 100_000_000 + 200_000_000


def test_writer_thread_batches_and_flush_waits_for_commit(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url, flush_interval_s=0.01, batch_size=100) as ledger:
        for i in range(1_000):
            assert ledger.submit(entry(f"w{i}"))
        assert ledger.flush(timeout_s=30)
        assert ledger.count() == 1_000
    # a fresh connection sees them (committed, not just buffered)
    with Ledger.open(sqlite_url) as reopened:
        assert reopened.count() == 1_000


async def test_arecord_does_not_block_the_event_loop(sqlite_url: str) -> None:
    ledger = Ledger.open(sqlite_url, flush_interval_s=0.01)
    try:
        loop_ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal loop_ticks
            while not stop.is_set():
                loop_ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.gather(*(ledger.arecord(entry(f"a{i}")) for i in range(500)))
        assert await asyncio.to_thread(ledger.flush, 30)
        stop.set()
        await task
        assert ledger.count() == 500
        assert loop_ticks > 0
    finally:
        ledger.close()


def test_concurrent_submitters_lose_nothing(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url, flush_interval_s=0.005, batch_size=64) as ledger:

        def produce(worker: int) -> None:
            for i in range(250):
                ledger.submit(entry(f"t{worker}-{i}"))

        threads = [threading.Thread(target=produce, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert ledger.flush(timeout_s=30)
        assert ledger.count() == 2_000


def test_full_backlog_drops_and_counts_instead_of_blocking(sqlite_url: str) -> None:
    ledger = Ledger.open(sqlite_url, max_pending=10, flush_interval_s=0.2)
    gate = threading.Event()
    original = ledger._write_entries

    def slow_write(entries: object) -> None:
        gate.wait(10)
        original(entries)  # type: ignore[arg-type]

    ledger._writer._write = slow_write  # the database stalls
    try:
        accepted = [ledger.submit(entry(f"b{i}")) for i in range(40)]
        assert accepted.count(False) == ledger.dropped > 0
        gate.set()
        assert ledger.flush(timeout_s=30)
        assert ledger.count() == accepted.count(True)
    finally:
        gate.set()
        ledger.close()


def test_close_commits_pending_entries(sqlite_url: str) -> None:
    ledger = Ledger.open(sqlite_url, flush_interval_s=5.0, batch_size=10_000)
    for i in range(300):
        ledger.submit(entry(f"c{i}"))
    ledger.close()
    with Ledger.open(sqlite_url) as reopened:
        assert reopened.count() == 300


def test_feedback_latest_verdict_wins(ledger: Ledger) -> None:
    ledger.record(entry("f"))
    assert ledger.feedback("f") is None
    ledger.record_feedback("f", accepted=False)
    ledger.record_feedback("f", accepted=True)
    assert ledger.feedback("f") is True
    (row,) = ledger.aggregate(None, None, "task")
    assert (row.accepted, row.rejected) == (1, 0)


def test_feedback_before_the_request_row_is_kept(ledger: Ledger) -> None:
    ledger.record_feedback("early", accepted=True)  # the row may still be in the writer's queue
    ledger.record(entry("early"))
    (row,) = ledger.aggregate(None, None, "route")
    assert row.accepted == 1


def test_aggregate_rejects_unknown_grouping(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="cannot group by"):
        ledger.aggregate(None, None, "file")  # type: ignore[arg-type]


def test_bad_urls_raise_a_clear_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="invalid ledger URL"):
        Ledger.open("not a url")
    with pytest.raises(LedgerError, match="database file"):
        Ledger.open("sqlite://")
    with pytest.raises(LedgerError, match="cannot open the ledger"):
        Ledger.open("nosuchdriver://x/y")


def test_sqlite_runs_in_wal_mode_with_normal_sync(ledger: Ledger) -> None:
    with ledger.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def assert_driver_rows_equal_core_rows(url: str) -> None:
    """The writer thread's driver-level ``executemany`` stores exactly what SQLAlchemy's insert stores."""
    when = datetime(2025, 6, 3, 9, 30, 15, tzinfo=UTC)  # no microseconds: a default text form would drop them
    original = LedgerEntry(
        "core-1", "alice", "core", "explain", "anthropic", "claude-sonnet-4-5", "multi_file",
        2048, 512, 311, 0.010203, 1234.5, None, "ok", ("openai", "anthropic"), "ab" * 32, None, when,
    )  # fmt: skip
    driven = dataclasses.replace(original, request_id="driver-1")
    with Ledger.open(url) as ledger:
        ledger.record(original)  # SQLAlchemy Core
        ledger._write_entries([driven])  # the driver path of the writer thread
        ledger._write_entries([driven])  # a retried batch: ignored, as with Core
        with ledger.engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT * FROM ledger_requests ORDER BY request_id").mappings().all()
        assert ledger.get("driver-1") == driven
        assert len(ledger.entries(since=when - timedelta(seconds=1), until=when + timedelta(seconds=1))) == 2
    assert len(stored) == 2
    core, driver = ({k: v for k, v in row.items() if k not in ("id", "request_id")} for row in stored)
    assert driver == core


def test_the_writer_threads_driver_insert_matches_sqlalchemys(tmp_path: Path) -> None:
    assert_driver_rows_equal_core_rows(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
