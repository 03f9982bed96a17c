"""The routing decision: a pure function from a request's facts to a target with reasons.

``decide(RouteInput, RoutingSettings, providers)`` looks at the task kind,
the measured scope and context size against the local window, sensitivity,
the local engine's load against the completion SLO, provider health and the
user's remaining budget, and returns a :class:`RouteDecision`: the target,
model, estimated tokens and cost, ordered fallbacks and human-readable
reasons. It performs no I/O, so it is cheap (microseconds) and testable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
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
    context_window: int = 0  # the window the loaded engine serves (0: not known yet, use the setting)
    starting: bool = False  # unavailable only because it is still loading


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
    unable: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (target, request fields it cannot honour): skipped
    language: str = ""  # the request's language id, for learned rules ("": unknown)


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
    blocked: tuple[str, ...] = ()  # no primary: why, the primary target's reason first
    refused: str = ""  # no primary because of the request itself: "model_not_allowed" | "context_length_exceeded"
    tiers: tuple[str, ...] = ()  # cheap first: the cloud targets asked in turn when an answer fails its check
    explored: bool = False  # the exploration share moved it to the other side (see :func:`explore`)

    @property
    def empty_reason(self) -> str:
        """Why nothing serves this decision: the primary target's blocking reason first, then the others."""
        if self.blocked:
            return "; ".join(self.blocked)
        return self.reasons[-1] if self.reasons else "no target may serve this request"

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
            **({"blocked": list(self.blocked)} if self.primary is None else {}),
            **({"refused": self.refused} if self.refused else {}),
            **({"tiers": list(self.tiers)} if self.tiers else {}),
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
    """Choose where ``request`` runs. Pure: same inputs, same decision.

    A task with ``tiers`` (cheap first) names them in :attr:`RouteDecision.tiers` unless the request cannot
    leave the premises or names its model: the caller asks the next tier when an answer fails its check.
    """
    decision = _decide(request, settings, providers)
    policy = settings.tasks.get(request.task.value)
    named = request.requested_model not in ("", "auto")
    if policy is not None and len(policy.order) > 1 and not request.sensitive and not named:
        return dataclasses.replace(decision, tiers=policy.order)
    return decision


