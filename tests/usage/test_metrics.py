"""Metrics: the exposition parses, label sets are bounded, the endpoint serves, the dashboard matches."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from inference.types import Usage
from routing.tasks import TaskKind
from routing.usage.metrics import MAX_OUTCOMES, MAX_TARGETS, MAX_TEAMS, UsageMetrics, start_metrics_server

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "hybrid-assist.json"
LABELS = {
    "hybrid_assist_requests": {"target", "task", "outcome"},
    "hybrid_assist_request_duration_seconds": {"target", "task"},
    "hybrid_assist_time_to_first_token_seconds": {"target", "task"},
    "hybrid_assist_tokens": {"target", "kind"},
    "hybrid_assist_cost_usd": {"target", "task"},
    "hybrid_assist_fallbacks": {"from_target", "to_target"},
    "hybrid_assist_circuit_state": {"target"},
    "hybrid_assist_local_queue_depth": set(),
    "hybrid_assist_budget_remaining_usd": {"team"},
    "hybrid_assist_budget_blocked": {"scope"},
    "hybrid_assist_rate_limited": set(),
    "hybrid_assist_completion_feedback": {"task", "outcome"},
}


def exercised() -> UsageMetrics:
    metrics = UsageMetrics()
    metrics.observe_request("inline_completion", "local", "ok", 0.21, 0.08, Usage(1500, 1200, 13), 0.0)
    metrics.observe_request("review", "anthropic", "ok", 7.5, 1.2, Usage(20_000, 0, 800), 0.072)
    metrics.observe_request("explain", "openai", "RateLimitedError", 0.4, None, None, 0.0)
    metrics.observe_fallback("openai", "anthropic")
    metrics.set_circuit("openai", "open")
    metrics.set_local_queue(3)
    metrics.observe_feedback(True)
    metrics.observe_feedback(False, task="completion")
    metrics.set_budget_remaining("core", 412.5)
    metrics.observe_budget_blocked("team")
    metrics.observe_rate_limited()
    return metrics


def parse(text: str) -> dict[str, list[Sample]]:
    """Metric families by name; the ``*_created`` timestamps prometheus-client adds are left out."""
    return {
        family.name: family.samples
        for family in text_string_to_metric_families(text)
        if not family.name.endswith("_created")
    }


def families(metrics: UsageMetrics) -> dict[str, list[Sample]]:
    return parse(metrics.exposition().decode())


def test_exposition_parses_with_the_documented_names_and_labels() -> None:
    parsed = families(exercised())
    assert set(parsed) == set(LABELS)
    for name, samples in parsed.items():
        for sample in samples:
            assert set(sample.labels) - {"le"} == LABELS[name], (name, sample.labels)


def test_values_are_what_was_observed() -> None:
    parsed = families(exercised())

    def value(name: str, sample_name: str, **labels: str) -> float:
        return next(s.value for s in parsed[name] if s.name == sample_name and labels.items() <= s.labels.items())

    assert value("hybrid_assist_requests", "hybrid_assist_requests_total", target="local", outcome="ok") == 1
    assert value("hybrid_assist_tokens", "hybrid_assist_tokens_total", target="local", kind="cached") == 1200
    assert value("hybrid_assist_tokens", "hybrid_assist_tokens_total", target="local", kind="input") == 300
    assert value("hybrid_assist_cost_usd", "hybrid_assist_cost_usd_total", target="anthropic") == pytest.approx(0.072)
    assert value("hybrid_assist_circuit_state", "hybrid_assist_circuit_state", target="openai") == 2
    assert value("hybrid_assist_budget_remaining_usd", "hybrid_assist_budget_remaining_usd", team="core") == 412.5
    ttft_count = "hybrid_assist_time_to_first_token_seconds_count"
    assert value("hybrid_assist_time_to_first_token_seconds", ttft_count, target="local") == 1
    bucket = "hybrid_assist_time_to_first_token_seconds_bucket"
    assert value("hybrid_assist_time_to_first_token_seconds", bucket, target="local", le="0.1") == 1
    feedback = "hybrid_assist_completion_feedback_total"
    assert value("hybrid_assist_completion_feedback", feedback, task="inline_completion", outcome="accepted") == 1


def test_label_cardinality_is_bounded() -> None:
    metrics = UsageMetrics()
    for i in range(1_000):
        metrics.observe_request(f"task{i}", f"target{i}", f"Error{i}", 0.1, 0.05, Usage(1, 0, 1), 0.001)
        metrics.set_budget_remaining(f"team{i}", 1.0)
        metrics.observe_fallback(f"a{i}", f"b{i}")
    parsed = families(metrics)

    def distinct(name: str, label: str) -> set[str]:
        return {s.labels[label] for s in parsed[name] if label in s.labels}

    assert distinct("hybrid_assist_requests", "task") == {"other"}  # only TaskKind values pass
    targets = (
        distinct("hybrid_assist_requests", "target")
        | distinct("hybrid_assist_fallbacks", "from_target")
        | distinct("hybrid_assist_fallbacks", "to_target")
    )
    assert len(targets) == MAX_TARGETS + 1 and "other" in targets  # one bound for every target label
    assert len(distinct("hybrid_assist_requests", "outcome")) == MAX_OUTCOMES + 1
    assert len(distinct("hybrid_assist_budget_remaining_usd", "team")) == MAX_TEAMS + 1
    series = sum(len(samples) for samples in parsed.values())
    worst_case = len(TaskKind) + 1
    assert series < 40 * worst_case * (MAX_TARGETS + 1)
    assert all(
        label not in {"user", "file", "uri", "prompt", "request_id"} for labels in LABELS.values() for label in labels
    )


def test_invalid_circuit_state_is_an_error() -> None:
    with pytest.raises(ValueError, match="circuit state"):
        UsageMetrics().set_circuit("openai", "broken")


def test_two_servers_in_one_process_do_not_clash() -> None:
    first, second = exercised(), UsageMetrics()
    second.set_local_queue(7)
    assert b"hybrid_assist_local_queue_depth 3.0" in first.exposition()
    assert b"hybrid_assist_local_queue_depth 7.0" in second.exposition()


def test_metrics_endpoint_on_any_free_port() -> None:
    metrics = exercised()
    server = start_metrics_server(metrics.registry, "127.0.0.1", 0)
    try:
        assert server.port > 0
        with urllib.request.urlopen(server.url, timeout=10) as response:
            body = response.read().decode()
        assert set(parse(body)) == set(LABELS)
    finally:
        server.close()


def dashboard_exprs() -> list[str]:
    def walk(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["expr"]] if isinstance(node.get("expr"), str) else []
            return found + [e for value in node.values() for e in walk(value)]
        if isinstance(node, list):
            return [e for value in node for e in walk(value)]
        return []

    return walk(json.loads(DASHBOARD.read_text()))


def test_dashboard_names_only_exported_metrics_and_labels() -> None:
    parsed = families(exercised())
    sample_names = {sample.name for samples in parsed.values() for sample in samples}
    label_names = {label for samples in parsed.values() for sample in samples for label in sample.labels}
    exprs = dashboard_exprs()
    assert len(exprs) >= 15
    used = set()
    for expr in exprs:
        for metric in re.findall(r"\bhybrid_assist_[a-z0-9_]+", expr):
            assert metric in sample_names, f"dashboard uses {metric!r}, which is not exported"
            used.add(metric)
        for group in re.findall(r"\bby \(([^)]*)\)", expr):
            for label in (name.strip() for name in group.split(",")):
                assert label in label_names, f"dashboard groups by unknown label {label!r}"
        for label in re.findall(r"[{,]\s*([a-z_]+)\s*(?:=~|!=|=)", expr):
            assert label in label_names, f"dashboard filters on unknown label {label!r}"
    # every family the pipeline exports appears on the dashboard
    assert {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in used} >= {
        name.removesuffix("_total") for name in LABELS
    }
