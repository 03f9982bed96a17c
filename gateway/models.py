"""The gateway's tables: users (with team and role) and their API keys (hashed).

They live in the usage database (``[ledger] url``), so every replica on one
PostgreSQL server shares them, under their own Alembic history
(:mod:`gateway.database`, version table ``gateway_alembic_version``).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, MetaData, String, Table

metadata = MetaData()

gateway_users = Table(
    "gateway_users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("team", String(128), nullable=False),
    Column("admin", Boolean(), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("revoked_at", DateTime(), nullable=True),
)

gateway_keys = Table(
    "gateway_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("user_name", String(128), ForeignKey("gateway_users.name", ondelete="CASCADE"), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("revoked_at", DateTime(), nullable=True),
    Index("ix_gateway_keys_user", "user_name"),
)
