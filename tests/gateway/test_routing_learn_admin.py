"""``POST /v1/admin/routing/learn``: admins only; ``apply=true`` changes the running gateway's routing at once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import MakeGateway
from tests.gateway.harness import OPENAI_KEY_ENV
from tests.gateway.test_api import bearer
from tests.routing.synthetic_ledger import record_refactor_cell
from tests.wire.openai_server import OpenAIWireServer

EXPLAIN: dict[str, Any] = {
    "request_id": "ha-learn",
    "task": "refactor",
    "scope": {"level": "multi_file", "files": ["file:///p/main.py"], "symbols": [], "context_tokens": 1500},
    "paths": ["/p/main.py"],
    "language": "python",
    "generation": {"kind": "chat", "messages": [{"role": "user", "content": "refactor this"}], "max_tokens": 64},
}


async def test_only_admins_learn_and_apply_changes_the_running_policy(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test")  # a usable cloud: refactor at multi_file scope goes there
    async with make_gateway(openai_url=openai_server.base_url) as g:
        ledger = g.gateway.ledger
        assert ledger is not None
        record_refactor_cell(ledger, datetime.now(UTC))
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
