"""Create the gateway's users and API keys tables.

Revision ID: g0001_gateway_auth
Revises:
Create Date: 2025-07-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "g0001_gateway_auth"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_users",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("team", sa.String(128), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "gateway_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("user_name", sa.String(128), sa.ForeignKey("gateway_users.name", ondelete="CASCADE"), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_gateway_keys_user", "gateway_keys", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_gateway_keys_user", table_name="gateway_keys")
    op.drop_table("gateway_keys")
    op.drop_table("gateway_users")
