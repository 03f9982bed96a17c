"""Alembic: the migrations build the schema from an empty database, match the models, and are idempotent."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect

from routing.usage.database import MIGRATIONS_DIR, VERSION_TABLE, current_revision, downgrade, open_engine, upgrade
from routing.usage.models import metadata


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    revision = ScriptDirectory.from_config(config).get_current_head()
    assert revision is not None
    return revision


def assert_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE, "compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_upgrade_from_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    bare = create_engine(url)
    assert inspect(bare).get_table_names() == []
    bare.dispose()

    engine = open_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in metadata.sorted_tables} | {VERSION_TABLE} == tables
        assert current_revision(engine) == head()
        assert_schema_matches_models(engine)
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_downgrade_reverses_it(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head()
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {VERSION_TABLE}
    assert current_revision(engine) is None
    upgrade(engine)
    assert_schema_matches_models(engine)


def test_processes_opening_a_new_database_at_once_do_not_collide(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            open_engine(url).dispose()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = open_engine(url)
    assert current_revision(engine) == head()
    engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("*.py"))
    assert MIGRATIONS_DIR.parent == Path(__file__).resolve().parents[2] / "routing" / "usage"
