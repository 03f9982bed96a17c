"""Gateway overhead at a fixed request rate, with a compiled load generator (``hey``).

``bench/bench_gateway.py`` drives the load from Python; on a 2-core machine
that generator, the upstream and the gateway compete for the same cores and
nothing reaches 500 requests/s. This variant uses ``hey`` (Go; Debian package
``hey``: ``apt-get install hey``) with ``-q`` rate-limited workers, so the
generator costs little CPU. It measures the direct instant upstream and the
gateway with its in-process instant engine at the same rate, and prints
p50/p95/p99 and the gateway's overhead over the upstream.

    python -m bench.bench_gateway_rate [--rate 500] [--seconds 10] [--workers 5]

``hey`` spaces each worker's requests at ``rate / workers`` per second, so
a slow answer delays that worker's next request (closed loop per worker):
at a rate the server cannot sustain, the achieved rate falls below the
target, which is printed beside it. Its workers tick in step, so the load
arrives in bursts of ``--workers`` requests: with 50 workers at 100/s a burst
of 50 queues behind one core and p50 reads ~50 ms at any rate. Few workers
(the default 5) give an even load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.bench_gateway import MESSAGES, Target, gateway, upstream

LINE = re.compile(r"^\s+(\d+)% in ([0-9.]+) secs", re.MULTILINE)
RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")


def run_hey(target: Target, rate: int, seconds: int, workers: int) -> dict[str, float]:
    body = json.dumps({"model": target.model, "messages": MESSAGES, "max_tokens": 16, "stream": False})
    command = ["hey", "-z", f"{seconds}s", "-c", str(workers), "-q", f"{rate / workers:.3f}", "-m", "POST"]
    command += ["-T", "application/json", "-d", body]
    for name, value in target.headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, target.url], capture_output=True, text=True, check=True).stdout
    percentiles = {int(p): float(s) * 1000 for p, s in LINE.findall(out)}
    status = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    ok = sum(int(n) for code, n in status if code == "200")
    total = sum(int(n) for _, n in status)
    achieved = float(RPS.search(out).group(1)) if RPS.search(out) else 0.0
    return {
        "p50": percentiles[50],
        "p95": percentiles[95],
        "p99": percentiles[99],
        "rps": achieved,
        "ok": ok,
        "errors": total - ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=500, help="Target requests per second.")
    parser.add_argument("--seconds", type=int, default=10, help="Length of each run.")
    parser.add_argument("--workers", type=int, default=5, help="hey workers (-c); they fire in bursts.")
    args = parser.parse_args()
    if shutil.which("hey") is None:
        raise SystemExit("hey is not installed: apt-get install hey (or go install github.com/rakyll/hey@latest)")
    print(f"machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}")
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-gw-rate-") as tmp:
        work = Path(tmp)
        with upstream(work) as direct:
            run_hey(direct, 50, 2, 10)  # warm-up
            rows.append((direct.name, run_hey(direct, args.rate, args.seconds, args.workers)))
        with gateway(work, "gw", "gateway (instant)", '[local]\nbackend = "instant"\ninstant_token_delay_ms = 0') as gw:
            run_hey(gw, 50, 2, 10)  # warm-up
            rows.append((gw.name, run_hey(gw, args.rate, args.seconds, args.workers)))
    base = rows[0][1]
    print(f"\nhey, target {args.rate} requests/s for {args.seconds} s, {args.workers} workers")
    print(
        f"{'path':<20} {'achieved/s':>10} {'ok':>7} {'err':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'+p50 ms':>8} {'+p95 ms':>8}"
    )
    for name, row in rows:
        print(
            f"{name:<20} {row['rps']:>10.1f} {row['ok']:>7.0f} {row['errors']:>5.0f} {row['p50']:>8.2f} "
            f"{row['p95']:>8.2f} {row['p99']:>8.2f} {row['p50'] - base['p50']:>8.2f} {row['p95'] - base['p95']:>8.2f}"
        )
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
