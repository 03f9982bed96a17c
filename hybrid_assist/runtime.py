"""The composition root's shared part: settings in; the engines and the usage control out.

Both applications are assembled from these: the language server
(:mod:`hybrid_assist.language_server`) and the team gateway
(:mod:`hybrid_assist.gateway_app`). This module imports ``inference`` and
``routing`` only, so building the gateway loads nothing of ``lsp_server``.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from hybrid_assist.settings import HybridSettings
from inference.backend import Backend
from inference.registry import build_local_backend, build_provider_backend
from routing.control import UsageControl
from routing.runtime import RoutingRuntime
from routing.usage.ledger import Ledger

logger = logging.getLogger(__name__)


def build_runtime(settings: HybridSettings) -> RoutingRuntime:
    """Backends for ``settings``; a backend whose library is missing is left out with the reason."""
    backends: dict[str, Backend] = {}
    local_error = ""
    try:
        backends["local"] = build_local_backend(settings.local)
    except ImportError as exc:
        local_error = (
            f"the {settings.local.backend} engine's library is not installed ({exc.name or exc}); "
            "install the `cpu` extra (pip install 'hybrid-assist[cpu]') or the `vllm` extra on a GPU machine"
        )
        logger.warning("local engine unavailable: %s", local_error)
    for name, provider in settings.providers.items():
        if not provider.enabled or (name == "overflow" and not provider.base_url):
            continue
        try:
            backends[name] = build_provider_backend(name, provider)
        except ImportError as exc:
            logger.warning("provider %s unavailable: %s", name, exc)
    return RoutingRuntime(backends, settings.providers, local_error=local_error)


def ledger_on(engine: Engine, settings: HybridSettings) -> Ledger:
    """The ledger of ``[ledger]`` on ``engine`` (its background writer starts)."""
    options = settings.ledger
    return Ledger(
        engine,
        store_prompts=options.store_prompts,
        flush_interval_s=options.flush_interval_ms / 1000.0,
        max_pending=options.max_pending,
    )


def build_usage_control(settings: HybridSettings) -> UsageControl:
    """Ledger, budgets, rate limits and metrics; a ledger that cannot open leaves the rest working."""
    from routing.usage.budgets import BudgetManager
    from routing.usage.database import ledger_url, open_engine
    from routing.usage.metrics import UsageMetrics, start_metrics_server
    from routing.usage.ratelimit import build_rate_limiter

    ledger = budgets = None
    try:
        ledger = ledger_on(open_engine(ledger_url(settings.ledger.url, settings.data_dir)), settings)
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
    return UsageControl(ledger, budgets, limiter, metrics)


def build_local_runtime(settings: HybridSettings) -> RoutingRuntime:
    """The local engine alone (no cloud provider): the gateway-mode fallback when the gateway is unreachable."""
    try:
        backends: dict[str, Backend] = {"local": build_local_backend(settings.local)}
    except ImportError as exc:
        error = f"the {settings.local.backend} engine's library is not installed ({exc.name or exc})"
        return RoutingRuntime({}, {}, local_error=error)
    return RoutingRuntime(backends, {})
