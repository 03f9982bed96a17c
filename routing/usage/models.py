"""The usage-control tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Money is stored as whole nano-dollars (``BigInteger``), so sums, budgets and
reservations are exact integer arithmetic on every database; the Python API
speaks floats in US dollars. Times are naive UTC ``DateTime`` columns.

=====================  =============================================================
table                  what a row is
=====================  =============================================================
ledger_requests        one finished, failed or denied request: who, what, where, tokens, cost, why
ledger_feedback        the outcome of one request's answer: accepted or not, and what of (``kind``)
budget_limits          a monthly budget of one user or team
budget_periods         spent and reserved money of one user or team in one month
budget_reservations    an estimate held for a call in flight, until settled or released
rate_limit_buckets     the token buckets of one user (the database rate limiter)
routing_adoptions      one adopted learned routing overlay (the newest row is in force on every replica)
=====================  =============================================================

The Alembic migrations in ``routing/usage/migrations`` create exactly these
tables; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
)

NANOS_PER_USD = 1_000_000_000

metadata = MetaData()

#: ``BIGINT`` on PostgreSQL, ``INTEGER`` (the rowid alias) on SQLite.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")

ledger_requests = Table(
    "ledger_requests",
    metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(), nullable=False),
    Column("user_name", String(128), nullable=False),
    Column("team", String(128), nullable=False),
    Column("task", String(64), nullable=False),
    Column("scope_level", String(16), nullable=False),
    Column("target", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_nanousd", BigInteger, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("ttft_ms", Float, nullable=True),
    Column("outcome", String(64), nullable=False),
    Column("fallback_chain", Text, nullable=False),
    Column("prompt_sha256", String(64), nullable=False),
    Column("prompt_text", Text, nullable=True),
    # the token counts were counted or estimated here: the server reported none (migration 0002)
    Column("usage_estimated", Boolean, nullable=False, server_default=false()),
    # the session's workspace root ('' unknown, e.g. a gateway call without one) and why a request failed or
    # was denied ('' when it was served) (migration 0003)
    Column("workspace", Text, nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    # the request's tree-sitter language id ('' unknown or mixed, e.g. a repository-wide command) (migration 0004)
    Column("language", Text, nullable=False, server_default=""),
    # kept on the premises because the code is sensitive (the decision was local only) (migration 0005)
    Column("sensitive", Boolean, nullable=False, server_default=false()),
    Index("ix_ledger_requests_created_at", "created_at"),
    Index("ix_ledger_requests_user_created", "user_name", "created_at"),
    Index("ix_ledger_requests_team_created", "team", "created_at"),
    Index("ix_ledger_requests_workspace_created", "workspace", "created_at"),
)

ledger_feedback = Table(
    "ledger_feedback",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("accepted", Boolean, nullable=False),
    Column("created_at", DateTime(), nullable=False),
    # what the verdict is about: "completion", "code_action", "quick_fix" or "check" (migration 0004)
    Column("kind", String(32), nullable=False, server_default="completion"),
)

budget_limits = Table(
    "budget_limits",
    metadata,
    Column("scope", String(8), nullable=False),
    Column("name", String(128), nullable=False),
    Column("monthly_limit_nanousd", BigInteger, nullable=False),
    Column("soft_fraction", Float, nullable=False),
    PrimaryKeyConstraint("scope", "name", name="pk_budget_limits"),
)

budget_periods = Table(
    "budget_periods",
    metadata,
    Column("scope", String(8), nullable=False),
    Column("name", String(128), nullable=False),
    Column("period", String(7), nullable=False),  # "YYYY-MM" (UTC)
    Column("spent_nanousd", BigInteger, nullable=False),
    Column("reserved_nanousd", BigInteger, nullable=False),
    Column("soft_warned", Boolean, nullable=False),
    PrimaryKeyConstraint("scope", "name", "period", name="pk_budget_periods"),
)

budget_reservations = Table(
    "budget_reservations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_name", String(128), nullable=False),
    Column("team", String(128), nullable=False),
    Column("period", String(7), nullable=False),
    Column("amount_nanousd", BigInteger, nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Index("ix_budget_reservations_created_at", "created_at"),
)

rate_limit_buckets = Table(
    "rate_limit_buckets",
    metadata,
    Column("user_name", String(128), primary_key=True),
    Column("requests", Float, nullable=False),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),  # seconds since the epoch
)

routing_adoptions = Table(
    "routing_adoptions",
    metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(), nullable=False),
    Column("adopted_by", String(128), nullable=False),  # the admin (gateway) or the user (CLI) who adopted it
    Column("overlay", Text, nullable=False),  # the overlay's TOML text; an empty overlay is a revert
    Column("summary", Text, nullable=False, server_default=""),  # the proposal's summary ('' when none)
)


def to_nanos(usd: float) -> int:
    """US dollars -> whole nano-dollars (rounded to the nearest)."""
    return round(usd * NANOS_PER_USD)


def to_usd(nanos: int) -> float:
    """Whole nano-dollars -> US dollars."""
    return nanos / NANOS_PER_USD
