"""What a call costs: estimates before, real cost after, and the all-cloud counterfactual."""

from __future__ import annotations

from collections.abc import Mapping

from inference.settings import ProviderSettings
from inference.types import Usage
from routing.policy import LOCAL, RouteTarget
from routing.settings import RoutingSettings


def actual_cost(
    target: RouteTarget,
    usage: Usage,
    providers: Mapping[str, ProviderSettings],
    settings: RoutingSettings,
) -> float:
    """Dollars spent on one finished call, from its real token usage."""
    if target.target == LOCAL:
        return usage.total_tokens * settings.local_price_per_mtok / 1_000_000
    provider = providers.get(target.target)
    price = provider.price(target.model) if provider else None
    if price is None:
        return 0.0
    return price.cost(usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens)
