"""``Assistant``: the pipeline of one request — scope, context, usage control, route, engine, trim.

It knows nothing of LSP: handlers give it a session, a document and an
:class:`AssistRequest` and get an :class:`AssistResult`. Cancelling the
awaiting task aborts the generation in the engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Iterable
from pathlib import Path

from inference.types import Usage
from lsp_server.analysis.completion import trim_completion
from lsp_server.analysis.context import AssembledContext, assemble_context, head_within
from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import uri_to_path
from lsp_server.analysis.scope import measure_scope
from lsp_server.analysis.tokens import TokenCounter, counter_or_estimate
from lsp_server.completion_cache import CachedCompletion, CompletionCache
from lsp_server.requests import AssistRequest, AssistResult, RouteExplanation, new_request_id
from lsp_server.session import Session
from lsp_server.tasks.answer_store import StoredAnswer, prompt_key, store_in
from lsp_server.tasks.prompts import build_generation_request, prompt_cache_key
from routing.control import Outcome
from routing.policy import InputLimit, RouteDecision, RouteInput, input_limit, too_large
from routing.prepare import RouteFacts, plan_route, scan_route
from routing.runtime import RoutingRuntime
from routing.sensitivity import WITHHELD, SensitiveRules
from routing.service import RoutedCall, Serving
from routing.settings import RoutingSettings, SensitiveSettings
from routing.tasks import COMPLETION_TASKS, REPOSITORY_TASKS, TaskKind
from routing.usage.ledger import REUSED

logger = logging.getLogger(__name__)

#: Tokens a chat message costs beyond its text (role and separators), rounded up.
_MESSAGE_TOKENS = 8
#: Tasks whose code may be cut to fit a window (the answer explains it; it replaces nothing).
_CUTTABLE_FOCUS = frozenset({TaskKind.EXPLAIN})


@dataclasses.dataclass(frozen=True, slots=True)
class _Prepared:
    explanation: RouteExplanation
    context: AssembledContext
    route_input: RouteInput
    focus: str
    secrets: tuple[str, ...]  # kinds of secret in the outgoing context
    notes: tuple[str, ...]  # what was withheld from the context, and why
    paths: list[str]  # the files whose text is in the request: the document first, then its context


class Assistant:
    """Runs requests of every session of one process: prepared here, served by its :class:`Serving`.

    ``runtime`` holds this process's engines (none in gateway mode): token
    counting and the routing inputs of the decision made here. ``serving`` is
    where model calls go — the in-process :class:`RoutingService`, or the team
    gateway (``lsp_server.gateway_mode.GatewayMode``), which decides again.
    """

    def __init__(self, runtime: RoutingRuntime, serving: Serving, cache_size: int = 256) -> None:
        self.runtime = runtime
        self.serving = serving
        self.cache = CompletionCache(cache_size)
        self.accepted = 0
        self.rejected = 0

    async def close(self) -> None:
        """Stop the engines and flush the ledger (or close the gateway connection)."""
        await self.serving.close()

    async def budget_status(self, user: str, team: str) -> dict[str, object] | None:
        """The user's budget this month for status displays; None when no budget applies."""
        return await self.serving.budget(user, team)

    def record_feedback(
        self, request_id: str, accepted: bool, task: str = "inline_completion", kind: str = "completion"
    ) -> Awaitable[None]:
        """Count the editor's accept/reject of a completion now; the returned awaitable records it durably.

        ``kind`` says what the verdict is about (``routing.usage.ledger.FEEDBACK_KINDS``); only completions' count.
        """
        if kind == "completion":
            if accepted:
                self.accepted += 1
            else:
                self.rejected += 1
        return self.serving.feedback(request_id, accepted, task, kind)

    async def record_reused(self, session: Session, result: AssistResult, input_tokens: int, language: str) -> None:
        """The ledger row of an answer reused without a model call: outcome ``reused``, cost 0, and the tokens a
        new call would have sent (``input_tokens``) and received, which the report prices as the saving."""
        settings = session.settings
        outcome = Outcome(
            request_id=result.request_id or new_request_id("reuse"),
            user=settings.user,
            team=settings.team,
            task=result.explanation.task.value,
            scope_level=result.explanation.scope.level,
            target=result.target,
            model=result.model,
            prompt_tokens=input_tokens,
            completion_tokens=result.usage.completion_tokens,
            latency_ms=result.latency_ms,
            outcome=REUSED,
            workspace=str(session.roots[0]) if session.roots else "",
            reason="answer reused: inputs unchanged",
            language=language,
        )
        await self.serving.record(outcome)

    # -- preparation (no model call) -----------------------------------
    def input_limit(
        self, session: Session, task: TaskKind, scope_level: str = "repository", tier: int = 0
    ) -> InputLimit:
        """The largest prompt a target that may serve ``task`` holds now (its window less the answer)."""
        facts = RouteInput(
            task=task,
            scope_level=scope_level,
            context_tokens=0,
            local=self.runtime.local_state(),
            unhealthy=self.runtime.unhealthy(),
            missing_keys=self.runtime.missing_keys(),
        )
        return input_limit(facts, _routing(session, task, tier), self.runtime.providers)

    def _prepare(self, session: Session, doc: Document, request: AssistRequest, cap: int | None = None) -> _Prepared:
        settings = session.settings
        scope = measure_scope(
            doc, request.byte_offset, request.task.value, session.index, settings.analysis, selection=request.selection
        )
        local = self.runtime.local
        counter = local.token_counter() if local is not None else None
        completion = request.task in COMPLETION_TASKS
        # The context fits the largest window among the targets that may serve the request (less the answer).
        limit = self.input_limit(session, request.task, scope.level, request.tier).tokens
        if cap is not None:
            limit = cap if limit is None else min(limit, cap)
        budget = settings.completion.context_tokens if completion else settings.analysis.repository_max_tokens
        if limit is not None:
            budget = min(budget, limit)
        context = assemble_context(doc, request.byte_offset, scope, session.index, budget, counter)
        mode = settings.completion.multiline
        if completion and mode != "auto":
            context = dataclasses.replace(context, multiline=mode == "always")
        focus = "" if completion else _focus_text(doc, scope.unit_range, request)
        context_tokens = context.token_count if completion else max(scope.context_tokens, context.token_count)
        if not completion and limit is not None:
            context, focus, context_tokens = self._fit_chat(
                request, doc, context, focus, context_tokens, limit, counter
            )
        path = _path(doc.uri)
        # Every file whose text is in the request is checked, the document and its context alike.
        context_uris = _context_uris(
            context, scope.files if request.task == TaskKind.MULTI_FILE_REFACTOR else (), request
        )
        by_path = {_path(uri): uri for uri in context_uris}
        routing = _routing(session, request.task, request.tier, request.escalation)
        facts = RouteFacts(
            request.task,
            scope.level,
            context_tokens,
            document=path,
            context=list(by_path),
            language=_language(doc, request),
        )
        rules = sensitive_rules(settings.sensitive, session.roots)
        route = plan_route(facts, self.runtime, routing, rules, may_withhold=True)
        # Sensitive context under ``withhold``: taken out whenever the request may leave the premises
        # (when another process decides where it goes, always).
        withheld = tuple(by_path[p] for p in route.withheld(self.serving.routes_remotely or route.may_leave))
        if withheld:
            context = context.withholding(set(withheld), WITHHELD)

        def outgoing() -> tuple[str, ...]:
            # the instruction too: it carries other files' text (a multi-file refactor's, an existing test file)
            return (context.prompt_prefix(), context.suffix, focus, request.instruction)

        route = scan_route(route, outgoing, self.runtime.providers, routing, settings.sensitive)
        route_input, decision, secrets = route.route_input, route.decision, route.secrets
        if decision.primary is not None:
            # kept on the premises, the request may now have fewer (smaller) windows: fit it again, or refuse it
            final = input_limit(route_input, routing, self.runtime.providers)
            why = too_large(route_input, final)
            if why and final.tokens is not None and cap is None and (limit is None or final.tokens < limit):
                return self._prepare(session, doc, request, final.tokens)
            if why:
                decision = RouteDecision(
                    None,
                    (),
                    route_input.context_tokens,
                    final.output_tokens,
                    (*decision.reasons, why),
                    local_only=decision.local_only,
                    blocked=(why,),
                    refused="context_length_exceeded",
                )
        notes = route.check.notes if withheld else ()
        if notes:
            decision = dataclasses.replace(decision, reasons=(*decision.reasons, *notes))
        explanation = RouteExplanation(request.task, scope, decision, withheld)
        paths = [p for p in (path, *by_path) if p and by_path.get(p) not in withheld]
        return _Prepared(explanation, context, route_input, focus, secrets, notes, paths)

    def _fit_chat(
        self,
        request: AssistRequest,
        doc: Document,
        context: AssembledContext,
        focus: str,
        context_tokens: int,
        limit: int,
        counter: TokenCounter | None,
    ) -> tuple[AssembledContext, str, int]:
        """A chat task's context within ``limit`` prompt tokens: fewer definitions, then (explain) less code."""
        count = counter_or_estimate(counter)

        def size(ctx: AssembledContext, text: str) -> int:
            generation = build_generation_request(
                request.task,
                request.request_id,
                ctx,
                language=doc.language,
                focus_text=text,
                instruction=request.instruction,
                max_tokens=1,
            )
            return sum(count(m.content) + _MESSAGE_TOKENS for m in generation.messages)

        prompt = size(context, focus)
        if max(context_tokens, prompt) <= limit:
            # the router weighs the whole prompt: a repository digest is far larger than its scope's estimate
            return context, focus, max(context_tokens, prompt)
        snippets = context.snippets
        while snippets and prompt > limit:  # the least relevant definitions go first
            snippets = snippets[:-1]
            context = dataclasses.replace(context, snippets=snippets)
            prompt = size(context, focus)
        if prompt > limit and request.task in _CUTTABLE_FOCUS:
            focus = head_within(focus, max(0, count(focus) - (prompt - limit)), count)
            prompt = size(context, focus)
        return context, focus, prompt

    def explain(self, session: Session, doc: Document, request: AssistRequest) -> RouteExplanation:
        return self._prepare(session, doc, request).explanation

    async def explain_route(self, session: Session, doc: Document, request: AssistRequest) -> RouteExplanation:
        """:meth:`explain`, with the decision of the service that serves it (in gateway mode the gateway's,
        or this one with a note why not)."""
        prepared = self._prepare(session, doc, request)
        explanation = prepared.explanation
        decision = explanation.decision
        remote = await self.serving.explain(self._call(session, doc, request, prepared))
        if isinstance(remote, str):  # the gateway could not answer: the local view, saying so
            note = f"{remote} This is the language server's own decision, not the gateway's."
            return dataclasses.replace(
                explanation, decision=dataclasses.replace(decision, reasons=(*decision.reasons, note))
            )
        # what the language server withheld before sending is said beside the serving side's reasons
        notes = tuple(n for n in prepared.notes if n not in remote.reasons)
        return dataclasses.replace(explanation, decision=dataclasses.replace(remote, reasons=(*remote.reasons, *notes)))

    # -- execution ---------------------------------------------------------
    async def run(self, session: Session, doc: Document, request: AssistRequest) -> AssistResult:
        """Answer ``request``; an empty result says why in ``empty_reason``."""
        result = await self._run(session, doc, request)
        return dataclasses.replace(result, request_id=request.request_id)

    def _call(self, session: Session, doc: Document, request: AssistRequest, prepared: _Prepared) -> RoutedCall:
        """The model call of ``request``: the generation request (no model: the executor fills it in) and its route."""
        settings = session.settings
        routing = _routing(session, request.task, request.tier, request.escalation)
        completion = request.task in COMPLETION_TASKS
        policy = routing.tasks.get(request.task.value)
        max_tokens = settings.completion.max_tokens if completion else (policy.max_output_tokens if policy else 512)
        context = prepared.context
        workspace = str(session.roots[0]) if session.roots else ""  # the session's first root: the ledger's
        template = build_generation_request(
            request.task,
            request.request_id,
            context,
            language=doc.language,
            focus_text=prepared.focus,
            instruction=request.instruction,
            max_tokens=max_tokens,
            cache_key=prompt_cache_key(settings.user, workspace),
        )
        scope = prepared.explanation.scope
        return RoutedCall(
            request_id=request.request_id,
            user=settings.user,
            team=settings.team,
            task=request.task,
            route_input=prepared.route_input,
            routing=routing,
            template=template,
            prompt=context.prompt_prefix() + context.suffix,
            secrets=prepared.secrets,
            decision=prepared.explanation.decision,
            paths=tuple(prepared.paths),
            scope_files=scope.files,
            scope_symbols=tuple(s.name for s in scope.symbols),
            workspace=workspace,
            language=_language(doc, request),
            escalate_after=request.escalate_after,
        )

    async def _run(self, session: Session, doc: Document, request: AssistRequest) -> AssistResult:
        started = time.perf_counter()
        prepared = self._prepare(session, doc, request)
        explanation = prepared.explanation
        decision = explanation.decision
        completion = request.task in COMPLETION_TASKS
        context = prepared.context
        cache_key = ""
        # The route the answer is cached under (in gateway mode the gateway picks the target: "gateway").
        route = self.serving.route_key(decision) if completion else ""
        if route:
            # A cache hit costs nothing, so it is served before admission and reservation.
            cache_key = self.cache.key(context.prompt_prefix(), context.suffix, route, session.settings.user)
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
        call = self._call(session, doc, request, prepared)
        reuse_key = ""
        if request.reuse and not completion:  # the very same prompt answered before, and that answer used
            reuse_key = self._reuse_key(session, call)
            stored = await asyncio.to_thread(store_in(session.settings.data_dir).get, reuse_key)
            if stored is not None:
                reused = AssistResult(
                    stored.text,
                    explanation,
                    target=stored.target,
                    model=stored.model,
                    usage=Usage(0, 0, stored.completion_tokens),
                    latency_ms=_ms(started),
                    from_cache=True,
                    request_id=request.request_id,
                )
                await self.record_reused(session, reused, decision.input_tokens, _language(doc, request))
                return reused
        served = await self.serving.serve(call)
        explanation = dataclasses.replace(explanation, decision=served.decision)
        text = served.text
        if completion and text:
            text = trim_completion(doc, request.byte_offset, text, context.multiline)
            # Not an answer from a fallback or another decision: the next request may get the intended target back.
            intended = not served.fell_back and self.serving.route_key(served.decision) == route
            if cache_key and intended:
                self.cache.put(cache_key, CachedCompletion(text, served.target, served.model))
        return AssistResult(
            text=text,
            explanation=explanation,
            target=served.target,
            model=served.model,
            usage=served.usage,
            cost_usd=served.cost_usd,
            latency_ms=_ms(started),
            ttft_ms=served.ttft_ms,
            attempts=served.attempts,
            empty_reason=served.empty_reason,
            notice=_join(list(served.notices)),
            multiline=context.multiline,
            reuse_key=reuse_key,
        )

    def _reuse_key(self, session: Session, call: RoutedCall) -> str:
        policy = call.routing.tasks.get(call.task.value)
        decision = call.decision  # the model that would answer: a new one is asked anew
        route = f"{decision.target}:{decision.model}" if decision is not None else ""
        tiers = [policy.model_dump() if policy is not None else None, route]
        messages = [(m.role, m.content) for m in call.template.messages]
        return prompt_key(session.settings.user, call.task.value, messages, tiers)

    async def keep_answer(self, session: Session, result: AssistResult) -> None:
        """Store ``result`` (an answer that was used: its edit passed the checks) for the same prompt again."""
        if result.reuse_key and not result.from_cache and result.text.strip():
            answer = StoredAnswer(
                result.text, result.target, result.model, result.cloud, result.usage.completion_tokens, result.cost_usd
            )
            await asyncio.to_thread(store_in(session.settings.data_dir).put, result.reuse_key, answer)


