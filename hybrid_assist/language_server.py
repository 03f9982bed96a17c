"""The language server's composition: the :class:`Assistant` (embedded or gateway mode) and the session key check.

Called by ``hybrid-assist lsp`` and ``hybrid-assist complete``; the engines
and the usage control come from :mod:`hybrid_assist.runtime`, shared with the
gateway (:mod:`hybrid_assist.gateway_app`). ``[server] auth = "keys"`` checks
keys against the gateway's user store (:class:`KeyVerifier`): that is where
``lsp_server`` and ``gateway`` meet in one process, here at the top, never by
importing each other.
"""

from __future__ import annotations

import logging

from hybrid_assist.runtime import build_local_runtime, build_runtime, build_usage_control
from hybrid_assist.settings import HybridSettings
from lsp_server.assistant import Assistant
from lsp_server.auth import AuthenticationFailed, Identity, KeyUnavailable
from routing.runtime import RoutingRuntime
from routing.service import RoutingService

logger = logging.getLogger(__name__)


def build_gateway_assistant(settings: HybridSettings) -> Assistant:
    """Gateway mode: model calls go to ``[gateway] url``; no engine, provider or ledger is opened here.

    With ``fallback_local`` the local engine (and a local ledger for what it serves) is built on first
    need, when the gateway cannot be reached.
    """
    from lsp_server.gateway_client import GatewayClient
    from lsp_server.gateway_mode import GatewayMode

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
    return Assistant(RoutingRuntime({}, {}), gateway, settings.completion.cache_size)


def build_assistant(settings: HybridSettings) -> Assistant:
    """The embedded pipeline, or gateway mode when ``[gateway] url`` is set."""
    if settings.gateway.url:
        return build_gateway_assistant(settings)
    runtime = build_runtime(settings)
    return Assistant(runtime, RoutingService(runtime, build_usage_control(settings)), settings.completion.cache_size)


class KeyVerifier:
    """``[server] auth = "keys"``: the gateway's user store checks the keys of ``--tcp``/``--ws`` sessions.

    The same users, keys, hashing and revocation as the gateway (``hybrid-assist gateway users add NAME``),
    in the same database (``[ledger] url``). Every check reads the store, so a revocation or rotation stops
    the next session at once, and a running one at its next re-check (``[server] key_recheck_s``). While the
    database is unreachable a key checked before keeps its last answer and any other is
    :class:`~lsp_server.auth.KeyUnavailable` (:mod:`hybrid_assist.key_store` logs the outage once).
    """

    def __init__(self, settings: HybridSettings) -> None:
        from gateway.auth import Authenticator
        from gateway.database import open_gateway_engine
        from hybrid_assist.key_store import ReportingUserStore
        from routing.usage.database import ledger_url

        self.engine = open_gateway_engine(ledger_url(settings.ledger.url, settings.data_dir))
        self.store = ReportingUserStore(self.engine)
        self._authenticator = Authenticator(self.store, ttl_s=0.0)

    async def __call__(self, key: str) -> Identity:
        from gateway.errors import ApiError

        try:
            principal = await self._authenticator.authenticate(f"Bearer {key}")
        except ApiError as exc:
            if exc.status == 503:
                raise KeyUnavailable(f"hybrid-assist: the key cannot be checked now: {exc.message}") from None
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
