"""A synthetic ledger cell whose truth is known, shared by the learning tests of the CLI and the gateway."""

from __future__ import annotations

from datetime import datetime, timedelta

from routing.usage.ledger import Ledger, LedgerEntry


def record_refactor_cell(ledger: Ledger, now: datetime, *, local_good: int = 196, cloud_good: int = 197) -> None:
    """refactor at multi_file, 1500 tokens, python: 200 local and 200 anthropic requests a day or two ago ($0.02 each
    in the cloud), of which ``local_good`` and ``cloud_good`` had their code action applied."""
    rows = [
        LedgerEntry(
            request_id=f"{target}-{i}",
            user="u",
            team="default",
            task="refactor",
            target=target,
            scope_level="multi_file",
            input_tokens=1500,
            cost_usd=0.02 if target == "anthropic" else 0.0,
            time=now - timedelta(days=1, minutes=i),
            language="python",
        )
        for target in ("local", "anthropic")
        for i in range(200)
    ]
    ledger.record_many(rows)
    for target, good in (("local", local_good), ("anthropic", cloud_good)):
        for i in range(200):
            ledger.record_feedback(f"{target}-{i}", i < good, kind="code_action")
