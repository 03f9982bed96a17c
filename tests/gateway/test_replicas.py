"""Two gateway processes on one PostgreSQL database share budgets and rate limits.

The cloud is the OpenAI wire test server, priced so that each call costs
exactly its estimate ($0.035: 1,000 prompt + 2,500 answer tokens at $10/M);
alice's monthly budget ($0.20) covers five. ``routing.usage.budgets``
guarantees that concurrent reservations in any number of replicas never
commit more than the limit, and that only a settled cost larger than its
estimate can overshoot, by that difference: so the ledger's total may exceed
the budget by at most the sum of those differences (zero here), and exactly
five calls reach the cloud however the twenty concurrent requests interleave
over the two replicas. bob's rate limit (six requests a minute, kept in the
database) is one bucket for both replicas.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lsp_server.gateway_client import GatewayClient, GatewayRequestError
from routing.service import Served
from routing.usage.database import open_engine
from routing.usage.models import budget_periods, ledger_requests, to_usd
from tests.gateway.harness import GatewayProcess, add_user, cli
from tests.lsp.harness import cloud_providers, server_env
from tests.postgres import fresh_database
from tests.wire.base import Reply
from tests.wire.openai_server import OpenAIWireServer

PROMPT_TOKENS, ANSWER_TOKENS, PRICE_PER_MTOK = 1000, 2500, 10.0  # architecture: max_output_tokens 2500
CALL_USD = (PROMPT_TOKENS + ANSWER_TOKENS) * PRICE_PER_MTOK / 1_000_000
BUDGET_USD = 0.20
BOB_RPM = 6


def replica_config(tmp: Path, database_url: str, cloud: OpenAIWireServer) -> Path:
    openai = f"""[providers.openai]
kind = "openai"
base_url = "{cloud.base_url}"
api_key_env = "TEST_OPENAI_KEY"
models = ["gpt-4o"]
default_model = "gpt-4o"
max_retries = 0
[providers.openai.prices.gpt-4o]
input = {PRICE_PER_MTOK}
cached_input = {PRICE_PER_MTOK}
output = {PRICE_PER_MTOK}
"""
    config = tmp / "gateway.toml"
    config.write_text(
        f"""
data_dir = "{tmp / "data"}"

[ledger]
url = "{database_url}"

[local]
backend = "instant"
instant_reply = "local answer"

[limits]
backend = "database"
[limits.users.bob]
requests_per_minute = {BOB_RPM}

[gateway_server]
key_cache_ttl_s = 0

{cloud_providers(openai)}""",
        encoding="utf-8",
    )
    return config


def body(n: int, task: str, level: str) -> dict[str, object]:
    return {
        "request_id": f"replica-{n}",
        "task": task,
        "scope": {"level": level, "files": [], "symbols": [], "context_tokens": PROMPT_TOKENS},
        "paths": [],
        "sensitive_reasons": [],
        "generation": {
            "kind": "chat",
            "messages": [{"role": "user", "content": f"Analyse the architecture of service {n}."}],
            "max_tokens": ANSWER_TOKENS,
        },
    }


@pytest.fixture
def cloud() -> Iterator[OpenAIWireServer]:
    reply = Reply("cloud answer", prompt_tokens=PROMPT_TOKENS, completion_tokens=ANSWER_TOKENS)
    with OpenAIWireServer(default_reply=reply) as server:
        yield server


@dataclass
class Replicas:
    env: dict[str, str]
    database: str  # SQLAlchemy URL of the shared database
    urls: list[str]


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str, cloud: OpenAIWireServer) -> Iterator[Replicas]:
    database = fresh_database(postgres_url, "replicas")
    config = replica_config(tmp_path, database, cloud)
    env = server_env(tmp_path, config, {"TEST_OPENAI_KEY": "sk-test-not-a-real-key"})
    cli(env, "gateway", "budgets", "set", "--user", "alice", "--monthly-usd", str(BUDGET_USD))
    processes = [GatewayProcess(env, tmp_path / f"replica-{i}.log") for i in range(2)]
    try:
        for process in processes:
            process.wait_ready()
        yield Replicas(env, database, [p.url for p in processes])
    finally:
        for process in processes:
            process.stop()


async def fire(urls: list[str], key: str, count: int, task: str, level: str) -> list[Served | GatewayRequestError]:
    """``count`` concurrent ``/v1/assist`` requests, spread evenly over ``urls``."""
    clients = [GatewayClient(url, key, timeout_s=60) for url in urls]

    async def one(n: int) -> Served | GatewayRequestError:
        try:
            return await clients[n % len(clients)].assist(body(n, task, level))
        except GatewayRequestError as exc:
            return exc

    try:
        return list(await asyncio.gather(*(one(n) for n in range(count))))
    finally:
        for client in clients:
            await client.close()


def test_two_replicas_never_overspend_a_shared_budget(replicas: Replicas, cloud: OpenAIWireServer) -> None:
    key = add_user(replicas.env, "alice", team="red")
    results = asyncio.run(fire(replicas.urls, key, 20, "architecture", "repository"))

    served = [r for r in results if isinstance(r, Served)]
    assert len(served) == 20, [r for r in results if not isinstance(r, Served)]
    estimates = [s.decision.cost_usd for s in served if s.target == "openai"]
    in_cloud = [s for s in served if s.target == "openai"]
    assert all(e == pytest.approx(CALL_USD) for e in estimates)
    assert len(in_cloud) == math.floor(BUDGET_USD / CALL_USD + 1e-9) == 5
    assert {s.target for s in served} == {"openai", "local"}
    assert len(cloud.generation_requests()) == 5

    overshoot_allowed = sum(max(0.0, s.cost_usd - s.decision.cost_usd) for s in in_cloud)
    engine = open_engine(replicas.database, migrate=False)
    try:
        deadline = time.monotonic() + 15
        with engine.connect() as connection:
            while True:
                count = connection.execute(
                    select(func.count()).where(ledger_requests.c.user_name == "alice")
                ).scalar_one()
                if count >= 20 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
                connection.rollback()
            assert count == 20
            spent_nanos = connection.execute(
                select(func.coalesce(func.sum(ledger_requests.c.cost_nanousd), 0)).where(
                    ledger_requests.c.user_name == "alice"
                )
            ).scalar_one()
            total = to_usd(int(spent_nanos))
            period = connection.execute(
                select(budget_periods.c.spent_nanousd, budget_periods.c.reserved_nanousd).where(
                    budget_periods.c.scope == "user", budget_periods.c.name == "alice"
                )
            ).one()
    finally:
        engine.dispose()
    assert total <= BUDGET_USD + overshoot_allowed + 1e-9
    assert total == pytest.approx(5 * CALL_USD)
    assert to_usd(period.spent_nanousd) == pytest.approx(5 * CALL_USD) and period.reserved_nanousd == 0


def test_two_replicas_share_one_rate_limit(replicas: Replicas) -> None:
    key = add_user(replicas.env, "bob", team="blue")
    started = time.monotonic()
    results = asyncio.run(fire(replicas.urls, key, 16, "completion", "single_file"))
    elapsed = time.monotonic() - started
    admitted = [r for r in results if isinstance(r, Served)]
    limited = [r for r in results if isinstance(r, GatewayRequestError) and r.status == 429]
    assert len(admitted) + len(limited) == 16
    refill = math.floor(BOB_RPM / 60.0 * elapsed)  # the bucket refills while the burst is served
    assert BOB_RPM <= len(admitted) <= BOB_RPM + refill, (len(admitted), elapsed)
    assert all(r.text == "local answer" for r in admitted)
