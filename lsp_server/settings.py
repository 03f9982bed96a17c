"""Editor-facing settings of the language server: ``[completion]``, ``[server]`` and ``[gateway]`` (gateway mode)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CompletionSettings(BaseModel):
    """``[completion]``: how completions and inline completions behave."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Offer AI completions at all.")
    debounce_ms: int = Field(
        default=75, ge=0, le=2000, description="Wait this long after a keystroke before asking the engine."
    )
    max_tokens: int = Field(default=64, ge=1, le=1024, description="Longest completion, in tokens.")
    multiline: Literal["auto", "never", "always"] = Field(
        default="auto", description="auto: several lines only where the cursor opens a new block."
    )
    cache_size: int = Field(default=256, ge=0, description="Completions remembered per prompt prefix (LRU).")
    context_tokens: int = Field(default=2048, ge=64, description="Prompt budget of a completion.")


class ServerSettings(BaseModel):
    """``[server]``: the language server process itself."""

    model_config = ConfigDict(extra="forbid")

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level of the server's stderr log."
    )
    max_message_bytes: int = Field(
        default=128 * 1024 * 1024, ge=1024, description="Largest JSON-RPC message accepted on a socket."
    )
    route_footer: bool = Field(default=True, description="Show the route footer under hover and action answers.")
    auth: Literal["none", "keys"] = Field(
        default="none",
        description="Who may use a --tcp/--ws server. keys: each editor session sends a user's key (the gateway's "
        "users and keys, `hybrid-assist gateway users add NAME`) and is served as that user; none: anyone who "
        "can connect (only allowed on a loopback address). Read from the user TOML or the environment at "
        "startup; stdio ignores it.",
    )
    key_recheck_s: float = Field(
        default=30.0,
        ge=0,
        description='Seconds between re-checks of each --tcp/--ws session\'s key (auth = "keys"): a session whose '
        "key was revoked or rotated since it connected (`hybrid-assist gateway users revoke NAME`, "
        "`gateway keys rotate NAME`) is told so and closed within this time; while the user database is "
        "unreachable sessions go on "
        "(revocations wait for it). 0: a key is checked only at initialize. Read at startup.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins (e.g. https://ide.example.com) allowed to open a --ws session; a handshake "
        "with any other Origin header is refused (clients that send none, such as editors, are allowed).",
    )
    tls_certfile: str = Field(
        default="", description="PEM certificate (chain) for --ws over TLS (wss://); empty = plain ws://."
    )
    tls_keyfile: str = Field(default="", description="PEM private key of tls_certfile.")
    allowed_roots: list[str] = Field(
        default_factory=list,
        description="Directories workspaces may live in. A workspace folder outside them is refused at initialize "
        "and didChangeWorkspaceFolders, and a session reads and writes only inside its folders, links resolved. "
        "{user} stands for the session's user (its key's; without auth, this config's user), then ~ is expanded: "
        '"/srv/src/{user}", "~{user}/src". Empty: a --tcp/--ws server serves no workspace; stdio is unconfined. '
        "Read from the user TOML or the environment at startup, never from a workspace or the editor.",
    )


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