def _decide(
    request: RouteInput,
    settings: RoutingSettings,
    providers: Mapping[str, ProviderSettings],
) -> RouteDecision:
    policy = settings.tasks.get(request.task.value) or TaskPolicy(local_up_to="single_file", cloud="")
    output_tokens = policy.max_output_tokens
    input_tokens = request.context_tokens
    needed = input_tokens + output_tokens
    local_window = request.local.context_window or settings.local_context_tokens
    local = RouteTarget(
        LOCAL, request.local.model, cloud=False, cost_usd=_local_cost(settings, input_tokens, output_tokens)
    )
    overflow = _overflow_target(providers, input_tokens, output_tokens)
    fits_local = needed <= local_window

    def none(
        reasons: list[str], blocked: list[str], refused: str = "", local_only: bool = False, shed: bool = False
    ) -> RouteDecision:
        ordered = tuple(dict.fromkeys(blocked))
        why = tuple(dict.fromkeys(reasons))
        return RouteDecision(
            None, (), input_tokens, output_tokens, why, local_only, shed, blocked=ordered, refused=refused
        )

    requested = request.requested_model if request.requested_model not in ("", "auto") else ""
    if requested:
        return _decide_named(request, settings, providers, requested, local, local_window, none)

    chain_info = _policy_chain(policy, settings, providers, request, input_tokens, output_tokens)
    cloud_chain = chain_info.chain

    if request.sensitive:
        kept = list(request.sensitive_reasons or ("sensitive code: kept on the premises",))
        on_prem = [local] if request.local.available else []
        if overflow is not None and not overflow.cloud:
            on_prem.append(overflow)
        if not on_prem:
            why = f"local engine unavailable ({request.local.reason}); sensitive code is never sent to the cloud"
            return none([*kept, why], [why], local_only=True)
        if not fits_local:
            kept.append(f"context {input_tokens} tokens exceeds the local window ({local_window}); it will be trimmed")
        return RouteDecision(on_prem[0], tuple(on_prem[1:]), input_tokens, output_tokens, tuple(kept), local_only=True)

    completion = request.task in COMPLETION_TASKS
    where = f"task {request.task.value} at scope {request.scope_level}"
    wants_local, learned = table_keeps_local(policy, request)
    reasons: list[str] = []
    blocked: list[str] = []
    learned_note = f" (learned: {learned})" if learned else ""
    oversized = False
    if wants_local:
        reasons.append(f"{where}: local by policy{learned_note}")
    if wants_local and not fits_local and not completion:
        wants_local, oversized = False, True
        reasons.append(f"context {input_tokens}+{output_tokens} tokens exceeds the local window ({local_window})")
    if (
        not fits_local
        and not completion
        and not cloud_chain
        and chain_info.windows
        and all(0 < w < needed for _, w in chain_info.windows)
    ):
        sizes = ", ".join([f"local {local_window}", *(f"{label} {w}" for label, w in chain_info.windows)])
        why = f"context {input_tokens}+{output_tokens} tokens fits no model's window ({sizes}); nothing was sent"
        return none([*reasons, why], [why], refused="context_length_exceeded")
    if not wants_local:
        if cloud_chain:
            first = cloud_chain[0]
            by = "too large for the local window" if oversized else f"cloud by policy{learned_note}"
            reasons.insert(0, f"{where}: {by}; chosen {first.target}:{first.model}")
            if chain_info.first_skipped and first.target not in chain_info.first_choice:
                reasons.append(
                    f"the policy's first choice {policy.first_cloud} was skipped: {'; '.join(chain_info.first_skipped)}"
                )
            reasons.extend(r for r in chain_info.skipped if r not in chain_info.first_skipped)
        else:
            why = (
                "; ".join(chain_info.first_skipped)
                or f"no provider named or of kind {policy.first_cloud!r} is configured"
            )
            by = "too large for the local window" if oversized else f"cloud by policy{learned_note}"
            reasons.insert(0, f"{where}: {by} ({policy.first_cloud}), but it is not usable: {why}")
            reasons.extend(r for r in chain_info.skipped if r not in chain_info.first_skipped)
            reasons.append(
                "no cloud provider is usable (disabled, no API key, open circuit or over budget); serving locally"
            )
            blocked.append(f"cloud target {policy.first_cloud} not usable: {why}")
            blocked.extend(r for r in chain_info.skipped if r not in chain_info.first_skipped)
            wants_local = True

    if wants_local:
        if not request.local.available:
            why = f"local engine unavailable: {request.local.reason}"
            reasons.append(why)
            may_leave = _may_leave(request, settings)
            # cloud providers matter only where the request may go to them: a completion never does
            cloud_skips = [r for r in chain_info.skipped if r not in reasons] if may_leave or blocked else []
            reasons.extend(cloud_skips)
            chain = ([overflow] if overflow else []) + (cloud_chain if may_leave else [])
            if not chain:
                # the local engine was the primary target unless the cloud was, and failed first
                primary_first = [why, *blocked] if not blocked else [*blocked[:1], why, *blocked[1:]]
                if completion and not request.local.starting:
                    reasons.append(COMPLETIONS_NEED_LOCAL)
                    primary_first.append(COMPLETIONS_NEED_LOCAL)
                return none(reasons, [*primary_first, *(r for r in cloud_skips if r not in blocked)])
            return RouteDecision(chain[0], tuple(chain[1:]), input_tokens, output_tokens, tuple(reasons))
        if completion and _local_overloaded(request.local, settings):
            reasons.append(_overload_reason(request.local, settings))
            if overflow is not None:
                reasons.append("single-file completion sent to the overflow endpoint")
                return RouteDecision(overflow, (local,), input_tokens, output_tokens, tuple(reasons))
            why = "no overflow endpoint: stale completion shed instead of queued"
            return none([*reasons, why], [reasons[-1], why], shed=True)
        fallbacks = ([overflow] if overflow else []) + (cloud_chain if _may_leave(request, settings) else [])
        return RouteDecision(local, tuple(fallbacks), input_tokens, output_tokens, tuple(reasons))

    fallbacks = cloud_chain[1:] + ([local] if request.local.available and fits_local else [])
    return RouteDecision(cloud_chain[0], tuple(fallbacks), input_tokens, output_tokens, tuple(reasons))


