"""Add ``ledger_requests.usage_estimated``: the row's token counts were estimated (the server reported none).

Existing rows were reported by their servers or estimated without a mark;
they read as reported (``false``).

Revision ID: 0002_usage_estimated
Revises: 0001_usage_tables
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_usage_estimated"
down_revision: str | None = "0001_usage_tables"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_requests") as batch:
        batch.add_column(sa.Column("usage_estimated", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("ledger_requests") as batch:
        batch.drop_column("usage_estimated")
