"""Who used the assistant over a report's period, and how often a request needed a second target.

:func:`activity` reads the ledger's request rows over ``[since, until)``:
the users with at least one request (the *active developers*), the requests,
and the requests that needed a second target (the *escalation rate*): those
whose ``fallback_chain`` names more than one target (the first target failed
and another one served it) and the cheap-first escalations, the calls whose
request id ends in ``-tierN`` (a cheaper tier's answer failed its check and
the next tier was asked). With the period's length it gives the cost per
active developer-month that ``hybrid-assist report`` prints beside the
per-seat prices of hosted assistants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, or_, select

from routing.usage.ledger import Ledger, requests_in
from routing.usage.models import ledger_requests

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True, slots=True)
class Activity:
    active_users: int
    requests: int
    escalated: int  # requests served by a second target: fallbacks and tier escalations
    days: float  # length of the period
    tier_escalated: int = 0  # of which: a next tier asked after a failed check (request id ``...-tierN``)

    @property
    def escalation_rate(self) -> float | None:
        return self.escalated / self.requests if self.requests else None

    def per_developer_month(self, cost_usd: float) -> float | None:
        """``cost_usd`` over the period, per active developer and 30.4-day month."""
        if not self.active_users or self.days <= 0:
            return None
        return cost_usd / self.active_users / (self.days / DAYS_PER_MONTH)

    def to_json(self, cost_usd: float) -> dict[str, object]:
        return {
            "active_users": self.active_users,
            "requests": self.requests,
            "escalated": self.escalated,
            "tier_escalated": self.tier_escalated,
            "escalation_rate": self.escalation_rate,
            "days": round(self.days, 3),
            "cost_per_developer_month_usd": self.per_developer_month(cost_usd),
        }


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def activity(ledger: Ledger, since: datetime | None, until: datetime | None, workspace: str | None = None) -> Activity:
    """The :class:`Activity` of ``[since, until)`` (an open end: the first or last request) of ``workspace``
    (None: every workspace)."""
    r = ledger_requests.c
    conditions = requests_in(since, until, workspace)
    tier = r.request_id.like("%-tier%")
    query = select(
        func.count(func.distinct(r.user_name)).label("users"),
        func.count().label("requests"),
        func.sum(case((or_(r.fallback_chain.like("%,%"), tier), 1), else_=0)).label("escalated"),
        func.sum(case((tier, 1), else_=0)).label("tier_escalated"),
        func.min(r.created_at).label("first"),
        func.max(r.created_at).label("last"),
    )
    if conditions:
        query = query.where(*conditions)
    with ledger.engine.connect() as connection:
        row = connection.execute(query).one()
    start = _naive(since) if since is not None else row.first
    end = _naive(until) if until is not None else row.last
    days = (end - start).total_seconds() / 86_400 if start is not None and end is not None else 0.0
    return Activity(
        int(row.users or 0),
        int(row.requests or 0),
        int(row.escalated or 0),
        max(0.0, days),
        int(row.tier_escalated or 0),
    )