@dataclass(frozen=True, slots=True)
class InputLimit:
    """The largest prompt a target that may serve a request takes: its window less the task's answer."""

    tokens: int | None  # None: no limit is known (a candidate's window is unknown, or none may serve it)
    output_tokens: int
    windows: tuple[tuple[str, int], ...] = ()  # "target:model" and window of each candidate considered

    def sizes(self) -> str:
        return ", ".join(f"{label} {window}" for label, window in self.windows)


def input_limit(
    request: RouteInput,
    settings: RoutingSettings,
    providers: Mapping[str, ProviderSettings],
) -> InputLimit:
    """How many prompt tokens ``request`` may have so that a target the policy may send it to can hold it.

    The candidates are those :func:`decide` may choose whatever the size: the requested model; else the
    local engine (and an overflow endpoint) when the policy keeps the task local, the request is sensitive
    or no cloud target is usable, plus the usable cloud targets of a task that may leave (a completion the
    policy keeps local never does). The limit is the largest candidate's window less the task's
    ``max_output_tokens``; ``request.context_tokens`` is not looked at. Pure, like :func:`decide`.
    """
    policy = settings.tasks.get(request.task.value) or TaskPolicy(local_up_to="single_file", cloud="")
    output = policy.max_output_tokens
    local_window = request.local.context_window or settings.local_context_tokens
    windows: list[tuple[str, int]] = []
    requested = request.requested_model if request.requested_model not in ("", "auto") else ""
    if requested and requested == request.local.model:
        windows.append((LOCAL, local_window))
    elif requested:
        windows += [
            (f"{name}:{requested}", p.window(requested))
            for name, p in providers.items()
            if name != OVERFLOW and p.enabled and p.serves(requested) and not request.sensitive
        ]
    else:
        completion = request.task in COMPLETION_TASKS
        wants_local = table_keeps_local(policy, request)[0]
        cloud: list[RouteTarget] = []
        if not request.sensitive and not (completion and wants_local):
            probe = RouteInput(
                request.task,
                request.scope_level,
                0,
                unhealthy=request.unhealthy,
                missing_keys=request.missing_keys,
            )
            cloud = _policy_chain(policy, settings, providers, probe, 0, 0).chain
        if request.local.available and (wants_local or request.sensitive or not cloud):
            windows.append((LOCAL, local_window))
            overflow = providers.get(OVERFLOW)
            on_prem_ok = overflow is not None and (overflow.local or not request.sensitive)
            if overflow is not None and on_prem_ok and overflow.enabled and overflow.base_url:
                model = overflow.model_or_default()
                windows.append((f"{OVERFLOW}:{model}", overflow.window(model)))
        windows += [(f"{t.target}:{t.model}", providers[t.target].window(t.model)) for t in cloud]
    if not windows or any(w <= 0 for _, w in windows):
        return InputLimit(None, output, tuple(windows))
    return InputLimit(max(0, max(w for _, w in windows) - output), output, tuple(windows))


def too_large(request: RouteInput, limit: InputLimit) -> str:
    """Why ``request`` fits no candidate's window (its sizes named), or "" when it fits one."""
    if limit.tokens is None or request.context_tokens <= limit.tokens:
        return ""
    return (
        f"context {request.context_tokens}+{limit.output_tokens} tokens fits no model's window "
        f"({limit.sizes()}); nothing was sent"
    )


