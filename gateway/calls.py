"""From a request body to a :class:`~routing.service.RoutedCall`, with the gateway's own checks.

The client measured the scope and assembled the context; the gateway adds
what only it knows (the local engine's state, open circuits, missing keys,
the caller's team policy) and re-checks sensitivity: its own ``[sensitive]
path_globs`` against ``paths`` (the document, then the files its context came
from; sensitive context keeps the request local, since text the client
assembled cannot be withheld here), the client's ``sensitive_reasons``, and — when
the route may leave the premises — a secret scan of the text, after which
secrets are redacted or the request is kept local (``[sensitive] on_secret``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from gateway.auth import Principal
from gateway.fields import get_float, get_int, get_object, get_str, get_str_list, invalid
from gateway.openai_tools import parse_tool_calls
from gateway.state import Gateway
from inference.backend import estimate_tokens
from inference.settings import ProviderSettings
from inference.types import ChatMessage, GenerationRequest, RequestKind, ResponseFormat, ToolChoice, ToolSpec
from routing.escalation import tier_after
from routing.policy import RouteDecision
from routing.prepare import RouteFacts, plan_route, scan_route
from routing.redaction import tool_texts
from routing.sensitivity import SensitiveRules
from routing.service import RoutedCall
from routing.settings import RoutingSettings
from routing.tasks import COMPLETION_TASKS, TaskKind, parse_task

SCOPE_LEVELS = ("single_file", "multi_file", "repository")
#: The longest ``workspace`` a client may name (a path; the ledger keeps it with each request).
MAX_WORKSPACE_CHARS = 4096
#: The longest ``language`` (a tree-sitter language id) a client may name.
MAX_LANGUAGE_CHARS = 64
#: The longest ``cache_key`` a client may send (the language server sends a 32-character hash).
MAX_CACHE_KEY = 64
_ROLES = frozenset({"system", "user", "assistant", "developer", "tool"})


@dataclass(frozen=True, slots=True)
class Generation:
    """What the model is asked; the target's model is filled in when the route is known."""

    kind: RequestKind
    prefix: str = ""
    suffix: str = ""
    messages: tuple[ChatMessage, ...] = ()
    max_tokens: int | None = None  # None: the task policy's max_output_tokens
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    top_p: float | None = None
    seed: int | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    stable_chars: int = 0  # provider prompt caching: the stable prefix of the first user message (chat only)
    cache_key: str = ""  # groups requests that share that prefix (OpenAI's prompt_cache_key)

    def texts(self) -> tuple[str, ...]:
        """Everything of the prompt that leaves the premises and may hold a secret (tool calls and results, tool
        definitions and the response schema too)."""
        messages = (t for m in self.messages for t in m.texts())
        return (self.prefix, self.suffix, *messages, *tool_texts(self.tools, self.response_format))

    def prompt(self) -> str:
        return "".join(self.texts())


@dataclass(frozen=True, slots=True)
class CallSpec:
    """A request as the gateway understood it, before routing."""

    task: TaskKind
    scope_level: str = "single_file"
    context_tokens: int | None = None  # None: estimated from the text
    paths: tuple[str, ...] = ()
    sensitive_reasons: tuple[str, ...] = ()
    generation: Generation | None = None
    requested_model: str = ""
    client_request_id: str = ""
    workspace: str = ""  # the client session's workspace root, for the ledger ("": not said)
    language: str = ""  # the request's tree-sitter language id, for the ledger ("": not said)
    escalate_after: tuple[str, str] | None = None  # (target, model) whose answer failed the client's check


@dataclass(frozen=True, slots=True)
class Prepared:
    call: RoutedCall
    decision: RouteDecision  # before admission (the service may still change it for budget reasons)


