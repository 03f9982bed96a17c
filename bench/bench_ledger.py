"""Ledger write throughput: requests recorded per second on SQLite (WAL), and what the hot path pays.

Four ways of writing the same rows are timed end to end (from the first
call until every row is committed):

- ``arecord``: an asyncio loop awaits :meth:`Ledger.arecord` per request, as
  the request pipeline does; the writer thread commits batches. Also
  reports how long each ``arecord`` call holds the event loop.
- ``submit`` from 4 threads: several producers at once.
- ``record_many``: synchronous batches of 500.
- ``record``: one synchronous transaction per row (the slow way, for scale).

Target on a 2-core machine: >= 2,000 recorded requests/s through the writer
thread. ``--url`` runs against another database (e.g. PostgreSQL).

    python bench/bench_ledger.py [--rows 50000] [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import percentile
from routing.usage.ledger import Ledger, LedgerEntry, prompt_digest

NOW = datetime.now(UTC)


def make_entry(prefix: str, i: int) -> LedgerEntry:
    return LedgerEntry(
        request_id=f"{prefix}-{i:09d}",
        user=f"dev{i % 100:03d}",
        team=f"team{i % 8}",
        task="inline_completion" if i % 20 else "explain",
        target="local" if i % 20 else "anthropic",
        model="Qwen/Qwen2.5-Coder-1.5B" if i % 20 else "claude-sonnet-4-5",
        scope_level="single_file",
        input_tokens=1469 + i % 500,
        cached_tokens=1024,
        output_tokens=13 + i % 50,
        cost_usd=0.0 if i % 20 else 0.0105,
        latency_ms=180.0 + i % 100,
        ttft_ms=90.0 + i % 50,
        outcome="ok",
        fallback_chain=("local",) if i % 20 else ("anthropic",),
        prompt_sha256=prompt_digest(f"prompt {i}"),
        time=NOW,
    )


def timed(label: str, rows: int, run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    rate = rows / elapsed
    print(f"{label:<34} {rows:>7} rows in {elapsed:6.2f} s = {rate:>9,.0f} rows/s")
    return rate


def bench_arecord(ledger: Ledger, rows: int) -> float:
    hold_us: list[float] = []

    async def produce() -> None:
        for i in range(rows):
            entry = make_entry("async", i)
            started = time.perf_counter()
            await ledger.arecord(entry)
            hold_us.append((time.perf_counter() - started) * 1e6)
            if i % 256 == 0:
                await asyncio.sleep(0)  # let other "requests" run, as a server would

    def run() -> None:
        asyncio.run(produce())
        assert ledger.flush(timeout_s=600), "writer did not catch up"

    rate = timed("arecord (asyncio, writer thread)", rows, run)
    print(
        f"{'':<34} event loop held per arecord: p50 {percentile(hold_us, 50):.1f} us, "
        f"p99 {percentile(hold_us, 99):.1f} us, max {max(hold_us):.0f} us"
    )
    return rate


def bench_threads(ledger: Ledger, rows: int, producers: int = 4) -> float:
    def run() -> None:
        def produce(worker: int) -> None:
            for i in range(worker, rows, producers):
                ledger.submit(make_entry("thread", i))

        threads = [threading.Thread(target=produce, args=(w,)) for w in range(producers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert ledger.flush(timeout_s=600)

    return timed(f"submit ({producers} threads, writer thread)", rows, run)


def bench_record_many(ledger: Ledger, rows: int, batch: int = 500) -> float:
    def run() -> None:
        for start in range(0, rows, batch):
            ledger.record_many(make_entry("many", i) for i in range(start, min(rows, start + batch)))

    return timed(f"record_many (batches of {batch})", rows, run)


def bench_record(ledger: Ledger, rows: int) -> float:
    def run() -> None:
        for i in range(rows):
            ledger.record(make_entry("single", i))

    return timed("record (one transaction per row)", rows, run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--url", default="", help="Database URL (default: a SQLite file in a temporary directory).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite3"
        url = args.url or f"sqlite:///{path}"
        print(f"ledger: {url.split('@')[-1]}  cores: {os.cpu_count()}  python: {sys.version.split()[0]}")
        ledger = Ledger.open(url)
        try:
            rate = bench_arecord(ledger, args.rows)
            bench_threads(ledger, args.rows)
            bench_record_many(ledger, args.rows)
            bench_record(ledger, min(args.rows, 3_000))
            total = ledger.count()
        finally:
            ledger.close()
        if not args.url:
            size = sum(p.stat().st_size for p in Path(tmp).glob("ledger.sqlite3*"))
            print(f"database: {total} rows, {size / 1e6:.1f} MB with indexes and WAL = {size / total:.0f} bytes/row")
    verdict = "meets" if rate >= 2_000 else "MISSES"
    print(f"writer-thread throughput {rate:,.0f} rows/s {verdict} the 2,000 rows/s target")


if __name__ == "__main__":
    main()
