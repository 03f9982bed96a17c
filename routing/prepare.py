"""Route preparation, written once: from what a request is to the decision that serves it.

The language server (:mod:`lsp_server.assistant`) and the gateway
(:mod:`gateway.calls`) both prepare their routes here. :func:`plan_route`
builds the :class:`~routing.policy.RouteInput` from the facts the caller
measured and the runtime's state, checks every file whose text is in the
request against the sensitive paths (:meth:`SensitiveRules.check
<routing.sensitivity.SensitiveRules.check>`) and decides. :func:`scan_route`
then — only when the route may leave the premises — scans the outgoing text
for secrets: they are redacted on the way out, or under ``[sensitive]
on_secret = "local_only"`` the request is kept on the premises and decided
again (the kinds found are kept either way, so anything bound for the cloud
is still redacted).

Two steps because the language server may withhold sensitive context between
them (:attr:`PreparedRoute.withheld`); the gateway cannot (the client
assembled the text), so sensitive context keeps its requests local.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from inference.settings import ProviderSettings
from inference.types import Feature, missing_fields
from routing.policy import RouteDecision, RouteInput, decide
from routing.redaction import secret_kinds
from routing.runtime import RoutingRuntime
from routing.sensitivity import ContextCheck, SensitiveRules
from routing.settings import RoutingSettings, SensitiveSettings
from routing.tasks import TaskKind


@dataclass(frozen=True, slots=True)
class RouteFacts:
    """What the caller knows of a request before routing it."""

    task: TaskKind
    scope_level: str
    context_tokens: int
    document: str = ""  # the path of the document ("": none)
    context: Sequence[str] = ()  # the paths of the other files whose text is in the request
    reasons: tuple[str, ...] = ()  # sensitivity the caller already found (the gateway: the client's)
    requested_model: str = ""
    features: frozenset[Feature] = frozenset()  # tools / structured output the request needs (targets must honour)
    language: str = ""  # the request's language id, for learned rules ("": unknown)


@dataclass(frozen=True, slots=True)
class PreparedRoute:
    """A request's routing inputs and decision, with what the sensitivity check and the secret scan found."""

    route_input: RouteInput
    decision: RouteDecision
    check: ContextCheck
    secrets: tuple[str, ...] = ()  # kinds of secret in the outgoing text: redacted on the way to the cloud

    @property
    def may_leave(self) -> bool:
        """Whether a target of the decision leaves the premises."""
        return any(t.cloud for t in self.decision.chain())

    def withheld(self, may_leave: bool) -> tuple[str, ...]:
        """The context paths to take out of the request (``withhold`` rules) when it ``may_leave``."""
        return self.check.withheld if may_leave else ()


def decide_route(
    route_input: RouteInput,
    routing: RoutingSettings,
    providers: Mapping[str, ProviderSettings],
    secrets: tuple[str, ...] = (),
) -> RouteDecision:
    """The pure policy decision, with a note when secrets will be redacted on the way out.

    Targets that cannot honour the request's tools or structured output (``RouteInput.unable``) are skipped with
    a reason; when none is left the decision is refused ``unsupported_field``, its reason naming the field first.
    """
    decision = _honoured(decide(route_input, routing, providers), route_input.unable)
    if secrets and not route_input.sensitive and any(t.cloud for t in decision.chain()):
        note = f"secrets in the context ({', '.join(secrets)}) are redacted before it leaves the premises"
        decision = dataclasses.replace(decision, reasons=(*decision.reasons, note))
    return decision


#: ``RouteDecision.refused`` when no target that may serve a request can honour its tools or response_format.
UNSUPPORTED_FIELD = "unsupported_field"


def _honoured(decision: RouteDecision, unable: tuple[tuple[str, tuple[str, ...]], ...]) -> RouteDecision:
    """``decision`` without the targets that cannot honour the request's features, each skip given as a reason."""
    if not unable or decision.primary is None:
        return decision
    lacking = dict(unable)
    chain = decision.chain()
    kept = [t for t in chain if t.target not in lacking]
    if len(kept) == len(chain):
        return decision
    skips = tuple(
        f"{t.target}:{t.model} skipped: cannot honour {', '.join(lacking[t.target])}"
        for t in chain
        if t.target in lacking
    )
    if kept:
        return dataclasses.replace(
            decision, primary=kept[0], fallbacks=tuple(kept[1:]), reasons=(*decision.reasons, *skips)
        )
    fields = sorted({f for t in chain for f in lacking.get(t.target, ())})
    why = f"{', '.join(fields)}: no target that may serve this request can honour it ({'; '.join(skips)})"
    return dataclasses.replace(
        decision,
        primary=None,
        fallbacks=(),
        reasons=(*decision.reasons, *skips, why),
        blocked=(why,),
        refused=UNSUPPORTED_FIELD,
        tiers=(),
    )


def unable_targets(runtime: RoutingRuntime, features: frozenset[Feature]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each backend of ``runtime`` lacking one of ``features``, with the request fields it cannot honour."""
    if not features:
        return ()
    found = ((name, missing_fields(features, backend.features())) for name, backend in runtime.backends.items())
    return tuple((name, fields) for name, fields in found if fields)


def plan_route(
    facts: RouteFacts,
    runtime: RoutingRuntime,
    routing: RoutingSettings,
    rules: SensitiveRules,
    *,
    may_withhold: bool,
) -> PreparedRoute:
    """Check sensitivity (the document, then its context) and decide; ``may_withhold``: see ``SensitiveRules.check``."""
    check = rules.check(facts.document, facts.context, may_withhold=may_withhold)
    reasons = list(facts.reasons)
    reasons += [r for r in check.reasons if r not in reasons]
    route_input = RouteInput(
        task=facts.task,
        scope_level=facts.scope_level,
        context_tokens=facts.context_tokens,
        sensitive=bool(reasons),
        sensitive_reasons=tuple(reasons),
        local=runtime.local_state(),
        unhealthy=runtime.unhealthy(),
        missing_keys=runtime.missing_keys(),
        requested_model=facts.requested_model,
        unable=unable_targets(runtime, facts.features),
        language=facts.language,
    )
    return PreparedRoute(route_input, decide_route(route_input, routing, runtime.providers), check)


def scan_route(
    prepared: PreparedRoute,
    texts: Callable[[], Iterable[str]],
    providers: Mapping[str, ProviderSettings],
    routing: RoutingSettings,
    settings: SensitiveSettings,
) -> PreparedRoute:
    """Scan ``texts()`` (what leaves) for secrets when the route may leave; keep it local or note the redaction."""
    # Only text that may leave the premises is scanned (the scan costs milliseconds per request).
    if not settings.detect_secrets or prepared.route_input.sensitive or not prepared.may_leave:
        return prepared
    found = secret_kinds(*texts())
    if not found:
        return prepared
    route_input = prepared.route_input
    if settings.on_secret == "local_only":
        reason = f"secrets in the context ({', '.join(found)}): kept on the premises"
        route_input = dataclasses.replace(route_input, sensitive=True, sensitive_reasons=(reason,))
    decision = decide_route(route_input, routing, providers, found)
    return dataclasses.replace(prepared, route_input=route_input, decision=decision, secrets=found)
