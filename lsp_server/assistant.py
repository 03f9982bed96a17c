"""``Assistant``: the pipeline of one request — scope, context, usage control, route, engine, trim.

It knows nothing of LSP: handlers give it a session, a document and an
:class:`AssistRequest` and get an :class:`AssistResult`. Cancelling the
awaiting task aborts the generation in the engine.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable

from inference.errors import InferenceError
from inference.types import GenerationRequest
from lsp_server.analysis.completion import trim_completion
from lsp_server.analysis.context import AssembledContext, assemble_context
from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import uri_to_path
from lsp_server.analysis.scope import measure_scope
from lsp_server.completion_cache import CachedCompletion, CompletionCache
from lsp_server.requests import AssistRequest, AssistResult, RouteExplanation
from lsp_server.session import Session
from lsp_server.tasks.prompts import build_generation_request
from routing.control import Hold, Outcome, UsageControl
from routing.executor import ExecutionResult, NoTargetError
from routing.policy import RouteDecision, RouteInput, RouteTarget, decide
from routing.pricing import actual_cost
from routing.redaction import redact_request, secret_kinds
from routing.runtime import RoutingRuntime
from routing.sensitivity import sensitive_path_reasons
from routing.tasks import COMPLETION_TASKS, REPOSITORY_TASKS, TaskKind

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class _Prepared:
    explanation: RouteExplanation
    context: AssembledContext
    route_input: RouteInput
    focus: str
    secrets: tuple[str, ...]  # kinds of secret in the outgoing context


class Assistant:
    """Runs requests of every session through one shared :class:`RoutingRuntime`."""

    def __init__(self, runtime: RoutingRuntime, usage: UsageControl | None = None, cache_size: int = 256) -> None:
        self.runtime = runtime
        self.usage = usage
        self.cache = CompletionCache(cache_size)
        self.accepted = 0
        self.rejected = 0

    async def close(self) -> None:
        """Stop the engines and flush the ledger."""
        await self.runtime.close()
        if self.usage is not None:
            self.usage.close()

    async def budget_status(self, user: str, team: str) -> dict[str, object] | None:
        """The user's budget this month for status displays; None when no budget applies."""
        if self.usage is None:
            return None
        return await self.usage.budget_summary(user, team)

    def record_feedback(self, request_id: str, accepted: bool, task: str = "inline_completion") -> Awaitable[None]:
        """Count the editor's accept/reject of a completion now; the returned awaitable records it durably."""
        if accepted:
            self.accepted += 1
        else:
            self.rejected += 1
        return self._record_feedback(request_id, accepted, task)

    async def _record_feedback(self, request_id: str, accepted: bool, task: str) -> None:
        if self.usage is not None:
            await self.usage.record_feedback(request_id, accepted, task)

    # -- preparation (no model call) -----------------------------------
    def _prepare(self, session: Session, doc: Document, request: AssistRequest) -> _Prepared:
        settings = session.settings
        scope = measure_scope(
            doc, request.byte_offset, request.task.value, session.index, settings.analysis, selection=request.selection
        )
        local = self.runtime.local
        counter = local.token_counter() if local is not None else None
        completion = request.task in COMPLETION_TASKS
        budget = settings.completion.context_tokens if completion else settings.analysis.repository_max_tokens
        context = assemble_context(doc, request.byte_offset, scope, session.index, budget, counter)
        mode = settings.completion.multiline
        if completion and mode != "auto":
            context = dataclasses.replace(context, multiline=mode == "always")
        focus = "" if completion else _focus_text(doc, scope.unit_range, request)
        context_tokens = context.token_count if completion else max(scope.context_tokens, context.token_count)
        path = str(uri_to_path(doc.uri)) if doc.uri.startswith("file:") else ""
        reasons = sensitive_path_reasons(path, settings.sensitive.path_globs, (str(r) for r in session.roots))
        route_input = RouteInput(
            task=request.task,
            scope_level=scope.level,
            context_tokens=context_tokens,
            sensitive=bool(reasons),
            sensitive_reasons=tuple(reasons),
            local=self.runtime.local_state(),
            unhealthy=self.runtime.unhealthy(),
            missing_keys=self.runtime.missing_keys(),
        )
        decision = decide(route_input, settings.routing.for_team(settings.team), self.runtime.providers)
        secrets: tuple[str, ...] = ()
        # Only context that may leave the premises is scanned (the scan costs milliseconds per request).
        if settings.sensitive.detect_secrets and not reasons and any(t.cloud for t in decision.chain()):
            secrets = secret_kinds(context.prompt_prefix(), context.suffix, focus)
            if secrets and settings.sensitive.on_secret == "local_only":
                reason = f"secrets in the context ({', '.join(secrets)}): kept on the premises"
                route_input = dataclasses.replace(route_input, sensitive=True, sensitive_reasons=(reason,))
        decision = self._decide(session, route_input, secrets)
        return _Prepared(RouteExplanation(request.task, scope, decision), context, route_input, focus, secrets)

    def _decide(self, session: Session, route_input: RouteInput, secrets: tuple[str, ...]) -> RouteDecision:
        decision = decide(route_input, session.settings.routing.for_team(session.settings.team), self.runtime.providers)
        if secrets and not route_input.sensitive and any(t.cloud for t in decision.chain()):
            note = f"secrets in the context ({', '.join(secrets)}) are redacted before it leaves the premises"
            decision = dataclasses.replace(decision, reasons=(*decision.reasons, note))
        return decision

    def _redecide(self, session: Session, prepared: _Prepared, budget_remaining: float) -> _Prepared:
        """The same request decided again with a known remaining budget (no re-analysis)."""
        route_input = dataclasses.replace(prepared.route_input, budget_remaining_usd=budget_remaining)
        decision = self._decide(session, route_input, prepared.secrets)
        explanation = dataclasses.replace(prepared.explanation, decision=decision)
        return dataclasses.replace(prepared, route_input=route_input, explanation=explanation)

    def explain(self, session: Session, doc: Document, request: AssistRequest) -> RouteExplanation:
        return self._prepare(session, doc, request).explanation

    # -- execution ---------------------------------------------------------
    async def run(self, session: Session, doc: Document, request: AssistRequest) -> AssistResult:
        """Answer ``request``; an empty result says why in ``empty_reason``."""
        result = await self._run(session, doc, request)
        return dataclasses.replace(result, request_id=request.request_id)

    async def _run(self, session: Session, doc: Document, request: AssistRequest) -> AssistResult:
        started = time.perf_counter()
        settings = session.settings
        user, team = settings.user, settings.team
        notices: list[str] = []
        prepared = self._prepare(session, doc, request)
        if self.usage is not None:
            admission = await self.usage.admit(user, team, prepared.route_input.context_tokens)
            if not admission.allowed:
                return AssistResult("", prepared.explanation, empty_reason=admission.reason, notice=admission.reason)
            notices += admission.notices
            if admission.budget_remaining_usd is not None:
                unlimited = prepared.explanation.decision
                prepared = self._redecide(session, prepared, admission.budget_remaining_usd)
                limited = prepared.explanation.decision
                if limited.target != unlimited.target:
                    notices.append(
                        f"hybrid-assist: the remaining budget (${admission.budget_remaining_usd:.4f}) does not cover "
                        f"{unlimited.target} (~${unlimited.cost_usd:.4f}); served by {limited.target} instead"
                    )
        explanation, decision = prepared.explanation, prepared.explanation.decision
        hold: Hold | None = None
        if self.usage is not None and decision.primary is not None and decision.primary.cloud:
            hold = await self.usage.hold(user, team, decision.cost_usd)
            notices += hold.notices
            if hold.blocked_reason:
                notices.append(f"hybrid-assist: {hold.blocked_reason}; served on the premises instead")
                prepared = self._redecide(session, prepared, 0.0)
                explanation, decision = prepared.explanation, prepared.explanation.decision
        if decision.primary is None:
            reason = decision.reasons[-1] if decision.reasons else "no target may serve this request"
            return AssistResult("", explanation, empty_reason=reason, latency_ms=_ms(started), notice=_join(notices))

        completion = request.task in COMPLETION_TASKS
        context = prepared.context
        cache_key = ""
        if completion:
            cache_key = self.cache.key(context.prompt_prefix(), context.suffix, f"{decision.target}:{decision.model}")
            cached = self.cache.get(cache_key)
            if cached is not None:
                return AssistResult(
                    cached.text,
                    explanation,
                    target=cached.target,
                    model=cached.model,
                    latency_ms=_ms(started),
                    multiline=context.multiline,
                    from_cache=True,
                )
        routing = settings.routing.for_team(settings.team)
        policy = routing.tasks.get(request.task.value)
        max_tokens = settings.completion.max_tokens if completion else (policy.max_output_tokens if policy else 512)

        def build(target: RouteTarget) -> GenerationRequest:
            generation = build_generation_request(
                request.task,
                request.request_id,
                target,
                context,
                language=doc.language,
                focus_text=prepared.focus,
                instruction=request.instruction,
                max_tokens=max_tokens,
            )
            return redact_request(generation) if target.cloud and prepared.secrets else generation

        deadline = routing.completion_deadline_s if completion else routing.deadline_s
        execution: ExecutionResult | None = None
        outcome = "ok"
        empty_reason = ""
        attempts: tuple = ()  # type: ignore[type-arg]
        try:
            execution = await self.runtime.executor.execute(decision, build, deadline)
        except NoTargetError as exc:
            outcome, empty_reason, attempts = "unavailable", exc.message, exc.attempts
        except InferenceError as exc:
            outcome, empty_reason = type(exc).__name__, exc.message
        except BaseException:
            await self._finish(hold, session, request, explanation, None, "cancelled", started, context)
            raise
        cost = 0.0
        if execution is not None:
            cost = actual_cost(execution.target, execution.usage, self.runtime.providers, routing)
            attempts = execution.attempts
        notices += await self._finish(hold, session, request, explanation, execution, outcome, started, context, cost)
        if execution is None:
            return AssistResult(
                "",
                explanation,
                attempts=attempts,
                empty_reason=empty_reason,
                latency_ms=_ms(started),
                notice=_join(notices),
            )
        text = execution.text
        if completion:
            text = trim_completion(doc, request.byte_offset, text, context.multiline)
            self.cache.put(cache_key, CachedCompletion(text, execution.target.target, execution.target.model))
        if execution.fell_back:
            failed = ", ".join(f"{a.target} ({a.outcome})" for a in execution.attempts[:-1])
            notices.append(f"hybrid-assist: {failed} failed; answered by {execution.target.target}")
        return AssistResult(
            text=text,
            explanation=explanation,
            target=execution.target.target,
            model=execution.target.model,
            usage=execution.usage,
            cost_usd=cost,
            latency_ms=_ms(started),
            ttft_ms=execution.ttft_ms,
            attempts=execution.attempts,
            notice=_join(notices),
            multiline=context.multiline,
        )

    async def _finish(
        self,
        hold: Hold | None,
        session: Session,
        request: AssistRequest,
        explanation: RouteExplanation,
        execution: ExecutionResult | None,
        outcome: str,
        started: float,
        context: AssembledContext,
        cost: float = 0.0,
    ) -> list[str]:
        if self.usage is None:
            return []
        decision = explanation.decision
        served = execution.target if execution is not None else decision.primary
        usage = execution.usage if execution is not None else None
        record = Outcome(
            request_id=request.request_id,
            user=session.settings.user,
            team=session.settings.team,
            task=request.task.value,
            scope_level=explanation.scope.level,
            target=served.target if served else "none",
            model=served.model if served else "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            cached_tokens=usage.cached_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cost_usd=cost,
            latency_ms=_ms(started),
            ttft_ms=execution.ttft_ms if execution is not None else None,
            outcome=outcome,
            attempts=execution.attempts if execution is not None else (),
            prompt=context.prompt_prefix() + context.suffix,
        )
        metrics = self.usage.metrics
        if metrics is not None:
            local = self.runtime.local
            if local is not None:
                metrics.set_local_queue(local.load().queued)
            for target in decision.chain():
                metrics.set_circuit(target.target, self.runtime.executor.breakers.state(target.target))
        return list(await self.usage.finish(hold, record))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _join(notices: list[str]) -> str:
    return " ".join(dict.fromkeys(n for n in notices if n))


def _focus_text(doc: Document, unit_range: tuple[int, int, int, int], request: AssistRequest) -> str:
    """The code a chat task is about: the selection, else the enclosing unit, else the document."""
    data = doc.source
    if request.selection is not None:
        start, end = sorted(request.selection)
        if end > start:
            return data[start:end].decode("utf-8", "replace")
    if request.task in REPOSITORY_TASKS or request.task == TaskKind.MULTI_FILE_REFACTOR:
        return doc.text
    sl, sc, el, ec = unit_range
    start = doc.offset_at(sl, sc, "utf-8")
    end = doc.offset_at(el, ec, "utf-8")
    if end <= start:
        return doc.text
    return data[start:end].decode("utf-8", "replace")
