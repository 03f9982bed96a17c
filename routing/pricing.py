"""What a call costs: estimates before, real cost after, and the providers' published prompt-cache prices.

:data:`PUBLISHED_PRICES` is the one table of list prices the product knows,
with the source and date of each figure: input, cached input (a prompt-cache
read), cache writes for the 5-minute and the 1-hour lifetime, and output, in
US dollars per million tokens. ``inference.settings.default_providers`` holds
the same input/cached/output figures as its defaults (a test keeps the two
equal); a deployment's ``[providers.NAME.prices]`` override them.

How each provider bills its prompt cache:

* Anthropic: explicit ``cache_control`` breakpoints; a cache write costs 1.25x
  the input price for the 5-minute lifetime and 2x for the 1-hour one, a read
  0.1x. The usage reports ``cache_creation_input_tokens`` (writes) and
  ``cache_read_input_tokens`` (reads) apart from ``input_tokens``.
* OpenAI: automatic caching of a stable prefix of >= 1,024 tokens; writes cost
  the normal input price, reads half of it for the GPT-4o family.
* Gemini 2.5: implicit caching of a stable prefix; writes cost the normal input
  price (no storage charge for implicit caching), reads a tenth of it.

:func:`actual_cost` charges a finished call: uncached input at the input
price, cache reads at the provider's cached price, cache writes at the write
price of the provider's ``prompt_cache`` lifetime (the input price when the
model is not in the table), output at the output price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from inference.settings import ProviderSettings
from inference.types import Usage
from routing.policy import LOCAL, RouteTarget
from routing.settings import RoutingSettings

_ANTHROPIC = "https://docs.claude.com/en/docs/about-claude/pricing (prompt caching table)"
_OPENAI = "https://platform.openai.com/docs/pricing (Text tokens, Standard)"
_GEMINI = "https://ai.google.dev/gemini-api/docs/pricing (Standard, prompts <= 200k tokens)"
_AS_OF = "2025-11"


@dataclass(frozen=True, slots=True)
class PublishedPrice:
    """One model's list prices in US dollars per million tokens, and where they were read."""

    provider: str  # provider kind
    input: float
    cached_input: float  # a prompt-cache read
    cache_write_5m: float  # a prompt-cache write with the 5-minute lifetime (or the only one)
    cache_write_1h: float  # with the 1-hour lifetime
    output: float
    min_cacheable_tokens: int  # the shortest prefix the provider caches
    source: str
    as_of: str

    def write_price(self, ttl: str) -> float:
        return self.cache_write_1h if ttl == "1h" else self.cache_write_5m


def _anthropic(i: float, o: float, minimum: int) -> PublishedPrice:
    return PublishedPrice("anthropic", i, i * 0.1, i * 1.25, i * 2.0, o, minimum, _ANTHROPIC, _AS_OF)


def _openai(i: float, cached: float, o: float) -> PublishedPrice:
    return PublishedPrice("openai", i, cached, i, i, o, 1024, _OPENAI, _AS_OF)


def _gemini(i: float, cached: float, o: float, minimum: int) -> PublishedPrice:
    return PublishedPrice("gemini", i, cached, i, i, o, minimum, _GEMINI, _AS_OF)


#: The published prices of the built-in models (see the module docstring for the billing rules).
PUBLISHED_PRICES: dict[str, PublishedPrice] = {
    "claude-sonnet-4-6": _anthropic(3.00, 15.00, 1024),
    "claude-haiku-4-5": _anthropic(1.00, 5.00, 4096),
    "gpt-4o": _openai(2.50, 1.25, 10.00),
    "gpt-4o-mini": _openai(0.15, 0.075, 0.60),
    "gemini-2.5-pro": _gemini(1.25, 0.125, 10.00, 4096),
    "gemini-2.5-flash": _gemini(0.30, 0.03, 2.50, 1024),
}


def cache_write_price(model: str, input_price: float, ttl: str) -> float:
    """$ per million tokens written to the prompt cache of ``model`` with lifetime ``ttl`` ("5m" or "1h")."""
    published = PUBLISHED_PRICES.get(model)
    if published is None or not published.input:
        return input_price
    # the published premium, applied to the configured input price (a deployment's own price list)
    return input_price * published.write_price(ttl) / published.input


def actual_cost(
    target: RouteTarget,
    usage: Usage,
    providers: Mapping[str, ProviderSettings],
    settings: RoutingSettings,
) -> float:
    """Dollars spent on one finished call, from its real token usage (cache reads and writes included)."""
    if target.target == LOCAL:
        return usage.total_tokens * settings.local_price_per_mtok / 1_000_000
    provider = providers.get(target.target)
    price = provider.price(target.model) if provider else None
    if price is None or provider is None:
        return 0.0
    cost = price.cost(usage.prompt_tokens - usage.cache_write_tokens, usage.cached_tokens, usage.completion_tokens)
    if usage.cache_write_tokens:
        write = cache_write_price(target.model, price.input, provider.prompt_cache)
        cost += usage.cache_write_tokens * write / 1_000_000
    return cost
