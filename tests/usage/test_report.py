"""Reports on a seeded ledger: exact totals, the all-cloud counterfactual, acceptance, formats, the CLI."""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hybrid_assist.commands.report import add_report_arguments, parse_when, run_report
from hybrid_assist.settings import HybridSettings
from inference.settings import ModelPrice, ProviderSettings
from routing.settings import RoutingSettings, TaskPolicy
from routing.usage.database import ledger_url
from routing.usage.ledger import Ledger, LedgerEntry
from routing.usage.report import UsageReport, build_report, render_chart, render_csv, render_json, render_table

# The price table and policies the expected numbers are computed from ($ per million tokens), pinned here so
# edits of the defaults do not move them.
PROVIDERS = {
    "openai": ProviderSettings(
        kind="openai",
        models=["gpt-4o", "gpt-4o-mini"],
        prices={
            "gpt-4o": ModelPrice(input=2.50, cached_input=1.25, output=10.00),
            "gpt-4o-mini": ModelPrice(input=0.15, cached_input=0.075, output=0.60),
        },
    ),
    "anthropic": ProviderSettings(
        kind="anthropic",
        models=["claude-sonnet-4-5"],
        prices={"claude-sonnet-4-5": ModelPrice(input=3.00, cached_input=0.30, output=15.00)},
    ),
    "gemini": ProviderSettings(
        kind="gemini",
        models=["gemini-2.5-flash"],
        prices={"gemini-2.5-flash": ModelPrice(input=0.30, cached_input=0.075, output=2.50)},
    ),
    "overflow": ProviderSettings(kind="openai-compatible", enabled=False),
}
TASKS = {
    "inline_completion": TaskPolicy(local_up_to="repository", cloud="openai:gpt-4o-mini"),
    "explain": TaskPolicy(local_up_to="multi_file", cloud="anthropic:claude-sonnet-4-5"),
    "review": TaskPolicy(local_up_to="single_file", cloud="anthropic:claude-sonnet-4-5"),
    "architecture": TaskPolicy(local_up_to="never", cloud="openai:gpt-4o"),
    "docstring": TaskPolicy(local_up_to="single_file", cloud="gemini:gemini-2.5-flash"),
}
JUNE = datetime(2025, 6, 1, tzinfo=UTC)
JULY = datetime(2025, 7, 1, tzinfo=UTC)


def at(day: int) -> datetime:
    return datetime(2025, 6, day, 10, 0, tzinfo=UTC)


def row(
    rid: str, who: str, task: str, target: str, tokens: tuple[int, int, int], cost: float, when: datetime, **kw: str
) -> LedgerEntry:
    user, team = who.split("@")
    model = {"local": "qwen", "anthropic": "claude-sonnet-4-5", "openai": "gpt-4o", "overflow": "qwen-big"}[target]
    return LedgerEntry(rid, user, team, task, target, model, "single_file", *tokens, cost, time=when, **kw)


SEED = [
    # three local completions: 1000 in (200 cached), 20 out; all-cloud at gpt-4o-mini = 147 micro-$ each
    *[row(f"c{i}", "alice@core", "inline_completion", "local", (1000, 200, 20), 0.0, at(2)) for i in range(3)],
    # cloud explain at claude-sonnet-4-5: 2000 * $3 + 300 * $15 per M = $0.0105
    row("e1", "alice@core", "explain", "anthropic", (2000, 0, 300), 0.0105, at(3)),
    # local review; all-cloud at claude-sonnet-4-5: 10000 * $3 + 1000 * $15 per M = $0.045
    row("r1", "bob@core", "review", "local", (10_000, 0, 1000), 0.0, at(4)),
    # cloud architecture at gpt-4o: 20000 * $2.5 + 10000 * $1.25 + 2500 * $10 per M = $0.0875
    row("a1", "bob@ml", "architecture", "openai", (30_000, 10_000, 2500), 0.0875, at(5)),
    # overflow docstring, $0.0001; all-cloud at gemini-2.5-flash: 500 * $0.30 + 100 * $2.50 per M = $0.0004
    row("d1", "carol@ml", "docstring", "overflow", (500, 0, 100), 0.0001, at(6)),
    # a failed cloud call: no tokens, no cost
    row("f1", "dave@ml", "explain", "openai", (0, 0, 0), 0.0, at(7), outcome="RateLimitedError"),
    # outside the period
    row("old", "alice@core", "explain", "anthropic", (9, 9, 9), 9.0, datetime(2025, 5, 31, 23, 59, tzinfo=UTC)),
    row("new", "alice@core", "explain", "anthropic", (9, 9, 9), 9.0, JULY),
]


