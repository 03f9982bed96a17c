"""Migration 0004: each request's language and what a feedback verdict is about (routing that learns)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from routing.usage.database import open_engine, upgrade
from routing.usage.ledger import FEEDBACK_KINDS, Ledger, LedgerEntry


def entry(request_id: str, language: str = "") -> LedgerEntry:
    return LedgerEntry(
        request_id=request_id, user="ann", team="core", task="completion", target="local", language=language
    )


def test_language_is_written_and_read_back_on_both_write_paths(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url) as ledger:
        ledger.record(entry("now", "python"))  # SQLAlchemy Core rows
        ledger.submit(entry("queued", "rust"))  # the writer thread's driver-level executemany
        assert ledger.flush(5.0)
        got = {e.request_id: e.language for e in ledger.entries()}
        assert ledger.get("unknown-language") is None
        ledger.record(entry("unknown-language"))
        unknown = ledger.get("unknown-language")
    assert got == {"now": "python", "queued": "rust"}
    assert unknown is not None and unknown.language == ""


def test_feedback_says_what_it_is_about(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url) as ledger:
        ledger.record(entry("r"))
        ledger.record_feedback("r", True)
        assert (ledger.feedback("r"), ledger.feedback_kind("r")) == (True, "completion")
        ledger.record_feedback("r", False, kind="check")  # one verdict per request: the latest wins, kind included
        assert (ledger.feedback("r"), ledger.feedback_kind("r")) == (False, "check")
        ledger.record_feedback("r", True, kind="code_action")
        assert (ledger.feedback("r"), ledger.feedback_kind("r")) == (True, "code_action")
        with pytest.raises(ValueError, match="unknown feedback kind"):
            ledger.record_feedback("r", True, kind="applied")
        assert ledger.feedback_kind("never") is None
    assert FEEDBACK_KINDS == ("completion", "code_action", "quick_fix", "check")


def test_rows_from_before_0004_read_as_unknown_language_and_completion_feedback(sqlite_url: str) -> None:
    engine = open_engine(sqlite_url, migrate=False)
    upgrade(engine, "0003_ledger_workspace_reason")
    created = datetime(2026, 12, 1, 12, 0, 0)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO ledger_requests (request_id, created_at, user_name, team, task, scope_level, target,"
                " model, input_tokens, cached_tokens, output_tokens, cost_nanousd, latency_ms, outcome,"
                " fallback_chain, prompt_sha256) VALUES ('old', :t, 'ann', 'core', 'completion', 'single_file',"
                " 'local', 'm', 1, 0, 1, 0, 1.0, 'ok', '[]', '')"
            ),
            {"t": created},
        )
        connection.execute(
            text("INSERT INTO ledger_feedback (request_id, accepted, created_at) VALUES ('old', 1, :t)"), {"t": created}
        )
    upgrade(engine)
    engine.dispose()
    with Ledger.open(sqlite_url) as ledger:
        old = ledger.get("old")
        assert old is not None and old.language == ""
        assert (ledger.feedback("old"), ledger.feedback_kind("old")) == (True, "completion")


def test_sensitive_is_written_and_read_back(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url) as ledger:
        ledger.record(
            LedgerEntry(request_id="s", user="ann", team="core", task="completion", target="local", sensitive=True)
        )
        ledger.submit(LedgerEntry(request_id="p", user="ann", team="core", task="completion", target="local"))
        assert ledger.flush(5.0)
        assert {e.request_id: e.sensitive for e in ledger.entries()} == {"s": True, "p": False}
