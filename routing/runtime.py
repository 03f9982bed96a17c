"""``RoutingRuntime``: the engines and providers one process shares, with their live state.

Every editor session (and the gateway) holds the same runtime: it starts the
local engine in the background, knows which providers have keys and whose
circuit is open, and executes decisions. The decision itself stays in
:func:`routing.policy.decide`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping

from inference.backend import Backend
from inference.errors import InferenceError
from inference.remote._base import RemoteBackend
from inference.settings import ProviderSettings
from routing.circuit import CircuitBreakers
from routing.executor import RouteExecutor
from routing.policy import LOCAL, LocalState

logger = logging.getLogger(__name__)

#: How long :meth:`RoutingRuntime.missing_keys` trusts its last look at the provider keys, in seconds.
KEYS_RECHECK_S = 1.0


class RoutingRuntime:
    """Backends by name (``"local"``, ``"overflow"``, provider names) and their state."""

    def __init__(
        self,
        backends: Mapping[str, Backend],
        providers: Mapping[str, ProviderSettings],
        breakers: CircuitBreakers | None = None,
        *,
        local_error: str = "",
    ) -> None:
        self.backends = dict(backends)
        self.providers = dict(providers)
        self.executor = RouteExecutor(self.backends, breakers)
        self._local_start: asyncio.Task[None] | None = None
        self._local_error: str = local_error
        self._missing_keys: tuple[float, frozenset[str]] = (float("-inf"), frozenset())
        for name, backend in self.backends.items():  # usage a server did not report: the local tokenizer counts it
            if name != LOCAL and isinstance(backend, RemoteBackend):
                backend.count_tokens_with(self.local)

    @property
    def local(self) -> Backend | None:
        return self.backends.get(LOCAL)

    def start_local_in_background(self) -> asyncio.Task[None] | None:
        """Begin loading the local engine without blocking; idempotent."""
        if self._local_start is None and self.local is not None:
            self._local_start = asyncio.get_running_loop().create_task(self._start_local())
        return self._local_start

    async def _start_local(self) -> None:
        assert self.local is not None
        try:
            await self.local.start()
        except InferenceError as exc:
            self._local_error = exc.message
            logger.warning("local engine unavailable: %s", exc.message)
        except Exception as exc:  # a broken engine must not take the server down
            self._local_error = f"{type(exc).__name__}: {exc}"
            logger.exception("local engine failed to start")

    async def wait_local(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the local engine to finish starting."""
        task = self.start_local_in_background()
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout_s)

    def local_state(self) -> LocalState:
        local = self.local
        if local is None:
            return LocalState(available=False, reason=self._local_error or "no local engine configured")
        if self._local_error:
            return LocalState(available=False, reason=self._local_error, model=local.default_model())
        if self._local_start is not None and not self._local_start.done():
            return LocalState(
                available=False, reason="local engine is still starting", model=local.default_model(), starting=True
            )
        load = local.load()
        return LocalState(
            available=True,
            model=local.default_model(),
            queued=load.queued,
            running=load.running,
            recent_ttft_ms=load.recent_ttft_ms,
            context_window=local.context_window(),  # the loaded engine's own (0: the router uses the setting)
        )

    @property
    def local_error(self) -> str:
        return self._local_error

    def missing_keys(self) -> frozenset[str]:
        """Cloud providers that cannot be called because no API key is configured.

        Looked up at most once every :data:`KEYS_RECHECK_S` (a key may live in a file), so a key
        added to the environment or its file is noticed within that time.
        """
        now = time.monotonic()
        checked_at, missing = self._missing_keys
        if now - checked_at < KEYS_RECHECK_S:
            return missing
        missing = frozenset(
            name
            for name, provider in self.providers.items()
            if provider.kind != "openai-compatible" and provider.api_key() is None
        )
        self._missing_keys = (now, missing)
        return missing

    def unhealthy(self) -> frozenset[str]:
        return self.executor.breakers.open_targets() | frozenset(
            name for name, p in self.providers.items() if p.enabled and name not in self.backends
        )

    async def close(self) -> None:
        if self._local_start is not None and not self._local_start.done():
            self._local_start.cancel()
        for backend in self.backends.values():
            try:
                await backend.close()
            except Exception:
                logger.debug("closing %s failed", backend.name, exc_info=True)
