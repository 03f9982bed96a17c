"""Alembic: the migrations build the schema from an empty database, match the models, and are idempotent."""

from __future__ import annotations

import threading
from dataclasses import replace
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


def upgrade_a_0001_ledger_with_one_row(engine: Engine) -> None:
    """Migration 0002 on a ledger written under 0001: the old row stays and reads as reported, not estimated."""
    from sqlalchemy import text

    from routing.usage.ledger import Ledger

    downgrade(engine, "0001_usage_tables")
    assert "usage_estimated" not in {c["name"] for c in inspect(engine).get_columns("ledger_requests")}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO ledger_requests (request_id, created_at, user_name, team, task, scope_level, target,"
                " model, input_tokens, cached_tokens, output_tokens, cost_nanousd, latency_ms, outcome,"
                " fallback_chain, prompt_sha256) VALUES ('old', '2025-06-01 00:00:00.000000', 'ann', 'core',"
                " 'review', '', 'anthropic', 'm', 37000, 0, 300, 0, 1.0, 'ok', '[]', '')"
            )
        )
    upgrade(engine)
    assert current_revision(engine) == head()
    assert_schema_matches_models(engine)
    ledger = Ledger(engine)
    try:
        old = ledger.get("old")
        assert old is not None and old.input_tokens == 37000 and old.usage_estimated is False
        ledger.record(replace(old, request_id="new", usage_estimated=True))
        got = ledger.get("new")
        assert got is not None and got.usage_estimated is True
        assert [a.estimated for a in ledger.aggregate(None, None, "user")] == [1]
    finally:
        ledger.close()  # disposes the pool only: the engine reconnects below
    downgrade(engine, "0001_usage_tables")  # and back: the column goes, the rows stay
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM ledger_requests")).scalar_one() == 2
    assert "usage_estimated" not in {c["name"] for c in inspect(engine).get_columns("ledger_requests")}


def test_0002_adds_usage_estimated_to_an_existing_ledger(engine: Engine) -> None:
    upgrade_a_0001_ledger_with_one_row(engine)


def upgrade_a_0002_ledger_with_one_row(engine: Engine) -> None:
    """Migration 0003 on a ledger written under 0002: the old row reads as workspace '' (unknown), no reason; new
    rows keep theirs, and a workspace's aggregate holds its own rows (and those of folders inside it) only."""
    from sqlalchemy import text

    from routing.usage.ledger import Ledger

    downgrade(engine, "0002_usage_estimated")
    assert not {"workspace", "reason"} & {c["name"] for c in inspect(engine).get_columns("ledger_requests")}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO ledger_requests (request_id, created_at, user_name, team, task, scope_level, target,"
                " model, input_tokens, cached_tokens, output_tokens, cost_nanousd, latency_ms, outcome,"
                " fallback_chain, prompt_sha256, usage_estimated) VALUES ('old', '2025-06-01 00:00:00.000000',"
                " 'ann', 'core', 'review', '', 'anthropic', 'm', 100, 0, 10, 5, 1.0, 'ok', '[]', '', false)"
            )
        )
    upgrade(engine)
    assert current_revision(engine) == head()
    assert_schema_matches_models(engine)
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("ledger_requests")}
    assert indexes["ix_ledger_requests_workspace_created"] == ["workspace", "created_at"]
    ledger = Ledger(engine)
    try:
        old = ledger.get("old")
        assert old is not None and (old.workspace, old.reason) == ("", "")
        ledger.record_many(
            [
                replace(old, request_id="a", workspace="/src/a_b"),
                replace(old, request_id="a-sub", workspace="/src/a_b/pkg"),
                replace(old, request_id="other", workspace="/src/aXb/pkg"),  # "_" is no wildcard
                replace(old, request_id="denied", workspace="/src/a_b", outcome="denied", reason="rate limited",
                        cost_usd=0.0),
            ]
        )  # fmt: skip
        denied = ledger.get("denied")
        assert denied is not None and (denied.workspace, denied.reason) == ("/src/a_b", "rate limited")
        [mine] = ledger.aggregate(None, None, "user", workspace="/src/a_b")
        assert (mine.requests, mine.failed, mine.cost_nanousd) == (3, 1, 10)
        assert [e.request_id for e in ledger.entries(workspace="/src/a_b/")] == ["a", "a-sub", "denied"]
        assert sum(a.requests for a in ledger.aggregate(None, None, "user")) == 5
    finally:
        ledger.close()  # disposes the pool only: the engine reconnects below
    downgrade(engine, "0002_usage_estimated")  # and back: the columns and the index go, the rows stay
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM ledger_requests")).scalar_one() == 5
    assert not {"workspace", "reason"} & {c["name"] for c in inspect(engine).get_columns("ledger_requests")}


def test_0003_adds_workspace_and_reason_to_an_existing_ledger(engine: Engine) -> None:
    upgrade_a_0002_ledger_with_one_row(engine)


def upgrade_a_0005_database_to_adoptions(engine: Engine) -> None:
    """Migration 0006 on a database at 0005: ``routing_adoptions`` is added empty (nothing adopted through the
    database yet: the cached overlay file stays in force), rows are numbered in order, and downgrading drops it."""
    from routing.usage.adoptions import newest_adoption, newest_adoption_id, record_adoption

    downgrade(engine, "0005_ledger_sensitive")
    assert "routing_adoptions" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head()
    assert_schema_matches_models(engine)
    assert newest_adoption_id(engine) is None and newest_adoption(engine) is None
    first = record_adoption(engine, "# first\n", "root", "1 change(s)")
    second = record_adoption(engine, "# reverted\n", "carol")
    assert second.id > first.id and newest_adoption_id(engine) == second.id
    newest = newest_adoption(engine)
    assert newest is not None and (newest.overlay, newest.adopted_by, newest.summary) == ("# reverted\n", "carol", "")
    downgrade(engine, "0005_ledger_sensitive")
    assert "routing_adoptions" not in inspect(engine).get_table_names()
    upgrade(engine)


def test_0006_adds_routing_adoptions_to_an_existing_database(engine: Engine) -> None:
    upgrade_a_0005_database_to_adoptions(engine)
