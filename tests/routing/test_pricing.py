"""The published price table, cache writes and reads in actual_cost, and the stable prefix through redaction."""

from __future__ import annotations

import pytest

from inference.settings import default_providers
from inference.types import ChatMessage, GenerationRequest, Usage
from routing.policy import RouteTarget
from routing.pricing import PUBLISHED_PRICES, actual_cost
from routing.redaction import redact_request
from routing.settings import RoutingSettings


def test_default_provider_prices_are_the_published_table() -> None:
    for provider in default_providers().values():
        for model, price in provider.prices.items():
            published = PUBLISHED_PRICES[model]
            assert (price.input, price.cached_input, price.output) == pytest.approx(
                (published.input, published.cached_input, published.output)
            ), model
            assert published.provider == provider.kind and published.source.startswith("https://")
            assert published.as_of


@pytest.mark.parametrize(("ttl", "factor"), [("5m", 1.25), ("1h", 2.0)])
def test_anthropic_cache_writes_cost_the_premium_of_the_configured_lifetime(ttl: str, factor: float) -> None:
    providers = default_providers()
    providers["anthropic"] = providers["anthropic"].model_copy(update={"prompt_cache": ttl})
    target = RouteTarget("anthropic", "claude-sonnet-4-6", cloud=True)
    usage = Usage(prompt_tokens=10_000, cached_tokens=3_000, completion_tokens=500, cache_write_tokens=6_000)
    cost = actual_cost(target, usage, providers, RoutingSettings())
    # 1,000 uncached at $3, 3,000 read at $0.30, 6,000 written at $3 x factor, 500 out at $15 (per million)
    assert cost == pytest.approx((1_000 * 3 + 3_000 * 0.3 + 6_000 * 3 * factor + 500 * 15) / 1e6)


def test_openai_and_gemini_reads_cost_their_cached_price() -> None:
    providers = default_providers()
    usage = Usage(prompt_tokens=4_000, cached_tokens=3_000, completion_tokens=100)
    openai = actual_cost(RouteTarget("openai", "gpt-4o", True), usage, providers, RoutingSettings())
    gemini = actual_cost(RouteTarget("gemini", "gemini-2.5-flash", True), usage, providers, RoutingSettings())
    assert openai == pytest.approx((1_000 * 2.5 + 3_000 * 1.25 + 100 * 10) / 1e6)
    assert gemini == pytest.approx((1_000 * 0.30 + 3_000 * 0.03 + 100 * 2.5) / 1e6)


def test_redaction_keeps_the_stable_prefix_boundary() -> None:
    stable = (
        "```python\nPASSWORD = 'hunter2-very-secret-value-123'\nAPI_KEY=sk-abcdefghijklmnopqrstuvwxyz123456\n```\n\n"
    )
    request = GenerationRequest.chat(
        "r", [ChatMessage("system", "s"), ChatMessage("user", stable + "Explain it.")], stable_chars=len(stable)
    )
    redacted = redact_request(request)
    text = redacted.messages[1].content
    assert "sk-abcdefghijklmnopqrstuvwxyz123456" not in text and "[REDACTED" in text
    assert text[redacted.stable_chars :] == "Explain it."
