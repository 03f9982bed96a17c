"""The usage database goes away under a real gateway and comes back (issue 19.1).

A real ``gateway serve`` process on a PostgreSQL server of the test's own,
which is stopped mid-burst and started again. While it is down: requests
routed to the local engine are answered (their rows go to the fsynced
journal), budgeted cloud requests get 503 ``usage_unavailable`` with
``Retry-After`` and the cause in the message, a key never seen before gets
503 (not 401/500), ``/readyz`` is 503 with the reason and ``/metrics`` says
so. When it is back, the journal drains and the ledger holds every answered
request exactly once — also when the gateway was restarted during the outage
(it starts without the database, reports it at ``/readyz`` and refuses with
503 until it is back), and with two replicas.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from routing.usage.database import open_engine
from routing.usage.models import ledger_requests
from tests.gateway.harness import GatewayProcess, add_user, parse_sse
from tests.lsp.harness import cloud_providers, server_env
from tests.own_postgres import OwnPostgres, own_postgres_fixture  # noqa: F401 (the fixture)
from tests.wire.base import Reply
from tests.wire.openai_server import OpenAIWireServer

pytestmark = pytest.mark.timeout(300)

RETRY_AFTER_S = 3


def outage_config(tmp: Path, database_url: str, cloud: OpenAIWireServer) -> Path:
    openai = f"""[providers.openai]
kind = "openai"
base_url = "{cloud.base_url}"
api_key_env = "TEST_OPENAI_KEY"
models = ["gpt-4o"]
default_model = "gpt-4o"
max_retries = 0
"""
    config = tmp / "gateway.toml"
    config.write_text(
        f"""
data_dir = "{tmp / "data"}"

[ledger]
url = "{database_url}"
journal_path = "{tmp / "journal.jsonl"}"
probe_interval_s = 0.2
retry_after_s = {RETRY_AFTER_S}

[local]
backend = "instant"
instant_reply = "local answer"

[limits]
backend = "database"

[budgets]
user_monthly_usd = 100.0

[gateway_server]
key_cache_ttl_s = 0

{cloud_providers(openai)}""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def cloud() -> Iterator[OpenAIWireServer]:
    with OpenAIWireServer(default_reply=Reply("cloud answer", prompt_tokens=100, completion_tokens=50)) as server:
        yield server


def assist_body(request_id: str, *, cloud: bool) -> dict[str, object]:
    task, level = ("architecture", "repository") if cloud else ("completion", "single_file")
    return {
        "request_id": request_id,
        "task": task,
        "scope": {"level": level, "files": [], "symbols": [], "context_tokens": 200},
        "paths": [],
        "sensitive_reasons": [],
        "generation": {"kind": "chat", "messages": [{"role": "user", "content": f"Question {request_id}"}]},
    }


async def ask_local(client: httpx.AsyncClient, request_id: str) -> str:
    """A local request: its ``done`` text (anything else fails the test)."""
    response = await client.post("/v1/assist", json=assist_body(request_id, cloud=False))
    assert response.status_code == 200, (request_id, response.status_code, response.text)
    events = parse_sse(response.text)
    assert events[-1][0] == "done", (request_id, events)
    done = events[-1][1]
    assert isinstance(done, dict) and done["target"] == "local"
    return str(done["text"])


async def burst(url: str, key: str, prefix: str, count: int, concurrency: int = 8) -> list[str]:
    """``count`` local requests, ``concurrency`` at a time; the ids answered."""
    limits = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:

        async def one(n: int) -> str:
            async with limits:
                assert await ask_local(client, f"{prefix}-{n}") == "local answer"
                return f"{prefix}-{n}"

        return list(await asyncio.gather(*(one(n) for n in range(count))))


def ledger_ids(database: str) -> dict[str, int]:
    """The client's request id -> number of rows (the gateway's ledger id is ``<client id>.<random>``)."""
    engine = open_engine(database, migrate=False)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(ledger_requests.c.request_id, func.count()).group_by(ledger_requests.c.request_id)
            ).all()
    finally:
        engine.dispose()
    counts: dict[str, int] = {}
    for request_id, count in rows:
        client_id = str(request_id).rsplit(".", 1)[0]
        counts[client_id] = counts.get(client_id, 0) + int(count)
    return counts


