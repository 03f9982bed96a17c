"""``Assistant``: the pipeline of one request — scope, context, route, engine, trim.

It knows nothing of LSP: handlers give it a session, a document and an
:class:`AssistRequest` and get an :class:`AssistResult`. Cancelling the
awaiting task aborts the generation in the engine.
"""

from __future__ import annotations

import logging
import time

from inference.errors import InferenceError
from lsp_server.analysis.completion import trim_completion
from lsp_server.analysis.context import AssembledContext, assemble_context
from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import uri_to_path
from lsp_server.analysis.scope import measure_scope
from lsp_server.requests import AssistRequest, AssistResult, RouteExplanation
from lsp_server.session import Session
from lsp_server.tasks.prompts import build_generation_request
from routing.executor import NoTargetError
from routing.policy import RouteInput, RouteTarget, decide
from routing.pricing import actual_cost
from routing.runtime import RoutingRuntime
from routing.sensitivity import sensitive_path_reasons
from routing.tasks import COMPLETION_TASKS, REPOSITORY_TASKS, TaskKind

logger = logging.getLogger(__name__)


class Assistant:
    """Runs requests of every session through one shared :class:`RoutingRuntime`."""

    def __init__(self, runtime: RoutingRuntime) -> None:
        self.runtime = runtime
        self.accepted = 0
        self.rejected = 0

    def record_feedback(self, accepted: bool) -> None:
        """Count the editor's accept/reject of a completion (acceptance rate)."""
        if accepted:
            self.accepted += 1
        else:
            self.rejected += 1

    def prepare(
        self, session: Session, doc: Document, request: AssistRequest
    ) -> tuple[RouteExplanation, AssembledContext]:
        """Measure the scope, assemble the context and decide the route (no model call)."""
        settings = session.settings
        scope = measure_scope(
            doc, request.byte_offset, request.task.value, session.index, settings.analysis, selection=request.selection
        )
        local = self.runtime.local
        counter = local.token_counter() if local is not None else None
        completion = request.task in COMPLETION_TASKS
        budget = settings.completion.context_tokens if completion else settings.analysis.repository_max_tokens
        context = assemble_context(doc, request.byte_offset, scope, session.index, budget, counter)
        context_tokens = context.token_count if completion else max(scope.context_tokens, context.token_count)
        path = str(uri_to_path(doc.uri)) if doc.uri.startswith("file:") else ""
        sensitive = sensitive_path_reasons(path, settings.sensitive.path_globs, (str(r) for r in session.roots))
        budget_left = None  # budgets arrive with the ledger
        route_input = RouteInput(
            task=request.task,
            scope_level=scope.level,
            context_tokens=context_tokens,
            sensitive=bool(sensitive),
            sensitive_reasons=sensitive,
            local=self.runtime.local_state(),
            unhealthy=self.runtime.unhealthy(),
            missing_keys=self.runtime.missing_keys(),
            budget_remaining_usd=budget_left,
        )
        decision = decide(route_input, settings.routing, self.runtime.providers)
        return RouteExplanation(request.task, scope, decision), context

    def explain(self, session: Session, doc: Document, request: AssistRequest) -> RouteExplanation:
        return self.prepare(session, doc, request)[0]

    async def run(self, session: Session, doc: Document, request: AssistRequest) -> AssistResult:
        """Answer ``request``; an empty result says why in ``empty_reason``."""
        started = time.perf_counter()
        explanation, context = self.prepare(session, doc, request)
        decision = explanation.decision
        if decision.primary is None:
            reason = decision.reasons[-1] if decision.reasons else "no target may serve this request"
            return AssistResult("", explanation, empty_reason=reason, latency_ms=_ms(started))
        settings = session.settings
        completion = request.task in COMPLETION_TASKS
        focus = _focus_text(doc, explanation, request)
        policy = settings.routing.tasks.get(request.task.value)
        max_tokens = settings.completion.max_tokens if completion else (policy.max_output_tokens if policy else 512)

        def build(target: RouteTarget):  # type: ignore[no-untyped-def]
            return build_generation_request(
                request.task,
                request.request_id,
                target,
                context,
                language=doc.language,
                focus_text=focus,
                instruction=request.instruction,
                max_tokens=max_tokens,
            )

        deadline = settings.routing.completion_deadline_s if completion else settings.routing.deadline_s
        try:
            execution = await self.runtime.executor.execute(decision, build, deadline)
        except NoTargetError as exc:
            return AssistResult(
                "", explanation, attempts=exc.attempts, empty_reason=exc.message, latency_ms=_ms(started)
            )
        except InferenceError as exc:
            return AssistResult("", explanation, empty_reason=exc.message, latency_ms=_ms(started))
        text = execution.text
        if completion:
            text = trim_completion(doc, request.byte_offset, text, context.multiline)
        notice = ""
        if execution.fell_back:
            failed = ", ".join(f"{a.target} ({a.outcome})" for a in execution.attempts[:-1])
            notice = f"hybrid-assist: {failed} failed; answered by {execution.target.target}"
        return AssistResult(
            text=text,
            explanation=explanation,
            target=execution.target.target,
            model=execution.target.model,
            usage=execution.usage,
            cost_usd=actual_cost(execution.target, execution.usage, self.runtime.providers, settings.routing),
            latency_ms=_ms(started),
            ttft_ms=execution.ttft_ms,
            attempts=execution.attempts,
            notice=notice,
            multiline=context.multiline,
        )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _focus_text(doc: Document, explanation: RouteExplanation, request: AssistRequest) -> str:
    """The code a chat task is about: the selection, else the enclosing unit, else the document."""
    data = doc.text.encode("utf-8", "surrogatepass")
    if request.selection is not None:
        start, end = sorted(request.selection)
        if end > start:
            return data[start:end].decode("utf-8", "replace")
    if request.task in REPOSITORY_TASKS or request.task == TaskKind.MULTI_FILE_REFACTOR:
        return doc.text
    sl, sc, el, ec = explanation.scope.unit_range
    start = doc.offset_at(sl, sc, "utf-8")
    end = doc.offset_at(el, ec, "utf-8")
    if end <= start:
        return doc.text
    return data[start:end].decode("utf-8", "replace")
