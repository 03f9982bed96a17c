"""Routing that learns, on synthetic ledgers whose truth is known (routing/learning.py).

Each ledger is a real SQLite ledger written through ``Ledger.record_many`` with feedback through
``Ledger.record_feedback``: cells whose local and cloud success rates are set by construction.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inference.settings import default_providers
from routing.learning import Learned, difference, learn, overlay_text, wilson
from routing.policy import RouteInput, decide
from routing.settings import LearnedRoute, RoutingSettings
from routing.tasks import TaskKind
from routing.usage.ledger import Ledger, LedgerEntry
from tests.postgres import fresh_database

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
PROVIDERS = default_providers()


def entries(
    task: str,
    scope: str,
    tokens: int,
    target: str,
    successes: int,
    failures: int,
    *,
    prefix: str,
    cost: float = 0.0,
    language: str = "python",
) -> tuple[list[LedgerEntry], list[tuple[str, bool]]]:
    """``successes + failures`` rows of one cell on ``target``, and their verdicts."""
    rows: list[LedgerEntry] = []
    verdicts: list[tuple[str, bool]] = []
    for i in range(successes + failures):
        request_id = f"{prefix}-{i}"
        rows.append(
            LedgerEntry(
                request_id=request_id,
                user="u",
                team="t",
                task=task,
                target=target,
                model="m",
                scope_level=scope,
                input_tokens=tokens,
                output_tokens=50,
                cost_usd=cost,
                time=NOW - timedelta(days=1, minutes=i),
                language=language,
            )
        )
        verdicts.append((request_id, i < successes))
    return rows, verdicts


def ledger_with(tmp_path: Path, *cells: tuple[list[LedgerEntry], list[tuple[str, bool]]], url: str = "") -> Ledger:
    ledger = Ledger.open(url or f"sqlite:///{tmp_path / 'usage.db'}")
    ledger.record_many([row for rows, _ in cells for row in rows])
    for _, verdicts in cells:
        for request_id, accepted in verdicts:
            ledger.record_feedback(request_id, accepted, kind="code_action")
    return ledger


def promotable(tmp_path: Path, *extra: tuple[list[LedgerEntry], list[tuple[str, bool]]], url: str = "") -> Ledger:
    """refactor, multi_file, 1500 tokens, python: local 196/200 vs cloud 197/200 at $0.02 (within the margin)."""
    return ledger_with(
        tmp_path,
        *extra,
        entries("refactor", "multi_file", 1500, "local", 196, 4, prefix="l"),
        entries("refactor", "multi_file", 1500, "anthropic", 197, 3, prefix="c", cost=0.02),
        url=url,
    )


def run(ledger: Ledger, routing: RoutingSettings | None = None) -> Learned:
    try:
        return learn(ledger, routing or RoutingSettings(), PROVIDERS, NOW - timedelta(days=30), NOW)
    finally:
        ledger.close()


def test_wilson_and_newcombe_match_published_values() -> None:
    # Newcombe (1998), Stat Med 17:873, table I/II: 81/263 -> [0.2553, 0.3662]; 56/70 vs 48/80 -> [0.0524, 0.3339]
    rate = wilson(81, 263)
    assert (round(rate.low, 4), round(rate.high, 4)) == (0.2553, 0.3662)
    _, low, high = difference(wilson(56, 70), wilson(48, 80))
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_it_promotes_local_where_local_is_within_the_margin_of_the_cloud(tmp_path: Path) -> None:
    # refactor at multi_file goes to the cloud by default; local 196/200 vs cloud 197/200 (both ~98 %)
    ledger = promotable(tmp_path)
    learned = run(ledger)
    [change] = learned.changes
    assert (change.cell.task, change.cell.scope_level, change.bucket, change.cell.language) == (
        "refactor",
        "multi_file",
        "1024-4095",
        "python",
    )
    assert (change.current, change.proposed, change.action) == ("cloud", "local", "to_local")
    assert (change.local.successes, change.local.trials, change.cloud.successes, change.cloud.trials) == (
        196,
        200,
        197,
        200,
    )
    assert change.difference[2] <= 0.05  # the interval's upper end, not just the estimate
    # 400 requests of the cell in a 30-day window at $0.02 per cloud request
    assert change.monthly_saving_usd == pytest.approx(8.0)
    assert "local 196/200" in change.evidence() and "$+8.00/month" in change.evidence()


def test_it_keeps_the_cloud_where_local_is_clearly_worse(tmp_path: Path) -> None:
    ledger = ledger_with(
        tmp_path,
        entries("refactor", "multi_file", 1500, "local", 120, 80, prefix="l"),
        entries("refactor", "multi_file", 1500, "anthropic", 190, 10, prefix="c", cost=0.02),
    )
    learned = run(ledger)
    assert learned.changes == []
    [kept] = learned.proposals
    assert (kept.current, kept.proposed, kept.action) == ("cloud", "cloud", "keep")
    assert "clearly worse" in kept.why


def test_a_close_point_estimate_with_a_wide_interval_does_not_move(tmp_path: Path) -> None:
    # equal rates (90 %) but only 40 judged requests a side: the interval straddles the margin
    ledger = ledger_with(
        tmp_path,
        entries("refactor", "multi_file", 1500, "local", 36, 4, prefix="l"),
        entries("refactor", "multi_file", 1500, "anthropic", 36, 4, prefix="c", cost=0.02),
    )
    [held] = run(ledger).proposals
    assert held.action == "keep" and "undecided" in held.why


def test_it_refuses_to_move_anything_on_too_few_samples(tmp_path: Path) -> None:
    ledger = ledger_with(
        tmp_path,
        entries("refactor", "multi_file", 1500, "local", 20, 0, prefix="l"),
        entries("refactor", "multi_file", 1500, "anthropic", 200, 0, prefix="c", cost=0.02),
    )
    learned = run(ledger, RoutingSettings.model_validate({"learning": {"min_samples": 30, "margin": 0.2}}))
    assert learned.changes == []
    [held] = learned.proposals
    assert held.action == "too_few" and "local 20" in held.why
    assert "[[routing.tasks" not in overlay_text(learned)


def test_local_clearly_worse_sends_a_local_cell_back_to_the_cloud_and_errors_and_escalations_count(
    tmp_path: Path,
) -> None:
    # fix at single_file is local by default; local answers fail (errors, escalated by a -tier2 row)
    local_rows, local_verdicts = entries("fix", "single_file", 500, "local", 40, 0, prefix="l")

    def fix_row(request_id: str, target: str = "local", outcome: str = "ok", cost: float = 0.0) -> LedgerEntry:
        return LedgerEntry(
            request_id=request_id,
            user="u",
            team="t",
            task="fix",
            target=target,
            scope_level="single_file",
            input_tokens=500,
            outcome=outcome,
            cost_usd=cost,
            time=NOW - timedelta(hours=1),
            language="python",
        )

    failed = [fix_row(f"x{i}", outcome="TimeoutError") for i in range(30)]
    escalated = [fix_row(f"e{i}") for i in range(30)] + [fix_row(f"e{i}-tier2", "openai", cost=0.01) for i in range(30)]
    denied = [fix_row(f"d{i}", outcome="denied") for i in range(50)]
    ledger = ledger_with(
        tmp_path,
        (local_rows + failed + escalated + denied, local_verdicts),
        entries("fix", "single_file", 500, "openai", 100, 0, prefix="c", cost=0.01),
    )
    learned = run(ledger)
    [change] = learned.changes
    # 40 accepted, 30 errors and 30 escalated: 40/100; denied rows are not judged
    assert (change.local.successes, change.local.trials) == (40, 100)
    assert (change.cloud.successes, change.cloud.trials) == (
        100,
        100,
    )  # the escalated answers had no verdict: not judged
    assert (change.current, change.action) == ("local", "to_cloud")
    assert change.monthly_saving_usd < 0


def test_sensitive_rows_are_left_out_of_the_estimates(tmp_path: Path) -> None:
    # the only failing local answers were on sensitive code (no choice of target): local is within the margin
    sensitive_rows, sensitive_verdicts = entries("refactor", "multi_file", 1500, "local", 0, 100, prefix="s")
    ledger = promotable(
        tmp_path, ([dataclasses.replace(r, sensitive=True) for r in sensitive_rows], sensitive_verdicts)
    )
    [change] = run(ledger).changes
    assert (change.local.trials, change.sensitive, change.requests) == (200, 100, 400)
    assert change.to_json()["sensitive_left_out"] == 100


def test_the_overlay_round_trips_through_the_config_loader_and_changes_the_decision(tmp_path: Path) -> None:
    from hybrid_assist.settings import settings_loader
    from routing.learned_overlay import adopted_path, write_atomically

    ledger = promotable(tmp_path)
    learned = run(ledger)
    data = tmp_path / "data"
    environ = {"HYBRID_ASSIST_CONFIG": str(tmp_path / "none.toml"), "HYBRID_ASSIST_DATA_DIR": str(data)}
    request = RouteInput(TaskKind.REFACTOR, "multi_file", 1500, language="python")
    before = settings_loader(environ).load().settings
    assert decide(request, before.routing, before.providers).primary.target != "local"  # type: ignore[union-attr]

    write_atomically(adopted_path(data), overlay_text(learned))
    loaded = settings_loader(environ).load()
    assert loaded.problems == ()
    assert any("learned routing overlay" in source for source in loaded.sources)
    routing = loaded.settings.routing
    [rule] = routing.tasks["refactor"].learned
    assert (rule.scope_level, rule.min_context_tokens, rule.max_context_tokens, rule.route) == (
        "multi_file",
        1024,
        4096,
        "local",
    )
    assert routing.tasks["refactor"].local_up_to == "single_file"  # the rest of the entry is the default's
    decision = decide(request, routing, loaded.settings.providers)
    assert decision.target == "local"
    assert any("learned: local 196/200" in r for r in decision.reasons)
    # the rule covers its cell only: another language, another size or another scope is as before
    for other in (
        RouteInput(TaskKind.REFACTOR, "multi_file", 1500, language="go"),
        RouteInput(TaskKind.REFACTOR, "multi_file", 5000, language="python"),
        RouteInput(TaskKind.REFACTOR, "repository", 1500, language="python"),
    ):
        assert decide(other, routing, loaded.settings.providers).target != "local"
    # learning again with the overlay in force keeps the rule (nothing moves twice)
    again = learn(Ledger.open(f"sqlite:///{tmp_path / 'usage.db'}"), routing, PROVIDERS, NOW - timedelta(days=30), NOW)
    assert again.changes == [] and len(again.rules["refactor"]) == 1


def test_the_loader_reads_only_learned_rules_from_the_overlay(tmp_path: Path) -> None:
    from hybrid_assist.settings import settings_loader

    data = tmp_path / "data"
    data.mkdir()
    (data / "routing-learned.toml").write_text(
        "[sensitive]\npath_globs = []\n[routing]\nexploration_share = 0.5\n"
        '[routing.tasks.fix]\nlocal_up_to = "never"\n'
        '[[routing.tasks.fix.learned]]\nscope_level = "single_file"\nroute = "cloud"\n'
    )
    environ = {"HYBRID_ASSIST_CONFIG": str(tmp_path / "none.toml"), "HYBRID_ASSIST_DATA_DIR": str(data)}
    loaded = settings_loader(environ).load()
    assert loaded.settings.sensitive.path_globs  # the defaults: a learned file cannot open sensitive paths
    assert loaded.settings.routing.exploration_share == 0.02
    assert loaded.settings.routing.tasks["fix"].local_up_to == "multi_file"
    assert [r.route for r in loaded.settings.routing.tasks["fix"].learned] == ["cloud"]
    [problem] = loaded.problems
    assert "ignoring sensitive, routing.exploration_share, routing.tasks.fix.local_up_to" in problem


def test_learned_rules_never_move_sensitive_traffic() -> None:
    # every cell of every task learned "cloud": a sensitive request still stays on the premises
    everywhere = [
        LearnedRoute(scope_level=level, route="cloud") for level in ("single_file", "multi_file", "repository")
    ]
    routing = RoutingSettings()
    routing = routing.model_copy(
        update={"tasks": {name: p.model_copy(update={"learned": everywhere}) for name, p in routing.tasks.items()}}
    )
    for task in TaskKind:
        for level in ("single_file", "multi_file", "repository"):
            sensitive = RouteInput(task, level, 500, sensitive=True, sensitive_reasons=("sensitive path: .env",))
            decision = decide(sensitive, routing, PROVIDERS)
            assert decision.local_only and all(not t.cloud for t in decision.chain()), (task, level)
            plain = RouteInput(task, level, 500)
            assert decide(plain, routing, PROVIDERS).primary.cloud  # type: ignore[union-attr]


def test_sensitive_rows_in_the_ledger_cannot_make_learning_send_code_out(tmp_path: Path) -> None:
    # a cell whose local answers all failed: learning proposes the cloud for it, and the sensitive requests of
    # that cell still stay local under the applied rule
    ledger = ledger_with(
        tmp_path,
        entries("fix", "single_file", 500, "local", 0, 60, prefix="l"),
        entries("fix", "single_file", 500, "openai", 60, 0, prefix="c", cost=0.01),
    )
    learned = run(ledger)
    [change] = learned.changes
    assert change.action == "to_cloud"
    rules = [LearnedRoute.model_validate(r) for r in learned.rules["fix"]]
    defaults = RoutingSettings()
    routing = defaults.model_copy(
        update={"tasks": {**defaults.tasks, "fix": defaults.tasks["fix"].model_copy(update={"learned": rules})}}
    )
    sensitive = RouteInput(TaskKind.FIX, "single_file", 500, sensitive=True, language="python")
    assert decide(sensitive, routing, PROVIDERS).target == "local"
    assert decide(RouteInput(TaskKind.FIX, "single_file", 500, language="python"), routing, PROVIDERS).primary.cloud  # type: ignore[union-attr]


def test_learning_counts_a_postgresql_ledger_in_the_database(tmp_path: Path, postgres_url: str) -> None:
    # the promotion test's cell plus an escalated request (its first answer local), counted by PostgreSQL
    first = entries("refactor", "multi_file", 1500, "local", 1, 0, prefix="e")[0][0]
    escalated = [first, dataclasses.replace(first, request_id=f"{first.request_id}-tier2", target="anthropic")]
    ledger = promotable(tmp_path, (escalated, []), url=fresh_database(postgres_url))
    [change] = run(ledger).changes
    assert (change.local.successes, change.local.trials, change.cloud.trials) == (196, 201, 200)
    assert (change.requests, change.unjudged, change.bucket, change.action) == (402, 1, "1024-4095", "to_local")


def test_a_new_rule_replaces_its_cells_old_one_and_a_languages_rules_come_first(tmp_path: Path) -> None:
    def rule(language: str, route: str) -> LearnedRoute:
        return LearnedRoute.model_validate(
            {"scope_level": "multi_file", "min_context_tokens": 1024, "max_context_tokens": 4096}
            | {"language": language, "route": route}
        )

    defaults = RoutingSettings()
    refactor = defaults.tasks["refactor"].model_copy(update={"learned": [rule("python", "local"), rule("go", "cloud")]})
    routing = defaults.model_copy(update={"tasks": {**defaults.tasks, "refactor": refactor}})
    ledger = ledger_with(
        tmp_path,  # python, local by its old rule, is now clearly worse; unknown languages are within the margin
        entries("refactor", "multi_file", 1500, "local", 120, 80, prefix="pl"),
        entries("refactor", "multi_file", 1500, "anthropic", 190, 10, prefix="pc", cost=0.02),
        entries("refactor", "multi_file", 1500, "local", 196, 4, prefix="ul", language=""),
        entries("refactor", "multi_file", 1500, "anthropic", 197, 3, prefix="uc", cost=0.02, language=""),
    )
    learned = run(ledger, routing)
    assert sorted((p.cell.language, p.action) for p in learned.changes) == [("", "to_local"), ("python", "to_cloud")]
    rules = [(r["language"], r["route"]) for r in learned.rules["refactor"]]
    assert rules == [("python", "cloud"), ("go", "cloud"), ("", "local")]
