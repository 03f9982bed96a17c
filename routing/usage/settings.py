"""Configuration of usage control: ``[limits]`` (rate limits), ``[budgets]`` (monthly budgets), ``[ledger]``
(where requests are recorded) and ``[metrics]`` (the Prometheus endpoint).

Pure pydantic models, sections of the root model the application assembles
(:class:`hybrid_assist.settings.HybridSettings`)::

    [limits]
    requests_per_minute = 240
    tokens_per_minute = 1000000
    [limits.users.alice]
    tokens_per_minute = 2000000

    [budgets]
    team_monthly_usd = 500.0
    [budgets.users]
    bob = 40.0
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UserLimits(BaseModel):
    """Per-user override of the rate limits; an unset field keeps the default."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(
        default=None, ge=0, description="Requests per minute for this user (0: unlimited)."
    )
    tokens_per_minute: int | None = Field(
        default=None, ge=0, description="Prompt + answer tokens per minute for this user (0: unlimited)."
    )


class LimitsSettings(BaseModel):
    """``[limits]``: per-user token buckets on requests and tokens per minute."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Enforce the per-user rate limits.")
    backend: Literal["memory", "database"] = Field(
        default="memory",
        description="Where the buckets live: this process (memory) or the ledger database, "
        "shared by every replica (database).",
    )
    requests_per_minute: int = Field(
        default=240, ge=0, description="Requests per minute per user; also the burst size (0: unlimited)."
    )
    tokens_per_minute: int = Field(
        default=1_000_000,
        ge=0,
        description="Estimated prompt + answer tokens per minute per user; also the burst size (0: unlimited). "
        "A single request larger than this is let through when the bucket is full and leaves it in debt.",
    )
    users: dict[str, UserLimits] = Field(default_factory=dict, description="Per-user overrides, by user name.")

    def for_user(self, user: str) -> tuple[int, int]:
        """``(requests_per_minute, tokens_per_minute)`` that apply to ``user``."""
        override = self.users.get(user)
        rpm = self.requests_per_minute
        tpm = self.tokens_per_minute
        if override is not None:
            rpm = override.requests_per_minute if override.requests_per_minute is not None else rpm
            tpm = override.tokens_per_minute if override.tokens_per_minute is not None else tpm
        return rpm, tpm


class BudgetSettings(BaseModel):
    """``[budgets]``: monthly cloud spending limits per user and per team."""

    model_config = ConfigDict(extra="forbid")

    user_monthly_usd: float = Field(
        default=0.0, ge=0, description="Monthly cloud budget of every user without an override (0: no budget)."
    )
    team_monthly_usd: float = Field(
        default=0.0, ge=0, description="Monthly cloud budget of every team without an override (0: no budget)."
    )
    soft_fraction: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a budget at which its user or team is warned, once a month.",
    )
    users: dict[str, float] = Field(
        default_factory=dict, description="Monthly budget in USD by user name (overrides user_monthly_usd)."
    )
    teams: dict[str, float] = Field(
        default_factory=dict, description="Monthly budget in USD by team name (overrides team_monthly_usd)."
    )
    reservation_ttl_s: float = Field(
        default=900.0,
        gt=0,
        description="Reservations older than this (left by a crashed process) are released.",
    )
    on_database_unavailable: Literal["fail_closed", "fail_open"] = Field(
        default="fail_closed",
        description="While the usage database is down, requests that need a budget (cloud) are refused with "
        "'usage database unavailable' (HTTP 503 and Retry-After at the gateway: fail_closed), or served and "
        "charged to the budget once the database is back, any overspend logged (fail_open). Local requests are "
        "served either way.",
    )


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
    journal_path: str = Field(
        default="",
        description="The gateway's journal: ledger rows written to this file (fsynced) while the database is down, "
        "and to the database, exactly once, when it is back. Empty = ledger-journal.jsonl in the data directory; "
        "give each replica its own file.",
    )
    journal_max_entries: int = Field(
        default=100_000, ge=1, description="Rows the journal holds at most; beyond this they are dropped (and logged)."
    )
    probe_interval_s: float = Field(
        default=1.0, gt=0, description="How often the gateway tries the database while it is down."
    )
    retry_after_s: int = Field(
        default=5,
        ge=1,
        description="Retry-After (seconds) of the 503 answered while the usage database is down.",
    )


class MetricsSettings(BaseModel):
    """``[metrics]``: the Prometheus endpoint."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="Serve Prometheus metrics over HTTP.")
    host: str = Field(default="127.0.0.1", description="Address of the metrics endpoint.")
    port: int = Field(default=9464, ge=0, le=65535, description="Port of the metrics endpoint (0: any free port).")
