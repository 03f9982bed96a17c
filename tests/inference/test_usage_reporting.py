"""Usage from every place the protocols allow, and an estimate marked as such when a server reports none.

Anthropic's ``message_delta.usage`` is cumulative and may carry the input and
cache figures (LiteLLM's proxy reports them only there); OpenAI-style servers
report in the final ``include_usage`` chunk or a non-streamed body's
``usage``. Each case runs the real SDK (or the httpx backend) against the
wire servers scripted to put the usage in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from inference.backend import collect, estimate_tokens
from inference.local.transformers_backend import TransformersBackend
from inference.remote import AnthropicBackend, OpenAIBackend, OpenAICompatibleBackend
from inference.settings import LocalSettings, ProviderSettings
from inference.types import ChatMessage, GenerationRequest, Usage
from routing.runtime import RoutingRuntime
from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.openai_server import OpenAIWireServer

from .conftest import TinyModelFactory

KEY_ENV = "HA_TEST_USAGE_KEY"
PROMPT = "Review this function for off-by-one errors:\n\ndef last(xs):\n    return xs[len(xs)]\n"
ANSWER = ["It indexes ", "one past ", "the end."]

UsageIn = Literal["start", "delta", "both", "none"]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")


def request(request_id: str = "u1") -> GenerationRequest:
    return GenerationRequest.chat(request_id, [ChatMessage("user", PROMPT)], max_tokens=32)


def anthropic(server: AnthropicWireServer) -> AnthropicBackend:
    settings = ProviderSettings(
        kind="anthropic", base_url=server.base_url, api_key_env=KEY_ENV, default_model="claude-sonnet-4-6"
    )
    return AnthropicBackend("anthropic", settings)


def openai(server: OpenAIWireServer) -> OpenAIBackend:
    settings = ProviderSettings(kind="openai", base_url=server.base_url, api_key_env=KEY_ENV, default_model="gpt-4o")
    return OpenAIBackend("openai", settings)


def compatible(server: OpenAIWireServer) -> OpenAICompatibleBackend:
    settings = ProviderSettings(kind="openai-compatible", base_url=server.base_url, default_model="test-model")
    return OpenAICompatibleBackend("overflow", settings)


def reported(usage: Usage) -> tuple[int, int, int, bool]:
    return usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens, usage.estimated


def unreported(completion_tokens: int) -> tuple[int, int, int, bool]:
    """What the backend counts itself, without a tokenizer: about 3.5 characters a token."""
    return estimate_tokens(PROMPT), 0, completion_tokens, True


# --- Anthropic -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("usage_in", ["start", "delta", "both"])
async def test_anthropic_input_and_cache_tokens_from_message_start_or_message_delta(
    anthropic_server: AnthropicWireServer, usage_in: UsageIn
) -> None:
    anthropic_server.reply(
        "".join(ANSWER),
        pieces=ANSWER,
        prompt_tokens=37_000,
        cached_tokens=30_000,
        completion_tokens=7,
        usage_in=usage_in,
    )
    backend = anthropic(anthropic_server)
    try:
        result = await collect(backend, request())
    finally:
        await backend.close()
    assert result.text == "".join(ANSWER)
    assert reported(result.usage) == (37_000, 30_000, 7, False)


async def test_anthropic_the_later_cumulative_count_wins(anthropic_server: AnthropicWireServer) -> None:
    """``both``: message_start says 3,500 uncached input tokens, message_delta the full 7,000: 7,000 counts."""
    anthropic_server.reply("".join(ANSWER), pieces=ANSWER, prompt_tokens=7_000, completion_tokens=3, usage_in="both")
    backend = anthropic(anthropic_server)
    try:
        result = await collect(backend, request())
    finally:
        await backend.close()
    assert reported(result.usage) == (7_000, 0, 3, False)


async def test_anthropic_without_any_usage_estimates_and_marks_it(anthropic_server: AnthropicWireServer) -> None:
    anthropic_server.reply("".join(ANSWER), pieces=ANSWER, prompt_tokens=37_000, usage_in="none")
    backend = anthropic(anthropic_server)
    try:
        result = await collect(backend, request())
    finally:
        await backend.close()
    assert reported(result.usage) == unreported(estimate_tokens("".join(ANSWER)))


# --- OpenAI and OpenAI-compatible ------------------------------------------------------------------------------


async def test_openai_usage_from_the_final_chunk_or_estimated(openai_server: OpenAIWireServer) -> None:
    backend = openai(openai_server)
    try:
        openai_server.reply(
            "".join(ANSWER), pieces=ANSWER, prompt_tokens=1_500, cached_tokens=1_024, completion_tokens=5
        )
        assert reported((await collect(backend, request("a"))).usage) == (1_500, 1_024, 5, False)
        openai_server.reply("".join(ANSWER), pieces=ANSWER, prompt_tokens=1_500, usage_in="none")
        assert reported((await collect(backend, request("b"))).usage) == unreported(estimate_tokens("".join(ANSWER)))
    finally:
        await backend.close()
    assert openai_server.generation_requests()[-1].body["stream_options"] == {"include_usage": True}


async def test_openai_compatible_usage_from_the_final_chunk_a_whole_answer_or_estimated(
    openai_server: OpenAIWireServer,
) -> None:
    backend = compatible(openai_server)
    try:
        openai_server.reply("".join(ANSWER), pieces=ANSWER, prompt_tokens=900, cached_tokens=512, completion_tokens=6)
        assert reported((await collect(backend, request("a"))).usage) == (900, 512, 6, False)
        # a server that ignores "stream": one JSON body with choices[].message and usage
        openai_server.reply(
            "".join(ANSWER), prompt_tokens=901, cached_tokens=256, completion_tokens=4, ignore_stream=True
        )
        whole = await collect(backend, request("b"))
        assert whole.text == "".join(ANSWER) and reported(whole.usage) == (901, 256, 4, False)
        openai_server.reply("".join(ANSWER), pieces=ANSWER, usage_in="none")
        assert reported((await collect(backend, request("c"))).usage) == unreported(estimate_tokens("".join(ANSWER)))
        openai_server.reply("".join(ANSWER), ignore_stream=True, usage_in="none")
        assert reported((await collect(backend, request("d"))).usage) == unreported(estimate_tokens("".join(ANSWER)))
    finally:
        await backend.close()


# --- the local model's tokenizer counts what no server reported ------------------------------------------------


@pytest.mark.usefixtures("hub_offline")
async def test_unreported_usage_is_counted_with_the_local_models_tokenizer(
    anthropic_server: AnthropicWireServer, tiny_model: TinyModelFactory
) -> None:
    path: Path = tiny_model("qwen2.5-coder")
    local = TransformersBackend(
        "local", LocalSettings(backend="transformers", model=str(path), device="cpu", download=False)
    )
    backend = anthropic(anthropic_server)
    RoutingRuntime({"local": local, "anthropic": backend}, {})  # hands the remote backends the local tokenizer
    anthropic_server.reply("".join(ANSWER), pieces=ANSWER, usage_in="none")
    before = await collect(backend, request("before"))  # the engine is not loaded yet: the documented approximation
    assert reported(before.usage) == unreported(estimate_tokens("".join(ANSWER)))
    await local.start()
    try:
        counter = local.token_counter()
        assert counter is not None
        anthropic_server.reply("".join(ANSWER), pieces=ANSWER, usage_in="none")
        after = await collect(backend, request("after"))
        assert reported(after.usage) == (counter(PROMPT), 0, counter("".join(ANSWER)), True)
        assert counter(PROMPT) != estimate_tokens(PROMPT)  # the two counts differ, so the tokenizer was used
    finally:
        await backend.close()
        await local.close()


def test_anthropic_a_later_zero_is_not_a_count() -> None:
    """Counts are cumulative: a ``message_delta`` with zeros (a proxy that did not count) keeps the earlier figures."""
    from anthropic.types import MessageDeltaUsage
    from anthropic.types import Usage as StartUsage

    from inference.remote.anthropic_backend import _UsageCounts

    counts = _UsageCounts()
    counts.update(StartUsage(input_tokens=40, cache_read_input_tokens=2_000, output_tokens=1))
    counts.update(MessageDeltaUsage(input_tokens=0, cache_read_input_tokens=0, output_tokens=12))
    assert counts.usage() == Usage(2_040, 2_000, 12)
