"""The ledger's journal and usage control while the database is down (issue 19.1), on SQLite.

The outage itself (a real PostgreSQL stopped and started under a gateway) is
in ``tests/gateway/test_ledger_outage.py``; here the pieces: the journal's
file (bound, torn line, a failed drain keeps it), the ledger writing to it
while :class:`DatabaseHealth` is down, and :class:`UsageControl`'s policy —
fail closed (``UsageUnavailable``) or fail open (served, charged afterwards).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine

from routing.control import Outcome, UsageControl
from routing.usage.budgets import BudgetManager
from routing.usage.errors import UsageUnavailable
from routing.usage.journal import Journal, decode, encode
from routing.usage.ledger import Ledger, LedgerEntry
from routing.usage.metrics import UsageMetrics


def entry(n: int, **fields: object) -> LedgerEntry:
    return LedgerEntry(request_id=f"r{n}", user="alice", team="red", task="completion", target="local", **fields)  # type: ignore[arg-type]


def test_entries_survive_the_file_round_trip() -> None:
    original = entry(1, fallback_chain=("openai", "local"), ttft_ms=3.5, cost_usd=0.25, unsettled=True)
    assert decode(encode(original)) == original


def test_a_line_written_before_workspace_and_reason_is_still_read() -> None:
    """A journal line of an older gateway (no ``workspace``, no ``reason``) drains as an unknown workspace."""
    new = entry(2, workspace="/src/alpha", outcome="no_target", reason="no target is allowed")
    assert decode(encode(new)) == new
    old_line = (
        '{"request_id":"r1","user":"alice","team":"red","task":"completion","target":"local","model":"",'
        '"scope_level":"","input_tokens":3,"cached_tokens":0,"output_tokens":1,"cost_usd":0.0,"latency_ms":1.0,'
        '"ttft_ms":null,"outcome":"ok","fallback_chain":["local"],"prompt_sha256":"","prompt":null,'
        '"time":"2026-12-01T10:00:00+00:00","usage_estimated":false,"unsettled":false}'
    )
    old = decode(old_line)
    assert (old.request_id, old.input_tokens, old.workspace, old.reason) == ("r1", 3, "", "")


def test_the_journal_is_bounded_and_skips_a_torn_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", max_entries=3)
    assert journal.append([entry(1), entry(2)]) == 2
    assert journal.append([entry(3), entry(4)]) == 1 and journal.dropped == 1
    with (tmp_path / "j.jsonl").open("a") as handle:
        handle.write('{"request_id": "torn')  # a crash in the middle of an append
    reopened = Journal(tmp_path / "j.jsonl", max_entries=3)
    written: list[str] = []
    assert reopened.drain(lambda rows: written.extend(e.request_id for e in rows)) == 3
    assert written == ["r1", "r2", "r3"] and (tmp_path / "j.jsonl").read_text() == ""


def test_a_failed_drain_keeps_every_row(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    journal.append([entry(1), entry(2)])

    def refuse(_rows: Sequence[LedgerEntry]) -> None:
        raise OSError("still down")

    with pytest.raises(OSError):
        journal.drain(refuse)
    assert journal.entries == 2 and len((tmp_path / "j.jsonl").read_text().splitlines()) == 2


def test_rows_go_to_the_journal_while_down_and_reach_the_ledger_once(engine: Engine, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    ledger = Ledger(engine, journal=journal, probe_interval_s=0.05)
    try:
        ledger.record(entry(1))  # already in the ledger: written again from the journal, ignored
        ledger.health.failed("connection refused")
        for n in range(1, 6):
            ledger.submit(entry(n))
        assert ledger.flush(5)
        assert journal.entries == 5 and ledger.count() == 1
        ledger.health.recovered()
        for _ in range(100):
            if journal.entries == 0:
                break
            asyncio.run(asyncio.sleep(0.05))
        assert journal.entries == 0 and ledger.count() == 5
    finally:
        ledger.close()


@pytest.fixture
def control(engine: Engine, tmp_path: Path) -> UsageControl:
    budgets = BudgetManager(engine)
    budgets.set_budget("user", "alice", 1.0)
    ledger = Ledger(engine, journal=Journal(tmp_path / "j.jsonl"), probe_interval_s=0.05)
    return UsageControl(ledger, budgets, None, UsageMetrics())


async def test_fail_closed_refuses_a_budgeted_call_and_admits_local_ones(control: UsageControl) -> None:
    control.health.failed("connection refused")
    try:
        assert (await control.admit("alice", "red", 100, may_cost=True)).allowed
        with pytest.raises(UsageUnavailable) as refused:
            await control.hold("alice", "red", 0.10)
        assert "usage database unavailable" in refused.value.message and refused.value.retry_after_s == 5
        assert (await control.hold("alice", "red", 0.0)).reservation is None  # a free call needs no budget
        assert b"hybrid_assist_usage_unavailable_refusals_total 1.0" in control.metrics.exposition()  # type: ignore[union-attr]
    finally:
        control.close()


async def test_fail_open_serves_and_charges_the_budget_when_the_database_is_back(control: UsageControl) -> None:
    control.fail_open = True
    budgets, ledger = control.budgets, control.ledger
    assert budgets is not None and ledger is not None
    control.health.failed("connection refused")
    try:
        hold = await control.hold("alice", "red", 0.10)
        assert hold.unsettled and "usage database unavailable" in hold.notices[0]
        outcome = Outcome("open-1", "alice", "red", "explain", "file", "openai", "gpt-4o", cost_usd=1.5)
        await control.finish(hold, outcome)
        assert ledger.flush(5) and ledger.journal is not None and ledger.journal.entries == 1
        assert budgets.usage("user", "alice").spent_usd == 0
        control.health.recovered()
        for _ in range(100):
            if ledger.journal.entries == 0:
                break
            await asyncio.sleep(0.05)
        assert ledger.count() == 1
        assert budgets.usage("user", "alice").spent_usd == pytest.approx(1.5)  # overspent by $0.50: logged
    finally:
        control.close()
