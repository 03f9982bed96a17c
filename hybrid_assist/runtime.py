"""The composition root's shared part: settings in; the engines and the usage control out.

Both applications are assembled from these: the language server
(:mod:`hybrid_assist.language_server`) and the team gateway
(:mod:`hybrid_assist.gateway_app`). This module imports ``inference`` and
``routing`` only, so building the gateway loads nothing of ``lsp_server``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

from hybrid_assist.settings import HybridSettings
from inference.registry import build_backends
from routing.control import UsageControl
from routing.runtime import RoutingRuntime
from routing.usage.journal import Journal
from routing.usage.ledger import Ledger
from routing.usage.outage import DatabaseHealth

logger = logging.getLogger(__name__)


def build_runtime(settings: HybridSettings) -> RoutingRuntime:
    """Backends for ``settings``; a backend whose library is missing is left out with the reason."""
    built = build_backends(settings.local, settings.providers)
    return RoutingRuntime(built.backends, settings.providers, local_error=built.local_error)


def ledger_on(engine: Engine, settings: HybridSettings, *, journal: Journal | None = None) -> Ledger:
    """The ledger of ``[ledger]`` on ``engine`` (its background writer starts); ``journal``: the gateway's."""
    return Ledger(engine, journal=journal, **ledger_options(settings))


def ledger_options(settings: HybridSettings) -> dict[str, Any]:
    """The :class:`Ledger` options ``[ledger]`` sets."""
    options = settings.ledger
    return {
        "store_prompts": options.store_prompts,
        "flush_interval_s": options.flush_interval_ms / 1000.0,
        "max_pending": options.max_pending,
        "health": DatabaseHealth(retry_after_s=options.retry_after_s),
        "probe_interval_s": options.probe_interval_s,
    }


def build_usage_control(settings: HybridSettings) -> UsageControl:
    """Ledger, budgets, rate limits and metrics; a ledger that cannot open leaves the rest working."""
    from routing.usage.budgets import BudgetManager
    from routing.usage.database import ledger_url
    from routing.usage.metrics import UsageMetrics, start_metrics_server
    from routing.usage.ratelimit import build_rate_limiter

    ledger = budgets = None
    try:
        # A read-only or full disk: rows wait in memory and are written when it can (issue 19.2).
        ledger = Ledger.open_when_possible(
            ledger_url(settings.ledger.url, settings.data_dir), **ledger_options(settings)
        )
        budgets = BudgetManager.from_settings(ledger.engine, settings.budgets)
    except Exception as exc:  # the assistant must keep working without its ledger
        logger.error("the ledger could not be opened (%s); requests are not recorded or budgeted", exc)
    limits = settings.limits
    limiter = (
        build_rate_limiter(limits, ledger.engine if ledger is not None else None)
        if (limits.backend == "memory" or ledger is not None)
        else None
    )
    metrics = UsageMetrics()
    if settings.metrics.enabled:
        server = start_metrics_server(metrics.registry, settings.metrics.host, settings.metrics.port)
        logger.info("Prometheus metrics at %s", server.url)
    # The language server never refuses for its own ledger: a budgeted call goes on, charged once it is back.
    return UsageControl(ledger, budgets, limiter, metrics, fail_open=True)


def build_local_runtime(settings: HybridSettings) -> RoutingRuntime:
    """The local engine alone (no cloud provider): the gateway-mode fallback when the gateway is unreachable."""
    built = build_backends(settings.local, {})
    return RoutingRuntime(built.backends, {}, local_error=built.local_error)
