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

from pydantic import BaseModel, ConfigDict, Field

from gateway.settings import GatewayServerSettings
from hybrid_assist.config import SettingsLoader
from inference.settings import LocalSettings, ProviderSettings, default_providers
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.settings import CompletionSettings, GatewayClientSettings, ServerSettings
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


def settings_loader(environ: Mapping[str, str] | None = None) -> SettingsLoader[HybridSettings]:
    """The layered loader of :class:`HybridSettings` (``environ``: instead of ``os.environ``, for tests)."""
    return SettingsLoader(HybridSettings, environ)
