"""``RoutingService.serve`` holds a cloud call's estimate, settles it to the real cost, releases it on failure.

The money is read from the real budget tables (SQLite): the reservation while
the cloud streams, the spend and the reservation after. The cloud is the
OpenAI wire server through the real SDK; the local engine is the instant
backend. Without ``hold()`` in the service, nothing is reserved and nothing
is ever charged to the budget, and these tests fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hybrid_assist.settings import HybridSettings
from inference.instant import InstantBackend
from inference.remote import OpenAIBackend, RetryTiming
from inference.settings import LocalSettings
from routing.control import UsageControl
from routing.pricing import actual_cost
from routing.runtime import RoutingRuntime
from routing.service import RoutingService
from routing.usage.budgets import BudgetManager, PeriodUsage
from routing.usage.ledger import Ledger
from tests.routing.test_pipeline_usage import make_settings
from tests.routing.test_service import _call
from tests.wire.openai_server import OpenAIWireServer

NANO = 1_000_000_000


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test-not-a-real-key")


@pytest.fixture
async def served_by(
    tmp_path: Path, openai_server: OpenAIWireServer
) -> AsyncIterator[tuple[RoutingService, BudgetManager, HybridSettings]]:
    settings = make_settings(tmp_path, openai_server)
    cloud = OpenAIBackend("openai", settings.providers["openai"], retry_timing=RetryTiming(initial_backoff_s=0.01))
    runtime = RoutingRuntime(
        {
            "local": InstantBackend("local", LocalSettings(backend="instant", instant_reply="local answer")),
            "openai": cloud,
        },
        settings.providers,
    )
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'usage.db'}")
    budgets = BudgetManager(ledger.engine)
    budgets.set_budget("user", "alice", 10.0)
    service = RoutingService(runtime, UsageControl(ledger, budgets, None, None))
    try:
        yield service, budgets, settings
    finally:
        await service.close()


def _alice(budgets: BudgetManager) -> PeriodUsage:
    return budgets.usage("user", "alice")


async def test_a_cloud_call_is_reserved_then_settled_to_its_actual_cost(
    served_by: tuple[RoutingService, BudgetManager, HybridSettings], openai_server: OpenAIWireServer
) -> None:
    service, budgets, settings = served_by
    openai_server.reply("one finding. another finding.", prompt_tokens=30_000, completion_tokens=2_000)
    call = _call(settings)
    estimate = service.decide(call.route_input, call.routing).cost_usd
    reserved_while_streaming: list[int] = []

    served = await service.serve(call, lambda _text: reserved_while_streaming.append(_alice(budgets).reserved_nanousd))

    assert served.target == "openai" and served.outcome == "ok"
    assert reserved_while_streaming, "the answer streamed"
    assert reserved_while_streaming[0] == round(estimate * NANO) > 0  # the estimate was held during the call
    expected = actual_cost(served.decision.primary, served.usage, service.runtime.providers, call.routing)  # type: ignore[arg-type]
    assert served.cost_usd == pytest.approx(expected) and expected != pytest.approx(estimate)
    after = _alice(budgets)
    assert after.reserved_nanousd == 0  # the hold is gone...
    assert after.spent_nanousd == pytest.approx(expected * NANO, abs=1)  # ...and the actual cost is charged


async def test_a_failed_cloud_call_releases_its_reservation(
    served_by: tuple[RoutingService, BudgetManager, HybridSettings], openai_server: OpenAIWireServer
) -> None:
    service, budgets, settings = served_by
    openai_server.fail("reset", after_chunks=2)  # part of the answer reaches the client, then the cloud drops
    reserved_while_streaming: list[int] = []

    served = await service.serve(
        _call(settings), lambda _text: reserved_while_streaming.append(_alice(budgets).reserved_nanousd)
    )

    assert served.outcome != "ok" and served.text == ""
    assert reserved_while_streaming and reserved_while_streaming[0] > 0
    after = _alice(budgets)
    assert (after.reserved_nanousd, after.spent_nanousd) == (0, 0)


async def test_a_cancelled_cloud_call_releases_its_reservation(
    served_by: tuple[RoutingService, BudgetManager, HybridSettings], openai_server: OpenAIWireServer
) -> None:
    service, budgets, settings = served_by
    openai_server.fail("timeout", delay_s=30.0)  # the cloud never answers in time
    task = asyncio.create_task(service.serve(_call(settings)))
    for _ in range(500):
        if _alice(budgets).reserved_nanousd > 0:
            break
        await asyncio.sleep(0.01)
    assert _alice(budgets).reserved_nanousd > 0, "the call holds its estimate while it waits for the cloud"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = _alice(budgets)
    assert (after.reserved_nanousd, after.spent_nanousd) == (0, 0)


async def test_a_fallback_to_the_premises_charges_nothing(
    served_by: tuple[RoutingService, BudgetManager, HybridSettings], openai_server: OpenAIWireServer
) -> None:
    service, budgets, settings = served_by
    openai_server.fail("server_error")

    served = await service.serve(_call(settings))

    assert served.target == "local" and served.cost_usd == 0.0
    after = _alice(budgets)
    assert (after.reserved_nanousd, after.spent_nanousd) == (0, 0)