def _path(uri: str) -> str:
    return str(uri_to_path(uri)) if uri.startswith("file:") else ""


def _context_uris(context: AssembledContext, related: tuple[str, ...], request: AssistRequest) -> list[str]:
    """The other files whose text is in the request: definitions shown, a multi-file refactor's files, the
    files the instruction carries (file URIs only)."""
    uris = [*(s.uri for s in context.snippets), *related, *request.context_uris]
    return [uri for uri in dict.fromkeys(uris) if uri.startswith("file:") and uri != request.uri]


def sensitive_rules(settings: SensitiveSettings, roots: Iterable[Path]) -> SensitiveRules:
    """The session's ``[sensitive]`` rules, relative to its workspace roots (as named and as resolved)."""
    names = [str(r) for r in roots]
    resolved = [os.path.realpath(r) for r in names]
    return SensitiveRules(tuple(settings.path_globs), tuple(dict.fromkeys([*names, *resolved])), settings.context)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _join(notices: list[str]) -> str:
    return " ".join(dict.fromkeys(n for n in notices if n))


def _language(doc: Document, request: AssistRequest) -> str:
    """The language of ``request`` for the ledger and learned rules (the document's unless the request says)."""
    return (doc.language or "") if request.language is None else request.language


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


def _routing(session: Session, task: TaskKind, tier: int, escalation: bool = False) -> RoutingSettings:
    """The session's routing settings for its team, with ``task`` escalated to its ``tier`` (cheap first; an
    ``escalation`` asks the cloud tiers even from tier 0: a local answer failed its check)."""
    settings = session.settings
    return settings.routing.for_team(settings.team).escalated(task.value, tier, to_cloud=escalation)