def parse_assist(body: dict[str, Any], *, with_generation: bool) -> CallSpec:
    """The ``/v1/assist`` (or ``/v1/route/explain``) body; 400 naming the first bad field."""
    request_id = get_str(body, "request_id", "request_id")
    try:
        task = parse_task(get_str(body, "task", "task", required=True))
    except ValueError as exc:
        raise invalid("task", str(exc)) from None
    scope = get_object(body, "scope", "scope", required=True)
    level = get_str(scope, "level", "scope.level", required=True)
    if level not in SCOPE_LEVELS:
        raise invalid("scope.level", f"must be one of {', '.join(SCOPE_LEVELS)}")
    get_str_list(scope, "files", "scope.files")
    get_str_list(scope, "symbols", "scope.symbols")
    context_tokens = get_int(scope, "context_tokens", "scope.context_tokens", minimum=0)
    paths = get_str_list(body, "paths", "paths")
    reasons = get_str_list(body, "sensitive_reasons", "sensitive_reasons")
    workspace = get_str(body, "workspace", "workspace", max_chars=MAX_WORKSPACE_CHARS)
    language = get_str(body, "language", "language", max_chars=MAX_LANGUAGE_CHARS)
    escalate_after = None
    failed = get_object(body, "escalate_after", "escalate_after")
    if failed:
        target = get_str(failed, "target", "escalate_after.target", required=True)
        escalate_after = (target, get_str(failed, "model", "escalate_after.model"))
    generation = None
    if with_generation:
        generation = parse_generation(get_object(body, "generation", "generation", required=True))
    return CallSpec(
        task,
        level,
        context_tokens,
        paths,
        reasons,
        generation,
        client_request_id=request_id,
        workspace=workspace,
        language=language,
        escalate_after=escalate_after,
    )


def escalated(routing: RoutingSettings, spec: CallSpec, providers: Mapping[str, ProviderSettings]) -> RoutingSettings:
    """``routing`` with the task sent to the tier after ``spec.escalate_after`` (cheap first, local first);
    400 when the task has no tier left after it."""
    if spec.escalate_after is None:
        return routing
    policy = routing.tasks.get(spec.task.value)
    target, model = spec.escalate_after
    tier = tier_after(policy.order if policy is not None else (), target, model, providers)
    if tier is None:
        raise invalid("escalate_after", f"the task {spec.task.value!r} has no cloud tier after {target}:{model}")
    return routing.escalated(spec.task.value, tier, to_cloud=True)


def parse_generation(body: dict[str, Any], prefix: str = "generation.") -> Generation:
    kind = get_str(body, "kind", f"{prefix}kind", required=True)
    if kind not in ("fim", "chat"):
        raise invalid(f"{prefix}kind", "must be 'fim' or 'chat'")
    max_tokens = get_int(body, "max_tokens", f"{prefix}max_tokens", minimum=1)
    temperature = get_float(body, "temperature", f"{prefix}temperature", maximum=2.0)
    stop = get_str_list(body, "stop", f"{prefix}stop", one_string_ok=True)
    if kind == "fim":
        return Generation(
            RequestKind.FIM,
            prefix=get_str(body, "prefix", f"{prefix}prefix", required=True),
            suffix=get_str(body, "suffix", f"{prefix}suffix"),
            max_tokens=max_tokens,
            temperature=temperature or 0.0,
            stop=stop,
        )
    messages = parse_messages(body.get("messages"), f"{prefix}messages")
    stable_chars = get_int(body, "stable_chars", f"{prefix}stable_chars") or 0
    first_user = next((m.content for m in messages if m.role == "user"), "")
    if stable_chars > len(first_user):
        raise invalid(f"{prefix}stable_chars", "is longer than the first user message")
    cache_key = get_str(body, "cache_key", f"{prefix}cache_key", max_chars=MAX_CACHE_KEY)
    return Generation(
        RequestKind.CHAT,
        messages=messages,
        max_tokens=max_tokens,
        temperature=temperature or 0.0,
        stop=stop,
        stable_chars=stable_chars,
        cache_key=cache_key,
    )


