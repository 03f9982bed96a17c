"""``RoutingService``: decide, admit, reserve, execute and record one model call.

This is the part of a request that needs no source code: the language server
(embedded mode) and the gateway (team mode) both hand it a :class:`RoutedCall`
— the routing inputs the analysis measured and the model request, whose model
the executor fills in for each target — and get a :class:`Served` back.
Cancelling the awaiting task aborts the generation in the engine and still
records the row.

:class:`Serving` is what the language server's ``Assistant`` serves through:
this service in process, or the team gateway's client
(``lsp_server.gateway_mode.GatewayMode``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Protocol

from inference.errors import InferenceError
from inference.types import GenerationRequest, ToolCall, ToolCallDelta, Usage
from routing.control import Hold, Outcome, UsageControl
from routing.executor import Attempt, ExecutionResult, NoTargetError
from routing.exploration import EXPLORE_REASON, Exploration
from routing.policy import COMPLETIONS_NEED_LOCAL, RouteDecision, RouteInput
from routing.prepare import decide_route
from routing.pricing import actual_cost
from routing.redaction import redact_request
from routing.runtime import RoutingRuntime
from routing.settings import RoutingSettings
from routing.tasks import COMPLETION_TASKS, TaskKind


@dataclasses.dataclass(frozen=True, slots=True)
class RoutedCall:
    """One model call as the router sees it: who, what, how far, and the request (its model filled per target)."""

    request_id: str
    user: str
    team: str
    task: TaskKind
    route_input: RouteInput
    routing: RoutingSettings  # already resolved for the user's team
    template: GenerationRequest  # the model call; its ``model`` is the target's, filled in by the executor
    prompt: str = ""  # the text sent, for the ledger's digest (and the stored prompt when enabled)
    secrets: tuple[str, ...] = ()  # kinds of secret in a cloud-bound context: redacted on the way out
    decision: RouteDecision | None = None  # already decided for route_input (None: serve decides)
    paths: tuple[str, ...] = ()  # the files whose text is in the request, the document first
    scope_files: tuple[str, ...] = ()  # the other workspace files the scope measurement used
    scope_symbols: tuple[str, ...] = ()  # the workspace symbols it resolved
    workspace: str = ""  # the session's workspace root, for the ledger ("": unknown, e.g. a gateway call)
    language: str = ""  # the request's tree-sitter language id, for the ledger ("": unknown or mixed)
    escalate_after: tuple[str, str] | None = None  # (target, model) whose answer failed its check (gateway mode)

    @property
    def scope_level(self) -> str:
        return self.route_input.scope_level

    def rerouted(self, route_input: RouteInput) -> RoutedCall:
        """This call with other routing inputs (another engine's state): its decision is made again."""
        return dataclasses.replace(self, route_input=route_input, decision=None)


@dataclasses.dataclass(frozen=True, slots=True)
class Served:
    """What became of a :class:`RoutedCall`; ``text`` is empty when ``empty_reason`` says why."""

    text: str
    decision: RouteDecision
    target: str = ""
    model: str = ""
    usage: Usage = dataclasses.field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    attempts: tuple[Attempt, ...] = ()
    empty_reason: str = ""
    notices: tuple[str, ...] = ()
    outcome: str = "ok"
    tool_calls: tuple[ToolCall, ...] = ()  # the tool calls the answer asks for (see inference.types)
    finish_reason: str = ""  # the backend's ("stop", "length", "tool_calls"...); "" when nothing answered

    @property
    def fell_back(self) -> bool:
        return len(self.attempts) > 1


class Serving(Protocol):
    """Where the language server's model calls are served: :class:`RoutingService` or the team gateway's client."""

    #: True when another process decides where a call goes (the gateway): the caller's decision is a preview.
    routes_remotely: bool

    async def serve(self, call: RoutedCall, on_text: Callable[[str], None] | None = None) -> Served:
        """Admit, route, execute and record ``call``; a :class:`Served` says what became of it."""
        ...

    async def explain(self, call: RoutedCall) -> RouteDecision | str:
        """The decision that would serve ``call``, or why none could be had."""
        ...

    def route_key(self, decision: RouteDecision) -> str:
        """What a completion cache keys an answer of ``decision`` by ("": not cacheable)."""
        ...

    async def budget(self, user: str, team: str) -> dict[str, object] | None:
        """The user's budget this month for status displays; None when no budget applies (or is known)."""
        ...

    async def feedback(self, request_id: str, accepted: bool, task: str, kind: str = "completion") -> None:
        """Record the outcome of an answer: accepted or not, and what of (``routing.usage.ledger.FEEDBACK_KINDS``)."""
        ...

    async def record(self, outcome: Outcome) -> None:
        """Record an answer given without a model call (a reused answer: outcome ``reused``, cost 0)."""
        ...

    async def status(self) -> dict[str, object] | None:
        """The remote service's state for ``hybrid.status`` (None: served in process)."""
        ...

    async def close(self) -> None:
        """Stop what serving holds (engines, ledger, connections)."""
        ...


class RoutingService:
    """Routes and serves calls for every session (or every gateway client) of one process."""

    routes_remotely = False

    def __init__(self, runtime: RoutingRuntime, usage: UsageControl | None = None) -> None:
        self.runtime = runtime
        self.usage = usage
        # the exploration share serves only where a ledger records what it learns
        ledger = usage.ledger if usage is not None else None
        self.exploration = Exploration(ledger) if ledger is not None else None

    def decide(self, route_input: RouteInput, routing: RoutingSettings, secrets: tuple[str, ...] = ()) -> RouteDecision:
        """The pure policy decision, with a note when secrets will be redacted on the way out."""
        return decide_route(route_input, routing, self.runtime.providers, secrets)

    async def explain(self, call: RoutedCall) -> RouteDecision | str:
        return call.decision or self.decide(call.route_input, call.routing, call.secrets)

    def route_key(self, decision: RouteDecision) -> str:
        return f"{decision.target}:{decision.model}" if decision.primary is not None else ""

    async def status(self) -> dict[str, object] | None:
        return None

    async def serve(
        self,
        call: RoutedCall,
        on_text: Callable[[str], None] | None = None,
        *,
        on_tool_call: Callable[[ToolCallDelta], None] | None = None,
    ) -> Served:
        """Admit, reserve, execute with fallbacks, settle and record ``call`` (``on_tool_call``: streamed calls)."""
        started = time.perf_counter()
        notices: list[str] = []
        route_input = call.route_input
        decision = call.decision or self.decide(route_input, call.routing, call.secrets)
        if self.usage is not None:
            # A budget only removes priced (cloud) targets, so a chain without one needs no budget read.
            may_cost = any(t.cloud or t.cost_usd > 0 for t in decision.chain())
            admission = await self.usage.admit(call.user, call.team, route_input.context_tokens, may_cost=may_cost)
            if not admission.allowed:
                return await self._refuse(call, decision, "denied", admission.reason, started, [admission.reason])
            notices += admission.notices
            if admission.budget_remaining_usd is not None:
                unlimited = decision
                route_input = dataclasses.replace(route_input, budget_remaining_usd=admission.budget_remaining_usd)
                decision = self.decide(route_input, call.routing, call.secrets)
                if decision.target != unlimited.target:
                    notices.append(
                        f"hybrid-assist: the remaining budget (${admission.budget_remaining_usd:.4f}) does not cover "
                        f"{unlimited.target} (~${unlimited.cost_usd:.4f}); served by {decision.target} instead"
                    )
        if self.exploration is not None:
            decision = await self.exploration.choose(route_input, decision, call.routing)
        hold: Hold | None = None
        if self.usage is not None and decision.primary is not None and decision.primary.cloud:
            hold = await self.usage.hold(call.user, call.team, decision.cost_usd)
            notices += hold.notices
            if hold.blocked_reason:
                notices.append(f"hybrid-assist: {hold.blocked_reason}; served on the premises instead")
                route_input = dataclasses.replace(route_input, budget_remaining_usd=0.0)
                decision = self.decide(route_input, call.routing, call.secrets)
        if decision.primary is None:
            reason = decision.empty_reason  # the primary target's blocking reason first
            if COMPLETIONS_NEED_LOCAL in decision.blocked:  # the editor says it once per session
                notices.append(f"hybrid-assist: {COMPLETIONS_NEED_LOCAL} ({decision.blocked[0]})")
            return await self._refuse(call, decision, "no_target", reason, started, notices)

        # what a cloud target gets: the secrets found redacted (the executor fills in each target's model)
        cloud_request = redact_request(call.template) if call.secrets else None
        completion = call.task in COMPLETION_TASKS
        deadline = call.routing.completion_deadline_s if completion else call.routing.deadline_s
        execution: ExecutionResult | None = None
        outcome, empty_reason = "ok", ""
        attempts: tuple[Attempt, ...] = ()
        try:
            execution = await self.runtime.executor.execute(
                decision, call.template, deadline, on_text, cloud_request=cloud_request, on_tool_call=on_tool_call
            )
        except NoTargetError as exc:
            outcome, empty_reason, attempts = "unavailable", exc.message, exc.attempts
        except InferenceError as exc:
            outcome, empty_reason = type(exc).__name__, exc.message
        except BaseException:
            await self._finish(hold, call, decision, None, "cancelled", started)
            raise
        cost = 0.0
        if execution is not None:
            cost = actual_cost(execution.target, execution.usage, self.runtime.providers, call.routing)
            attempts = execution.attempts
        notices += await self._finish(hold, call, decision, execution, outcome, started, cost, empty_reason)
        if execution is None:
            return Served(
                "",
                decision,
                attempts=attempts,
                empty_reason=empty_reason,
                latency_ms=_ms(started),
                notices=tuple(notices),
                outcome=outcome,
            )
        if execution.fell_back:
            failed = ", ".join(f"{a.target} ({a.outcome})" for a in execution.attempts[:-1])
            notices.append(f"hybrid-assist: {failed} failed; answered by {execution.target.target}")
        return Served(
            text=execution.text,
            decision=decision,
            target=execution.target.target,
            model=execution.target.model,
            usage=execution.usage,
            cost_usd=cost,
            latency_ms=_ms(started),
            ttft_ms=execution.ttft_ms,
            attempts=execution.attempts,
            notices=tuple(notices),
            tool_calls=execution.tool_calls,
            finish_reason=execution.finish_reason,
        )

    async def _refuse(
        self, call: RoutedCall, decision: RouteDecision, outcome: str, reason: str, started: float, notices: list[str]
    ) -> Served:
        """A call sent nowhere (``denied``: rate limit; ``no_target``): its ledger row (reason, cost 0), its answer."""
        notices = [*notices, *await self._finish(None, call, decision, None, outcome, started, reason=reason)]
        return Served(
            "", decision, empty_reason=reason, latency_ms=_ms(started), notices=tuple(notices), outcome=outcome
        )

    async def _finish(
        self,
        hold: Hold | None,
        call: RoutedCall,
        decision: RouteDecision,
        execution: ExecutionResult | None,
        outcome: str,
        started: float,
        cost: float = 0.0,
        reason: str = "",
    ) -> list[str]:
        if self.usage is None:
            return []
        sent = execution is not None or outcome != "denied"  # a denied call went to no target
        served = execution.target if execution is not None else (decision.primary if sent else None)
        usage = execution.usage if execution is not None else None
        record = Outcome(
            request_id=call.request_id,
            user=call.user,
            team=call.team,
            task=call.task.value,
            scope_level=call.scope_level,
            target=served.target if served else "none",
            model=served.model if served else "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            cached_tokens=usage.cached_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            usage_estimated=usage.estimated if usage else False,
            cost_usd=cost,
            latency_ms=_ms(started),
            ttft_ms=execution.ttft_ms if execution is not None else None,
            outcome=outcome,
            attempts=execution.attempts if execution is not None else (),
            prompt=call.prompt,
            workspace=call.workspace,
            reason=reason or (EXPLORE_REASON if decision.explored else ""),
            language=call.language,
            sensitive=decision.local_only,
        )
        if decision.explored and served is not None and served.cloud and self.exploration is not None:
            self.exploration.spent(cost)
        metrics = self.usage.metrics
        if metrics is not None:
            local = self.runtime.local
            if local is not None:
                metrics.set_local_queue(local.load().queued)
            for target in decision.chain():
                metrics.set_circuit(target.target, self.runtime.executor.breakers.state(target.target))
        return list(await self.usage.finish(hold, record))

    async def budget(self, user: str, team: str) -> dict[str, object] | None:
        """The user's budget this month for status displays; None when no budget applies."""
        if self.usage is None:
            return None
        return await self.usage.budget_summary(user, team)

    async def feedback(self, request_id: str, accepted: bool, task: str, kind: str = "completion") -> None:
        if self.usage is not None:
            await self.usage.record_feedback(request_id, accepted, task, kind)

    async def record(self, outcome: Outcome) -> None:
        if self.usage is not None:
            await self.usage.finish(None, outcome)

    async def close(self) -> None:
        """Stop the engines and flush the ledger."""
        await self.runtime.close()
        if self.usage is not None:
            self.usage.close()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
