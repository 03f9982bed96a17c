"""Rate limits: token-bucket refill on an injected clock, in process and in the database."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from routing.usage.ratelimit import (
    BucketState,
    DatabaseRateLimiter,
    InProcessRateLimiter,
    RateLimiter,
    build_rate_limiter,
    take,
)
from routing.usage.settings import LimitsSettings, UserLimits


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


LimiterFactory = Callable[[LimitsSettings, Clock], RateLimiter]


@pytest.fixture(params=["memory", "database"])
def make_limiter(request: pytest.FixtureRequest, engine: Engine) -> LimiterFactory:
    if request.param == "memory":
        return lambda settings, clock: InProcessRateLimiter(settings, clock)
    return lambda settings, clock: DatabaseRateLimiter(engine, settings, clock)


def test_requests_per_minute_refill(make_limiter: LimiterFactory) -> None:
    clock = Clock()
    limiter = make_limiter(LimitsSettings(requests_per_minute=3, tokens_per_minute=0), clock)
    assert [limiter.check("alice", 10).allowed for _ in range(3)] == [True, True, True]
    refused = limiter.check("alice", 10)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(20.0)  # one request per 20 s
    assert "3 requests per minute" in refused.reason
    clock.now += 19.9
    assert not limiter.check("alice", 10).allowed
    clock.now += 0.1
    assert limiter.check("alice", 10).allowed
    assert limiter.check("bob", 10).allowed  # buckets are per user


def test_tokens_per_minute_refill(make_limiter: LimiterFactory) -> None:
    clock = Clock()
    limiter = make_limiter(LimitsSettings(requests_per_minute=0, tokens_per_minute=1_000), clock)
    assert limiter.check("alice", 600).allowed
    refused = limiter.check("alice", 600)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(12.0)  # 200 tokens missing at 1000/min
    assert "1000 tokens per minute" in refused.reason
    clock.now += 12.0
    assert limiter.check("alice", 600).allowed
    clock.now += 600.0  # refill stops at the bucket size
    assert limiter.check("alice", 1_000).allowed
    assert not limiter.check("alice", 1).allowed


def test_a_request_larger_than_the_bucket_goes_when_full_and_leaves_debt(make_limiter: LimiterFactory) -> None:
    clock = Clock()
    limiter = make_limiter(LimitsSettings(requests_per_minute=0, tokens_per_minute=1_000), clock)
    assert limiter.check("alice", 3_000).allowed  # full bucket: let through
    refused = limiter.check("alice", 10)
    assert refused.retry_after_s == pytest.approx((2_000 + 10) * 60 / 1_000)
    clock.now += 120.0
    assert not limiter.check("alice", 3_000).allowed  # needs a full bucket again
    clock.now += 1.0
    assert limiter.check("alice", 10).allowed


def test_overrides_unlimited_and_disabled(make_limiter: LimiterFactory) -> None:
    settings = LimitsSettings(
        requests_per_minute=1,
        tokens_per_minute=0,
        users={"ci": UserLimits(requests_per_minute=0), "slow": UserLimits(tokens_per_minute=5)},
    )
    limiter = make_limiter(settings, Clock())
    assert all(limiter.check("ci", 10).allowed for _ in range(50))  # 0 = unlimited
    assert limiter.check("slow", 5).allowed
    assert not limiter.check("slow", 1).allowed  # both limits bind: 1 rpm and 5 tpm
    off = make_limiter(LimitsSettings(enabled=False, requests_per_minute=1), Clock())
    assert all(off.check("alice", 10).allowed for _ in range(5))


def test_database_buckets_are_shared_by_replicas(engine: Engine) -> None:
    clock = Clock()
    settings = LimitsSettings(requests_per_minute=4, tokens_per_minute=0)
    replica_a = DatabaseRateLimiter(engine, settings, clock)
    replica_b = DatabaseRateLimiter(engine, settings, clock)
    decisions = [limiter.check("alice", 1).allowed for limiter in (replica_a, replica_b) * 3]
    assert decisions == [True, True, True, True, False, False]


def test_database_limiter_is_exact_under_concurrency(engine: Engine) -> None:
    limiter = DatabaseRateLimiter(engine, LimitsSettings(requests_per_minute=50, tokens_per_minute=0), Clock())
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(20):
            decision = limiter.check("alice", 1)
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 50 and len(allowed) == 160


def test_take_is_pure_and_clamps_a_clock_going_backwards() -> None:
    decision, state = take(None, 100.0, 60, 600, 100)
    assert decision.allowed and state == BucketState(59.0, 500.0, 100.0)
    decision, again = take(state, 90.0, 60, 600, 100)  # clock stepped back: no refill, no crash
    assert decision.allowed and again.requests == 58.0


def test_in_process_limiter_forgets_idle_full_buckets() -> None:
    clock = Clock()
    limiter = InProcessRateLimiter(LimitsSettings(requests_per_minute=10), clock)
    for i in range(10_001):
        limiter.check(f"user{i}", 1)
    clock.now += 61
    limiter.check("late", 1)
    assert len(limiter._buckets) < 100


def test_builder_picks_the_configured_backend(engine: Engine) -> None:
    assert isinstance(build_rate_limiter(LimitsSettings()), InProcessRateLimiter)
    assert isinstance(build_rate_limiter(LimitsSettings(backend="database"), engine), DatabaseRateLimiter)
    with pytest.raises(ValueError, match="ledger database"):
        build_rate_limiter(LimitsSettings(backend="database"))
