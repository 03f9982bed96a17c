"""kill -9 in the middle of writing: every row reported committed is there, intact; the database is sound."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from routing.usage.ledger import Ledger
from tests.usage.crash_writer import expected

ROOT = Path(__file__).resolve().parents[2]


def _run_and_kill(url: str, start: int, rows_before_kill: int, rng: random.Random) -> list[tuple[int, int]]:
    """Start a writer, let it commit at least ``rows_before_kill`` rows, SIGKILL it mid-write."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.usage.crash_writer", url, str(start)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    committed: list[tuple[int, int]] = []
    deadline = time.monotonic() + 120
    try:
        while sum(last - first + 1 for first, last in committed) < rows_before_kill:
            line = child.stdout.readline()
            assert line, f"writer died: {child.stderr.read() if child.stderr else ''}"
            _, first, last = line.split()
            committed.append((int(first), int(last)))
            assert time.monotonic() < deadline, "writer too slow"
        time.sleep(rng.uniform(0, 0.02))  # land the kill anywhere in the next transactions
        child.send_signal(signal.SIGKILL)
        # batches the child reported before dying are committed too
        for line in child.stdout:
            _, first, last = line.split()
            committed.append((int(first), int(last)))
    finally:
        child.kill()
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    return committed


def test_rows_survive_kill_9_mid_write(sqlite_url: str) -> None:
    rng = random.Random(7)
    reported: list[tuple[int, int]] = []
    start = 0
    for _round in range(3):  # kill, reopen (recovery), write on, kill again
        batches = _run_and_kill(sqlite_url, start, rows_before_kill=rng.randint(300, 900), rng=rng)
        reported += batches
        start = batches[-1][1] + 1_000  # numbers the killed child may have half-written are skipped

    ledger = Ledger.open(sqlite_url)
    try:
        with ledger.engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        stored = {e.request_id: e for e in ledger.entries()}
    finally:
        ledger.close()

    numbers = [n for first, last in reported for n in range(first, last + 1)]
    assert len(numbers) >= 900
    missing = [n for n in numbers if f"req-{n:08d}" not in stored]
    assert not missing, f"{len(missing)} committed rows lost, e.g. {missing[:5]}"
    for request_id, entry in stored.items():  # reported or in flight at the kill: never torn
        assert entry == expected(int(request_id.removeprefix("req-"))), f"row {request_id} is damaged"
