"""The language server's gateway client against scripted HTTP answers (``httpx.MockTransport``).

SSE parsing, the ``done`` event as a ``Served``, the error classes, and
``GatewayMode``'s one-message-then-fallback behaviour with a lazily built
local engine.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from hybrid_assist.runtime import build_local_runtime
from hybrid_assist.settings import HybridSettings
from inference.settings import LocalSettings
from inference.types import ChatMessage, GenerationRequest, RequestKind
from lsp_server.gateway_client import (
    GatewayAuthError,
    GatewayClient,
    GatewayRequestError,
    GatewayUnreachable,
    generation_json,
    iter_sse,
)
from lsp_server.gateway_mode import GatewayMode, request_body
from lsp_server.settings import GatewayClientSettings
from routing.control import Outcome
from routing.policy import LocalState, RouteInput
from routing.service import RoutedCall, RoutingService
from routing.settings import RoutingSettings
from routing.tasks import TaskKind

ROUTE = {
    "route": {
        "target": "openai",
        "model": "gpt-4o",
        "cloud": True,
        "reasons": ["task explain at scope repository: cloud by policy (openai)"],
        "fallbacks": [{"target": "local", "model": "instant"}],
        "local_only": False,
        "shed": False,
    },
    "estimate": {"input_tokens": 812, "output_tokens": 64, "cost_usd": 0.00267},
}
DONE = {
    "text": "return a + b",
    "target": "openai",
    "model": "gpt-4o",
    "usage": {"prompt_tokens": 800, "cached_tokens": 100, "completion_tokens": 5},
    "cost_usd": 0.0021,
    "latency_ms": 12.5,
    "ttft_ms": 3.0,
    "attempts": [{"target": "openai", "model": "gpt-4o", "outcome": "ok", "detail": ""}],
    "notices": ["hybrid-assist: 80% of your monthly budget is spent"],
    "empty_reason": "",
}


def sse(*events: tuple[str, object]) -> bytes:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def call(task: TaskKind = TaskKind.EXPLAIN, sensitive: tuple[str, ...] = (), paths: tuple[str, ...] = ()) -> RoutedCall:
    route_input = RouteInput(
        task, "repository", 812, sensitive=bool(sensitive), sensitive_reasons=sensitive, local=LocalState(False)
    )
    messages = (ChatMessage("system", "be brief"), ChatMessage("user", "explain add"))
    template = GenerationRequest.chat("ha-1", messages, max_tokens=64)
    return RoutedCall(
        "ha-1",
        "alice",
        "t",
        task,
        route_input,
        RoutingSettings(),
        template,
        prompt="explain add",
        paths=paths,
        scope_files=("file:///p/b.py",),
        workspace="/p",
    )


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> GatewayClient:
    return GatewayClient("http://gw.test/", "ha_key", transport=httpx.MockTransport(handler))


async def test_sse_parser_handles_comments_multiline_data_and_crlf() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in [": ping", "event: delta\r", 'data: {"text":', 'data: "a"}', "", "", "data: {}", ""]:
            yield line

    events = [e async for e in iter_sse(lines())]
    assert [(e.event, e.data) for e in events] == [("delta", '{"text":\n"a"}'), ("message", "{}")]


async def test_assist_posts_the_contract_body_and_turns_done_into_served() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = sse(("route", ROUTE), ("delta", {"text": "return "}), ("delta", {"text": "a + b"}), ("done", DONE))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = client_for(handler)
    pieces: list[str] = []
    routed = call(sensitive=("path matches **/secrets/**",), paths=("/p/a.py", "/p/a.py", ""))
    body = request_body(routed)
    served = await client.assist(body, pieces.append)
    await client.close()

    request = seen[0]
    assert request.url.path == "/v1/assist" and request.headers["authorization"] == "Bearer ha_key"
    sent = json.loads(request.content)
    assert sent["task"] == "explain" and sent["paths"] == ["/p/a.py"]
    assert sent["scope"] == {"level": "repository", "files": ["file:///p/b.py"], "symbols": [], "context_tokens": 812}
    assert sent["sensitive_reasons"] == ["path matches **/secrets/**"] and sent["workspace"] == "/p"
    assert sent["generation"]["kind"] == "chat" and "model" not in sent["generation"]
    assert sent["generation"]["messages"][1] == {"role": "user", "content": "explain add"}
    assert "escalate_after" not in sent  # only an escalation names the failing answer
    escalation = request_body(dataclasses.replace(routed, escalate_after=("gemini", "gemini-2.5-flash")))
    assert escalation["escalate_after"] == {"target": "gemini", "model": "gemini-2.5-flash"}
    assert pieces == ["return ", "a + b"]
    assert served.text == "return a + b" and served.target == "openai" and served.model == "gpt-4o"
    assert served.usage.prompt_tokens == 800 and served.usage.cached_tokens == 100
    assert served.cost_usd == pytest.approx(0.0021) and served.ttft_ms == 3.0
    assert served.decision.target == "openai" and served.decision.cost_usd == pytest.approx(0.00267)
    assert served.decision.primary is not None and served.decision.primary.cloud
    assert [t.target for t in served.decision.fallbacks] == ["local"] and not served.decision.fallbacks[0].cloud
    assert served.attempts[0].outcome == "ok" and served.notices == tuple(DONE["notices"])  # type: ignore[arg-type]


class _TrackedBody(httpx.AsyncByteStream):
    """A response body that notes whether it was read to its end (httpx then keeps the connection)."""

    def __init__(self, *parts: bytes) -> None:
        self.parts = parts
        self.read_to_end = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part
        self.read_to_end = True


async def test_the_answer_is_read_to_its_end_after_done() -> None:
    body = _TrackedBody(sse(("route", ROUTE), ("done", DONE)), b": trailing comment\n\n")
    client = client_for(lambda _request: httpx.Response(200, stream=body))
    served = await client.assist({"request_id": "r1"})
    await client.close()
    assert served.text == "return a + b" and body.read_to_end


def test_fim_generation_has_prefix_and_suffix_and_no_messages() -> None:
    fim = generation_json(GenerationRequest.fim("r", "def f():\n    ", "\n", max_tokens=32, stop=("\n",)))
    assert fim == {"kind": "fim", "prefix": "def f():\n    ", "suffix": "\n", "max_tokens": 32, "temperature": 0.0,
                   "stop": ["\n"]}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (401, {"code": "unauthorized", "message": "the API key was revoked"}, GatewayAuthError),
        (503, {"code": "not_ready", "message": "local engine is still starting"}, GatewayUnreachable),
        (429, {"code": "rate_limited", "message": "slow down"}, GatewayRequestError),
        (400, {"code": "invalid_field", "message": "task: unknown"}, GatewayRequestError),
    ],
)
async def test_refusals_map_to_error_classes_with_the_gateway_message(
    status: int, error: dict[str, str], expected: type[Exception]
) -> None:
    client = client_for(lambda _r: httpx.Response(status, json={"error": error}, headers={"retry-after": "2"}))
    with pytest.raises(expected) as raised:
        await client.assist({})
    assert error["message"] in str(raised.value)
    if status == 429:
        assert "retry in 2 s" in str(raised.value)


async def test_error_event_and_a_stream_without_done_are_request_errors() -> None:
    client = client_for(lambda _r: httpx.Response(200, content=sse(("route", ROUTE), ("error", {"code": "denied",
                        "message": "monthly budget exhausted"}))))  # fmt: skip
    with pytest.raises(GatewayRequestError, match="monthly budget exhausted"):
        await client.assist({})
    client = client_for(lambda _r: httpx.Response(200, content=sse(("route", ROUTE))))
    with pytest.raises(GatewayRequestError, match="without a `done` event"):
        await client.assist({})


async def test_connection_refused_is_unreachable() -> None:
    client = GatewayClient("http://127.0.0.1:9", "k", connect_timeout_s=1.0)
    with pytest.raises(GatewayUnreachable):
        await client.assist({})
    state = await client.probe()
    assert state["reachable"] is False and state["detail"]
    await client.close()


def _unreachable(_request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused")


async def test_unreachable_gateway_one_constant_notice_then_lazy_local_fallback() -> None:
    built: list[RoutingService] = []

    def fallback() -> RoutingService:
        settings = HybridSettings(local=LocalSettings(backend="instant", instant_reply="local answer"))
        service = RoutingService(build_local_runtime(settings))
        built.append(service)
        return service

    settings = GatewayClientSettings(url="http://gw.test", fallback_local=True, retry_after_s=60)
    mode = GatewayMode(settings, client_for(_unreachable), fallback)
    routed = call(TaskKind.EXPLAIN, paths=("/p/a.py",))
    assert not built  # nothing local is built before it is needed
    first = await mode.serve(routed)
    second = await mode.serve(routed)
    assert len(built) == 1 and mode.fallback is built[0]
    assert first.text == "local answer" and first.target == "local"
    assert first.fell_back and [(a.target, a.outcome) for a in first.attempts] == [
        ("gateway", "UnavailableError"),
        ("local", "ok"),
    ]
    assert first.notices[0] == second.notices[0] == mode.unreachable_notice()
    assert "unreachable" in first.notices[0] and "local engine" in first.notices[0]
    status = await mode.status()
    assert status["reachable"] is False and status["fallback_active"] is True and status["url"] == "http://gw.test"
    await mode.close()


async def test_without_fallback_the_answer_is_empty_with_the_reason() -> None:
    mode = GatewayMode(GatewayClientSettings(url="http://gw.test"), client_for(_unreachable))
    served = await mode.serve(call())
    assert served.text == "" and "unreachable" in served.empty_reason and "fallback_local" in served.empty_reason
    explained = await mode.explain(call())
    assert isinstance(explained, str) and "unreachable" in explained
    await mode.close()


async def test_missing_key_says_where_to_put_it_without_calling() -> None:
    mode = GatewayMode(GatewayClientSettings(url="http://gw.test", api_key_env="MY_GW_KEY"), None)
    served = await mode.serve(call())
    assert "no key" in served.empty_reason and "$MY_GW_KEY" in served.empty_reason


def test_key_from_env_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("ha_from_file\n", encoding="utf-8")
    settings = GatewayClientSettings(url="http://gw", api_key_env="MY_GW_KEY", api_key_file=str(key_file))
    monkeypatch.delenv("MY_GW_KEY", raising=False)
    assert settings.api_key() == "ha_from_file"
    monkeypatch.setenv("MY_GW_KEY", " ha_from_env ")
    assert settings.api_key() == "ha_from_env"


def test_the_prompt_caching_hints_travel_to_the_gateway() -> None:
    chat = GenerationRequest(
        "r1", RequestKind.CHAT, messages=(ChatMessage("user", "DIGEST ... do this"),), stable_chars=10, cache_key="k1"
    )
    body = generation_json(chat)
    assert (body["stable_chars"], body["cache_key"]) == (10, "k1")
    plain = generation_json(GenerationRequest("r2", RequestKind.CHAT, messages=(ChatMessage("user", "hi"),)))
    assert "stable_chars" not in plain and "cache_key" not in plain


async def test_an_answer_reused_in_gateway_mode_is_reported_to_the_gateway() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"request_id": "reuse-1.abc"})

    client = client_for(handler)
    mode = GatewayMode(GatewayClientSettings(url="http://gw.test"), client)
    outcome = Outcome("reuse-1", "alice", "red", "security", "repository", "local", "qwen", 9000, 0, 300)
    await mode.record(dataclasses.replace(outcome, outcome="reused", language="python"))
    await client.close()
    assert [r.url.path for r in seen] == ["/v1/reused"]
    sent = json.loads(seen[0].content)
    assert (sent["task"], sent["target"], sent["input_tokens"], sent["output_tokens"]) == (
        "security",
        "local",
        9000,
        300,
    )
    assert sent["language"] == "python" and sent["request_id"] == "reuse-1"
