"""Alembic environment of the gateway's tables (users and keys), beside the usage tables.

Run through :func:`gateway.database.upgrade`, which passes an open connection
in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gateway.database import VERSION_TABLE
from gateway.models import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("run the gateway migrations through gateway.database.upgrade (it passes a connection)")
_run(connection)
