"""Every provider's failures map to the same :mod:`inference.errors` classes.

The matrix drives each backend through its real SDK against its wire
imitation with each scripted fault (no retries, so the first error shows);
the unit tests cover the shared status table, ``retry-after`` parsing and
the retry timing.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import anthropic
import httpx2
import pytest

from inference.backend import Backend, collect
from inference.errors import (
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    InferenceError,
    InferenceTimeoutError,
    RateLimitedError,
    UnavailableError,
)
from inference.remote import (
    AnthropicBackend,
    GeminiBackend,
    OpenAIBackend,
    OpenAICompatibleBackend,
    RetryTiming,
)
from inference.remote._errors_http import error_for_status, parse_retry_after
from inference.settings import ProviderSettings
from inference.types import ChatMessage, GenerationRequest
from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.base import FaultKind, WireServer
from tests.wire.gemini_server import GeminiWireServer
from tests.wire.openai_server import OpenAIWireServer

KEY_ENV = "HA_TEST_MAPPING_KEY"
FAST = RetryTiming(initial_backoff_s=0.01, max_backoff_s=0.02)


@dataclass(frozen=True)
class Provider:
    name: str
    server: Callable[[], WireServer]
    build: Callable[[str, ProviderSettings], Backend]
    kind: str
    model: str


PROVIDERS = {
    "openai": Provider(
        "openai", OpenAIWireServer, lambda n, s: OpenAIBackend(n, s, retry_timing=FAST), "openai", "gpt-4o"
    ),
    "anthropic": Provider(
        "anthropic",
        AnthropicWireServer,
        lambda n, s: AnthropicBackend(n, s, retry_timing=FAST),
        "anthropic",
        "claude-haiku-4-5",
    ),
    "gemini": Provider(
        "gemini",
        GeminiWireServer,
        lambda n, s: GeminiBackend(n, s, retry_timing=FAST),
        "gemini",
        "gemini-2.5-flash",
    ),
    "overflow": Provider(
        "overflow",
        OpenAIWireServer,
        lambda n, s: OpenAICompatibleBackend(n, s, retry_timing=FAST),
        "openai-compatible",
        "test-model",
    ),
}

CASES: list[tuple[FaultKind, type[InferenceError], int | None]] = [
    ("rate_limit", RateLimitedError, 429),
    ("server_error", UnavailableError, 500),
    ("overloaded", UnavailableError, None),  # 503, Anthropic 529
    ("unauthorized", AuthenticationError, None),  # 401, Gemini 400 API_KEY_INVALID
    ("forbidden", AuthenticationError, 403),
    ("bad_request", BadRequestError, 400),
    ("context_length", ContextTooLongError, 400),
    ("not_found", BadRequestError, 404),
    ("reset", UnavailableError, None),
    ("malformed", UnavailableError, None),
    ("timeout", InferenceTimeoutError, None),
]


@pytest.fixture(scope="module", params=sorted(PROVIDERS))
def provider_server(request: pytest.FixtureRequest) -> Iterator[tuple[Provider, WireServer]]:
    provider = PROVIDERS[request.param]
    with provider.server() as server:
        yield provider, server


def backend_for(provider: Provider, server: WireServer, monkeypatch: pytest.MonkeyPatch) -> Backend:
    monkeypatch.setenv(KEY_ENV, "test-key")
    settings = ProviderSettings(
        kind=provider.kind,  # type: ignore[arg-type]
        base_url=server.base_url,
        api_key_env=KEY_ENV,
        models=[provider.model],
        default_model=provider.model,
        timeout_s=0.5,
        max_retries=0,
    )
    return provider.build(provider.name, settings)


def chat() -> GenerationRequest:
    return GenerationRequest.chat("m1", [ChatMessage("user", "hi")])


@pytest.mark.parametrize(("fault", "expected", "status"), CASES, ids=[c[0] for c in CASES])
async def test_fault_maps_to_error(
    provider_server: tuple[Provider, WireServer],
    monkeypatch: pytest.MonkeyPatch,
    fault: FaultKind,
    expected: type[InferenceError],
    status: int | None,
) -> None:
    provider, server = provider_server
    server.clear()
    server.fail(fault, retry_after=0.05, after_chunks=0, delay_s=3.0)
    backend = backend_for(provider, server, monkeypatch)
    with pytest.raises(InferenceError) as info:
        await collect(backend, chat())
    assert type(info.value) is expected, f"{provider.name}/{fault}: {info.value!r}"
    assert info.value.provider == provider.name
    if status is not None:
        assert info.value.status == status
    if isinstance(info.value, RateLimitedError):
        assert info.value.retry_after == pytest.approx(0.05)
    assert len(server.generation_requests()) == 1
    await backend.close()


async def test_connection_refused_is_unavailable(
    provider_server: tuple[Provider, WireServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, server = provider_server
    backend = backend_for(provider, server, monkeypatch)
    server.stop()
    try:
        with pytest.raises(UnavailableError) as info:
            await collect(backend, chat())
        assert info.value.provider == provider.name
    finally:
        server.start()
        await backend.close()


def test_anthropic_error_event_inside_a_stream_is_classified_by_type() -> None:
    settings = ProviderSettings(kind="anthropic", api_key_env=KEY_ENV, default_model="claude-haiku-4-5")
    backend = AnthropicBackend("anthropic", settings)
    response = httpx2.Response(200, request=httpx2.Request("POST", "http://127.0.0.1/v1/messages"))
    for error_type, cls, status in [
        ("overloaded_error", UnavailableError, 529),
        ("rate_limit_error", RateLimitedError, 429),
        ("api_error", UnavailableError, 500),
    ]:
        body = {"type": "error", "error": {"type": error_type, "message": "stream error"}}
        exc = anthropic.APIStatusError("stream error", response=response, body=body)
        mapped = backend.as_inference_error(exc)
        assert mapped is not None
        assert type(mapped) is cls and mapped.status == status and mapped.__cause__ is exc


@pytest.mark.parametrize(
    ("status", "context", "expected"),
    [
        (429, False, RateLimitedError),
        (401, False, AuthenticationError),
        (403, False, AuthenticationError),
        (408, False, InferenceTimeoutError),
        (500, False, UnavailableError),
        (502, False, UnavailableError),
        (529, False, UnavailableError),
        (400, True, ContextTooLongError),
        (413, True, ContextTooLongError),
        (400, False, BadRequestError),
        (404, False, BadRequestError),
        (422, False, BadRequestError),
    ],
)
def test_status_table(status: int, context: bool, expected: type[InferenceError]) -> None:
    error = error_for_status(status, "boom", provider="p", retry_after=1.0, context_too_long=context)
    assert type(error) is expected
    assert error.provider == "p" and error.status == status and "boom" in error.message


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.05"}) == 0.05
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "inf"}) is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    parsed = parse_retry_after({"retry-after": in_ten})
    assert parsed is not None and 8.0 <= parsed <= 10.5
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert parse_retry_after({"retry-after": past}) == 0.0


def test_retry_timing() -> None:
    timing = RetryTiming(initial_backoff_s=0.1, max_backoff_s=0.4, max_retry_after_s=5.0, jitter=0.25)
    assert timing.delay(0, 1.5, remaining_s=10.0) == 1.5  # retry-after wins, exactly
    assert timing.delay(0, 6.0, remaining_s=60.0) is None  # too long: fall back instead
    assert timing.delay(0, 2.0, remaining_s=1.0) is None  # would pass the deadline
    for retries_done, ceiling in [(0, 0.1), (1, 0.2), (2, 0.4), (5, 0.4)]:
        wait = timing.delay(retries_done, None, remaining_s=10.0)
        assert wait is not None and 0.75 * ceiling <= wait <= ceiling
