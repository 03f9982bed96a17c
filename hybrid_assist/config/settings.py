"""``HybridSettings``: every section of the configuration in one pydantic model.

The JSON schema of this model is the configuration's contract:
``hybrid-assist config schema`` prints it, ``docs/CONFIGURATION.md`` and the
VS Code extension's settings are generated from it.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from inference.settings import LocalSettings, ProviderSettings, default_providers
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.settings import CompletionSettings, ServerSettings
from routing.settings import RoutingSettings, SensitiveSettings
from routing.usage.settings import BudgetSettings, LimitsSettings


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


class LedgerSettings(BaseModel):
    """``[ledger]``: where every request is recorded."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        default="",
        description="SQLAlchemy URL; empty = SQLite file in the data directory. "
        "PostgreSQL for teams: postgresql+psycopg://user@host/db",
    )
    store_prompts: bool = Field(default=False, description="Store prompt text (otherwise only its SHA-256).")
    flush_interval_ms: float = Field(
        default=50.0,
        gt=0,
        description="Longest time a recorded request waits in memory before the background writer commits it.",
    )
    max_pending: int = Field(
        default=100_000,
        ge=1,
        description="Requests held in memory while the database is slow or down; beyond this they are dropped "
        "(and logged).",
    )


class MetricsSettings(BaseModel):
    """``[metrics]``: the Prometheus endpoint."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="Serve Prometheus metrics over HTTP.")
    host: str = Field(default="127.0.0.1", description="Address of the metrics endpoint.")
    port: int = Field(default=9464, ge=0, le=65535, description="Port of the metrics endpoint (0: any free port).")


class GatewayClientSettings(BaseModel):
    """``[gateway]``: the language server as a client of a team gateway."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="", description="Team gateway URL; empty = embedded mode (engines in-process).")
    api_key_env: str = Field(default="HYBRID_ASSIST_GATEWAY_KEY", description="Env var with this user's key.")
    api_key_file: str = Field(
        default="", description="File holding this user's key, read when the environment variable is unset."
    )
    fallback_local: bool = Field(
        default=False,
        description="Use the local engine when the gateway is unreachable (it is loaded only then, not at startup).",
    )
    connect_timeout_s: float = Field(
        default=3.0, gt=0, description="Seconds to wait for a connection to the gateway before calling it unreachable."
    )
    timeout_s: float = Field(
        default=300.0, gt=0, description="Seconds a request may wait for the gateway's next byte (a streamed answer)."
    )
    retry_after_s: float = Field(
        default=10.0,
        ge=0,
        description="After the gateway was unreachable, seconds before trying it again (meanwhile: fallback or "
        "an empty answer at once).",
    )

    def api_key(self) -> str | None:
        """This user's key from the environment or its file; None if absent. Never logged."""
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            if value and value.strip():
                return value.strip()
        if self.api_key_file:
            path = Path(self.api_key_file).expanduser()
            if path.is_file():
                return path.read_text(encoding="utf-8").strip() or None
        return None


class GatewayServerSettings(BaseModel):
    """``[gateway_server]``: the team gateway (``hybrid-assist gateway serve``) as a server."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address the gateway listens on (0.0.0.0: every interface).")
    port: int = Field(default=8470, ge=0, le=65535, description="Port the gateway listens on (0: any free port).")
    tls_certfile: str = Field(
        default="", description="PEM certificate (chain) for HTTPS; empty = plain HTTP (e.g. behind a TLS proxy)."
    )
    tls_keyfile: str = Field(default="", description="PEM private key of tls_certfile.")
    proxy_headers: bool = Field(
        default=False,
        description="Trust X-Forwarded-For/-Proto from forwarded_allow_ips (behind a TLS-terminating proxy).",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1", description="Comma-separated proxy addresses whose X-Forwarded-* headers are trusted."
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest request body; larger ones get 413 while being read."
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="Time allowed to receive a whole request body; slower clients get 408."
    )
    key_cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        description="How long a verified API key is trusted from memory; a revocation through another "
        "replica or the CLI takes effect within this time (at once through this gateway).",
    )
    ready_without_local: bool = Field(
        default=False,
        description="Report ready (/readyz 200) when the local engine failed to start, serving cloud routes only.",
    )
    max_output_tokens: int = Field(
        default=8192, ge=1, description="Upper bound on the answer length a client may ask for."
    )


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
