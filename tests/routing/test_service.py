"""``RoutingService``: the shared routed call, with streamed forwarding and its no-fallback rule.

The cloud is the OpenAI wire server through the real SDK; the local engine is
the instant backend. Without forwarding, a cloud stream reset mid-answer falls
back to the local engine; once text has been forwarded to a client it must not
(the client would hold two targets' answers glued together).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hybrid_assist.runtime import build_runtime
from hybrid_assist.settings import HybridSettings
from inference.types import ChatMessage, GenerationRequest
from routing.policy import LocalState, RouteInput
from routing.service import RoutedCall, RoutingService
from routing.tasks import TaskKind
from tests.routing.test_pipeline_usage import make_settings
from tests.wire.openai_server import OpenAIWireServer


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test-not-a-real-key")


def _call(settings: HybridSettings) -> RoutedCall:
    return RoutedCall(
        request_id="svc-1",
        user="alice",
        team="platform",
        task=TaskKind.SECURITY,  # a task the default policy sends to the cloud (review is local-first now)
        route_input=RouteInput(
            task=TaskKind.SECURITY,  # a task the default policy sends to the cloud (review is local-first now)
            scope_level="repository",
            context_tokens=2_000,
            local=LocalState(available=True, model="instant"),
        ),
        routing=settings.routing,
        template=GenerationRequest.chat("svc-1", (ChatMessage("user", "review this"),), max_tokens=64),
        prompt="review this",
    )


async def _service(tmp_path: Path, server: OpenAIWireServer) -> tuple[RoutingService, HybridSettings]:
    settings = make_settings(tmp_path, server)
    runtime = build_runtime(settings)
    await runtime.wait_local(10.0)
    return RoutingService(runtime), settings


async def test_forwarded_pieces_make_the_answer(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    service, settings = await _service(tmp_path, openai_server)
    openai_server.reply("first finding. second finding.")
    pieces: list[str] = []
    try:
        served = await service.serve(_call(settings), pieces.append)
    finally:
        await service.close()
    assert served.target == "openai"
    assert len(pieces) > 1
    assert "".join(pieces) == served.text == "first finding. second finding."


async def test_reset_mid_stream_falls_back_only_when_nothing_was_forwarded(
    tmp_path: Path, openai_server: OpenAIWireServer
) -> None:
    service, settings = await _service(tmp_path, openai_server)
    try:
        openai_server.fail("reset", after_chunks=2)
        quiet = await service.serve(_call(settings))
        assert quiet.target == "local" and quiet.text == "local answer"
        assert [a.target for a in quiet.attempts] == ["openai", "local"]

        openai_server.fail("reset", after_chunks=2)
        pieces: list[str] = []
        streamed = await service.serve(_call(settings), pieces.append)
    finally:
        await service.close()
    assert pieces, "the cloud's first pieces were forwarded"
    assert streamed.text == "" and streamed.target == ""
    assert streamed.outcome != "ok" and streamed.empty_reason
    assert [a.target for a in streamed.attempts] == ["openai"]  # the failed attempt is listed
    assert "failed after part of its answer was sent" in streamed.empty_reason


async def test_a_decision_made_already_is_served_as_it_is(tmp_path: Path, openai_server: OpenAIWireServer) -> None:
    """``RoutedCall.decision`` spares a second policy run; without it the service decides itself."""
    service, settings = await _service(tmp_path, openai_server)
    openai_server.reply("from the cloud")
    call = _call(settings)
    own = service.decide(call.route_input, call.routing)
    assert own.target == "openai"
    local_only = RouteInput(
        task=TaskKind.SECURITY,  # a task the default policy sends to the cloud (review is local-first now)
        scope_level="repository",
        context_tokens=2_000,
        sensitive=True,
        sensitive_reasons=("test",),
        local=LocalState(available=True, model="instant"),
    )
    pinned = service.decide(local_only, call.routing)
    assert pinned.target == "local"
    try:
        decided = await service.serve(dataclasses.replace(call, decision=pinned))
        undecided = await service.serve(call)
    finally:
        await service.close()
    assert decided.target == "local" and decided.decision is pinned
    assert undecided.target == "openai" and undecided.text == "from the cloud"


def test_missing_keys_are_looked_up_again_after_the_recheck_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.runtime as runtime_module
    from inference.settings import default_providers

    now = [1000.0]
    monkeypatch.setattr(runtime_module.time, "monotonic", lambda: now[0])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    providers = {"openai": default_providers()["openai"]}
    runtime = runtime_module.RoutingRuntime({}, providers)
    assert runtime.missing_keys() == frozenset({"openai"})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-now-set")
    assert runtime.missing_keys() == frozenset({"openai"})  # remembered for KEYS_RECHECK_S
    now[0] += runtime_module.KEYS_RECHECK_S
    assert runtime.missing_keys() == frozenset()
