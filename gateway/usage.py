"""Reading one user's (or one team's) usage from the ledger, for ``/v1/usage/me`` and the admins.

One indexed query (``ledger_requests`` by user or team and time), grouped by
target and model; the gateway first flushes its own pending ledger rows so a
caller sees the requests it just made.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine, case, func, select

from routing.usage.models import ledger_requests, to_usd


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def parse_time(value: str, field: str) -> datetime:
    """An ISO date or date-time (naive = UTC); ``ValueError`` naming ``field`` otherwise."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field}: expected an ISO date or date-time, got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def usage_of(
    engine: Engine, scope: Literal["user", "team"], name: str, since: datetime, until: datetime | None = None
) -> dict[str, object]:
    """Requests, tokens and cost of ``name`` in ``[since, until)``, in total and per target/model."""
    r = ledger_requests.c
    column = r.user_name if scope == "user" else r.team
    where = [column == name, r.created_at >= _naive(since)]
    if until is not None:
        where.append(r.created_at < _naive(until))
    query = (
        select(
            r.target,
            r.model,
            func.count().label("requests"),
            func.sum(case((r.outcome != "ok", 1), else_=0)).label("failed"),
            func.sum(r.input_tokens).label("input_tokens"),
            func.sum(r.cached_tokens).label("cached_tokens"),
            func.sum(r.output_tokens).label("output_tokens"),
            func.sum(r.cost_nanousd).label("cost"),
        )
        .where(*where)
        .group_by(r.target, r.model)
        .order_by(r.target, r.model)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    by_target = [
        {
            "target": row.target,
            "model": row.model,
            "requests": int(row.requests),
            "failed": int(row.failed or 0),
            "input_tokens": int(row.input_tokens or 0),
            "cached_tokens": int(row.cached_tokens or 0),
            "output_tokens": int(row.output_tokens or 0),
            "cost_usd": round(to_usd(int(row.cost or 0)), 6),
        }
        for row in rows
    ]
    totals: dict[str, object] = {
        key: sum(int(str(t[key])) for t in by_target)
        for key in ("requests", "failed", "input_tokens", "cached_tokens", "output_tokens")
    }
    totals["cost_usd"] = round(sum(float(str(t["cost_usd"])) for t in by_target), 6)
    return {
        scope: name,
        "since": since.isoformat(),
        "until": until.isoformat() if until else None,
        "totals": totals,
        "by_target": by_target,
    }


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
