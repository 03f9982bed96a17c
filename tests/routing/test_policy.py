"""The routing decision for each task kind and scope, sensitivity, load, health and budget."""

from __future__ import annotations

import pytest

from inference.settings import ProviderSettings, default_providers
from routing.policy import LocalState, RouteInput, decide
from routing.settings import RoutingSettings
from routing.tasks import TaskKind

SETTINGS = RoutingSettings()
LOCAL_TASKS = {
    "completion",
    "inline_completion",
    "explain",
    "docstring",
    "naming",
    "refactor",
    "tests",
    "fix",
    "review",
    "documentation",
}


def providers(**overrides: dict[str, object]) -> dict[str, ProviderSettings]:
    result = default_providers()
    for name, values in overrides.items():
        result[name] = result[name].model_copy(update=values)
    return result


def route(task: str, level: str = "single_file", tokens: int = 500, **kw: object) -> object:
    request = RouteInput(
        task=TaskKind(task), scope_level=level, context_tokens=tokens, local=LocalState(model="qwen"), **kw
    )  # type: ignore[arg-type]
    return decide(request, SETTINGS, kw.pop("provs", None) or providers())  # type: ignore[arg-type]


@pytest.mark.parametrize("task", [t.value for t in TaskKind])
def test_single_file_follows_reference_split(task: str) -> None:
    decision = route(task)
    expected = "local" if task in LOCAL_TASKS else SETTINGS.tasks[task].first_cloud.split(":")[0]
    assert decision.target == expected  # type: ignore[attr-defined]
    assert decision.reasons  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("task", "level", "target"),
    [
        ("completion", "repository", "local"),
        ("explain", "multi_file", "local"),
        ("docstring", "repository", "gemini"),
        ("refactor", "multi_file", "anthropic"),
        ("fix", "repository", "openai"),
        ("tests", "repository", "anthropic"),
        ("multi_file_refactor", "multi_file", "anthropic"),
        ("security", "repository", "gemini"),  # cheap first: the first tier
    ],
)
def test_scope_escalates_to_cloud(task: str, level: str, target: str) -> None:
    assert route(task, level).target == target  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("task", "level"),
    [
        ("explain", "repository"),
        ("naming", "repository"),
        ("docstring", "multi_file"),
        ("fix", "multi_file"),
        ("review", "repository"),  # the review command's level; a file's or a diff's digest is small
        ("documentation", "repository"),
    ],
)
def test_local_first_tasks_stay_local_when_they_fit_and_go_to_the_cloud_when_not(task: str, level: str) -> None:
    # The reference design's local tasks (the old table sent these to the cloud at these levels).
    assert route(task, level, tokens=2_000).target == "local"  # type: ignore[attr-defined]
    too_big = route(task, level, tokens=SETTINGS.local_context_tokens)
    assert too_big.target == SETTINGS.tasks[task].first_cloud.split(":")[0]  # type: ignore[attr-defined]
    assert any("exceeds the local window" in r for r in too_big.reasons)  # type: ignore[attr-defined]
    sensitive = route(task, level, tokens=SETTINGS.local_context_tokens, sensitive=True)
    assert sensitive.target == "local" and sensitive.local_only  # type: ignore[attr-defined]


def test_cloud_decision_has_model_cost_and_fallbacks() -> None:
    decision = route("architecture", "repository", tokens=5_000)
    assert decision.target == "openai" and decision.model == "gpt-4o"  # type: ignore[attr-defined]
    expected = (5_000 * 2.50 + 2500 * 10.00) / 1e6
    assert decision.cost_usd == pytest.approx(expected)  # type: ignore[attr-defined]
    chain = [t.target for t in decision.chain()]  # type: ignore[attr-defined]
    assert chain == ["openai", "anthropic", "gemini", "local"]


def test_too_big_for_local_window_goes_to_cloud() -> None:
    decision = route("explain", "single_file", tokens=20_000)
    assert decision.target == "gemini"  # type: ignore[attr-defined]
    assert any("exceeds the local window" in r for r in decision.reasons)  # type: ignore[attr-defined]


def test_sensitive_code_never_leaves() -> None:
    decision = route("architecture", "repository", sensitive=True, sensitive_reasons=("sensitive path: .env",))
    assert decision.target == "local" and decision.local_only  # type: ignore[attr-defined]
    assert all(not t.cloud for t in decision.chain())  # type: ignore[attr-defined]


def test_sensitive_code_with_local_down_is_refused_not_sent() -> None:
    request = RouteInput(
        task=TaskKind.EXPLAIN,
        scope_level="single_file",
        context_tokens=100,
        sensitive=True,
        local=LocalState(available=False, reason="no model"),
    )
    decision = decide(request, SETTINGS, providers())
    assert decision.primary is None and decision.local_only
    assert any("never sent to the cloud" in r for r in decision.reasons)


def test_overloaded_local_sheds_or_overflows_completions() -> None:
    busy = LocalState(model="qwen", queued=40, recent_ttft_ms=900)
    request = RouteInput(task=TaskKind.INLINE_COMPLETION, scope_level="single_file", context_tokens=800, local=busy)
    shed = decide(request, SETTINGS, providers())
    assert shed.primary is None and shed.shed
    with_overflow = providers(overflow={"enabled": True, "base_url": "http://gpu-overflow/v1", "models": ["qwen-7b"]})
    overflow = decide(request, SETTINGS, with_overflow)
    assert overflow.target == "overflow" and overflow.model == "qwen-7b"
    assert [t.target for t in overflow.fallbacks] == ["local"]


