"""``POST /v1/admin/routing/learn``: admins only; ``apply=true`` changes the running gateway's routing at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from routing.usage.ledger import LedgerEntry
from tests.gateway.conftest import MakeGateway
from tests.gateway.harness import OPENAI_KEY_ENV
from tests.gateway.test_api import bearer
from tests.wire.openai_server import OpenAIWireServer

EXPLAIN: dict[str, Any] = {
    "request_id": "ha-learn",
    "task": "refactor",
    "scope": {"level": "multi_file", "files": ["file:///p/main.py"], "symbols": [], "context_tokens": 1500},
    "paths": ["/p/main.py"],
    "language": "python",
    "generation": {"kind": "chat", "messages": [{"role": "user", "content": "refactor this"}], "max_tokens": 64},
}


def _cell() -> list[LedgerEntry]:
    """refactor, multi_file, 1500 tokens, python: local and anthropic, 200 rows each (verdicts added after)."""
    now = datetime.now(UTC)
    return [
        LedgerEntry(
            request_id=f"{target}-{i}",
            user="u",
            team="default",
            task="refactor",
            target=target,
            scope_level="multi_file",
            input_tokens=1500,
            cost_usd=0.02 if target == "anthropic" else 0.0,
            time=now - timedelta(days=1, minutes=i),
            language="python",
        )
        for target in ("local", "anthropic")
        for i in range(200)
    ]


async def test_only_admins_learn_and_apply_changes_the_running_policy(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test")  # a usable cloud: refactor at multi_file scope goes there
    async with make_gateway(openai_url=openai_server.base_url) as g:
        ledger = g.gateway.ledger
        assert ledger is not None
        ledger.record_many(_cell())
        for target, good in (("local", 196), ("anthropic", 197)):
            for i in range(200):
                ledger.record_feedback(f"{target}-{i}", i < good, kind="code_action")
        user, admin = bearer(g.key("alice")), bearer(g.key("root", admin=True))

        refused = await g.client.post("/v1/admin/routing/learn?apply=true", headers=user)
        assert refused.status_code == 403
        assert g.gateway.settings.routing.tasks["refactor"].learned == []

        before = (await g.client.post("/v1/route/explain", json=EXPLAIN, headers=user)).json()
        proposed = (await g.client.post("/v1/admin/routing/learn?since=7d", headers=admin)).json()
        assert proposed["changes"] == 1 and proposed["applied"] is None
        [change] = [p for p in proposed["proposals"] if p["action"] == "to_local"]
        assert change["local"]["successes"] == 196 and change["monthly_saving_usd"] > 0
        assert "[[routing.tasks.refactor.learned]]" in proposed["overlay"]
        assert g.gateway.settings.routing.tasks["refactor"].learned == []  # not applied

        applied = (await g.client.post("/v1/admin/routing/learn?apply=true", headers=admin)).json()
        assert applied["applied"] and Path(applied["applied"]).read_text() == applied["overlay"]
        [rule] = g.gateway.settings.routing.tasks["refactor"].learned
        assert (rule.route, rule.language, rule.min_context_tokens) == ("local", "python", 1024)
        after = (await g.client.post("/v1/route/explain", json=EXPLAIN, headers=user)).json()
        assert before["route"]["target"] != "local" and after["route"]["target"] == "local"

        bad = await g.client.post("/v1/admin/routing/learn?since=yesterday", headers=admin)
        assert bad.status_code == 400
