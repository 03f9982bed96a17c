"""Add ``routing_adoptions``: the adopted learned routing overlays, shared by every replica on the database.

``hybrid-assist routing learn --apply`` and the gateway's ``POST
/v1/admin/routing/learn?apply=true`` write a row; every gateway replica (and
a language server on the same database) follows the newest row
(``[routing.learning] reload_s``). Reverting is adopting an empty overlay.

Revision ID: 0006_routing_adoptions
Revises: 0005_ledger_sensitive
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_routing_adoptions"
down_revision: str | None = "0005_ledger_sensitive"
branch_labels: str | None = None
depends_on: str | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "routing_adoptions",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("adopted_by", sa.String(128), nullable=False),
        sa.Column("overlay", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("routing_adoptions")
