"""``[gateway_server]``, the team gateway's own section, and what the gateway reads of the whole configuration.

The root settings model is assembled at the top (:mod:`hybrid_assist.settings`);
the gateway sees it through :class:`GatewaySettings`, the sections it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from inference.settings import ProviderSettings
from routing.settings import RoutingSettings, SensitiveSettings
from routing.usage.settings import BudgetSettings


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
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Time allowed to receive a request's headers (from the connection's start or the request's "
        "first byte); slower clients get 408 and the connection is closed.",
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


class GatewaySettings(Protocol):
    """The sections of the configuration the gateway's handlers read."""

    @property
    def gateway_server(self) -> GatewayServerSettings: ...

    @property
    def routing(self) -> RoutingSettings: ...

    @property
    def sensitive(self) -> SensitiveSettings: ...

    @property
    def budgets(self) -> BudgetSettings: ...

    @property
    def providers(self) -> Mapping[str, ProviderSettings]: ...