def test_missing_keys_unhealthy_and_budget_skip_providers() -> None:
    decision = route(
        "architecture", "repository", missing_keys=frozenset({"openai"}), unhealthy=frozenset({"anthropic"})
    )
    assert decision.target == "gemini"  # type: ignore[attr-defined]
    broke = route("architecture", "repository", tokens=100_000, budget_remaining_usd=0.0)
    assert broke.target == "local"  # type: ignore[attr-defined]
    assert any("no cloud provider" in r for r in broke.reasons)  # type: ignore[attr-defined]


def test_local_down_non_sensitive_task_falls_to_cloud_but_completion_does_not() -> None:
    down = LocalState(available=False, reason="starting")
    explain = decide(RouteInput(TaskKind.EXPLAIN, "single_file", 100, local=down), SETTINGS, providers())
    assert explain.target == "gemini"
    completion = decide(RouteInput(TaskKind.COMPLETION, "single_file", 100, local=down), SETTINGS, providers())
    assert completion.primary is None


def test_requested_model_selects_its_provider() -> None:
    decision = route("architecture", "repository", requested_model="claude-haiku-4-5")
    assert decision.target == "anthropic" and decision.model == "claude-haiku-4-5"  # type: ignore[attr-defined]


def test_decision_is_pure() -> None:
    assert route("review", "repository") == route("review", "repository")
    assert route("architecture", "repository").to_json()["target"] == "openai"  # type: ignore[attr-defined]


def test_skipped_providers_are_explained() -> None:
    decision = route(
        "architecture", "repository", missing_keys=frozenset({"openai"}), unhealthy=frozenset({"anthropic"})
    )
    reasons = " | ".join(decision.reasons)  # type: ignore[attr-defined]
    assert "openai skipped: no API key" in reasons
    assert "anthropic skipped: circuit open" in reasons


def test_team_override_changes_only_that_team() -> None:
    settings = RoutingSettings.model_validate(
        {"teams": {"payments": {"tasks": {"explain": {"local_up_to": "never", "cloud": "anthropic"}}}}}
    )
    request = RouteInput(TaskKind.EXPLAIN, "single_file", 100, local=LocalState(model="qwen"))
    assert decide(request, settings.for_team("web"), providers()).target == "local"
    assert decide(request, settings.for_team("payments"), providers()).target == "anthropic"
    assert settings.for_team("payments") is settings.for_team("payments")
    assert settings.for_team("payments").tasks["docstring"] == settings.tasks["docstring"]


def test_invalid_team_override_is_rejected_with_its_name() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="team 'payments'"):
        RoutingSettings.model_validate({"teams": {"payments": {"completion_slo_ms": -1}}})


def test_cheap_first_tiers_order_the_chain_and_are_named_in_the_decision() -> None:
    request = RouteInput(TaskKind.SECURITY, "repository", 5000, local=LocalState(model="qwen"))
    decision = decide(request, SETTINGS, providers())
    labels = [f"{t.target}:{t.model}" for t in decision.chain()]
    assert labels[:2] == ["gemini:gemini-2.5-flash", "openai:gpt-4o"]  # the cheap tier, then the task's cloud
    assert decision.tiers == ("gemini:gemini-2.5-flash", "openai:gpt-4o")
    assert decision.to_json()["tiers"] == ["gemini:gemini-2.5-flash", "openai:gpt-4o"]
    # the first tier unusable: the next tier serves, not an unrelated provider
    no_gemini = decide(request, SETTINGS, providers(gemini={"enabled": False}))
    assert (no_gemini.target, no_gemini.model) == ("openai", "gpt-4o")
    # escalated to tier 1: the premium model first, even where the task would be local by policy
    escalated = decide(request, SETTINGS.escalated("security", 1), providers())
    assert (escalated.target, escalated.model) == ("openai", "gpt-4o")
    review = RouteInput(TaskKind.REVIEW, "repository", 500, local=LocalState(model="qwen"))
    assert decide(review, SETTINGS, providers()).target == "local"
    assert decide(review, SETTINGS.escalated("review", 1), providers()).model == "claude-sonnet-4-6"
    assert escalated.tiers == ()  # nothing left to escalate to
    # a local answer that failed its check: the cloud tiers from the first (tier 0 alone changes nothing)
    assert SETTINGS.escalated("review", 0) is SETTINGS
    from_local = decide(review, SETTINGS.escalated("review", 0, to_cloud=True), providers())
    assert from_local.target != "local" and next(f"{t.target}:{t.model}" for t in from_local.chain()) == (
        SETTINGS.tasks["review"].first_cloud
    )
    # sensitive code: on the premises, no tiers
    sensitive = decide(
        RouteInput(TaskKind.SECURITY, "repository", 5000, sensitive=True, local=LocalState(model="qwen")),
        SETTINGS.escalated("security", 1),
        providers(),
    )
    assert sensitive.target == "local" and sensitive.tiers == () and "tiers" not in sensitive.to_json()


def test_tiers_are_configured_per_task_and_team() -> None:
    explain_policy = {"local_up_to": "never", "cloud": "openai:gpt-4o", "tiers": ["gemini"]}
    settings = RoutingSettings.model_validate(
        {"teams": {"premium": {"tasks": {"security": {"tiers": []}}}, "docs": {"tasks": {"explain": explain_policy}}}}
    )
    explain = decide(RouteInput(TaskKind.EXPLAIN, "single_file", 500), settings.for_team("docs"), providers())
    assert explain.tiers == ("gemini", "openai:gpt-4o") and explain.target == "gemini"
    team = decide(RouteInput(TaskKind.SECURITY, "repository", 500), settings.for_team("premium"), providers())
    assert team.tiers == () and (team.target, team.model) == ("openai", "gpt-4o")  # cloud alone, as before tiers
    with pytest.raises(ValueError, match="tier"):
        RoutingSettings.model_validate({"tasks": {"review": {"local_up_to": "never", "cloud": "x", "tiers": [":m"]}}})
