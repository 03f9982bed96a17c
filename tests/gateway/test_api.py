"""The gateway's HTTP API in process (httpx over ASGI): the assist stream, auth, isolation, limits, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import MakeGateway
from tests.gateway.harness import OPENAI_KEY_ENV, parse_sse
from tests.wire.openai_server import OpenAIWireServer

ASSIST: dict[str, Any] = {
    "request_id": "ha-1234abcd",
    "task": "inline_completion",
    "scope": {"level": "single_file", "files": ["file:///p/main.py"], "symbols": ["add"], "context_tokens": 40},
    "paths": ["/p/main.py"],
    "sensitive_reasons": [],
    "generation": {"kind": "fim", "prefix": "def add(a, b):\n    ", "suffix": "\n", "max_tokens": 64, "stop": []},
}


def chat_body(task: str = "architecture", content: str = "Explain this design.", **extra: Any) -> dict[str, Any]:
    body = dict(
        ASSIST, task=task, paths=[], generation={"kind": "chat", "messages": [{"role": "user", "content": content}]}
    )
    body.update(extra)
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-test")


async def test_assist_streams_route_then_deltas_then_done_and_records_the_caller(make_gateway: MakeGateway) -> None:
    async with make_gateway() as g:
        key = g.key("alice", team="red")
        response = await g.client.post("/v1/assist", json=dict(ASSIST, workspace="/p"), headers=bearer(key))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.text)
        names = [name for name, _ in events]
        assert names[0] == "route" and names[-1] == "done"
        assert set(names[1:-1]) == {"delta"}
        route = events[0][1]
        assert isinstance(route, dict)
        assert route["route"]["target"] == "local"
        assert set(route["estimate"]) == {"input_tokens", "output_tokens", "cost_usd"}
        assert route["estimate"]["input_tokens"] == 40
        done = events[-1][1]
        assert isinstance(done, dict)
        deltas = "".join(data["text"] for name, data in events if name == "delta" and isinstance(data, dict))
        assert deltas == done["text"] == "return a + b"
        assert done["target"] == "local" and done["model"] == "instant"
        assert set(done["usage"]) == {"prompt_tokens", "cached_tokens", "completion_tokens"}
        assert done["attempts"] == [{"target": "local", "model": "instant", "outcome": "ok", "detail": ""}]
        assert done["empty_reason"] == "" and done["request_id"].startswith("ha-1234abcd.")
        ledger = g.gateway.ledger
        assert ledger is not None and ledger.flush(5.0)
        row = ledger.get(done["request_id"])
        assert row is not None
        assert (row.user, row.team, row.task, row.target, row.outcome) == (
            "alice",
            "red",
            "inline_completion",
            "local",
            "ok",
        )
        assert (row.workspace, row.reason) == ("/p", "")


async def test_route_explain_answers_without_calling_a_model(make_gateway: MakeGateway) -> None:
    async with make_gateway() as g:
        key = g.key("alice")
        body = {k: v for k, v in ASSIST.items() if k != "generation"}
        response = await g.client.post("/v1/route/explain", json=body, headers=bearer(key))
        assert response.status_code == 200, response.text
        assert response.json()["route"]["target"] == "local"
        assert response.json()["estimate"]["output_tokens"] == 64
        ledger = g.gateway.ledger
        assert ledger is not None and ledger.flush(5.0) and ledger.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in ASSIST.items() if k != "task"}, "task"),
        (dict(ASSIST, task="teleport"), "task"),
        ({k: v for k, v in ASSIST.items() if k != "scope"}, "scope"),
        (dict(ASSIST, scope={"level": "galaxy"}), "scope.level"),
        (dict(ASSIST, scope={"level": "single_file", "context_tokens": -1}), "scope.context_tokens"),
        (dict(ASSIST, paths="main.py"), "paths"),
        ({k: v for k, v in ASSIST.items() if k != "generation"}, "generation"),
        (dict(ASSIST, generation={"kind": "fim"}), "generation.prefix"),
        (dict(ASSIST, generation={"kind": "poem", "prefix": ""}), "generation.kind"),
        (dict(ASSIST, generation={"kind": "chat", "messages": []}), "generation.messages"),
        (dict(ASSIST, generation={"kind": "chat", "messages": [{"role": "x", "content": ""}]}), "messages[0].role"),
        (dict(ASSIST, generation={"kind": "fim", "prefix": "", "max_tokens": "many"}), "generation.max_tokens"),
        (dict(ASSIST, workspace=["/p"]), "workspace"),
        (dict(ASSIST, workspace="/p" * 3000), "workspace"),
    ],
)
async def test_invalid_fields_are_400_naming_the_field(make_gateway: MakeGateway, body: Any, field: str) -> None:
    async with make_gateway() as g:
        response = await g.client.post("/v1/assist", json=body, headers=bearer(g.key("alice")))
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid_field"
        assert field in error["message"]


async def test_malformed_requests_get_json_errors(make_gateway: MakeGateway) -> None:
    async with make_gateway("[gateway_server]\nmax_body_bytes = 2048\n") as g:
        auth = bearer(g.key("alice"))
        bad = await g.client.post("/v1/assist", content=b'{"task": ', headers=auth)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_json"
        not_object = await g.client.post("/v1/assist", json=[1, 2], headers=auth)
        assert not_object.status_code == 400 and not_object.json()["error"]["code"] == "bad_json"
        big = dict(ASSIST, generation={"kind": "fim", "prefix": "x" * 5000})
        too_large = await g.client.post("/v1/assist", json=big, headers=auth)
        assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "body_too_large"
        unknown = await g.client.get("/v1/teleport", headers=auth)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        wrong_method = await g.client.get("/v1/assist", headers=auth)
        assert wrong_method.status_code == 405 and "error" in wrong_method.json()


async def test_an_unexpected_error_on_a_hot_route_is_a_json_500(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served before the router (``gateway.hot_routes``), a bug still gets the application's 500 and is counted."""
    async with make_gateway() as g:
        auth = bearer(g.key("alice"))

        async def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(g.gateway.service, "serve", broken)
        transport = httpx.ASGITransport(app=g.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
            hot = await client.post("/v1/chat/completions", json=body, headers=auth)
            assert hot.status_code == 500
            assert hot.json()["error"] == {"code": "internal", "message": "internal error (RuntimeError)"}
            metrics = (await client.get("/metrics")).text
        assert 'endpoint="/v1/chat/completions",method="POST",status="500"} 1.0' in metrics


async def test_missing_unknown_and_malformed_keys_are_401(make_gateway: MakeGateway) -> None:
    async with make_gateway() as g:
        key = g.key("alice")
        forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        for headers in ({}, {"Authorization": "Basic abc"}, bearer("sk-not-ours"), bearer(forged)):
            response = await g.client.post("/v1/assist", json=ASSIST, headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "unauthorized"
        assert (await g.client.get("/healthz")).status_code == 200  # no key needed
        assert (await g.client.get("/v1/models")).status_code == 401


async def test_rotation_and_revocation_through_the_admin_api_take_effect_at_once(make_gateway: MakeGateway) -> None:
    async with make_gateway() as g:
        admin = bearer(g.key("root", admin=True))
        created = await g.client.post("/v1/admin/users", json={"name": "bob", "team": "blue"}, headers=admin)
        assert created.status_code == 201
        old = created.json()["api_key"]
        assert old.startswith("ha_") and created.json()["user"]["team"] == "blue"
        assert (await g.client.post("/v1/assist", json=ASSIST, headers=bearer(old))).status_code == 200
        assert (await g.client.get("/v1/admin/users", headers=bearer(old))).status_code == 403
        again = await g.client.post("/v1/admin/users", json={"name": "bob"}, headers=admin)
        assert again.status_code == 409
        rotated = await g.client.post("/v1/admin/keys/rotate", json={"user": "bob"}, headers=admin)
        new = rotated.json()["api_key"]
        assert new != old
        assert (await g.client.post("/v1/assist", json=ASSIST, headers=bearer(old))).status_code == 401
        assert (await g.client.post("/v1/assist", json=ASSIST, headers=bearer(new))).status_code == 200
        revoked = await g.client.post("/v1/admin/users/bob/revoke", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["user"]["revoked"] is True
        refused = await g.client.post("/v1/assist", json=ASSIST, headers=bearer(new))
        assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
        users = (await g.client.get("/v1/admin/users", headers=admin)).json()["users"]
        assert {(u["name"], u["revoked"], u["active_keys"]) for u in users} == {("root", False, 1), ("bob", True, 0)}


async def test_a_revocation_made_elsewhere_applies_within_the_cache_ttl(make_gateway: MakeGateway) -> None:
    async with make_gateway("[gateway_server]\nkey_cache_ttl_s = 0.3\n") as g:
        key = g.key("bob")
        assert (await g.client.post("/v1/assist", json=ASSIST, headers=bearer(key))).status_code == 200
        g.gateway.store.revoke_user("bob")  # as the CLI (or another replica) would
        await asyncio.sleep(0.4)
        assert (await g.client.post("/v1/assist", json=ASSIST, headers=bearer(key))).status_code == 401


async def test_each_user_sees_only_their_own_usage_and_admins_see_everyones(make_gateway: MakeGateway) -> None:
    async with make_gateway() as g:
        alice, bob, admin = (
            bearer(g.key("alice", team="red")),
            bearer(g.key("bob", team="blue")),
            bearer(g.key("root", admin=True)),
        )
        for headers in (alice, alice, bob):
            assert (await g.client.post("/v1/assist", json=ASSIST, headers=headers)).status_code == 200
        mine = (await g.client.get("/v1/usage/me", headers=alice)).json()
        assert mine["user"] == "alice" and mine["team"] == "red" and mine["totals"]["requests"] == 2
        assert (await g.client.get("/v1/usage/me", headers=bob)).json()["totals"]["requests"] == 1
        assert (await g.client.get("/v1/usage/me?user=bob", headers=alice)).status_code == 403
        assert (await g.client.get("/v1/admin/usage?user=bob", headers=alice)).status_code == 403
        assert (
            await g.client.post("/v1/admin/budgets", json={"user": "alice", "monthly_usd": 9}, headers=alice)
        ).status_code == 403
        of_bob = (await g.client.get("/v1/admin/usage?user=bob", headers=admin)).json()
        assert of_bob["user"] == "bob" and of_bob["totals"]["requests"] == 1
        rows = (await g.client.get("/v1/admin/usage", headers=admin)).json()["rows"]
        assert {r["user"]: r["requests"] for r in rows} == {"alice": 2, "bob": 1}


async def test_rate_limits_are_per_user_and_answer_429_with_retry_after(make_gateway: MakeGateway) -> None:
    async with make_gateway("[limits]\nrequests_per_minute = 2\n") as g:
        alice, bob = bearer(g.key("alice")), bearer(g.key("bob"))
        for _ in range(2):
            assert (await g.client.post("/v1/assist", json=ASSIST, headers=alice)).status_code == 200
        limited = await g.client.post("/v1/assist", json=ASSIST, headers=alice)
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert (await g.client.post("/v1/assist", json=ASSIST, headers=bob)).status_code == 200
        metrics = (await g.client.get("/metrics")).text
        assert "hybrid_assist_rate_limited_total 1.0" in metrics


async def test_budgets_apply_per_user_and_a_spent_budget_falls_back_to_local(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    async with make_gateway(openai_url=openai_server.base_url) as g:
        alice, bob, admin = bearer(g.key("alice")), bearer(g.key("bob")), bearer(g.key("root", admin=True))
        budget = await g.client.post("/v1/admin/budgets", json={"user": "alice", "monthly_usd": 0}, headers=admin)
        assert budget.status_code == 200
        local = parse_sse((await g.client.post("/v1/assist", json=chat_body(), headers=alice)).text)[-1]
        cloud = parse_sse((await g.client.post("/v1/assist", json=chat_body(), headers=bob)).text)[-1]
        assert local[0] == "done" and cloud[0] == "done"
        assert isinstance(local[1], dict) and isinstance(cloud[1], dict)
        assert local[1]["target"] == "local" and local[1]["text"] == "return a + b"
        assert any("budget" in notice for notice in local[1]["notices"])
        assert cloud[1]["target"] == "openai" and cloud[1]["text"] == "Hello from the test server."
        assert cloud[1]["cost_usd"] > 0
        assert len(openai_server.generation_requests()) == 1
        me = (await g.client.get("/v1/usage/me", headers=bob)).json()
        assert me["totals"]["cost_usd"] == pytest.approx(cloud[1]["cost_usd"])


async def test_sensitive_paths_and_client_reasons_keep_requests_on_the_premises(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    async with make_gateway(openai_url=openai_server.base_url) as g:
        auth = bearer(g.key("alice"))
        for body in (
            chat_body(paths=["/repo/config/secrets/db.py"]),
            chat_body(paths=["file:///repo/.env"]),
            chat_body(sensitive_reasons=["the editor marked this workspace private"]),
        ):
            events = parse_sse((await g.client.post("/v1/assist", json=body, headers=auth)).text)
            route, done = events[0][1], events[-1][1]
            assert isinstance(route, dict) and isinstance(done, dict)
            assert route["route"]["local_only"] is True and done["target"] == "local"
        assert openai_server.generation_requests() == []


async def test_secrets_bound_for_the_cloud_are_redacted(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    async with make_gateway(openai_url=openai_server.base_url) as g:
        body = chat_body(content='AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\nExplain.')
        events = parse_sse((await g.client.post("/v1/assist", json=body, headers=bearer(g.key("alice")))).text)
        assert isinstance(events[-1][1], dict) and events[-1][1]["target"] == "openai"
        sent = str(openai_server.generation_requests()[0].body)
        assert "AKIAIOSFODNN7EXAMPLE" not in sent and "[REDACTED:aws_access_key]" in sent


async def test_secrets_stay_local_when_configured(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    async with make_gateway('[sensitive]\non_secret = "local_only"\n', openai_url=openai_server.base_url) as g:
        body = chat_body(content='AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\nExplain.')
        events = parse_sse((await g.client.post("/v1/assist", json=body, headers=bearer(g.key("alice")))).text)
        route = events[0][1]
        assert isinstance(route, dict) and route["route"]["local_only"] is True
        assert openai_server.generation_requests() == []


async def test_a_provider_outage_falls_back_to_local(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    openai_server.fail("server_error", times=5)
    async with make_gateway(openai_url=openai_server.base_url) as g:
        events = parse_sse((await g.client.post("/v1/assist", json=chat_body(), headers=bearer(g.key("alice")))).text)
        name, done = events[-1]
        assert name == "done" and isinstance(done, dict)
        assert done["target"] == "local"
        assert [a["target"] for a in done["attempts"]] == ["openai", "local"]
        assert done["attempts"][0]["outcome"] != "ok"


async def test_an_unservable_request_ends_with_an_error_event(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    openai_server.fail("server_error", times=5)
    extra = '[routing.tasks.architecture]\nlocal_up_to = "never"\ncloud = "openai:gpt-4o"\n'
    async with make_gateway(extra, openai_url=openai_server.base_url) as g:
        g.gateway.runtime.backends.pop("local")  # nothing on the premises to fall back to
        events = parse_sse((await g.client.post("/v1/assist", json=chat_body(), headers=bearer(g.key("alice")))).text)
        name, error = events[-1]
        assert name == "error" and isinstance(error, dict)
        assert error["code"] and error["message"]
        assert "done" not in [n for n, _ in events]


async def test_metrics_count_gateway_and_routing_requests(make_gateway: MakeGateway) -> None:
    async with make_gateway() as g:
        await g.client.post("/v1/assist", json=ASSIST, headers=bearer(g.key("alice")))
        await g.client.post("/v1/assist", json=ASSIST)
        text = (await g.client.get("/metrics")).text
        assert 'hybrid_gateway_http_requests_total{endpoint="/v1/assist",method="POST",status="200"} 1.0' in text
        assert 'hybrid_gateway_http_requests_total{endpoint="/v1/assist",method="POST",status="401"} 1.0' in text
        assert "hybrid_gateway_auth_failures_total 1.0" in text
        assert 'hybrid_assist_requests_total{outcome="ok",target="local",task="inline_completion"} 1.0' in text


async def test_health_and_readiness(make_gateway: MakeGateway) -> None:
    async with make_gateway() as g:
        assert (await g.client.get("/healthz")).json() == {"status": "ok"}
        ready = await g.client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["local"]["model"] == "instant"
        g.gateway.runtime._local_error = "CUDA out of memory"
        failed = await g.client.get("/readyz")
        assert failed.status_code == 503 and "CUDA out of memory" in failed.json()["error"]["message"]


async def test_feedback_marks_only_the_callers_own_requests(make_gateway: MakeGateway) -> None:
    async with make_gateway() as g:
        alice, bob = g.key("alice"), g.key("bob")
        response = await g.client.post("/v1/assist", json=ASSIST, headers=bearer(alice))
        done = parse_sse(response.text)[-1][1]
        assert isinstance(done, dict)
        request_id = done["request_id"]
        mark = {"request_id": request_id, "accepted": True, "task": "inline_completion"}
        stolen = await g.client.post("/v1/feedback", json=mark, headers=bearer(bob))
        assert stolen.status_code == 404 and stolen.json()["error"]["code"] == "not_found"
        missing = await g.client.post("/v1/feedback", json={"request_id": request_id}, headers=bearer(alice))
        assert missing.status_code == 400 and "accepted" in missing.json()["error"]["message"]
        ledger = g.gateway.ledger
        assert ledger is not None
        assert ledger.feedback(request_id) is None
        ok = await g.client.post("/v1/feedback", json=mark, headers=bearer(alice))
        assert ok.status_code == 200, ok.text
        assert ledger.feedback(request_id) is True


async def test_prompt_caching_hints_reach_the_provider(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    async with make_gateway(openai_url=openai_server.base_url) as g:
        auth = bearer(g.key("alice"))
        body = chat_body(content="STABLE PREFIX. Explain this design.")
        body["generation"].update(stable_chars=14, cache_key="repo-and-user-hash")
        done = parse_sse((await g.client.post("/v1/assist", json=body, headers=auth)).text)[-1]
        assert done[0] == "done" and isinstance(done[1], dict) and done[1]["target"] == "openai"
        assert openai_server.generation_requests()[0].body["prompt_cache_key"] == "repo-and-user-hash"
        body["generation"].update(stable_chars=1000)
        refused = await g.client.post("/v1/assist", json=body, headers=auth)
        assert refused.status_code == 400 and "generation.stable_chars" in refused.text
        body["generation"].update(stable_chars=0, cache_key="k" * 65)
        refused = await g.client.post("/v1/assist", json=body, headers=auth)
        assert refused.status_code == 400 and "generation.cache_key" in refused.text


async def test_an_escalation_is_served_by_the_tier_after_the_failing_answer(
    make_gateway: MakeGateway, openai_server: OpenAIWireServer, openai_key: None
) -> None:
    # security's default tiers: gemini-2.5-flash, then openai:gpt-4o (gemini is not configured here)
    async with make_gateway(openai_url=openai_server.base_url) as g:
        auth = bearer(g.key("alice"))

        async def escalate(after: dict[str, str], **extra: Any) -> httpx.Response:
            body = chat_body(task="security", escalate_after=after, **extra)
            return await g.client.post("/v1/assist", json=body, headers=auth)

        after_flash = parse_sse((await escalate({"target": "gemini", "model": "gemini-2.5-flash"})).text)
        route, done = after_flash[0][1], after_flash[-1][1]
        assert isinstance(route, dict) and isinstance(done, dict)
        assert (done["target"], done["model"]) == ("openai", "gpt-4o") and "tiers" not in route["route"]
        # review is local by policy at this scope; after a failing local answer it goes to the cloud
        review = chat_body(task="review")
        first = parse_sse((await g.client.post("/v1/assist", json=review, headers=auth)).text)[-1][1]
        assert isinstance(first, dict) and first["target"] == "local"
        review["escalate_after"] = {"target": "local", "model": "qwen"}
        after_local = parse_sse((await g.client.post("/v1/assist", json=review, headers=auth)).text)[-1][1]
        assert isinstance(after_local, dict) and after_local["target"] == "openai"
        # the premium tier failed: nothing is left, said by name
        last = await escalate({"target": "openai", "model": "gpt-4o"})
        assert last.status_code == 400 and "escalate_after" in last.text
        # sensitive code stays on the premises, escalation or not
        kept = parse_sse((await escalate({"target": "local", "model": "qwen"}, sensitive_reasons=["private"])).text)
        assert isinstance(kept[-1][1], dict) and kept[-1][1]["target"] == "local"
        assert len(openai_server.generation_requests()) == 2


async def test_an_answer_reused_by_the_language_server_is_the_callers_ledger_row(make_gateway: MakeGateway) -> None:
    async with make_gateway() as g:
        auth = bearer(g.key("alice", team="red"))
        body = {
            "request_id": "reuse-1",
            "task": "security",
            "scope_level": "repository",
            "target": "local",
            "model": "qwen",
            "input_tokens": 9000,
            "output_tokens": 300,
            "language": "python",
        }
        response = await g.client.post("/v1/reused", json=body, headers=auth)
        assert response.status_code == 200
        ledger = g.gateway.ledger
        assert ledger is not None and ledger.flush(5.0)
        row = ledger.get(response.json()["request_id"])
        assert row is not None and (row.user, row.team, row.outcome, row.cost_usd) == ("alice", "red", "reused", 0)
        assert (row.input_tokens, row.output_tokens, row.language) == (9000, 300, "python")
        for field, value in (("target", "nowhere"), ("task", "dance"), ("input_tokens", -1)):
            bad = await g.client.post("/v1/reused", json={**body, field: value}, headers=auth)
            assert bad.status_code == 400 and field in bad.text
        assert (await g.client.post("/v1/reused", json=body)).status_code == 401
