"""Add ``ledger_requests.language`` and ``ledger_feedback.kind`` (routing that learns from outcomes).

``language`` is the request's tree-sitter language id (``python``,
``typescript``, ...; '' when unknown or mixed, e.g. a repository-wide
command), so that outcomes can be estimated per language. ``kind`` says what
a feedback row is about: ``completion`` (the editor accepted or rejected a
completion), ``code_action`` (a resolved AI code action's edit was applied or
not), ``quick_fix`` (a review finding's quick fix was applied or not) or
``check`` (a checked answer passed or failed its check). Existing rows read
as '' (unknown language) and ``completion`` (the only feedback there was).

Revision ID: 0004_outcome_language_kind
Revises: 0003_ledger_workspace_reason
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_outcome_language_kind"
down_revision: str | None = "0003_ledger_workspace_reason"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_requests") as batch:
        batch.add_column(sa.Column("language", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("ledger_feedback") as batch:
        batch.add_column(sa.Column("kind", sa.String(32), nullable=False, server_default="completion"))


def downgrade() -> None:
    with op.batch_alter_table("ledger_feedback") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("ledger_requests") as batch:
        batch.drop_column("language")
