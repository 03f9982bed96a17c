"""An adopted learned routing overlay reaches every gateway replica on the shared usage database.

Two in-process gateways, each with a data directory of its own, on one usage
database (a SQLite file, and a PostgreSQL database of the test's own): an
adoption through replica A's admin endpoint is a row of ``routing_adoptions``,
and replica B routes by the new rule within ``[routing.learning] reload_s``.
``hybrid-assist routing learn --apply`` (and ``--revert``) from another
machine's CLI reaches a running replica the same way; while the database is
unreachable a replica keeps the policy in force and says so once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hybrid_assist.cli import build_parser
from hybrid_assist.commands.routing import run_routing
from hybrid_assist.settings import HybridSettings
from routing.usage.adoptions import newest_adoption, record_adoption
from routing.usage.database import open_engine
from tests.gateway.conftest import InProcess, MakeGateway
from tests.gateway.harness import OPENAI_KEY_ENV
from tests.gateway.test_api import bearer
from tests.gateway.test_routing_learn_admin import EXPLAIN
from tests.postgres import fresh_database
from tests.routing.synthetic_ledger import record_refactor_cell
from tests.wire.openai_server import OpenAIWireServer

RELOAD_S = 0.1
RULE = '[[routing.tasks.refactor.learned]]\nscope_level = "multi_file"\nlanguage = "python"\nroute = "local"\n'


def replica_extra(url: str, reload_s: float = RELOAD_S) -> str:
    return f'\n[ledger]\nurl = "{url}"\n\n[routing.learning]\nreload_s = {reload_s}\n'


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float) -> float:
    """Seconds until ``check`` holds (polled every 20 ms); fails after ``within_s``."""
    started = asyncio.get_running_loop().time()
    while not await check():
        elapsed = asyncio.get_running_loop().time() - started
        assert elapsed < within_s, f"not within {within_s} s"
        await asyncio.sleep(0.02)
    return asyncio.get_running_loop().time() - started


async def routes_local(g: InProcess, key: str) -> bool:
    answer = await g.client.post("/v1/route/explain", json=EXPLAIN, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["route"]["target"] == "local")


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared' / 'usage.sqlite3'}"
    return fresh_database(request.getfixturevalue("postgres_url"), "learned")


async def test_an_adoption_through_one_replica_reaches_the_other_within_reload_s(
    make_gateway: MakeGateway,
    openai_server: OpenAIWireServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    shared_url: str,
) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test")  # a usable cloud: refactor at multi_file scope goes there
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    extra = replica_extra(shared_url)
    async with (
        make_gateway(extra, home=tmp_path / "a", openai_url=openai_server.base_url) as a,
        make_gateway(extra, home=tmp_path / "b", openai_url=openai_server.base_url) as b,
    ):
        ledger = a.gateway.ledger
        assert ledger is not None
        record_refactor_cell(ledger, datetime.now(UTC))
        user, admin = a.key("alice"), a.key("root", admin=True)  # one user store: the keys work on B too
        assert not await routes_local(a, user) and not await routes_local(b, user)

        answer = await a.client.post("/v1/admin/routing/learn?since=7d&apply=true", headers=bearer(admin))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        adoption = body["adoption"]
        assert adoption["shared"] is True and adoption["adopted_by"] == "root" and adoption["reload_s"] == RELOAD_S
        assert adoption["summary"].startswith("1 change(s), expected saving $")
        assert f"the other replicas follow within {RELOAD_S:g} s" in adoption["message"]
        assert await routes_local(a, user)  # A at once

        waited = await eventually(lambda: routes_local(b, user), within_s=5.0)  # B within reload_s
        assert waited < 5.0
        [rule] = b.gateway.settings.routing.tasks["refactor"].learned
        assert (rule.route, rule.language, rule.min_context_tokens) == ("local", "python", 1024)
        # B's own data directory caches the overlay for a start without the database
        assert (tmp_path / "b" / "data" / "routing-learned.toml").read_text() == body["overlay"]
        row = newest_adoption(b.gateway.engine)
        assert row is not None and (row.id, row.overlay) == (adoption["id"], body["overlay"])

        # revert through B: an empty overlay, and A drops the rule within reload_s
        assert (await b.client.delete("/v1/admin/routing/learned", headers=bearer(user))).status_code == 403
        reverted = await b.client.delete("/v1/admin/routing/learned", headers=bearer(admin))
        assert reverted.status_code == 200 and reverted.json()["adoption"]["id"] > adoption["id"]
        assert not await routes_local(b, user)
        await eventually(_not(lambda: routes_local(a, user)), within_s=5.0)


def cli_settings(tmp_path: Path, url: str) -> HybridSettings:
    """An admin's laptop: its own data directory, the team's usage database."""
    return HybridSettings.model_validate(
        {"user": "carol", "data_dir": str(tmp_path / "laptop"), "ledger": {"url": url}}
    )


async def test_routing_learn_apply_and_revert_from_the_cli_reach_a_running_replica(
    make_gateway: MakeGateway,
    openai_server: OpenAIWireServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test")
    url = f"sqlite:///{tmp_path / 'shared' / 'usage.sqlite3'}"
    (tmp_path / "replica").mkdir()
    async with make_gateway(replica_extra(url), home=tmp_path / "replica", openai_url=openai_server.base_url) as g:
        ledger = g.gateway.ledger
        assert ledger is not None
        record_refactor_cell(ledger, datetime.now(UTC))
        user = g.key("alice")
        assert not await routes_local(g, user)
        settings = cli_settings(tmp_path, url)

        applied = build_parser().parse_args(["routing", "learn", "--since", "7d", "--apply"])
        assert await asyncio.to_thread(run_routing, applied, settings) == 0
        assert "every gateway replica and language server on it follows" in capsys.readouterr().out
        await eventually(lambda: routes_local(g, user), within_s=5.0)
        row = newest_adoption(g.gateway.engine)
        assert row is not None and row.adopted_by == "carol" and "1 change(s)" in row.summary

        reverted = build_parser().parse_args(["routing", "learn", "--revert"])
        assert await asyncio.to_thread(run_routing, reverted, settings) == 0
        assert "reverted" in capsys.readouterr().out
        await eventually(_not(lambda: routes_local(g, user)), within_s=5.0)
        assert g.gateway.settings.routing.tasks["refactor"].learned == []
        assert (tmp_path / "laptop" / "routing-learned.toml").is_file()


def _not(check: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
    async def negated() -> bool:
        return not await check()

    return negated


async def test_a_database_outage_keeps_the_policy_in_force_and_says_so_once(
    make_gateway: MakeGateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    url = f"sqlite:///{shared / 'usage.sqlite3'}"
    (tmp_path / "replica").mkdir()
    async with make_gateway(replica_extra(url, 0.02), home=tmp_path / "replica") as g:
        other = open_engine(url)  # another replica's (or the CLI's) connection
        record_adoption(other, RULE, "root")
        await eventually(lambda: _has_rule(g), within_s=5.0)
        other.dispose()

        caplog.set_level(logging.INFO, logger="routing.usage.adoptions")
        g.gateway.engine.dispose()
        shared.rename(tmp_path / "away")  # the database file cannot be opened: OperationalError
        try:
            await asyncio.sleep(0.4)  # ~20 checks
            assert await _has_rule(g)  # the policy in force stays
            said = [r for r in caplog.records if "stays until it is back" in r.getMessage()]
            assert len(said) == 1 and "usage database unavailable" in said[0].getMessage()
        finally:
            (tmp_path / "away").rename(shared)
        other = open_engine(url)
        record_adoption(other, "# reverted\n", "root")  # back: the replica follows again
        other.dispose()
        await eventually(_not(lambda: _has_rule(g)), within_s=5.0)
        assert "reachable again" in caplog.text


async def _has_rule(g: InProcess) -> bool:
    return bool(g.gateway.settings.routing.tasks["refactor"].learned)


async def test_a_replica_starts_with_the_newest_adoption_and_what_a_person_configured_still_wins(
    make_gateway: MakeGateway, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared' / 'usage.sqlite3'}"
    engine = open_engine(url)
    fix_rule = '[[routing.tasks.fix.learned]]\nscope_level = "single_file"\nroute = "cloud"\n'
    record_adoption(engine, RULE + fix_rule, "root")
    engine.dispose()
    person = '\n[[routing.tasks.fix.learned]]\nscope_level = "repository"\nroute = "local"\n'
    (tmp_path / "replica").mkdir()
    async with make_gateway(replica_extra(url, 0) + person, home=tmp_path / "replica") as g:
        tasks = g.gateway.settings.routing.tasks
        assert [r.route for r in tasks["refactor"].learned] == ["local"]  # from the database, at start
        assert [r.scope_level for r in tasks["fix"].learned] == ["repository"]  # the config file's, not learned
        assert g.gateway.background == []  # reload_s = 0: only at start
        assert (tmp_path / "replica" / "data" / "routing-learned.toml").read_text() == RULE + fix_rule