def parse_messages(value: Any, field: str) -> tuple[ChatMessage, ...]:
    """Chat messages; ``content`` may be a string or OpenAI's list of ``{"type": "text", "text"}`` parts.

    An assistant turn may carry ``tool_calls``, a ``tool`` turn answers the call named by ``tool_call_id``.
    """
    if value is None:
        raise invalid(field, "is required")
    if not isinstance(value, list) or not value:
        raise invalid(field, "must be a non-empty list of {role, content} objects")
    messages = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid(f"{field}[{i}]", "must be an object with role and content")
        role = get_str(item, "role", f"{field}[{i}].role", required=True)
        if role not in _ROLES:
            raise invalid(f"{field}[{i}].role", f"must be one of {', '.join(sorted(_ROLES))}")
        content = item.get("content")
        if isinstance(content, list):
            parts = []
            for j, part in enumerate(content):
                if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                    raise invalid(f"{field}[{i}].content[{j}]", "only text parts are supported")
                parts.append(part["text"])
            content = "".join(parts)
        elif content is None:
            content = ""
        elif not isinstance(content, str):
            raise invalid(f"{field}[{i}].content", "must be a string or a list of text parts")
        tool_calls = parse_tool_calls(item, f"{field}[{i}]") if role == "assistant" else ()
        call_id = get_str(item, "tool_call_id", f"{field}[{i}].tool_call_id", required=role == "tool")
        messages.append(ChatMessage("system" if role == "developer" else role, content, tool_calls, call_id))
    return tuple(messages)


def _local_path(path: str) -> str:
    if path.startswith("file:"):
        return unquote(urlparse(path).path)
    return path


def ledger_id(client_id: str) -> str:
    """A request id unique across users: the client's id (shortened) plus a random suffix."""
    safe = "".join(c for c in client_id if c.isalnum() or c in "-_.:")[:40]
    return f"{safe or 'gw'}.{random.getrandbits(48):012x}"  # unique, not secret: ids are not credentials


def prepare(gateway: Gateway, principal: Principal, spec: CallSpec) -> Prepared:
    """Route ``spec`` for ``principal`` and wrap it as the :class:`RoutedCall` the service serves."""
    settings = gateway.settings
    runtime = gateway.runtime
    routing = escalated(settings.routing.for_team(principal.team), spec, runtime.providers)
    generation = spec.generation
    context_tokens = spec.context_tokens
    if context_tokens is None:
        context_tokens = estimate_tokens(generation.prompt()) if generation is not None else 0  # tools included
    request_id = ledger_id(spec.client_request_id)
    policy = routing.tasks.get(spec.task.value)
    default_tokens = policy.max_output_tokens if policy is not None else 512
    cap = settings.gateway_server.max_output_tokens
    gen = generation or Generation(RequestKind.CHAT)
    template = GenerationRequest(  # the executor fills in the model of each target
        request_id=request_id,
        kind=gen.kind,
        prefix=gen.prefix,
        suffix=gen.suffix,
        messages=gen.messages,
        max_tokens=min(gen.max_tokens or default_tokens, cap),
        temperature=gen.temperature,
        stop=gen.stop,
        top_p=gen.top_p,
        seed=gen.seed,
        tools=gen.tools,
        tool_choice=gen.tool_choice,
        parallel_tool_calls=gen.parallel_tool_calls,
        response_format=gen.response_format,
        stable_chars=gen.stable_chars,
        cache_key=gen.cache_key,
    )
    # The first path is the document, the others its context: the same rules as the language server's,
    # except that text already assembled cannot be withheld here, so sensitive context keeps it local.
    document, *context = (_local_path(p) for p in spec.paths) if spec.paths else ("",)
    facts = RouteFacts(
        spec.task,
        spec.scope_level,
        context_tokens,
        document=document,
        context=context,
        reasons=spec.sensitive_reasons,
        requested_model=spec.requested_model,
        language=spec.language,  # for learned per-language rules
        features=template.features(),  # a target that cannot honour tools or response_format is skipped
    )
    rules = SensitiveRules(tuple(settings.sensitive.path_globs), context=settings.sensitive.context)
    route = plan_route(facts, runtime, routing, rules, may_withhold=False)
    texts = generation.texts if generation is not None else tuple
    route = scan_route(route, texts, runtime.providers, routing, settings.sensitive)
    call = RoutedCall(
        request_id=request_id,
        user=principal.name,
        team=principal.team,
        task=spec.task,
        route_input=route.route_input,
        routing=routing,
        template=template,
        prompt=gen.prompt(),
        secrets=route.secrets,
        decision=route.decision,
        workspace=spec.workspace,
        language=spec.language,
    )
    return Prepared(call, route.decision)


def estimate_json(decision: RouteDecision) -> dict[str, object]:
    return {
        "input_tokens": decision.input_tokens,
        "output_tokens": decision.output_tokens,
        "cost_usd": round(decision.cost_usd, 6),
    }


def is_completion(task: TaskKind) -> bool:
    return task in COMPLETION_TASKS