@pytest.fixture
def seeded(sqlite_url: str) -> Ledger:
    with Ledger.open(sqlite_url) as ledger:
        ledger.record_many(SEED)
        ledger.record_feedback("c0", True)
        ledger.record_feedback("c1", True)
        ledger.record_feedback("c2", False)
        yield ledger  # type: ignore[misc]


def report(ledger: Ledger, by: str) -> UsageReport:
    return build_report(ledger, JUNE, JULY, by, PROVIDERS, TASKS)  # type: ignore[arg-type]


def test_totals_are_exact(seeded: Ledger) -> None:
    total = report(seeded, "team").total
    assert total.requests == 8
    assert (total.local_requests, total.cloud_requests, total.failed) == (5, 3, 1)
    assert (total.input_tokens, total.cached_tokens, total.output_tokens) == (45_500, 10_600, 3_960)
    assert total.cost_nanousd == 10_500_000 + 87_500_000 + 100_000
    assert total.all_cloud_nanousd == 3 * 147_000 + 10_500_000 + 45_000_000 + 87_500_000 + 400_000
    assert (total.accepted, total.rejected, total.acceptance_rate) == (2, 1, 2 / 3)
    assert total.local_share == 5 / 8
    assert total.cost_fraction == pytest.approx(98_100_000 / 143_841_000)


def test_every_grouping_adds_up_to_the_same_total(seeded: Ledger) -> None:
    totals = {by: report(seeded, by).total for by in ("user", "team", "task", "route")}
    assert len({(t.requests, t.cost_nanousd, t.all_cloud_nanousd, t.accepted) for t in totals.values()}) == 1


def test_rows_by_team(seeded: Ledger) -> None:
    rows = {row.key: row for row in report(seeded, "team").rows}
    assert set(rows) == {"core", "ml"}
    assert (rows["core"].requests, rows["core"].cost_nanousd, rows["core"].all_cloud_nanousd) == (
        5,
        10_500_000,
        441_000 + 10_500_000 + 45_000_000,
    )
    assert (rows["ml"].requests, rows["ml"].cost_nanousd, rows["ml"].all_cloud_nanousd) == (
        3,
        87_600_000,
        87_900_000,
    )
    assert rows["ml"].acceptance_rate is None
    assert [row.key for row in report(seeded, "team").rows] == ["ml", "core"]  # dearest first


def test_rows_by_route_and_task(seeded: Ledger) -> None:
    routes = {row.key: row for row in report(seeded, "route").rows}
    assert set(routes) == {"local", "anthropic", "openai", "overflow"}
    assert routes["local"].local_share == 1.0 and routes["openai"].local_share == 0.0
    assert routes["openai"].failed == 1
    tasks = {row.key: row for row in report(seeded, "task").rows}
    assert tasks["inline_completion"].all_cloud_nanousd == 441_000
    assert tasks["inline_completion"].acceptance_rate == 2 / 3
    assert tasks["review"].all_cloud_nanousd == 45_000_000 and tasks["review"].cost_nanousd == 0


