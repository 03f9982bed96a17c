"""``GatewayMode``: the assistant's model calls go to a team gateway instead of in-process engines.

Scope measurement and context assembly stay in the language server (where the
files are); :meth:`GatewayMode.serve` sends the :class:`~routing.service.RoutedCall`'s
content — task, scope, paths, sensitive reasons and the generation request
built with an empty model — to the gateway's ``/v1/assist`` and returns its
``done`` event as a :class:`~routing.service.Served`.

When the gateway cannot be reached the user gets one message (the same text
every time, so the session's tell-once shows it once), and the gateway is
not tried again for ``[gateway] retry_after_s``. With ``fallback_local`` the
request is served by the local in-process engine, which is built and loaded
only then (never at startup in gateway mode).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence

from inference.types import GenerationRequest
from lsp_server.analysis.scope import ScopeReport
from lsp_server.gateway_client import (
    GatewayAuthError,
    GatewayClient,
    GatewayError,
    GatewayUnreachable,
    generation_json,
    request_paths,
)
from lsp_server.settings import GatewayClientSettings
from routing.executor import Attempt
from routing.policy import RouteDecision, RouteInput, RouteTarget
from routing.service import RoutedCall, RoutingService, Served
from routing.tasks import TaskKind

logger = logging.getLogger(__name__)

#: The target the generation request is built for: the gateway fills in the model of the target it picks.
GATEWAY_TARGET = RouteTarget("gateway", "", cloud=False)
#: Longest wait for the fallback engine to load on its first use (a superseded completion stops waiting).
FALLBACK_START_WAIT_S = 120.0


def request_body(
    request_id: str,
    task: TaskKind,
    route_input: RouteInput,
    scope: ScopeReport,
    paths: Sequence[str],
    generation: GenerationRequest | None = None,
) -> dict[str, object]:
    """The ``/v1/assist`` body; without ``generation``, the ``/v1/route/explain`` body."""
    body: dict[str, object] = {
        "request_id": request_id,
        "task": task.value,
        "scope": {
            "level": scope.level,
            "files": list(scope.files),
            "symbols": list(dict.fromkeys(s.name for s in scope.symbols)),
            "context_tokens": route_input.context_tokens,
        },
        "paths": request_paths(paths),
        "sensitive_reasons": list(route_input.sensitive_reasons),
    }
    if generation is not None:
        body["generation"] = generation_json(generation)
    return body


class GatewayMode:
    """The gateway connection of one language-server process, with the optional local fallback."""

    def __init__(
        self,
        settings: GatewayClientSettings,
        client: GatewayClient | None,
        fallback: Callable[[], RoutingService] | None = None,
    ) -> None:
        self.settings = settings
        self.client = client  # None: no key was found
        self._fallback_factory = fallback
        self._fallback: RoutingService | None = None
        self._down_until = 0.0
        self.last_error = ""

    @property
    def url(self) -> str:
        return self.settings.url.rstrip("/")

    @property
    def fallback(self) -> RoutingService | None:
        """The local fallback service, once it has been needed."""
        return self._fallback

    def unreachable_notice(self) -> str:
        """The one message shown when the gateway cannot be reached (constant text: told once)."""
        if self._fallback_factory is not None:
            return (
                f"hybrid-assist: the team gateway at {self.url} is unreachable; "
                "answers come from the local engine until it is back."
            )
        return (
            f"hybrid-assist: the team gateway at {self.url} is unreachable; AI features are unavailable until it "
            "is back (set [gateway] fallback_local = true to use the local engine meanwhile)."
        )

    def key_notice(self, detail: str = "") -> str:
        if self.client is None:
            where = f"${self.settings.api_key_env}" + (
                f" or {self.settings.api_key_file}" if self.settings.api_key_file else ""
            )
            return (
                f"hybrid-assist: no key for the team gateway at {self.url}: put the key a gateway admin gave you "
                f"(`hybrid-assist gateway users add`) in {where}."
            )
        return (
            f"hybrid-assist: the team gateway at {self.url} rejected your key ({detail}); ask a gateway admin "
            f"for a new one (`hybrid-assist gateway users add`) and set it in ${self.settings.api_key_env}."
        )

    async def serve(
        self, call: RoutedCall, scope: ScopeReport, paths: Sequence[str], on_text: Callable[[str], None] | None = None
    ) -> Served:
        """Serve ``call`` through the gateway, or say why not (and fall back when configured)."""
        if self.client is None:
            return _refused(call, self.key_notice())
        if time.monotonic() >= self._down_until:
            try:
                body = request_body(
                    call.request_id, call.task, call.route_input, scope, paths, call.build(GATEWAY_TARGET)
                )
                served = await self.client.assist(body, on_text)
            except GatewayUnreachable as exc:
                self._mark_down(exc)
            except GatewayAuthError as exc:
                return _refused(call, self.key_notice(exc.message))
            except GatewayError as exc:
                return _refused(call, f"hybrid-assist: {exc.message}")
            else:
                self._down_until, self.last_error = 0.0, ""
                return served
        notice = self.unreachable_notice()
        if self._fallback_factory is None:
            return _refused(call, notice)
        served = await self._serve_locally(call)
        # The gateway counts as the first, failed attempt: the answer is a fallback (and is not cached).
        failed = Attempt(GATEWAY_TARGET.target, "", "UnavailableError", self.last_error or "unreachable")
        return dataclasses.replace(served, notices=(notice, *served.notices), attempts=(failed, *served.attempts))

    async def explain(
        self, request_id: str, task: TaskKind, route_input: RouteInput, scope: ScopeReport, paths: Sequence[str]
    ) -> RouteDecision | str:
        """The gateway's decision for a request, or the reason it could not give one."""
        if self.client is None:
            return self.key_notice()
        if time.monotonic() < self._down_until:
            return self.unreachable_notice()
        try:
            return await self.client.explain(request_body(request_id, task, route_input, scope, paths))
        except GatewayUnreachable as exc:
            self._mark_down(exc)
            return self.unreachable_notice()
        except GatewayAuthError as exc:
            return self.key_notice(exc.message)
        except GatewayError as exc:
            return f"hybrid-assist: {exc.message}"

    async def feedback(self, request_id: str, accepted: bool, task: str) -> None:
        """Forward the editor's accept/reject of a completion the gateway served (best effort)."""
        if self.client is not None and not await self.client.feedback(request_id, accepted, task):
            logger.debug("feedback for %s was not recorded by the gateway", request_id)

    async def budget(self) -> dict[str, object] | None:
        """This user's budget as the gateway keeps it (None when unknown or unreachable)."""
        if self.client is None or time.monotonic() < self._down_until:
            return None
        usage = await self.client.my_usage()
        budget = usage.get("budget") if usage is not None else None
        return budget if isinstance(budget, dict) else None

    async def status(self) -> dict[str, object]:
        """What ``hybrid.status`` shows: the URL, reachability, the key, the fallback."""
        state: dict[str, object] = {"url": self.url, "reachable": False, "ready": False, "detail": ""}
        if self.client is not None:
            state.update(await self.client.probe())
        state["key"] = "present" if self.client is not None else "missing"
        state["last_error"] = self.last_error
        state["fallback_local"] = self._fallback_factory is not None
        state["fallback_active"] = self._fallback is not None
        return state

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self._fallback is not None:
            await self._fallback.close()

    # -- internals --------------------------------------------------------
    def _mark_down(self, exc: GatewayError) -> None:
        if not self.last_error:
            logger.warning("the gateway at %s is unreachable: %s", self.url, exc.message)
        self.last_error = exc.message
        self._down_until = time.monotonic() + self.settings.retry_after_s

    def _fallback_service(self) -> RoutingService:
        if self._fallback is None:
            assert self._fallback_factory is not None
            logger.info("gateway unreachable: starting the local fallback engine")
            self._fallback = self._fallback_factory()
        return self._fallback

    async def _serve_locally(self, call: RoutedCall) -> Served:
        service = self._fallback_service()
        runtime = service.runtime
        await runtime.wait_local(FALLBACK_START_WAIT_S)
        route_input: RouteInput = dataclasses.replace(
            call.route_input,
            local=runtime.local_state(),
            unhealthy=runtime.unhealthy(),
            missing_keys=runtime.missing_keys(),
        )
        return await service.serve(call.rerouted(route_input))


def _refused(call: RoutedCall, message: str) -> Served:
    decision = RouteDecision(None, (), call.route_input.context_tokens, 0, (message,))
    return Served("", decision, empty_reason=message, notices=(message,), outcome="refused")
