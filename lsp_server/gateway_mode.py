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
from collections.abc import Callable

from lsp_server.gateway_client import (
    GatewayAuthError,
    GatewayClient,
    GatewayError,
    GatewayUnreachable,
    generation_json,
    request_paths,
)
from lsp_server.settings import GatewayClientSettings
from routing.control import Outcome
from routing.executor import Attempt
from routing.policy import RouteDecision, RouteInput
from routing.service import RoutedCall, RoutingService, Served

logger = logging.getLogger(__name__)

#: The target name of the gateway in attempts and cache keys (the gateway fills in the model it picks).
GATEWAY = "gateway"
#: Longest wait for the fallback engine to load on its first use (a superseded completion stops waiting).
FALLBACK_START_WAIT_S = 120.0


def request_body(call: RoutedCall, *, with_generation: bool = True) -> dict[str, object]:
    """The ``/v1/assist`` body of ``call``; without the generation, the ``/v1/route/explain`` body."""
    route_input = call.route_input
    body: dict[str, object] = {
        "request_id": call.request_id,
        "task": call.task.value,
        "scope": {
            "level": route_input.scope_level,
            "files": list(call.scope_files),
            "symbols": list(dict.fromkeys(call.scope_symbols)),
            "context_tokens": route_input.context_tokens,
        },
        "paths": request_paths(call.paths),
        "sensitive_reasons": list(route_input.sensitive_reasons),
        "workspace": call.workspace,
        "language": call.language,
    }
    if call.escalate_after is not None:  # an answer failed the client's check: the gateway's next tier
        body["escalate_after"] = {"target": call.escalate_after[0], "model": call.escalate_after[1]}
    if with_generation:
        body["generation"] = generation_json(call.template)
    return body


class GatewayMode:
    """The gateway connection of one language-server process, with the optional local fallback.

    A :class:`~routing.service.Serving`: the assistant serves through it as through a ``RoutingService``.
    """

    routes_remotely = True  # the gateway decides where each call goes

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

    async def serve(self, call: RoutedCall, on_text: Callable[[str], None] | None = None) -> Served:
        """Serve ``call`` through the gateway, or say why not (and fall back when configured)."""
        if self.client is None:
            return _refused(call, self.key_notice())
        if time.monotonic() >= self._down_until:
            try:
                served = await self.client.assist(request_body(call), on_text)
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
        failed = Attempt(GATEWAY, "", "UnavailableError", self.last_error or "unreachable")
        return dataclasses.replace(served, notices=(notice, *served.notices), attempts=(failed, *served.attempts))

    async def explain(self, call: RoutedCall) -> RouteDecision | str:
        """The gateway's decision for ``call``, or the reason it could not give one."""
        if self.client is None:
            return self.key_notice()
        if time.monotonic() < self._down_until:
            return self.unreachable_notice()
        try:
            return await self.client.explain(request_body(call, with_generation=False))
        except GatewayUnreachable as exc:
            self._mark_down(exc)
            return self.unreachable_notice()
        except GatewayAuthError as exc:
            return self.key_notice(exc.message)
        except GatewayError as exc:
            return f"hybrid-assist: {exc.message}"

    def route_key(self, decision: RouteDecision) -> str:
        """The gateway picks the target: its answers are cached under "gateway" whatever was decided here."""
        return GATEWAY

    async def feedback(self, request_id: str, accepted: bool, task: str, kind: str = "completion") -> None:
        """Forward the outcome of an answer the gateway served (best effort)."""
        if self.client is not None and not await self.client.feedback(request_id, accepted, task, kind):
            logger.debug("feedback for %s was not recorded by the gateway", request_id)

    async def record(self, outcome: Outcome) -> None:
        """An answer reused here, for the gateway's ledger (``/v1/reused``; best effort)."""
        body = {
            "request_id": outcome.request_id,
            "task": outcome.task,
            "scope_level": outcome.scope_level,
            "target": outcome.target,
            "model": outcome.model,
            "input_tokens": outcome.prompt_tokens,
            "output_tokens": outcome.completion_tokens,
            "language": outcome.language,
            "workspace": outcome.workspace,
        }
        if self.client is not None and not await self.client.reused(body):
            logger.debug("the reuse of %s was not recorded by the gateway", outcome.request_id)

    async def budget(self, user: str = "", team: str = "") -> dict[str, object] | None:
        """This user's budget as the gateway keeps it (of the key's user; None when unknown or unreachable)."""
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