def _decide_named(
    request: RouteInput,
    settings: RoutingSettings,
    providers: Mapping[str, ProviderSettings],
    requested: str,
    local: RouteTarget,
    local_window: int,
    none: Callable[..., RouteDecision],
) -> RouteDecision:
    """A model the client named: that model, or no target with the reason (never a silent substitute)."""
    policy = settings.tasks.get(request.task.value) or TaskPolicy(local_up_to="single_file", cloud="")
    input_tokens, output_tokens = request.context_tokens, policy.max_output_tokens
    needed = input_tokens + output_tokens
    if requested == request.local.model:
        reasons = [f"model {requested} requested by the client: the local engine"]
        if not request.local.available:
            why = f"the requested model {requested} (local engine) is unavailable: {request.local.reason}"
            return none([*reasons, why], [why])
        if needed > local_window and request.task not in COMPLETION_TASKS:
            why = (
                f"context {input_tokens}+{output_tokens} tokens exceeds the window of the requested model "
                f"{requested} ({local_window})"
            )
            return none([*reasons, why], [why], refused="context_length_exceeded")
        return RouteDecision(local, (), input_tokens, output_tokens, tuple(reasons), local_only=request.sensitive)
    mapped = (
        settings.map_cloud_models_to_local
        and request.local.available
        and (needed <= local_window or request.task in COMPLETION_TASKS)
    )
    mapping = "; map_cloud_models_to_local: served by the local engine instead"
    if request.sensitive:
        why = f"sensitive code cannot go to the requested cloud model {requested}"
        reasons = [*(request.sensitive_reasons or ("sensitive code: kept on the premises",)), why]
        if mapped:
            return RouteDecision(
                local, (), input_tokens, output_tokens, (*reasons[:-1], why + mapping), local_only=True
            )
        return none(reasons, [why], refused="model_not_allowed", local_only=True)
    info = _cloud_chain(f":{requested}", settings, providers, request, input_tokens, output_tokens, named=True)
    reasons = [f"model {requested} requested by the client"]
    if info.chain:
        first = info.chain[0]
        reasons[0] += f": {first.target}:{first.model}"
        reasons.extend(info.skipped)
        fallbacks = tuple(info.chain[1:]) + ((local,) if mapped else ())
        return RouteDecision(first, fallbacks, input_tokens, output_tokens, tuple(reasons))
    why = "; ".join(info.skipped) or f"no enabled provider serves {requested}"
    if mapped:
        return RouteDecision(local, (), input_tokens, output_tokens, (*reasons, why + mapping))
    refused = ""
    if info.windows and all(0 < w < needed for _, w in info.windows):
        refused = "context_length_exceeded"
    return none([*reasons, why], [f"the requested model {requested} cannot serve it: {why}"], refused=refused)


def table_keeps_local(policy: TaskPolicy, request: RouteInput) -> tuple[bool, str]:
    """Whether the table keeps ``request`` local: a learned rule covering it, else ``local_up_to``; and the
    learned rule's evidence ("learned" when it has none; "" when no learned rule applies)."""
    rule = policy.learned_route(request.scope_level, request.context_tokens, request.language)
    if rule is not None:
        return rule.route == "local", rule.evidence or "learned"
    return _REACH_RANK[policy.local_up_to] >= _LEVEL_RANK.get(request.scope_level, 1), ""


def exploration_target(decision: RouteDecision, request: RouteInput) -> RouteTarget | None:
    """The target exploring ``decision`` would serve it with: its first fallback on the other side (local for a
    cloud primary, a cloud provider for a local one); None when it may not explore. Never for sensitive code, a
    completion or a model the client named, so exploration never adds a target the policy did not already allow."""
    primary = decision.primary
    if primary is None or request.sensitive or decision.local_only or request.task in COMPLETION_TASKS:
        return None
    if request.requested_model not in ("", "auto"):
        return None
    return next((t for t in decision.fallbacks if t.cloud != primary.cloud and t.target != OVERFLOW), None)


def explore(decision: RouteDecision, other: RouteTarget) -> RouteDecision:
    """``decision`` served by ``other`` (its :func:`exploration_target`), the rest of its chain after it. Pure, like
    :func:`decide`; ``routing.exploration`` says which requests explore."""
    rest = tuple(t for t in decision.chain() if t is not other)
    why = f"exploration: served by {other.target} instead of {decision.target} to keep both estimates fresh"
    return dataclasses.replace(
        decision, primary=other, fallbacks=rest, reasons=(*decision.reasons, why), explored=True, tiers=()
    )


#: What a user without a local engine needs to hear when a completion is asked for.
COMPLETIONS_NEED_LOCAL = "completions need a local model (or [providers.overflow]); cloud keys serve the other tasks"


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


@dataclass(slots=True)
class _Chain:
    chain: list[RouteTarget] = field(default_factory=list)
    first_choice: set[str] = field(default_factory=set)  # providers that match the policy's target
    first_skipped: list[str] = field(default_factory=list)  # why each of those was skipped
    skipped: list[str] = field(default_factory=list)  # why any provider was skipped
    windows: list[tuple[str, int]] = field(default_factory=list)  # "provider:model" and window, considered