def test_formats(seeded: Ledger, tmp_path: Path) -> None:
    by_user = report(seeded, "user")
    data = json.loads(render_json(by_user))
    assert data["by"] == "user" and data["total"]["cost_usd"] == pytest.approx(0.0981)
    assert {row["key"] for row in data["rows"]} == {"alice", "bob", "carol", "dave"}
    rows = list(csv.DictReader(io.StringIO(render_csv(by_user))))
    assert rows[-1]["user"] == "total" and int(rows[-1]["all_cloud_nanousd"]) == 143_841_000
    table = render_table(by_user)
    assert "alice" in table and "total" in table and "0.1438" in table and "66.7" in table
    chart = tmp_path / "cost.png"
    render_chart(by_user, chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    return parser.parse_args(argv)


def test_cli_reads_the_configured_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = HybridSettings(
        data_dir=str(tmp_path / "data"), providers=PROVIDERS, routing=RoutingSettings(tasks=TASKS)
    )
    with Ledger.open(ledger_url("", settings.data_dir)) as ledger:
        ledger.record_many(SEED)
    chart = tmp_path / "c.png"
    code = run_report(
        cli(
            "--since",
            "2025-06-01",
            "--until",
            "2025-07-01",
            "--by",
            "route",
            "--format",
            "json",
            "--chart",
            str(chart),
            "--all",
        ),
        settings,
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"]["requests"] == 8 and data["total"]["all_cloud_nanousd"] == 143_841_000
    assert chart.exists()

    now = datetime(2025, 6, 20, tzinfo=UTC)  # default period: the start of this month until now
    assert run_report(cli("--format", "csv", "--by", "user", "--all"), settings, now=now) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("user,requests") and lines[-1].startswith("total,8,")


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = HybridSettings(data_dir=str(tmp_path / "nothing-here"))
    assert run_report(cli(), settings) == 1
    assert "no ledger yet" in capsys.readouterr().err
    assert run_report(cli("--since", "last tuesday"), settings) == 2
    assert "cannot read 'last tuesday'" in capsys.readouterr().err


def test_time_forms() -> None:
    now = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
    assert parse_when("7d", now) == datetime(2025, 6, 13, 12, 0, tzinfo=UTC)
    assert parse_when("36h", now) == datetime(2025, 6, 19, 0, 0, tzinfo=UTC)
    assert parse_when("2025-06-01", now) == JUNE
    assert parse_when("2025-06-01T08:00:00+02:00", now) == datetime(2025, 6, 1, 6, 0, tzinfo=UTC)


def test_rows_with_estimated_usage_are_counted_and_said(sqlite_url: str, seeded: Ledger) -> None:
    assert "estimated:" not in render_table(report(seeded, "user"))  # every count was reported
    entries = [replace(e, usage_estimated=e.request_id in {"e1", "d1", "old"}) for e in SEED]
    with Ledger.open(sqlite_url.replace(".sqlite3", "-estimated.sqlite3")) as ledger:
        ledger.record_many(entries)
        by_user = report(ledger, "user")
    rows = {r.key: r for r in by_user.rows}
    assert (rows["alice"].estimated, rows["bob"].estimated, rows["carol"].estimated) == (1, 0, 1)
    assert by_user.total.estimated == 2  # "old" is outside the period
    assert "estimated: 2 request(s)" in render_table(by_user)
    assert json.loads(render_json(by_user))["total"]["estimated"] == 2
    assert list(csv.DictReader(io.StringIO(render_csv(by_user))))[-1]["estimated"] == "2"


def test_savings_escalations_and_cost_per_active_developer_month(sqlite_url: str) -> None:
    # e1 was served by a second target after the first failed (its fallback chain names two)
    entries = [replace(e, fallback_chain=("openai", "anthropic")) if e.request_id == "e1" else e for e in SEED]
    with Ledger.open(sqlite_url.replace(".sqlite3", "-activity.sqlite3")) as ledger:
        ledger.record_many(entries)
        by_task = report(ledger, "task")
    total = by_task.total
    # served on the premises: three completions (441 micro-$ all-cloud), the review ($0.045), the overflow
    # docstring ($0.0004 all-cloud, $0.0001 spent)
    assert total.local_saved_nanousd == 441_000 + 45_000_000 + 300_000
    # a1's 10,000 cached prompt tokens at gpt-4o: $2.50 - $1.25 per million saved
    assert total.cache_saved_nanousd == 12_500_000
    activity = by_task.activity
    assert activity is not None
    assert (activity.active_users, activity.requests, activity.escalated) == (4, 8, 1)
    assert activity.escalation_rate == pytest.approx(1 / 8) and activity.days == pytest.approx(30.0)
    assert activity.per_developer_month(total.cost_usd) == pytest.approx(0.0981 / 4 / (30 / (365.25 / 12)))
    table = render_table(by_task)
    assert "saved by local serving $0.05, by provider prompt caching $0.01" in table
    assert "escalation rate 12.5 % (1 of 8 requests" in table and "4 active developer(s) over 30.0 days" in table
    assert "$0.02 per active developer-month" in table
    data = json.loads(render_json(by_task))
    assert data["activity"]["escalated"] == 1 and data["total"]["cache_saved_usd"] == pytest.approx(0.0125)


def test_saved_by_answer_reuse_and_cheap_first_tiers(sqlite_url: str) -> None:
    # security asks gemini-2.5-flash first and claude-sonnet-4-5 (its premium model) when the answer fails its check
    tasks = {**TASKS, "security": TaskPolicy(local_up_to="never", cloud="anthropic:claude-sonnet-4-5")}
    tasks["security"] = tasks["security"].model_copy(update={"tiers": ["gemini:gemini-2.5-flash"]})

    def call(rid: str, target: str, model: str, cost: float, **kw: str) -> LedgerEntry:
        tokens = (10_000, 0, 1000)  # at gemini-2.5-flash $0.0055, at claude-sonnet-4-5 $0.045
        return LedgerEntry(rid, "erin", "sec", "security", target, model, "repository", *tokens, cost, time=at(9), **kw)

    entries = [
        call("s1", "gemini", "gemini-2.5-flash", 0.0055),  # passed its check
        call("s2", "gemini", "gemini-2.5-flash", 0.0055),  # failed it: asked again of the next tier
        call("s2-tier2", "anthropic", "claude-sonnet-4-5", 0.045),
        call("u1", "anthropic", "claude-sonnet-4-5", 0.0, outcome="reused"),  # s2-tier2's answer, reused
    ]
    with Ledger.open(sqlite_url.replace(".sqlite3", "-tiers.sqlite3")) as ledger:
        ledger.record_many(entries)
        ledger.record_feedback("s1", True, kind="check")
        ledger.record_feedback("s2", False, kind="check")
        result = build_report(ledger, JUNE, JULY, "task", PROVIDERS, tasks)  # type: ignore[arg-type]
    total = result.total
    assert (total.requests, total.failed, total.reused, total.check_failed) == (4, 0, 1, 1)
    assert (total.accepted, total.rejected) == (0, 0)  # a check's verdict is not the user's
    assert total.input_tokens == 30_000 and total.cost_nanousd == 56_000_000  # the reused answer sent nothing
    # s1's tokens at claude-sonnet-4-5 ($0.045) less what both gemini answers cost ($0.011)
    assert total.tier_saved_nanousd == 34_000_000
    assert total.reuse_saved_nanousd == 45_000_000  # asking claude-sonnet-4-5 again
    activity = result.activity
    assert activity is not None and (activity.escalated, activity.tier_escalated) == (1, 1)
    table = render_table(result)
    assert "by answer reuse $0.04 (1 answer(s) reused), by cheap-first tiers $0.03" in table
    assert "1 answer(s) failed their check" in table and "1 asked of the next tier after a failed check" in table
    data = json.loads(render_json(result))["total"]
    assert data["reuse_saved_usd"] == pytest.approx(0.045) and data["tier_saved_usd"] == pytest.approx(0.034)