def wait_alive(gateway: GatewayProcess, timeout_s: float = 60.0) -> None:
    """``/healthz`` answers (``/readyz`` may not: the database is down)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{gateway.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert gateway.process.poll() is None, gateway.log()
        time.sleep(0.1)
    raise AssertionError(f"the gateway did not start:\n{gateway.log()}")


def wait_drained(url: str, timeout_s: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = httpx.get(f"{url}/readyz", timeout=5)
        body = response.json()
        if response.status_code == 200 and body["database"].get("journal_entries") == 0:
            return dict(body)
        time.sleep(0.2)
    raise AssertionError(f"the journal did not drain: {body}")


def start_gateway(
    tmp: Path, database: OwnPostgres, cloud: OpenAIWireServer
) -> tuple[dict[str, str], str, GatewayProcess]:
    """The environment, alice's key and the gateway process (not yet ready)."""
    env = server_env(tmp, outage_config(tmp, database.url, cloud), {"TEST_OPENAI_KEY": "sk-test"})
    key = add_user(env, "alice", team="red")
    return env, key, GatewayProcess(env, tmp / "gateway.log")


def stop_soon(database: OwnPostgres, delay_s: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay_s), database.stop()))
    thread.start()
    return thread


def test_local_requests_are_served_through_an_outage_and_recorded_once(
    tmp_path: Path, own_postgres: OwnPostgres, cloud: OpenAIWireServer
) -> None:
    _env, key, gateway = start_gateway(tmp_path, own_postgres, cloud)
    try:
        gateway.wait_ready()
        headers = {"Authorization": f"Bearer {key}"}
        before = httpx.post(f"{gateway.url}/v1/assist", json=assist_body("cloud-before", cloud=True), headers=headers)
        assert parse_sse(before.text)[-1][1]["target"] == "openai"  # type: ignore[index]

        # The database goes away in the middle of a burst of local requests: every one is answered.
        stopping = stop_soon(own_postgres, 0.3)
        answered = asyncio.run(burst(gateway.url, key, "mid", 120))
        stopping.join()
        answered += asyncio.run(burst(gateway.url, key, "down", 40))

        # Budgeted cloud requests: 503 with Retry-After and the cause, on both APIs; never 500.
        refused = httpx.post(f"{gateway.url}/v1/assist", json=assist_body("cloud-down", cloud=True), headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == str(RETRY_AFTER_S)
        error = refused.json()["error"]
        assert error["code"] == "usage_unavailable" and "usage database unavailable" in error["message"]
        chat = httpx.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            headers={**headers, "X-Hybrid-Task": "architecture", "X-Hybrid-Scope": "repository"},
        )
        assert chat.status_code == 503 and chat.headers["retry-after"] == str(RETRY_AFTER_S), chat.text
        assert "usage database unavailable" in chat.json()["error"]["message"]
        assert len(cloud.generation_requests()) == 1  # nothing reached the cloud unbudgeted

        # A key never seen before cannot be checked: 503, not 401 or 500.
        stranger = httpx.post(
            f"{gateway.url}/v1/assist",
            json=assist_body("stranger", cloud=False),
            headers={"Authorization": "Bearer ha_0123456789ab_notarealsecret"},
        )
        assert stranger.status_code == 503 and "retry-after" in stranger.headers, stranger.text

        ready = httpx.get(f"{gateway.url}/readyz")
        assert ready.status_code == 503
        database = ready.json()["database"]
        assert database["available"] is False and "usage database unavailable" in database["reason"]
        assert database["journal_entries"] > 0
        metrics = httpx.get(f"{gateway.url}/metrics").text
        assert "hybrid_assist_ledger_available 0.0" in metrics
        assert "hybrid_assist_usage_unavailable_refusals_total 2.0" in metrics

        own_postgres.start()
        assert wait_drained(gateway.url)["ready"] is True
        after = httpx.post(f"{gateway.url}/v1/assist", json=assist_body("cloud-after", cloud=True), headers=headers)
        assert after.status_code == 200 and parse_sse(after.text)[-1][1]["target"] == "openai"  # type: ignore[index]
        answered += asyncio.run(burst(gateway.url, key, "after", 10))
        time.sleep(0.5)  # the writer's last batch
    finally:
        gateway.stop()
    rows = ledger_ids(own_postgres.url)
    missing = sorted(set(answered) - set(rows))
    assert not missing and all(rows[request_id] == 1 for request_id in answered), (len(missing), missing, len(rows))
    assert {"cloud-before", "cloud-after"} <= set(rows) and "cloud-down" not in rows
    assert len(rows) == len(answered) + 2
    assert (tmp_path / "journal.jsonl").read_text() == ""


