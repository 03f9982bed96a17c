"""``RoutingService.serve`` records the requests it sends nowhere: denied by the rate limit, or no target left.

Each gets a ledger row (SQLite) with its outcome (``denied`` / ``no_target``),
the reason the caller was given, cost 0, target ``none`` and the call's
workspace; the report's aggregates count them as failed. Before, such a
request returned without a row and never appeared in ``hybrid-assist report``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hybrid_assist.settings import HybridSettings
from inference.instant import InstantBackend
from inference.remote import OpenAIBackend
from inference.settings import LocalSettings
from routing.control import UsageControl
from routing.policy import LocalState
from routing.runtime import RoutingRuntime
from routing.service import RoutedCall, RoutingService
from routing.usage.budgets import BudgetManager
from routing.usage.ledger import Ledger, LedgerEntry
from routing.usage.ratelimit import InProcessRateLimiter
from routing.usage.settings import LimitsSettings
from tests.routing.test_pipeline_usage import make_settings
from tests.routing.test_service import _call
from tests.wire.openai_server import OpenAIWireServer

WORKSPACE = "/src/alpha"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test-not-a-real-key")


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'usage.db'}")
    yield ledger
    ledger.close()


def _runtime(settings: HybridSettings) -> RoutingRuntime:
    return RoutingRuntime(
        {
            "local": InstantBackend("local", LocalSettings(backend="instant", instant_reply="local answer")),
            "openai": OpenAIBackend("openai", settings.providers["openai"]),
        },
        settings.providers,
    )


def _recorded(ledger: Ledger, request_id: str) -> LedgerEntry:
    assert ledger.flush(10.0)
    entry = ledger.get(request_id)
    assert entry is not None, f"no ledger row for {request_id}"
    return entry


def _in(call: RoutedCall, request_id: str) -> RoutedCall:
    return dataclasses.replace(call, request_id=request_id, workspace=WORKSPACE)


async def test_a_rate_limited_request_is_recorded_as_denied_with_its_reason(
    tmp_path: Path, openai_server: OpenAIWireServer, ledger: Ledger
) -> None:
    settings = make_settings(tmp_path, openai_server)
    limiter = InProcessRateLimiter(LimitsSettings(requests_per_minute=1, tokens_per_minute=0))
    service = RoutingService(_runtime(settings), UsageControl(ledger, None, limiter, None))
    call = _call(settings)

    first = await service.serve(_in(call, "first"))
    denied = await service.serve(_in(call, "second"))

    assert first.outcome == "ok" and denied.outcome == "denied" and denied.empty_reason
    entry = _recorded(ledger, "second")
    assert (entry.outcome, entry.reason, entry.cost_usd, entry.target) == ("denied", denied.empty_reason, 0.0, "none")
    assert entry.workspace == WORKSPACE and entry.user == "alice"
    assert _recorded(ledger, "first").reason == ""
    [aggregate] = [a for a in ledger.aggregate(None, None, "user", workspace=WORKSPACE) if a.target == "none"]
    assert (aggregate.requests, aggregate.failed, aggregate.cost_nanousd) == (1, 1, 0)


async def test_a_request_no_target_can_serve_within_the_budget_is_recorded_as_no_target(
    tmp_path: Path, openai_server: OpenAIWireServer, ledger: Ledger
) -> None:
    settings = make_settings(tmp_path, openai_server)
    budgets = BudgetManager(ledger.engine)
    budgets.set_budget("user", "alice", 0.0)  # spent: the cloud is off, and the local engine is not there
    service = RoutingService(_runtime(settings), UsageControl(ledger, budgets, None, None))
    call = _call(settings)
    call = dataclasses.replace(
        call, route_input=dataclasses.replace(call.route_input, local=LocalState(available=False, reason="no model"))
    )

    served = await service.serve(_in(call, "broke"))

    assert served.outcome == "no_target" and served.empty_reason
    entry = _recorded(ledger, "broke")
    assert (entry.outcome, entry.reason, entry.cost_usd, entry.target) == (
        "no_target",
        served.empty_reason,
        0.0,
        "none",
    )
    assert entry.workspace == WORKSPACE and entry.prompt_sha256
    assert openai_server.requests == []  # nothing was sent
