"""Opening the gateway's database: the usage database, with the gateway tables migrated in.

:func:`open_gateway_engine` opens ``[ledger] url`` (SQLite file or
PostgreSQL) through :func:`routing.usage.database.open_engine` (which brings
the usage tables up to date) and then runs the gateway's own Alembic history,
serialised against other processes the same way.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from routing.usage.database import open_engine, run_migrations
from routing.usage.errors import LedgerError
from routing.usage.outage import is_unavailable

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "gateway_alembic_version"
_PG_MIGRATION_LOCK = 0x48594757  # pg_advisory_xact_lock key of the gateway migrations ("HYGW")


def open_gateway_engine(url: str) -> Engine:
    """An engine on ``url`` with the usage and the gateway tables at their newest revisions."""
    engine = open_engine(url)
    try:
        upgrade(engine)
    except Exception:
        engine.dispose()
        raise
    return engine


def open_gateway_engine_when_possible(url: str) -> tuple[Engine, str]:
    """:func:`open_gateway_engine`, or, when the database is unreachable now (a restart during an outage), an
    engine whose migrations were skipped and the reason: the gateway starts, says why at ``/readyz`` and
    answers 503 until the database is back. Any other failure raises :class:`LedgerError`."""
    try:
        return open_gateway_engine(url), ""
    except LedgerError as exc:
        engine = open_engine(url, migrate=False)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as probe:
            if is_unavailable(probe):
                return engine, exc.message
            engine.dispose()
            raise exc from None
        engine.dispose()
        raise


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the gateway migrations up to ``revision``."""
    _migrate(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Revert the gateway tables to ``revision`` (``"base"``: drop them). Destroys users and keys."""
    _migrate(engine, "downgrade", revision)


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    run_migrations(engine, MIGRATIONS_DIR, direction, revision, _PG_MIGRATION_LOCK)
