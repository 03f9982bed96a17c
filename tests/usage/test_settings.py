"""``[limits]``, ``[budgets]`` and ``[ledger]``: parsed from TOML-shaped dicts, every field documented."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from hybrid_assist.settings import HybridSettings
from routing.usage.settings import BudgetSettings, LedgerSettings, LimitsSettings, UserLimits


@pytest.mark.parametrize("model", [LimitsSettings, UserLimits, BudgetSettings, LedgerSettings])
def test_every_field_has_a_description(model: type[BaseModel]) -> None:
    undocumented = [name for name, field in model.model_fields.items() if not field.description]
    assert undocumented == []


def test_sections_load_from_configuration() -> None:
    settings = HybridSettings.model_validate(
        {
            "limits": {"requests_per_minute": 30, "users": {"alice": {"tokens_per_minute": 5}}},
            "budgets": {"team_monthly_usd": 500, "users": {"bob": 40}},
        }
    )
    assert settings.limits.for_user("alice") == (30, 5)
    assert settings.limits.for_user("carol") == (30, 1_000_000)
    assert settings.budgets.users == {"bob": 40.0}
    assert settings.budgets.team_monthly_usd == 500


def test_unknown_or_invalid_keys_are_rejected() -> None:
    with pytest.raises(ValidationError):
        LimitsSettings.model_validate({"requests_per_hour": 3})
    with pytest.raises(ValidationError):
        BudgetSettings.model_validate({"soft_fraction": 1.5})
