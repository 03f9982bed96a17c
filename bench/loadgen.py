"""HTTP load generation for the benchmarks: open loop at a fixed rate, and closed loop for the ceiling.

Open loop (:func:`open_loop`): request *i* is due at ``start + i / rate``
whether or not earlier ones have answered, and its latency is measured from
that due time, so a server (or a client) that falls behind shows it in the
latency instead of silently lowering the rate (no coordinated omission). The
load is split over several processes (``workers``), each with its own event
loop and connection pool. At most a few hundred requests per process are in flight; later ones wait their
turn (their latency still counts from the due time) and are dropped, as
errors, once they have waited ``timeout_s``. Closed loop (:func:`closed_loop`): ``concurrency``
callers each send the next request as soon as the previous one answered; the
completed requests per second is the throughput ceiling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class LoadResult:
    """Latencies (seconds) of the answered requests, and how the run went."""

    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0
    duration_s: float = 0.0
    late_s: float = 0.0  # the most the generator itself fell behind its schedule
    first_error: str = ""

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.duration_s if self.duration_s else 0.0

    def merge(self, other: LoadResult) -> LoadResult:
        return LoadResult(
            self.latencies_s + other.latencies_s,
            self.errors + other.errors,
            self.sent + other.sent,
            max(self.duration_s, other.duration_s),
            max(self.late_s, other.late_s),
            self.first_error or other.first_error,
        )


def _client(connections: int, timeout_s: float) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, timeout=timeout_s)


async def _post(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, Any], result: LoadResult
) -> bool:
    try:
        response = await client.post(url, json=body, headers=headers)
        if response.status_code == 200:
            return True
        result.first_error = result.first_error or f"HTTP {response.status_code}: {response.text[:200]}"
    except httpx.HTTPError as exc:
        result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
    result.errors += 1
    return False


async def _open_loop(
    url: str, headers: dict[str, str], body: dict[str, Any], rate: float, duration_s: float, timeout_s: float
) -> LoadResult:
    result = LoadResult()
    count = max(1, int(rate * duration_s))
    loop = asyncio.get_running_loop()
    connections = min(512, max(32, int(rate)))
    # Requests beyond the open connections wait here, in FIFO order, not in httpx's pool (whose queue gets
    # slow when thousands wait); their latency still counts from their due time. One that has waited
    # ``timeout_s`` is dropped and counted as an error, so an overloaded server cannot stall the run.
    slots = asyncio.Semaphore(connections)
    async with _client(connections, timeout_s) as client:

        async def one(due: float) -> None:
            async with slots:
                if loop.time() - due > timeout_s:
                    result.errors += 1
                    result.first_error = result.first_error or f"dropped: not sent within {timeout_s:g} s"
                    return
                if await _post(client, url, headers, body, result):
                    result.latencies_s.append(loop.time() - due)

        tasks: list[asyncio.Task[None]] = []
        start = loop.time() + 0.05
        for i in range(count):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                result.late_s = max(result.late_s, -delay)
            tasks.append(asyncio.create_task(one(due)))
            result.sent += 1
        await asyncio.gather(*tasks)
        result.duration_s = loop.time() - start
    return result


async def _closed_loop(
    url: str, headers: dict[str, str], body: dict[str, Any], concurrency: int, duration_s: float, timeout_s: float
) -> LoadResult:
    result = LoadResult()
    async with _client(concurrency, timeout_s) as client:
        stop = time.perf_counter() + duration_s
        started = time.perf_counter()

        async def caller() -> None:
            while time.perf_counter() < stop:
                sent = time.perf_counter()
                result.sent += 1
                if await _post(client, url, headers, body, result):
                    result.latencies_s.append(time.perf_counter() - sent)

        await asyncio.gather(*(caller() for _ in range(concurrency)))
        result.duration_s = time.perf_counter() - started
    return result


_Loop = Callable[[str, dict[str, str], dict[str, Any], Any, float, float], Coroutine[Any, Any, LoadResult]]


def _worker(job: tuple[_Loop, tuple[str, dict[str, str], dict[str, Any], Any, float, float]]) -> LoadResult:
    loop, args = job
    return asyncio.run(loop(*args))


def _fan_out(
    loop: _Loop,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    per_worker: float,
    duration_s: float,
    workers: int,
    timeout_s: float,
) -> LoadResult:
    """``loop(url, headers, body, per_worker, duration_s, timeout_s)`` in each of ``workers`` processes, merged."""
    jobs = [(loop, (url, headers, body, per_worker, duration_s, timeout_s)) for _ in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(_worker, jobs))
    merged = LoadResult()
    for result in results:
        merged = merged.merge(result)
    return merged


def open_loop(
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    rate: float,
    duration_s: float,
    *,
    workers: int = 2,
    timeout_s: float = 10.0,
) -> LoadResult:
    """``rate`` requests/s for ``duration_s``, split over ``workers`` processes."""
    return _fan_out(_open_loop, url, headers, body, rate / workers, duration_s, workers, timeout_s)


def closed_loop(
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    concurrency: int,
    duration_s: float,
    *,
    workers: int = 2,
    timeout_s: float = 30.0,
) -> LoadResult:
    """``concurrency`` callers (split over ``workers`` processes) back to back for ``duration_s``."""
    return _fan_out(_closed_loop, url, headers, body, max(1, concurrency // workers), duration_s, workers, timeout_s)
