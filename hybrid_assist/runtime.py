"""The composition root: settings in; the engines, usage control, the :class:`Assistant` and the key check out."""

from __future__ import annotations

import logging

from hybrid_assist.config import HybridSettings
from inference.backend import Backend
from inference.registry import build_local_backend, build_provider_backend
from lsp_server.assistant import Assistant
from lsp_server.auth import AuthenticationFailed, Identity
from routing.control import UsageControl
from routing.runtime import RoutingRuntime

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


def build_usage_control(settings: HybridSettings) -> UsageControl:
    """Ledger, budgets, rate limits and metrics; a ledger that cannot open leaves the rest working."""
    from routing.usage.budgets import BudgetManager
    from routing.usage.database import ledger_url
    from routing.usage.ledger import Ledger
    from routing.usage.metrics import UsageMetrics, start_metrics_server
    from routing.usage.ratelimit import build_rate_limiter

    ledger = budgets = None
    try:
        ledger = Ledger.open(
            ledger_url(settings.ledger.url, settings.data_dir),
            store_prompts=settings.ledger.store_prompts,
            flush_interval_s=settings.ledger.flush_interval_ms / 1000.0,
            max_pending=settings.ledger.max_pending,
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
    return UsageControl(ledger, budgets, limiter, metrics)


def build_local_runtime(settings: HybridSettings) -> RoutingRuntime:
    """The local engine alone (no cloud provider): the gateway-mode fallback when the gateway is unreachable."""
    try:
        backends: dict[str, Backend] = {"local": build_local_backend(settings.local)}
    except ImportError as exc:
        error = f"the {settings.local.backend} engine's library is not installed ({exc.name or exc})"
        return RoutingRuntime({}, {}, local_error=error)
    return RoutingRuntime(backends, {})


def build_gateway_assistant(settings: HybridSettings) -> Assistant:
    """Gateway mode: model calls go to ``[gateway] url``; no engine, provider or ledger is opened here.

    With ``fallback_local`` the local engine (and a local ledger for what it serves) is built on first
    need, when the gateway cannot be reached.
    """
    from lsp_server.gateway_client import GatewayClient
    from lsp_server.gateway_mode import GatewayMode
    from routing.service import RoutingService

    options = settings.gateway
    key = options.api_key()
    client = (
        GatewayClient(options.url, key, connect_timeout_s=options.connect_timeout_s, timeout_s=options.timeout_s)
        if key
        else None
    )
    if client is None:
        logger.warning("gateway mode without a key: set $%s or [gateway] api_key_file", options.api_key_env)

    def fallback() -> RoutingService:
        return RoutingService(build_local_runtime(settings), build_usage_control(settings))

    gateway = GatewayMode(options, client, fallback if options.fallback_local else None)
    return Assistant(RoutingRuntime({}, {}), None, settings.completion.cache_size, gateway=gateway)


def build_assistant(settings: HybridSettings) -> Assistant:
    """The embedded pipeline, or gateway mode when ``[gateway] url`` is set."""
    if settings.gateway.url:
        return build_gateway_assistant(settings)
    return Assistant(build_runtime(settings), build_usage_control(settings), settings.completion.cache_size)


class KeyVerifier:
    """``[server] auth = "keys"``: the gateway's user store checks the keys of ``--tcp``/``--ws`` sessions.

    The same users, keys, hashing and revocation as the gateway (``hybrid-assist gateway users add NAME``),
    in the same database (``[ledger] url``). Every check reads the store, so a revocation or rotation stops
    the next session at once (sessions already running keep their identity until they end).
    """

    def __init__(self, settings: HybridSettings) -> None:
        from gateway.auth import Authenticator
        from gateway.database import open_gateway_engine
        from gateway.store import UserStore
        from routing.usage.database import ledger_url

        self.engine = open_gateway_engine(ledger_url(settings.ledger.url, settings.data_dir))
        self.store = UserStore(self.engine)
        self._authenticator = Authenticator(self.store, ttl_s=0.0)

    async def __call__(self, key: str) -> Identity:
        from gateway.errors import ApiError

        try:
            principal = await self._authenticator.authenticate(f"Bearer {key}")
        except ApiError as exc:
            raise AuthenticationFailed(
                f"hybrid-assist: authentication failed: {exc.message}. "
                "Check the key your editor sends ($HYBRID_ASSIST_KEY or your key file) or ask the server's admin "
                "for a new one."
            ) from None
        return Identity(principal.name, principal.team)

    def active_users(self) -> int:
        return sum(1 for user in self.store.list_users() if not user.revoked and user.active_keys)

    def close(self) -> None:
        self.engine.dispose()
