"""Create the ledger, feedback, budget and rate-limit tables.

Revision ID: 0001_usage_tables
Revises:
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_usage_tables"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_requests",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("team", sa.String(128), nullable=False),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("scope_level", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_nanousd", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("fallback_chain", sa.Text(), nullable=False),
        sa.Column("prompt_sha256", sa.String(64), nullable=False),
        sa.Column("prompt_text", sa.Text(), nullable=True),
    )
    op.create_index("ix_ledger_requests_created_at", "ledger_requests", ["created_at"])
    op.create_index("ix_ledger_requests_user_created", "ledger_requests", ["user_name", "created_at"])
    op.create_index("ix_ledger_requests_team_created", "ledger_requests", ["team", "created_at"])

    op.create_table(
        "ledger_feedback",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "budget_limits",
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("monthly_limit_nanousd", sa.BigInteger(), nullable=False),
        sa.Column("soft_fraction", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "name", name="pk_budget_limits"),
    )
    op.create_table(
        "budget_periods",
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("spent_nanousd", sa.BigInteger(), nullable=False),
        sa.Column("reserved_nanousd", sa.BigInteger(), nullable=False),
        sa.Column("soft_warned", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "name", "period", name="pk_budget_periods"),
    )
    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("team", sa.String(128), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("amount_nanousd", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_budget_reservations_created_at", "budget_reservations", ["created_at"])
    op.create_table(
        "rate_limit_buckets",
        sa.Column("user_name", sa.String(128), primary_key=True),
        sa.Column("requests", sa.Float(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_buckets")
    op.drop_index("ix_budget_reservations_created_at", table_name="budget_reservations")
    op.drop_table("budget_reservations")
    op.drop_table("budget_periods")
    op.drop_table("budget_limits")
    op.drop_table("ledger_feedback")
    op.drop_index("ix_ledger_requests_team_created", table_name="ledger_requests")
    op.drop_index("ix_ledger_requests_user_created", table_name="ledger_requests")
    op.drop_index("ix_ledger_requests_created_at", table_name="ledger_requests")
    op.drop_table("ledger_requests")
