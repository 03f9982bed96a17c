"""The routing decision: a pure function from a request's facts to a target with reasons.

``decide(RouteInput, RoutingSettings, providers)`` looks at the task kind,
the measured scope and context size against the local window, sensitivity,
the local engine's load against the completion SLO, provider health and the
user's remaining budget, and returns a :class:`RouteDecision`: the target,
model, estimated tokens and cost, ordered fallbacks and human-readable
reasons. It performs no I/O, so it is cheap (microseconds) and testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from inference.settings import ProviderSettings
from routing.settings import RoutingSettings, TaskPolicy
from routing.tasks import COMPLETION_TASKS, TaskKind

LOCAL = "local"
OVERFLOW = "overflow"
_LEVEL_RANK = {"single_file": 1, "multi_file": 2, "repository": 3}
_REACH_RANK = {"never": 0, "single_file": 1, "multi_file": 2, "repository": 3}


@dataclass(frozen=True, slots=True)
class LocalState:
    """What the router knows about the local engine right now."""

    available: bool = True
    reason: str = ""  # why not available
    model: str = ""
    queued: int = 0
    running: int = 0
    recent_ttft_ms: float | None = None


@dataclass(frozen=True, slots=True)
class RouteInput:
    task: TaskKind
    scope_level: str  # single_file | multi_file | repository
    context_tokens: int
    sensitive: bool = False
    sensitive_reasons: tuple[str, ...] = ()
    local: LocalState = field(default_factory=LocalState)
    unhealthy: frozenset[str] = frozenset()  # providers whose circuit is open
    missing_keys: frozenset[str] = frozenset()  # providers without an API key
    budget_remaining_usd: float | None = None  # None: no budget applies
    requested_model: str = ""  # a model named by the client ("" or "auto": policy decides)


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """One place a request can go."""

    target: str  # "local", "overflow" or a provider name
    model: str
    cloud: bool  # leaves the premises
    cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class RouteDecision:
    primary: RouteTarget | None  # None: nothing may serve it (see reasons)
    fallbacks: tuple[RouteTarget, ...]
    input_tokens: int
    output_tokens: int
    reasons: tuple[str, ...]
    local_only: bool = False
    shed: bool = False  # a stale completion dropped instead of queued

    @property
    def target(self) -> str:
        return self.primary.target if self.primary else "none"

    @property
    def model(self) -> str:
        return self.primary.model if self.primary else ""

    @property
    def cost_usd(self) -> float:
        return self.primary.cost_usd if self.primary else 0.0

    def chain(self) -> tuple[RouteTarget, ...]:
        return ((self.primary,) if self.primary else ()) + self.fallbacks

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "model": self.model,
            "cloud": bool(self.primary and self.primary.cloud),
            "reasons": list(self.reasons),
            "fallbacks": [{"target": t.target, "model": t.model} for t in self.fallbacks],
            "local_only": self.local_only,
            "shed": self.shed,
        }


def split_target(spec: str) -> tuple[str, str]:
    """``"provider:model"`` -> ``("provider", "model")``; the model may be empty."""
    provider, _, model = spec.partition(":")
    return provider.strip(), model.strip()


def decide(
    request: RouteInput,
    settings: RoutingSettings,
    providers: Mapping[str, ProviderSettings],
) -> RouteDecision:
    """Choose where ``request`` runs. Pure: same inputs, same decision."""
    policy = settings.tasks.get(request.task.value) or TaskPolicy(local_up_to="single_file", cloud="")
    output_tokens = policy.max_output_tokens
    input_tokens = request.context_tokens
    reasons: list[str] = []
    local = RouteTarget(
        LOCAL, request.local.model, cloud=False, cost_usd=_local_cost(settings, input_tokens, output_tokens)
    )
    skipped: list[str] = []
    cloud_chain = _cloud_chain(policy, settings, providers, request, input_tokens, output_tokens, skipped)
    overflow = _overflow_target(providers, input_tokens, output_tokens)
    fits_local = input_tokens + output_tokens <= settings.local_context_tokens

    if request.sensitive:
        reasons.extend(request.sensitive_reasons or ("sensitive code: kept on the premises",))
        on_prem = [local] if request.local.available else []
        if overflow is not None and not overflow.cloud:
            on_prem.append(overflow)
        if not on_prem:
            reasons.append(
                f"local engine unavailable ({request.local.reason}); sensitive code is never sent to the cloud"
            )
            return RouteDecision(None, (), input_tokens, output_tokens, tuple(reasons), local_only=True)
        if not fits_local:
            reasons.append(f"context {input_tokens} tokens exceeds the local window; it will be trimmed")
        return RouteDecision(
            on_prem[0], tuple(on_prem[1:]), input_tokens, output_tokens, tuple(reasons), local_only=True
        )

    wants_local = _REACH_RANK[policy.local_up_to] >= _LEVEL_RANK.get(request.scope_level, 1)
    if wants_local:
        reasons.append(f"task {request.task.value} at scope {request.scope_level}: local by policy")
    else:
        reasons.append(f"task {request.task.value} at scope {request.scope_level}: cloud by policy ({policy.cloud})")
        reasons.extend(skipped)
    if wants_local and not fits_local and request.task not in COMPLETION_TASKS:
        wants_local = False
        reasons.append(
            f"context {input_tokens}+{output_tokens} tokens exceeds the local window ({settings.local_context_tokens})"
        )
    if not wants_local and not cloud_chain:
        reasons.append(
            "no cloud provider is usable (disabled, no API key, open circuit or over budget); serving locally"
        )
        wants_local = True

    if wants_local:
        if not request.local.available:
            reasons.append(f"local engine unavailable: {request.local.reason}")
            reasons.extend(r for r in skipped if r not in reasons)
            chain = ([overflow] if overflow else []) + (cloud_chain if _may_leave(request, settings) else [])
            if not chain:
                return RouteDecision(None, (), input_tokens, output_tokens, tuple(reasons))
            return RouteDecision(chain[0], tuple(chain[1:]), input_tokens, output_tokens, tuple(reasons))
        if request.task in COMPLETION_TASKS and _local_overloaded(request.local, settings):
            reasons.append(_overload_reason(request.local, settings))
            if overflow is not None:
                reasons.append("single-file completion sent to the overflow endpoint")
                return RouteDecision(overflow, (local,), input_tokens, output_tokens, tuple(reasons))
            reasons.append("no overflow endpoint: stale completion shed instead of queued")
            return RouteDecision(None, (), input_tokens, output_tokens, tuple(reasons), shed=True)
        fallbacks = ([overflow] if overflow else []) + (cloud_chain if _may_leave(request, settings) else [])
        return RouteDecision(local, tuple(fallbacks), input_tokens, output_tokens, tuple(reasons))

    fallbacks = cloud_chain[1:] + ([local] if request.local.available else [])
    return RouteDecision(cloud_chain[0], tuple(fallbacks), input_tokens, output_tokens, tuple(reasons))


def _may_leave(request: RouteInput, settings: RoutingSettings) -> bool:
    return settings.local_to_cloud_fallback and request.task not in COMPLETION_TASKS


def _local_overloaded(local: LocalState, settings: RoutingSettings) -> bool:
    if local.queued > settings.max_local_queue:
        return True
    return local.recent_ttft_ms is not None and local.recent_ttft_ms > settings.completion_slo_ms and local.queued > 0


def _overload_reason(local: LocalState, settings: RoutingSettings) -> str:
    ttft = "n/a" if local.recent_ttft_ms is None else f"{local.recent_ttft_ms:.0f} ms"
    return (
        f"local engine overloaded: {local.queued} queued, recent TTFT {ttft} "
        f"(SLO {settings.completion_slo_ms:.0f} ms, queue limit {settings.max_local_queue})"
    )


def _local_cost(settings: RoutingSettings, input_tokens: int, output_tokens: int) -> float:
    return (input_tokens + output_tokens) * settings.local_price_per_mtok / 1_000_000


def _overflow_target(
    providers: Mapping[str, ProviderSettings], input_tokens: int, output_tokens: int
) -> RouteTarget | None:
    overflow = providers.get(OVERFLOW)
    if overflow is None or not overflow.enabled or not overflow.base_url:
        return None
    model = overflow.model_or_default()
    price = overflow.price(model)
    cost = price.cost(input_tokens, 0, output_tokens) if price else 0.0
    return RouteTarget(OVERFLOW, model, cloud=not overflow.local, cost_usd=cost)


def _cloud_chain(
    policy: TaskPolicy,
    settings: RoutingSettings,
    providers: Mapping[str, ProviderSettings],
    request: RouteInput,
    input_tokens: int,
    output_tokens: int,
    reasons: list[str],
) -> list[RouteTarget]:
    first, first_model = split_target(policy.cloud)
    if request.requested_model and request.requested_model != "auto":
        for name, candidate in providers.items():
            if request.requested_model in candidate.models:
                first, first_model = name, request.requested_model
                break
    order = [first, *[p for p in settings.provider_order if p != first]]
    chain: list[RouteTarget] = []
    for name in order:
        provider = providers.get(name)
        if provider is None or not provider.enabled or name == OVERFLOW:
            continue
        if name in request.missing_keys:
            reasons.append(f"{name} skipped: no API key configured")
            continue
        if name in request.unhealthy:
            reasons.append(f"{name} skipped: circuit open after recent failures")
            continue
        model = provider.model_or_default(first_model if name == first else "")
        price = provider.price(model)
        cost = price.cost(input_tokens, 0, output_tokens) if price else 0.0
        if request.budget_remaining_usd is not None and cost > request.budget_remaining_usd:
            reasons.append(f"{name} skipped: estimated ${cost:.4f} exceeds the remaining budget")
            continue
        chain.append(RouteTarget(name, model, cloud=not provider.local, cost_usd=cost))
    return chain
