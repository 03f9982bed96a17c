"""OpenAICompatibleBackend (remote vLLM servers) against one or two loopback OpenAI/vLLM imitations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Sequence

import pytest

from inference.backend import collect
from inference.errors import BadRequestError, ContextTooLongError, UnavailableError
from inference.fim import fim_format_for_model_name
from inference.remote import OpenAICompatibleBackend, RetryTiming
from inference.settings import LocalSettings, ProviderSettings
from inference.types import ChatMessage, GenerationChunk, GenerationRequest, ToolSpec
from tests.wire.openai_server import OpenAIWireServer, wire_token_count

QWEN = "Qwen/Qwen2.5-Coder-1.5B"
FAST = RetryTiming(initial_backoff_s=0.01, max_backoff_s=0.02)


def make_backend(
    base_url: str | None = None,
    *,
    base_urls: Sequence[str] | None = None,
    cooldown_s: float = 30.0,
    **fields: object,
) -> OpenAICompatibleBackend:
    values: dict[str, object] = {
        "kind": "openai-compatible",
        "base_url": base_url or "",
        "models": [QWEN],
        "default_model": QWEN,
        "timeout_s": 10.0,
        "max_retries": 1,
        "local": True,
    }
    values.update(fields)
    return OpenAICompatibleBackend(
        "overflow",
        ProviderSettings.model_validate(values),
        base_urls=base_urls,
        retry_timing=FAST,
        cooldown_s=cooldown_s,
    )


def fim(request_id: str = "f1", **kw: object) -> GenerationRequest:
    return GenerationRequest.fim(request_id, "def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n", **kw)


AnyStream = AsyncGenerator[GenerationChunk, None]


def gen_count(server: OpenAIWireServer) -> int:
    return len(server.generation_requests())


async def test_fim_prompt_is_rendered_with_the_model_familys_tokens(openai_server: OpenAIWireServer) -> None:
    openai_server.reply("a + b", prompt_tokens=20, cached_tokens=16, completion_tokens=3)
    backend = make_backend(openai_server.base_url)
    result = await collect(backend, fim(max_tokens=24, stop=["\n\n"]))
    assert result.text == "a + b"
    assert (result.usage.prompt_tokens, result.usage.cached_tokens, result.usage.completion_tokens) == (20, 16, 3)
    [sent] = openai_server.generation_requests()
    assert sent.path == "/v1/completions"
    assert sent.body["prompt"] == (
        "<|fim_prefix|>def add(a, b):\n    return <|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>"
    )
    family = fim_format_for_model_name(QWEN)
    assert family is not None
    # The request's stop, then the family's end tokens up to the four a server takes (vLLM refuses more).
    assert sent.body["stop"] == ["\n\n", *family.stop_tokens[:3]]
    assert sent.body["skip_special_tokens"] is False
    assert sent.body["max_tokens"] == 24
    assert sent.body["stream"] is True and sent.body["stream_options"] == {"include_usage": True}
    assert "suffix" not in sent.body
    assert backend.is_local


async def test_unknown_model_family_fails_with_what_to_configure(openai_server: OpenAIWireServer) -> None:
    """No /tokenize here (not vLLM) and a name that says nothing: no request the server would refuse."""
    backend = make_backend(openai_server.base_url, models=["my-org/private-coder"], default_model="")
    with pytest.raises(BadRequestError) as caught:
        await collect(backend, fim())
    message = str(caught.value)
    assert "my-org/private-coder" in message and "[providers.overflow]" in message
    assert "fim_format" in message and "send_suffix = true" in message
    assert openai_server.generation_requests() == []
    local = OpenAICompatibleBackend.from_local_settings(
        "local", LocalSettings(backend="openai-compatible", base_url=openai_server.base_url, model="private")
    )
    with pytest.raises(BadRequestError, match=r"fim_format in \[local\]"):
        await collect(local, fim())


async def test_suffix_is_sent_only_to_servers_configured_for_it(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server.base_url, send_suffix=True)  # a Qwen name: the server builds it anyway
    await collect(backend, fim())
    body = openai_server.generation_requests()[0].body
    assert body["model"] == QWEN
    assert body["prompt"] == "def add(a, b):\n    return "
    assert body["suffix"] == "\n\nprint(add(1, 2))\n"
    assert "skip_special_tokens" not in body


async def test_configured_fim_format_wins_over_the_name(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server.base_url, models=["my-org/private-coder"], fim_format="starcoder2")
    await collect(backend, fim(stop=["\n"]))
    body = openai_server.generation_requests()[0].body
    assert body["prompt"] == "<fim_prefix>def add(a, b):\n    return <fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>"
    assert body["stop"] == ["\n", "<|endoftext|>", "<file_sep>"] and "suffix" not in body
    none = make_backend(openai_server.base_url, fim_format="none")  # a Qwen name, but told: no FIM
    await collect(none, fim("f2"))
    body = openai_server.generation_requests()[1].body
    assert body["prompt"] == "def add(a, b):\n    return " and "suffix" not in body
    assert "skip_special_tokens" not in body


async def test_chat_goes_to_chat_completions(openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HA_TEST_OVERFLOW_KEY", "overflow-secret")
    openai_server.reply("Sure.", pieces=["Su", "re."])
    backend = make_backend(openai_server.base_url, api_key_env="HA_TEST_OVERFLOW_KEY")
    request = GenerationRequest.chat("c1", [ChatMessage("system", "s"), ChatMessage("user", "u")])
    chunks = [c async for c in backend.generate(request)]
    assert [c.text for c in chunks] == ["Su", "re.", ""]
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None
    [sent] = openai_server.generation_requests()
    assert sent.path == "/v1/chat/completions"
    assert sent.body["messages"] == [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    assert sent.headers["authorization"] == "Bearer overflow-secret"


async def test_key_is_optional(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server.root_url, api_key_env="HA_TEST_UNSET_KEY")  # root URL: /v1 is added
    await collect(backend, fim())
    [sent] = openai_server.generation_requests()
    assert sent.path == "/v1/completions" and "authorization" not in sent.headers


async def test_model_is_discovered_when_none_is_configured(openai_server: OpenAIWireServer) -> None:
    openai_server.models = ("served-model",)
    backend = make_backend(openai_server.base_url, models=[], default_model="", fim_format="qwen2.5-coder")
    result = await collect(backend, fim())
    assert result.model == "served-model"
    assert openai_server.generation_requests()[0].body["model"] == "served-model"
    assert backend.default_model() == "served-model"


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_the_window_is_the_smallest_the_servers_list(
    openai_server: OpenAIWireServer, openai_server_b: OpenAIWireServer
) -> None:
    openai_server.max_model_len, openai_server_b.max_model_len = 8192, 4096
    openai_server.models = openai_server_b.models = (QWEN, "other-model")
    backend = make_backend(base_urls=[openai_server.base_url, openai_server_b.base_url])
    try:
        await backend.start()  # asks in the background: start() does not wait for the servers
        assert await until(lambda: backend.context_window() == 4096)  # must fit whichever server takes it
    finally:
        await backend.close()


async def test_a_server_listing_no_window_leaves_it_unknown_until_health_finds_one(
    openai_server: OpenAIWireServer,
) -> None:
    openai_server.models = (QWEN,)
    backend = make_backend(openai_server.base_url)
    try:
        await backend.start()
        assert await until(lambda: bool(openai_server.requests))
        await asyncio.sleep(0.05)
        assert backend.context_window() == 0  # OpenAI's cards have no window: the router keeps its setting
        openai_server.max_model_len = 2048  # e.g. the vLLM server came up after the gateway
        assert (await backend.health()).ok
        assert backend.context_window() == 2048
    finally:
        await backend.close()


async def test_least_outstanding_requests_across_two_servers(
    openai_server: OpenAIWireServer, openai_server_b: OpenAIWireServer
) -> None:
    backend = make_backend(f"{openai_server.base_url}, {openai_server_b.base_url}")
    for server in (openai_server, openai_server_b):
        server.slow_tokens = 0.02
    # Two requests at once: one each, because the first one is still outstanding.
    results = await asyncio.gather(collect(backend, fim("x1")), collect(backend, fim("x2")))
    assert all(r.finish_reason == "stop" for r in results)
    assert gen_count(openai_server) == 1 and gen_count(openai_server_b) == 1
    # One at a time: equal load, taken in turn.
    for i in range(4):
        await collect(backend, fim(f"s{i}"))
    assert gen_count(openai_server) == 3 and gen_count(openai_server_b) == 3


async def test_a_busy_server_is_passed_over_while_it_is_busy(
    openai_server: OpenAIWireServer, openai_server_b: OpenAIWireServer
) -> None:
    backend = make_backend(base_urls=[openai_server.base_url, openai_server_b.base_url])
    for server in (openai_server, openai_server_b):
        server.slow_tokens = 0.02
    openai_server.reply(" ".join(f"w{i}" for i in range(250)))  # about 5 s on server a
    long_request = asyncio.create_task(collect(backend, fim("long")))
    assert await asyncio.to_thread(openai_server.wait_until, lambda: gen_count(openai_server) == 1)
    for i in range(3):  # each takes about 0.1 s; taking turns would send the second to a
        await collect(backend, fim(f"short{i}"))
    assert gen_count(openai_server) == 1 and gen_count(openai_server_b) == 3
    await backend.abort("long")
    assert (await long_request).finish_reason == "abort"


async def test_dead_server_is_skipped_and_readmitted_after_its_health_check(
    openai_server: OpenAIWireServer, openai_server_b: OpenAIWireServer
) -> None:
    backend = make_backend(base_urls=[openai_server.base_url, openai_server_b.base_url], cooldown_s=1.0)
    openai_server.stop()  # connection refused
    for i in range(3):
        result = await collect(backend, fim(f"d{i}"))
        assert result.finish_reason == "stop"
    assert gen_count(openai_server_b) == 3
    dead, alive = backend.endpoints
    assert not dead.healthy and alive.healthy

    openai_server.start()  # same port
    await collect(backend, fim("cooling"))  # still cooling down: not checked, not used
    assert openai_server.requests == []
    await asyncio.sleep(1.05)
    await collect(backend, fim("after"))
    await collect(backend, fim("after-2"))
    paths = [r.path for r in openai_server.requests]
    assert paths[0] == "/health"  # checked before any traffic
    assert gen_count(openai_server) >= 1
    assert dead.healthy


async def test_5xx_fails_over_at_once_and_health_gates_readmission(
    openai_server: OpenAIWireServer, openai_server_b: OpenAIWireServer
) -> None:
    backend = make_backend(base_urls=[openai_server.base_url, openai_server_b.base_url], cooldown_s=0.2)
    openai_server.fail("server_error")
    openai_server.healthy = False
    openai_server_b.reply("from b")
    result = await collect(backend, fim("f"))
    assert result.text == "from b"
    assert gen_count(openai_server) == 1 and gen_count(openai_server_b) == 1
    await asyncio.sleep(0.25)
    await collect(backend, fim("g"))  # the health check fails: a keeps cooling down
    assert gen_count(openai_server) == 1 and gen_count(openai_server_b) == 2
    assert [r.path for r in openai_server.requests][-1] == "/health"
    openai_server.healthy = True
    await asyncio.sleep(0.25)
    await collect(backend, fim("h"))
    await collect(backend, fim("i"))
    assert gen_count(openai_server) == 2


async def test_single_server_recovers_after_a_5xx(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server.base_url)
    openai_server.fail("server_error")
    openai_server.reply("recovered")
    result = await collect(backend, fim())
    assert result.text == "recovered"
    assert [r.path for r in openai_server.requests] == ["/v1/completions", "/health", "/v1/completions"]


async def test_all_servers_down_is_unavailable(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server.base_url)
    openai_server.stop()
    with pytest.raises(UnavailableError):
        await collect(backend, fim())
    health = await backend.health()
    assert not health.ok and "base_url" in health.remedy


async def test_health_counts_servers(openai_server: OpenAIWireServer, openai_server_b: OpenAIWireServer) -> None:
    backend = make_backend(f"{openai_server.base_url},{openai_server_b.root_url}")
    health = await backend.health()
    assert health.ok and "2 of 2" in health.detail and health.models == (QWEN,)
    openai_server_b.stop()
    health = await backend.health()
    assert health.ok and "1 of 2" in health.detail and openai_server_b.root_url in health.detail
    assert [e.healthy for e in backend.endpoints] == [True, False]  # taken out of rotation
    for i in range(2):  # no attempt on b: nothing to fail over from
        await collect(backend, fim(f"h{i}"))
    assert gen_count(openai_server) == 2
    await backend.close()


async def streaming(server: OpenAIWireServer, token_every_s: float) -> tuple[OpenAICompatibleBackend, AnyStream]:
    """A backend whose FIM request ``ab`` has streamed its first token; the next come every ``token_every_s``."""
    server.slow_tokens = token_every_s
    server.reply(" ".join(f"v{i}" for i in range(40)))
    backend = make_backend(server.base_url)
    stream = backend.generate(fim("ab"))
    assert (await anext(stream)).text
    assert backend.load().running == 1
    return backend, stream


async def test_abort_closes_the_http_stream(openai_server: OpenAIWireServer) -> None:
    backend, stream = await streaming(openai_server, 0.1)
    await backend.abort("ab")
    assert [c async for c in stream][-1].finish_reason == "abort"
    assert openai_server.wait_until(lambda: openai_server.generation_requests()[0].disconnected)
    assert backend.endpoints[0].outstanding == 0


async def test_abort_from_another_task_ends_a_waiting_read(openai_server: OpenAIWireServer) -> None:
    """The call runs in its caller's task; an abort from elsewhere closes the connection under its pending read."""
    backend, stream = await streaming(openai_server, 0.5)
    reading = asyncio.ensure_future(anext(stream))  # waits on the server's next token, 0.5 s away
    await asyncio.sleep(0.05)
    await backend.abort("ab")
    last = await asyncio.wait_for(reading, 0.3)
    assert last.finish_reason == "abort" and last.usage is not None and last.usage.estimated
    assert [c async for c in stream] == []
    assert openai_server.wait_until(lambda: openai_server.generation_requests()[0].disconnected)
    assert backend.endpoints[0].healthy and backend.endpoints[0].outstanding == 0  # an abort is not a server fault
    assert backend.load().running == 0
    await backend.close()


