"""Every configured provider is a routing candidate; windows are respected; reasons say what happened.

Policy cases are pure :func:`routing.policy.decide` calls; the served cases go
through :class:`routing.service.RoutingService` with the real OpenAI SDK
talking to the OpenAI wire servers of ``tests/wire`` and the instant engine as
the local one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hybrid_assist.runtime import build_runtime
from hybrid_assist.settings import HybridSettings
from inference.settings import ProviderSettings, default_providers
from inference.types import ChatMessage, GenerationRequest
from routing.policy import COMPLETIONS_NEED_LOCAL, LocalState, RouteInput, decide, provider_order
from routing.service import RoutedCall, RoutingService
from routing.settings import RoutingSettings, default_task_policies
from routing.tasks import TaskKind
from tests.wire.openai_server import OpenAIWireServer

BUILT_IN_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in BUILT_IN_KEYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUD_KEY", "sk-test-cloud")
    monkeypatch.setenv("A_KEY", "sk-test-a")
    monkeypatch.setenv("B_KEY", "sk-test-b")


def _custom(name_key: str, base_url: str = "https://llm.example.internal/v1", **kw: Any) -> ProviderSettings:
    values: dict[str, Any] = {
        "kind": "openai",
        "base_url": base_url,
        "api_key_env": name_key,
        "models": ["gpt-4o"],
        "max_retries": 0,
    }
    values.update(kw)
    return ProviderSettings(**values)


# These tests use review and explain as "a task the policy sends to the cloud": they pin the table entries of
# before local-first (review local only at single-file scope, explain up to multi-file), which the default
# table now serves locally whenever they fit the local window.
_OLD_TASKS: dict[str, Any] = {
    **{task: policy.model_dump() for task, policy in default_task_policies().items()},
    "review": {"local_up_to": "single_file", "cloud": "anthropic:claude-sonnet-4-6", "max_output_tokens": 1500},
    "explain": {"local_up_to": "multi_file", "cloud": "gemini:gemini-2.5-flash", "max_output_tokens": 400},
}
OLD_REVIEW_POLICY = RoutingSettings.model_validate({"tasks": _OLD_TASKS})


def _route(
    providers: dict[str, ProviderSettings],
    task: TaskKind = TaskKind.REVIEW,
    level: str = "repository",
    tokens: int = 2_000,
    settings: RoutingSettings | None = None,
    **kw: Any,
) -> Any:
    missing = frozenset(n for n, p in providers.items() if p.kind != "openai-compatible" and p.api_key() is None)
    local = kw.pop("local", LocalState(model="qwen"))
    request = RouteInput(task=task, scope_level=level, context_tokens=tokens, local=local, missing_keys=missing, **kw)
    return decide(request, settings or OLD_REVIEW_POLICY, providers)


# -- 1. custom-named providers ---------------------------------------------------------------------


def test_a_custom_named_provider_with_a_key_is_a_candidate() -> None:
    providers = {**default_providers(), "cloud": _custom("CLOUD_KEY")}
    decision = _route(providers)
    assert (decision.target, decision.model) == ("cloud", "gpt-4o")
    assert decision.reasons[0] == "task review at scope repository: cloud by policy; chosen cloud:gpt-4o"
    assert decision.reasons[1].startswith("the policy's first choice anthropic:claude-sonnet-4-6 was skipped")


def test_a_target_names_a_kind_served_by_any_provider_of_that_kind() -> None:
    providers = {**default_providers(), "cloud": _custom("CLOUD_KEY", models=["gpt-4o", "gpt-4o-mini"])}
    settings = RoutingSettings.model_validate(
        {"tasks": {"review": {"local_up_to": "never", "cloud": "openai:gpt-4o-mini"}}}
    )
    decision = _route(providers, settings=settings)
    assert (decision.target, decision.model) == ("cloud", "gpt-4o-mini")
    # a provider of another kind that does not list the model is no candidate for it
    other = {**default_providers(), "cloud": _custom("CLOUD_KEY", kind="anthropic", models=["claude-x"])}
    fallback = _route(other, settings=settings)
    assert (fallback.target, fallback.model) == ("cloud", "claude-x")  # still a candidate, by its default model
    assert any("first choice openai:gpt-4o-mini was skipped" in r for r in fallback.reasons)


def test_provider_order_defaults_to_every_configured_provider_built_ins_first() -> None:
    providers = {**default_providers(), "b": _custom("B_KEY"), "a": _custom("A_KEY")}
    assert provider_order(RoutingSettings(), providers) == ["openai", "anthropic", "gemini", "b", "a"]
    decision = _route(providers)
    assert [t.target for t in decision.chain()] == ["b", "a", "local"]
    explicit = RoutingSettings.model_validate({"tasks": _OLD_TASKS, "provider_order": ["a", "b"]})
    assert [t.target for t in _route(providers, settings=explicit).chain()][:2] == ["a", "b"]


def _served_settings(tmp_path: Path, providers: dict[str, dict[str, Any]]) -> HybridSettings:
    return HybridSettings.model_validate(
        {
            "user": "alice",
            "team": "platform",
            "data_dir": str(tmp_path / "data"),
            "local": {"backend": "instant", "instant_reply": "local answer"},
            "analysis": {"index_cache_dir": str(tmp_path / "index")},
            "providers": providers,
            "routing": {"tasks": _OLD_TASKS},
        }
    )


def _review_call(settings: HybridSettings, runtime_service: RoutingService, tokens: int = 2_000) -> RoutedCall:
    runtime = runtime_service.runtime

    return RoutedCall(
        request_id="sel-1",
        user="alice",
        team="platform",
        task=TaskKind.REVIEW,
        route_input=RouteInput(
            task=TaskKind.REVIEW,
            scope_level="repository",
            context_tokens=tokens,
            local=runtime.local_state(),
            unhealthy=runtime.unhealthy(),
            missing_keys=runtime.missing_keys(),
        ),
        routing=settings.routing,
        template=GenerationRequest.chat("sel-1", (ChatMessage("user", "review this"),), max_tokens=64),
        prompt="review this",
    )


def _wire(server: OpenAIWireServer, key: str) -> dict[str, Any]:
    return {"kind": "openai", "base_url": server.base_url, "api_key_env": key, "models": ["gpt-4o"], "max_retries": 0}


async def test_custom_provider_serves_review_through_the_wire(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    settings = _served_settings(tmp_path, {"cloud": _wire(openai_server, "CLOUD_KEY")})
    service = RoutingService(build_runtime(settings))
    await service.runtime.wait_local(10.0)
    openai_server.reply("one finding")
    try:
        served = await service.serve(_review_call(settings, service))
    finally:
        await service.close()
    assert (served.target, served.model, served.text) == ("cloud", "gpt-4o", "one finding")
    assert openai_server.generation_requests()[0].headers.get("authorization") == "Bearer sk-test-cloud"


@pytest.mark.parametrize("fault", ["server_error", "rate_limit"])
async def test_two_custom_providers_fall_back_then_the_local_engine_answers(
    tmp_path: Path, openai_server: OpenAIWireServer, openai_server_b: OpenAIWireServer, fault: str
) -> None:
    settings = _served_settings(tmp_path, {"a": _wire(openai_server, "A_KEY"), "b": _wire(openai_server_b, "B_KEY")})
    service = RoutingService(build_runtime(settings))
    await service.runtime.wait_local(10.0)
    try:
        openai_server.fail(fault)  # type: ignore[arg-type]
        openai_server_b.reply("backup answer")
        first = await service.serve(_review_call(settings, service))
        assert (first.target, first.text) == ("b", "backup answer")
        assert [(a.target, a.outcome == "ok") for a in first.attempts] == [("a", False), ("b", True)]

        openai_server.fail(fault)  # type: ignore[arg-type]
        openai_server_b.fail(fault)  # type: ignore[arg-type]
        both = await service.serve(_review_call(settings, service))
    finally:
        await service.close()
    assert (both.target, both.text) == ("local", "local answer")
    assert [a.target for a in both.attempts] == ["a", "b", "local"]


# -- 4. reasons that tell the truth ------------------------------------------------------------------


def test_the_primary_targets_blocking_reason_comes_first() -> None:
    unavailable = LocalState(available=False, reason="model Qwen/Qwen2.5-Coder-0.5B is not cached", model="q")
    decision = _route(default_providers(), task=TaskKind.COMPLETION, level="single_file", local=unavailable)
    assert decision.primary is None
    assert decision.empty_reason.startswith("local engine unavailable: model Qwen/Qwen2.5-Coder-0.5B is not cached")
    # a completion never goes to the cloud: no cloud provider is named, the remedy is
    assert "skipped" not in decision.empty_reason
    assert decision.blocked[1] == COMPLETIONS_NEED_LOCAL

    explain = _route(default_providers(), task=TaskKind.EXPLAIN, level="single_file", local=unavailable)
    assert explain.primary is None
    assert explain.empty_reason.startswith("local engine unavailable")
    assert "gemini skipped: no API key configured" in explain.empty_reason  # the fallbacks, after it
    assert COMPLETIONS_NEED_LOCAL not in explain.blocked

    cloud_task = _route(default_providers(), task=TaskKind.ARCHITECTURE, local=unavailable)
    assert cloud_task.primary is None
    assert cloud_task.blocked[0].startswith("cloud target openai:gpt-4o not usable: openai skipped: no API key")
    assert cloud_task.blocked[1].startswith("local engine unavailable")


def test_a_disabled_first_choice_is_named_as_skipped_not_as_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    providers = default_providers()
    providers["gemini"] = providers["gemini"].model_copy(update={"enabled": False})
    decision = _route(providers, task=TaskKind.EXPLAIN)
    assert decision.target == "openai"
    assert decision.reasons[0] == "task explain at scope repository: cloud by policy; chosen openai:gpt-4o"
    assert (
        decision.reasons[1] == "the policy's first choice gemini:gemini-2.5-flash was skipped: gemini skipped: disabled"
    )
    assert not any("cloud by policy (gemini" in r for r in decision.reasons)


# -- 2. windows ----------------------------------------------------------------------------------------


def test_the_router_uses_the_window_the_engine_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    providers = default_providers()
    small = LocalState(model="tiny", context_window=4096)
    assert _route(providers, task=TaskKind.FIX, level="single_file", tokens=6_000, local=small).target == "openai"
    # before the engine is up (no window reported) the setting (8192) is the window
    starting = LocalState(model="tiny")
    assert _route(providers, task=TaskKind.FIX, level="single_file", tokens=6_000, local=starting).target == "local"


def test_a_cloud_model_too_small_is_skipped_and_nothing_fits_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in BUILT_IN_KEYS:
        monkeypatch.setenv(name, "sk-test")
    providers = default_providers()
    decision = _route(providers, task=TaskKind.ARCHITECTURE, tokens=300_000)
    assert (decision.target, decision.model) == ("gemini", "gemini-2.5-flash")
    assert any(
        "openai:gpt-4o skipped: context 300000+2500 tokens exceeds its window (128000)" in r for r in decision.reasons
    )

    huge = _route(providers, task=TaskKind.ARCHITECTURE, tokens=2_000_000)
    assert huge.primary is None and huge.refused == "context_length_exceeded"
    assert "fits no model's window (local 8192, openai:gpt-4o 128000" in huge.empty_reason
    assert "gemini:gemini-2.5-flash 1048576" in huge.empty_reason


def test_custom_windows_per_model_and_per_provider() -> None:
    provider = _custom("CLOUD_KEY", models=["big", "small"], windows={"small": 16_000}, context_window=64_000)
    assert (provider.window("small"), provider.window("big")) == (16_000, 64_000)
    assert _custom("CLOUD_KEY").window("gpt-4o") == 128_000  # a well-known name keeps its published window
    providers = {"cloud": _custom("CLOUD_KEY", windows={"gpt-4o": 32_000})}
    refused = _route(providers, task=TaskKind.ARCHITECTURE, tokens=40_000)
    assert refused.primary is None and "cloud:gpt-4o 32000" in refused.empty_reason


async def test_nothing_fits_is_refused_before_any_network_call(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    settings = _served_settings(tmp_path, {"cloud": _wire(openai_server, "CLOUD_KEY")})
    service = RoutingService(build_runtime(settings))
    await service.runtime.wait_local(10.0)
    try:
        served = await service.serve(_review_call(settings, service, tokens=800_000))
    finally:
        await service.close()
    assert served.text == "" and served.outcome == "no_target" and served.attempts == ()
    assert "800000+1500 tokens fits no model's window" in served.empty_reason
    assert "cloud:gpt-4o 128000" in served.empty_reason
    assert openai_server.generation_requests() == []
