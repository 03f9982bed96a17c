"""The exploration share (routing/exploration.py, routing.policy.explore) through ``RoutingService.serve``.

A real service (instant local engine, the OpenAI wire server) with a real SQLite ledger: every ``1/share``-th
eligible request is served by the other side and its row says reason ``explore``; sensitive code and completions
never explore; exploring towards the cloud stops at ``exploration_budget_usd`` (the month's explored spend read from
the ledger).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hybrid_assist.settings import HybridSettings
from routing.control import UsageControl
from routing.policy import RouteInput
from routing.service import RoutedCall, RoutingService
from routing.tasks import TaskKind
from routing.usage.ledger import Ledger, LedgerEntry
from tests.routing.test_pipeline_usage import make_settings
from tests.routing.test_service import _call
from tests.routing.test_service_refusals import _runtime
from tests.wire.openai_server import OpenAIWireServer


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """A SQLite ledger (and the OpenAI wire server's key in the environment)."""
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test-not-a-real-key")
    with Ledger.open(f"sqlite:///{tmp_path / 'usage.db'}") as opened:
        yield opened


def _settings(tmp_path: Path, server: OpenAIWireServer, share: float, budget: float = 5.0) -> HybridSettings:
    return make_settings(
        tmp_path,
        server,
        routing={"provider_order": ["openai"], "exploration_share": share, "exploration_budget_usd": budget},
    )


def _fix(call: RoutedCall, *, sensitive: bool = False) -> RoutedCall:
    """A fix at single-file scope: local by policy, the cloud its fallback (``sensitive``: a sensitive file's)."""
    reasons = ("sensitive path: .env matches '**/.env'",) if sensitive else ()
    route_input = dataclasses.replace(
        call.route_input, task=TaskKind.FIX, scope_level="single_file", sensitive=sensitive, sensitive_reasons=reasons
    )
    return dataclasses.replace(call, task=TaskKind.FIX, route_input=route_input)


async def _serve(
    service: RoutingService, ledger: Ledger, call: RoutedCall, n: int, prefix: str = ""
) -> list[LedgerEntry]:
    """Serve ``call`` ``n`` times as requests ``<prefix or task>-<i>``; their ledger rows."""
    prefix = prefix or call.task.value
    for i in range(n):
        await service.serve(dataclasses.replace(call, request_id=f"{prefix}-{i}"))
    assert ledger.flush(10.0)
    rows = [ledger.get(f"{prefix}-{i}") for i in range(n)]
    assert all(row is not None for row in rows)
    return [row for row in rows if row is not None]


def _explored_before(ledger: Ledger, request_id: str, user: str, cost_usd: float) -> None:
    """A row of a cloud request explored earlier this month (by this process or another replica)."""
    ledger.record(
        LedgerEntry(
            request_id=request_id,
            user=user,
            team="platform",
            task="fix",
            target="openai",
            cost_usd=cost_usd,
            reason="explore",
            time=datetime.now(UTC),
        )
    )


async def test_every_other_eligible_request_explores_both_ways_and_says_so(
    tmp_path: Path, openai_server: OpenAIWireServer, ledger: Ledger
) -> None:
    settings = _settings(tmp_path, openai_server, share=0.5)
    service = RoutingService(_runtime(settings), UsageControl(ledger, None, None, None))
    cloud_first = _call(settings)  # security at repository scope: the cloud, the local engine its fallback
    rows = await _serve(service, ledger, cloud_first, 4)
    assert [(r.target, r.reason) for r in rows] == [
        ("openai", ""),
        ("local", "explore"),
        ("openai", ""),
        ("local", "explore"),
    ]
    rows = await _serve(service, ledger, _fix(cloud_first), 2)
    assert [(r.target, r.reason) for r in rows] == [("local", ""), ("openai", "explore")]
    assert rows[1].cost_usd > 0


async def test_sensitive_code_and_completions_never_explore(
    tmp_path: Path, openai_server: OpenAIWireServer, ledger: Ledger
) -> None:
    settings = _settings(tmp_path, openai_server, share=0.5)
    service = RoutingService(_runtime(settings), UsageControl(ledger, None, None, None))
    sensitive = _fix(_call(settings), sensitive=True)
    rows = await _serve(service, ledger, sensitive, 4)
    assert [(r.target, r.reason) for r in rows] == [("local", "")] * 4
    completion = dataclasses.replace(
        _call(settings),
        task=TaskKind.COMPLETION,
        route_input=RouteInput(TaskKind.COMPLETION, "single_file", 200, local=sensitive.route_input.local),
    )
    rows = await _serve(service, ledger, completion, 4)
    assert {(r.target, r.reason) for r in rows} == {("local", "")}
    assert openai_server.requests == []


async def test_exploring_towards_the_cloud_stops_at_the_monthly_budget(
    tmp_path: Path, openai_server: OpenAIWireServer, ledger: Ledger
) -> None:
    # this month's explored requests already cost $1.00 (read from the ledger); the cap is $1.00
    _explored_before(ledger, "earlier", "alice", 1.0)
    settings = _settings(tmp_path, openai_server, share=0.5, budget=1.0)
    service = RoutingService(_runtime(settings), UsageControl(ledger, None, None, None))
    rows = await _serve(service, ledger, _fix(_call(settings)), 4)
    assert [(r.target, r.reason) for r in rows] == [("local", "")] * 4
    assert openai_server.requests == []
    # towards local costs nothing: it goes on
    rows = await _serve(service, ledger, _call(settings), 2)
    assert [(r.target, r.reason) for r in rows] == [("openai", ""), ("local", "explore")]


async def test_the_default_share_explores_one_eligible_request_in_fifty(
    tmp_path: Path, openai_server: OpenAIWireServer, ledger: Ledger
) -> None:
    settings = make_settings(tmp_path, openai_server)
    assert settings.routing.exploration_share == 0.02
    service = RoutingService(_runtime(settings), UsageControl(ledger, None, None, None))
    rows = await _serve(service, ledger, _call(settings), 50)
    assert [i for i, r in enumerate(rows) if r.reason == "explore"] == [49]
    assert rows[49].target == "local"


async def test_replicas_share_the_exploration_budget_through_the_ledger(
    tmp_path: Path, openai_server: OpenAIWireServer, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica's explored spend, written to the shared ledger, stops this one's exploring once re-read."""
    monkeypatch.setattr("routing.exploration.RELOAD_S", 0.0)
    settings = _settings(tmp_path, openai_server, share=0.5, budget=1.0)
    service = RoutingService(_runtime(settings), UsageControl(ledger, None, None, None))
    fix = _fix(_call(settings))
    rows = await _serve(service, ledger, fix, 2)
    assert [(r.target, r.reason) for r in rows] == [("local", ""), ("openai", "explore")]
    _explored_before(ledger, "elsewhere", "bob", 1.0)  # another replica's row
    rows = await _serve(service, ledger, fix, 2, prefix="later")  # the task's next turn to explore: the second
    assert [(r.target, r.reason) for r in rows] == [("local", ""), ("local", "")]
