"""``HybridSettings``: the root settings model, assembled from the sections each package owns.

Every package defines its own sections as pydantic models (``inference.settings``,
``routing.settings``, ``routing.usage.settings``, ``lsp_server.settings``,
``lsp_server.analysis.settings``, ``gateway.settings``); this module, at the top
next to the composition root, puts them together. The layered loader
(:mod:`hybrid_assist.config`) is generic over this model and knows none of its
sections; the language server and the gateway read it through the narrow
protocols they declare (``lsp_server.session_settings.SessionSettings``,
``gateway.settings.GatewaySettings``).

The JSON schema of this model is the configuration's contract:
``hybrid-assist config schema`` prints it, ``docs/CONFIGURATION.md`` and the
VS Code extension's settings are generated from it.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.settings import GatewayServerSettings
from hybrid_assist.config import ConfigLayer, SettingsLoader
from hybrid_assist.config.loader import read_toml_layer
from inference.settings import LocalSettings, ProviderSettings, default_providers
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.settings import CompletionSettings, GatewayClientSettings, ServerSettings
from routing.learned_overlay import adopted_path, learned_only
from routing.settings import RoutingSettings, SensitiveSettings
from routing.usage.settings import BudgetSettings, LedgerSettings, LimitsSettings, MetricsSettings


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


class HybridSettings(BaseModel):
    """The whole configuration. Unknown keys are rejected with a message naming them."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field(default_factory=_default_user, description="Who requests are attributed to.")
    team: str = Field(default="default", description="Team of the user, for budgets and reports.")
    data_dir: str = Field(
        default="", description="Where the ledger and caches live; empty = ~/.local/share/hybrid-assist."
    )
    server: ServerSettings = Field(default_factory=ServerSettings)
    completion: CompletionSettings = Field(default_factory=CompletionSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    providers: dict[str, ProviderSettings] = Field(
        default_factory=default_providers,
        description="Cloud providers and the overflow endpoint, by name.",
    )
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    sensitive: SensitiveSettings = Field(default_factory=SensitiveSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    gateway: GatewayClientSettings = Field(default_factory=GatewayClientSettings)
    gateway_server: GatewayServerSettings = Field(default_factory=GatewayServerSettings)


def data_directory(data_dir: str) -> Path:
    """``data_dir`` expanded, or (empty) the default data directory."""
    if data_dir:
        return Path(data_dir).expanduser()
    from routing.usage.database import default_data_dir  # here: it imports SQLAlchemy, which settings need not

    return default_data_dir()


def learned_overlay(merged: Mapping[str, Any]) -> tuple[ConfigLayer | None, str | None]:
    """The adopted learned routing overlay (``<data_dir>/routing-learned.toml``) as a layer: only its learned rules.

    ``merged``: the other layers' values, for ``data_dir``.
    """
    data_dir = merged.get("data_dir")
    path = adopted_path(data_directory(data_dir if isinstance(data_dir, str) else ""))
    layer, problem = read_toml_layer(path, "learned routing overlay")
    if layer is None:
        return None, problem
    values, ignored = learned_only(layer.values)
    if ignored:
        problem = f"learned routing overlay {path}: only learned rules are read; ignoring {', '.join(ignored)}"
    return ConfigLayer(layer.source, values), problem


def settings_loader(environ: Mapping[str, str] | None = None) -> SettingsLoader[HybridSettings]:
    """The layered loader of :class:`HybridSettings` (``environ``: instead of ``os.environ``, for tests), with the
    adopted learned routing overlay right above the defaults (:func:`learned_overlay`)."""
    return SettingsLoader(HybridSettings, environ, overlay=learned_overlay)
