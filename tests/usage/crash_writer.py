"""Child process of the kill -9 test: records ledger rows in a loop and reports each committed batch.

``python -m tests.usage.crash_writer URL START`` writes rows whose every
field is derived from their number (so a torn row is detectable), alternately
through ``record_many`` (synchronous) and the background writer
(``submit`` + ``flush``), and prints ``committed FIRST LAST`` after each batch
is durable. It runs until it is killed.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta

from routing.usage.ledger import Ledger, LedgerEntry

BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)


def expected(number: int) -> LedgerEntry:
    prompt = f"prompt {number} " * (20 + number % 200)  # 0.2-2.5 KB: rows span pages
    return LedgerEntry(
        request_id=f"req-{number:08d}",
        user=f"user{number % 7}",
        team=f"team{number % 3}",
        task="completion",
        target="local",
        model="qwen",
        scope_level="single_file",
        input_tokens=number,
        cached_tokens=number // 2,
        output_tokens=number % 64,
        cost_usd=number / 1_000_000,
        latency_ms=float(number % 1000),
        ttft_ms=float(number % 100),
        outcome="ok",
        fallback_chain=tuple(f"hop{i}" for i in range(number % 5)),
        prompt_sha256=hashlib.sha256(prompt.encode()).hexdigest(),
        prompt=prompt,
        time=BASE_TIME + timedelta(milliseconds=number),
    )


def main() -> None:
    url, number = sys.argv[1], int(sys.argv[2])
    ledger = Ledger.open(url, store_prompts=True, flush_interval_s=0.001, batch_size=50)
    batch = 0
    while True:
        entries = [expected(number + i) for i in range(1 + batch % 40)]
        if batch % 2:
            ledger.record_many(entries)
        else:
            for item in entries:
                ledger.submit(item)
            ledger.flush()
        print(f"committed {number} {number + len(entries) - 1}", flush=True)
        number += len(entries)
        batch += 1


if __name__ == "__main__":
    main()
