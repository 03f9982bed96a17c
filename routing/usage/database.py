"""Opening the usage database: SQLite (WAL, ``synchronous=NORMAL``) by default, PostgreSQL by URL.

:func:`open_engine` makes an engine and brings the schema to the newest
Alembic revision (``upgrade head``, run programmatically and serialised, so
several processes may open the same database at once). :func:`write_transaction`
is the one way code here writes: on SQLite it starts with ``BEGIN IMMEDIATE``,
taking the write lock up front so read-then-write transactions cannot deadlock
(writers queue on ``busy_timeout`` instead); on PostgreSQL it is an ordinary
transaction whose conditional ``UPDATE``\\ s lock the rows they touch.

Durability: in WAL mode with ``synchronous=NORMAL`` a committed transaction
survives the process being killed (``kill -9``) — the WAL is in the OS page
cache — and the database is never corrupted; only an OS crash or power loss
can roll back the last transactions before a checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from routing.usage.errors import LedgerError

logger = logging.getLogger(__name__)

LEDGER_FILE = "ledger.sqlite3"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "usage_alembic_version"
_IMMEDIATE = "hybrid_assist_immediate"
_BUSY_TIMEOUT_S = 30.0
_PG_MIGRATION_LOCK = 0x48594252  # pg_advisory_xact_lock key of the migrations ("HYBR")
#: One lock per SQLite engine: threads of one process queue here instead of in SQLite's busy handler,
#: which sleeps in steps of up to 100 ms. Other processes still wait on ``busy_timeout``.
_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/hybrid-assist``, else ``~/.local/share/hybrid-assist``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hybrid-assist"


def ledger_url(url: str = "", data_dir: str = "") -> str:
    """The configured ``[ledger] url``, or the SQLite file in the data directory when it is empty."""
    if url:
        return url
    directory = Path(data_dir).expanduser() if data_dir else default_data_dir()
    return f"sqlite:///{directory / LEDGER_FILE}"


def open_engine(url: str, *, migrate: bool = True, pool_size: int = 8) -> Engine:
    """An engine for ``url`` with the schema at the newest revision; :class:`LedgerError` if impossible."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise LedgerError(f"invalid ledger URL {url!r}: {exc}; set [ledger] url to a SQLAlchemy URL") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(url, parsed.database or "", pool_size)
        else:
            engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)
    except (ImportError, SQLAlchemyError) as exc:
        raise LedgerError(
            f"cannot open the ledger at {parsed.render_as_string(hide_password=True)}: {exc}. "
            "For PostgreSQL install psycopg (pip install 'psycopg[binary]') and use postgresql+psycopg://"
        ) from None
    if migrate:
        for attempt in range(_MIGRATE_ATTEMPTS):
            try:
                upgrade(engine)
                break
            except SQLAlchemyError as exc:
                # SQLite answers "database is locked" at once, without waiting out busy_timeout, when waiting
                # could deadlock (e.g. two connections switching a brand-new file to WAL): try again shortly.
                if _is_locked(exc) and attempt + 1 < _MIGRATE_ATTEMPTS:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                engine.dispose()
                raise LedgerError(
                    f"cannot prepare the ledger at {parsed.render_as_string(hide_password=True)}: {exc}"
                ) from None
    return engine


_MIGRATE_ATTEMPTS = 8


def _is_locked(exc: SQLAlchemyError) -> bool:
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def _sqlite_engine(url: str, database: str, pool_size: int) -> Engine:
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise LedgerError("the ledger needs a database file (an in-memory SQLite database is private to one thread)")
    with contextlib.suppress(OSError):  # a read-only place: connecting fails later, with SQLite's own error
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": _BUSY_TIMEOUT_S, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=pool_size * 4,
        pool_timeout=_BUSY_TIMEOUT_S * 2,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite: we emit BEGIN ourselves (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside one write transaction: committed on exit, rolled back on an exception."""
    if engine.dialect.name != "sqlite":
        with engine.connect() as connection, connection.begin():
            yield connection
        return
    with _sqlite_write_lock(engine), engine.connect() as connection:
        connection.execution_options(**{_IMMEDIATE: True})
        with connection.begin():
            yield connection


def _sqlite_write_lock(engine: Engine) -> threading.RLock:
    with _LOCKS_GUARD:
        lock = _SQLITE_WRITE_LOCKS.get(engine)
        if lock is None:
            lock = _SQLITE_WRITE_LOCKS[engine] = threading.RLock()
        return lock


def insert_ignoring_conflicts(connection: Connection, table: Table, index_elements: Sequence[str]) -> Insert:
    """``INSERT ... ON CONFLICT (index_elements) DO NOTHING`` in the connection's dialect."""
    name = connection.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(index_elements))
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=list(index_elements))
    raise LedgerError(f"unsupported ledger database {name!r}; use SQLite or PostgreSQL")


def driver_insert_ignoring_conflicts(dialect: str, table: Table, columns: Sequence[str], key: str) -> str | None:
    """The same insert as driver SQL with positional parameters (SQLite ``?``, psycopg ``%s``); None elsewhere.

    For the busiest writes (the ledger): ``Connection.exec_driver_sql`` hands tuples
    straight to the driver's ``executemany``, without SQLAlchemy's per-row parameter
    processing (which cost ~30 us a row). Values must then be in the driver's types.
    """
    marker = {"sqlite": "?", "postgresql": "%s"}.get(dialect)
    if marker is None:
        return None
    names = ", ".join(table.c[c].name for c in columns)
    values = ", ".join([marker] * len(columns))
    return f"INSERT INTO {table.name} ({names}) VALUES ({values}) ON CONFLICT ({key}) DO NOTHING"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision``, serialised against other processes."""
    _migrate(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Revert the schema to ``revision`` (``"base"``: drop every usage table). Destroys data."""
    _migrate(engine, "downgrade", revision)


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    run_migrations(engine, MIGRATIONS_DIR, direction, revision, _PG_MIGRATION_LOCK)


def run_migrations(engine: Engine, script_location: Path, direction: str, revision: str, pg_lock_key: int) -> None:
    """Run the Alembic history at ``script_location`` up or down to ``revision`` in one transaction.

    On PostgreSQL the transaction first takes the advisory lock ``pg_lock_key``,
    so replicas starting together migrate one after the other.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": pg_lock_key})
        config.attributes["connection"] = connection
        if direction == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None before the first migration)."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()
