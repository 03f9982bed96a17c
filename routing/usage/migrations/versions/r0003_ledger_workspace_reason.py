"""Add ``ledger_requests.workspace`` and ``.reason``, indexed by (workspace, created_at).

``workspace`` is the root of the session's workspace ('' when unknown, e.g. a
gateway call without one), so that ``hybrid-assist report`` can show one
workspace's requests; ``reason`` says why a request failed or was denied
(rate limit, budget, no target). Existing rows read as '' (unknown / none
recorded).

Revision ID: 0003_ledger_workspace_reason
Revises: 0002_usage_estimated
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_ledger_workspace_reason"
down_revision: str | None = "0002_usage_estimated"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_requests") as batch:
        batch.add_column(sa.Column("workspace", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_ledger_requests_workspace_created", "ledger_requests", ["workspace", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_requests_workspace_created", table_name="ledger_requests")
    with op.batch_alter_table("ledger_requests") as batch:
        batch.drop_column("reason")
        batch.drop_column("workspace")