def provider_order(settings: RoutingSettings, providers: Mapping[str, ProviderSettings]) -> list[str]:
    """``[routing] provider_order``, or (empty) every configured provider in the order of the settings.

    The settings hold the built-in providers first, then the user's tables in file order.
    """
    order = settings.provider_order or list(providers)
    return [name for name in order if name != OVERFLOW]


def _policy_chain(
    policy: TaskPolicy,
    settings: RoutingSettings,
    providers: Mapping[str, ProviderSettings],
    request: RouteInput,
    input_tokens: int,
    output_tokens: int,
) -> _Chain:
    """The cloud targets of ``policy``: each tier's own providers in the tiers' order, then the others.

    Without tiers this is the chain of ``cloud``. The first tier's skips are the "first choice" ones.
    """
    infos = [_cloud_chain(spec, settings, providers, request, input_tokens, output_tokens) for spec in policy.order]
    if len(infos) == 1:
        return infos[0]
    merged = _Chain(first_choice=infos[0].first_choice, first_skipped=list(infos[0].first_skipped))
    seen: set[str] = set()
    for info in infos[:-1]:
        for target in info.chain:
            if target.target in info.first_choice and target.target not in seen:
                seen.add(target.target)
                merged.chain.append(target)
    merged.chain += [t for t in infos[-1].chain if t.target not in seen]
    for info in infos:
        merged.skipped += [r for r in info.skipped if r not in merged.skipped]
        merged.windows += [w for w in info.windows if w not in merged.windows]
    return merged


def _cloud_chain(
    spec: str,
    settings: RoutingSettings,
    providers: Mapping[str, ProviderSettings],
    request: RouteInput,
    input_tokens: int,
    output_tokens: int,
    *,
    named: bool = False,
) -> _Chain:
    """Targets for the cloud target ``spec`` ("provider", "kind", "provider:model", "kind:model"), then the rest.

    With ``named`` (a model the client asked for) only providers that serve that model are listed.
    """
    info = _Chain()
    first, first_model = split_target(spec)
    named_provider = providers.get(first)
    kind = named_provider.kind if named_provider is not None else first
    order = provider_order(settings, providers)
    candidates = [name for name in dict.fromkeys([*order, *providers]) if name != OVERFLOW and name in providers]
    if named:  # only providers that list the model (or have it as their default)
        first_choice = [name for name in candidates if providers[name].serves(first_model)]
    else:  # the provider named so, then every provider of that kind that lists or accepts the model
        first_choice = [first] if named_provider is not None and first != OVERFLOW else []
        first_choice += [
            name
            for name in candidates
            if name not in first_choice
            and bool(first)
            and providers[name].kind == first
            and (not first_model or providers[name].serves(first_model, kind))
        ]
    info.first_choice = set(first_choice)
    rest = [] if named else [name for name in order if name not in info.first_choice]
    for name in dict.fromkeys([*first_choice, *rest]):
        provider = providers.get(name)
        in_first = name in info.first_choice
        if provider is None or not provider.enabled:
            if in_first:
                info.first_skipped.append(f"{name} skipped: {'disabled' if provider else 'not configured'}")
            continue
        if in_first and first_model:
            model = first_model
        else:
            model = first_model if first_model and provider.serves(first_model, kind) else provider.model_or_default()
        label = f"{name}:{model}"
        why = ""
        window = provider.window(model)
        info.windows.append((label, window))
        if name in request.missing_keys:
            why = f"{name} skipped: no API key configured"
        elif name in request.unhealthy:
            why = f"{name} skipped: circuit open after recent failures"
        elif window and input_tokens + output_tokens > window:
            why = f"{label} skipped: context {input_tokens}+{output_tokens} tokens exceeds its window ({window})"
        else:
            price = provider.price(model)
            cost = price.cost(input_tokens, 0, output_tokens) if price else 0.0
            if request.budget_remaining_usd is not None and cost > request.budget_remaining_usd:
                why = f"{name} skipped: estimated ${cost:.4f} exceeds the remaining budget"
            else:
                info.chain.append(RouteTarget(name, model, cloud=not provider.local, cost_usd=cost))
                continue
        info.skipped.append(why)
        if in_first:
            info.first_skipped.append(why)
    return info
