"""Add ``ledger_requests.sensitive``: the request was kept on the premises because its code is sensitive.

Routing that learns estimates each target's success from the ledger; a
sensitive request never had a choice of target (the policy keeps it local
whatever the table says), so the learner leaves such rows out. Existing rows
read as not sensitive (unknown).

Revision ID: 0005_ledger_sensitive
Revises: 0004_outcome_language_kind
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_ledger_sensitive"
down_revision: str | None = "0004_outcome_language_kind"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_requests") as batch:
        batch.add_column(sa.Column("sensitive", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("ledger_requests") as batch:
        batch.drop_column("sensitive")