def test_rows_journalled_before_a_gateway_restart_reach_the_ledger_once(
    tmp_path: Path, own_postgres: OwnPostgres, cloud: OpenAIWireServer
) -> None:
    env, key, gateway = start_gateway(tmp_path, own_postgres, cloud)
    try:
        gateway.wait_ready()
        answered = asyncio.run(burst(gateway.url, key, "up", 10))
        time.sleep(0.3)
        own_postgres.stop()
        answered += asyncio.run(burst(gateway.url, key, "down", 50))
    finally:
        gateway.stop()  # SIGTERM during the outage: pending rows go to the journal
    journal = (tmp_path / "journal.jsonl").read_text().splitlines()
    journalled = {json.loads(line)["request_id"].rsplit(".", 1)[0] for line in journal}
    assert {f"down-{n}" for n in range(50)} <= journalled

    # The gateway starts again while the database is still down: it runs, says why, and refuses clearly.
    restarted = GatewayProcess(env, tmp_path / "gateway-2.log")
    try:
        wait_alive(restarted)
        ready = httpx.get(f"{restarted.url}/readyz", timeout=5)
        assert ready.status_code == 503 and "usage database unavailable" in ready.json()["database"]["reason"]
        refused = httpx.post(
            f"{restarted.url}/v1/assist",
            json=assist_body("after-restart", cloud=False),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "usage_unavailable"
        assert "retry-after" in refused.headers  # its key was never seen by this process
        own_postgres.start()
        wait_drained(restarted.url)
        answered += asyncio.run(burst(restarted.url, key, "back", 5))
        time.sleep(0.5)
    finally:
        restarted.stop()
    rows = ledger_ids(own_postgres.url)
    assert all(rows.get(request_id) == 1 for request_id in answered), sorted(set(answered) - set(rows))
    assert len(rows) == len(answered)
    assert (tmp_path / "journal.jsonl").read_text() == ""
    assert "wrote" in restarted.log() and "journalled rows" in restarted.log()


def test_two_replicas_through_an_outage_write_every_row_once(
    tmp_path: Path, own_postgres: OwnPostgres, cloud: OpenAIWireServer
) -> None:
    """Both replicas journal to one shared file (the harder case: flock-ed appends and two drains)."""
    env, key, first = start_gateway(tmp_path, own_postgres, cloud)
    second = GatewayProcess(env, tmp_path / "gateway-b.log")
    replicas = [first, second]
    try:
        answered = []
        for n, replica in enumerate(replicas):
            replica.wait_ready()
            answered += asyncio.run(burst(replica.url, key, f"warm{n}", 2))  # each replica has seen the key
        stopping = stop_soon(own_postgres, 0.2)
        answered += asyncio.run(burst(first.url, key, "a", 60)) + asyncio.run(burst(second.url, key, "b", 60))
        stopping.join()
        answered += asyncio.run(burst(first.url, key, "a-down", 30)) + asyncio.run(burst(second.url, key, "b-down", 30))
        own_postgres.start()
        for replica in replicas:
            wait_drained(replica.url)
    finally:
        for replica in replicas:
            replica.stop()
    rows = ledger_ids(own_postgres.url)
    duplicated = {request_id: count for request_id, count in rows.items() if count != 1}
    assert not duplicated and set(answered) == set(rows), (duplicated, sorted(set(answered) ^ set(rows))[:5])