async def test_errors_map_like_the_cloud_backends(openai_server: OpenAIWireServer) -> None:
    backend = make_backend(openai_server.base_url, max_retries=0)
    openai_server.fail("context_length")
    with pytest.raises(ContextTooLongError):
        await collect(backend, fim("e1"))
    openai_server.fail("malformed", after_chunks=0)
    with pytest.raises(UnavailableError, match="malformed"):
        await collect(backend, fim("e2"))
    assert backend.endpoints[0].healthy  # neither says the server is down


def test_from_local_settings() -> None:
    local = LocalSettings(backend="openai-compatible", base_url="http://a:8000/v1,http://b:8000", model=QWEN)
    backend = OpenAICompatibleBackend.from_local_settings("local", local)
    assert backend.is_local and backend.default_model() == QWEN
    assert [e.api_base for e in backend.endpoints] == ["http://a:8000/v1", "http://b:8000/v1"]
    assert [e.root for e in backend.endpoints] == ["http://a:8000", "http://b:8000"]
    with pytest.raises(ValueError, match="base_url"):
        make_backend("")


async def test_one_connection_serves_request_after_request(openai_server: OpenAIWireServer) -> None:
    """The stream is read to its end after ``[DONE]``, so the pool keeps the connection for the next request.

    The FIM format is configured: ``auto`` would probe ``/tokenize`` concurrently over several connections,
    which the pool then takes in turn.
    """
    backend = make_backend(openai_server.base_url, fim_format="qwen2.5-coder")
    try:
        for i in range(3):
            openai_server.reply(f"answer {i}")
            result = await collect(backend, fim(f"keep-{i}"))
            assert result.text == f"answer {i}"
    finally:
        await backend.close()
    clients = {r.client for r in openai_server.generation_requests()}
    assert len(clients) == 1 and "" not in clients


async def test_count_chat_tokens_asks_tokenize_and_never_raises(openai_server: OpenAIWireServer) -> None:
    """The chat's messages and tools in their wire form go to ``/tokenize``; a server without it (404) or one
    that is down is None, not an error."""
    backend = make_backend(openai_server.base_url)
    messages = (ChatMessage("system", "Be brief."), ChatMessage("user", "add two numbers"))
    tools = (ToolSpec("add", "Add two numbers.", {"type": "object"}),)
    try:
        assert await backend.count_chat_tokens(messages, tools) is None  # no /tokenize: not vLLM
        openai_server.tokenizes = True
        counted = await backend.count_chat_tokens(messages, tools)
        (asked,) = [r for r in openai_server.requests if r.path == "/tokenize"]
        assert asked.body["tools"][0]["function"]["name"] == "add" and asked.body["add_generation_prompt"] is True
        assert counted == wire_token_count(asked.body)
        openai_server.stop()  # connection refused
        assert await backend.count_chat_tokens(messages, tools) is None
    finally:
        await backend.close()
