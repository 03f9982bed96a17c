"""Usage control: the ledger, budgets, rate limits, metrics, secret redaction and reports.

Public API (imported lazily, so ``import routing.usage.settings`` stays light)::

    Ledger, LedgerEntry                       routing.usage.ledger      one row per request, feedback
    BudgetManager, BudgetStatus, Reservation  routing.usage.budgets     monthly budgets, reserve/settle
    RateLimiter, RateDecision, ...            routing.usage.ratelimit   per-user token buckets
    UsageMetrics, start_metrics_server        routing.usage.metrics     Prometheus, own registry
    find_secrets, redact, SecretFinding       routing.usage.secrets     secrets in outgoing context
    build_report, UsageReport                 routing.usage.report      cost by user/team/task/route
    LimitsSettings, BudgetSettings            routing.usage.settings    ``[limits]`` and ``[budgets]``
    UsageControlError, LedgerError,
    BudgetExceeded                            routing.usage.errors      the exceptions

Everything shares one database (:mod:`routing.usage.database`): a SQLite file
in WAL mode by default, PostgreSQL for teams, migrated by Alembic on open.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routing.usage.budgets import BudgetManager, BudgetStatus, Reservation
    from routing.usage.errors import BudgetExceeded, LedgerError, UsageControlError
    from routing.usage.ledger import Ledger, LedgerEntry
    from routing.usage.metrics import MetricsServer, UsageMetrics, start_metrics_server
    from routing.usage.ratelimit import (
        DatabaseRateLimiter,
        InProcessRateLimiter,
        RateDecision,
        RateLimiter,
        build_rate_limiter,
    )
    from routing.usage.report import UsageReport, build_report
    from routing.usage.secrets import SecretFinding, find_secrets, redact
    from routing.usage.settings import BudgetSettings, LimitsSettings

_EXPORTS = {
    "BudgetManager": "budgets",
    "BudgetStatus": "budgets",
    "Reservation": "budgets",
    "BudgetExceeded": "errors",
    "LedgerError": "errors",
    "UsageControlError": "errors",
    "Ledger": "ledger",
    "LedgerEntry": "ledger",
    "MetricsServer": "metrics",
    "UsageMetrics": "metrics",
    "start_metrics_server": "metrics",
    "DatabaseRateLimiter": "ratelimit",
    "InProcessRateLimiter": "ratelimit",
    "RateDecision": "ratelimit",
    "RateLimiter": "ratelimit",
    "build_rate_limiter": "ratelimit",
    "UsageReport": "report",
    "build_report": "report",
    "SecretFinding": "secrets",
    "find_secrets": "secrets",
    "redact": "secrets",
    "BudgetSettings": "settings",
    "LimitsSettings": "settings",
}

__all__ = [
    "BudgetExceeded",
    "BudgetManager",
    "BudgetSettings",
    "BudgetStatus",
    "DatabaseRateLimiter",
    "InProcessRateLimiter",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LimitsSettings",
    "MetricsServer",
    "RateDecision",
    "RateLimiter",
    "Reservation",
    "SecretFinding",
    "UsageControlError",
    "UsageMetrics",
    "UsageReport",
    "build_rate_limiter",
    "build_report",
    "find_secrets",
    "redact",
    "start_metrics_server",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'routing.usage' has no attribute {name!r}")
    return getattr(importlib.import_module(f"routing.usage.{module}"), name)
