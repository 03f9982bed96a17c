"""The team gateway's composition: its database, usage control, users and engines, then the app.

Called by ``hybrid-assist gateway serve`` (and the tests); the gateway
package itself composes nothing and imports nothing of the application
shell. The engines and the ledger come from :mod:`hybrid_assist.runtime`,
shared with the language server; nothing here loads ``lsp_server``.
"""

from __future__ import annotations

from starlette.applications import Starlette

from gateway.app import ENDPOINTS, create_app
from gateway.auth import Authenticator
from gateway.database import open_gateway_engine_when_possible
from gateway.metrics import GatewayMetrics
from gateway.state import Gateway
from gateway.store import UserStore
from hybrid_assist.learned_routing import LearnedRouting
from hybrid_assist.runtime import build_runtime, ledger_on
from hybrid_assist.settings import HybridSettings
from routing.control import UsageControl
from routing.service import RoutingService
from routing.settings import RoutingSettings
from routing.usage.budgets import BudgetManager
from routing.usage.database import ledger_url
from routing.usage.journal import Journal, open_journal
from routing.usage.metrics import UsageMetrics
from routing.usage.ratelimit import build_rate_limiter


def build_gateway(settings: HybridSettings) -> Gateway:
    """Open the database (migrating it), build the engines and the usage control for ``settings``."""
    engine, unreachable = open_gateway_engine_when_possible(ledger_url(settings.ledger.url, settings.data_dir))
    ledger = ledger_on(engine, settings, journal=gateway_journal(settings))
    if unreachable:  # started during an outage: the journal waits, budgeted requests get 503 until it is back
        ledger.health.failed(unreachable)
        ledger.migrate_before_writing()
    budgets = (
        BudgetManager(engine, settings.budgets)
        if unreachable
        else BudgetManager.from_settings(engine, settings.budgets)
    )
    limiter = build_rate_limiter(settings.limits, engine)
    usage_metrics = UsageMetrics()
    # The limiter stays out of UsageControl: the gateway checks it first, to answer 429 with Retry-After.
    fail_open = settings.budgets.on_database_unavailable == "fail_open"
    usage = UsageControl(ledger, budgets, None, usage_metrics, fail_open=fail_open)
    runtime = build_runtime(settings)
    store = UserStore(engine)
    gateway = Gateway(
        settings=settings,
        runtime=runtime,
        service=RoutingService(runtime, usage),
        usage=usage,
        limiter=limiter,
        store=store,
        auth=Authenticator(store, settings.gateway_server.key_cache_ttl_s),
        usage_metrics=usage_metrics,
        metrics=GatewayMetrics(usage_metrics.registry, ENDPOINTS),
        engine=engine,
    )
    learned = learned_routing(gateway, settings.data_dir)
    if not unreachable:
        learned.load_newest()
    gateway.adopt_learned = learned.adopt
    follower = learned.follower
    if follower is not None and follower.interval_s > 0:
        gateway.background.append(follower.run)
    return gateway


def learned_routing(gateway: Gateway, data_dir: str) -> LearnedRouting:
    """The gateway's learned overlay: adopted through its usage database, switching ``gateway.settings``."""

    def read() -> RoutingSettings:
        return gateway.settings.routing

    def write(routing: RoutingSettings) -> None:
        current = gateway.settings
        assert isinstance(current, HybridSettings)
        gateway.settings = current.model_copy(update={"routing": routing})

    return LearnedRouting(data_dir, read, write, gateway.engine)


def gateway_journal(settings: HybridSettings) -> Journal:
    """Where the gateway keeps ledger rows while the usage database is down (``[ledger] journal_path``)."""
    options = settings.ledger
    return open_journal(options.journal_path, settings.data_dir, options.journal_max_entries)


def build_gateway_app(settings: HybridSettings) -> Starlette:
    """The gateway's Starlette application for ``settings`` (served by uvicorn in ``gateway serve``)."""
    return create_app(build_gateway(settings))
