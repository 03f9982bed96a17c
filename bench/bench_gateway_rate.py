"""Gateway overhead at a fixed request rate (500/s by default), and the highest rate it sustains.

It measures the instant upstream directly (the floor: an HTTP server that
answers at once) and then the gateway with its in-process instant engine, at
the same rate, several runs each, and prints every run, the medians and the
gateway's overhead (median minus the upstream's median).

The load comes from :mod:`bench.openloop` by default: requests leave on a
fixed schedule (one every 2 ms at 500/s) on raw keep-alive connections,
whatever the server does, and the generator costs little CPU, which matters
on a 2-core machine. ``--generator hey`` uses ``hey`` instead (Go; Debian
package ``hey``): its ``-q`` workers are closed loops that tick in step, so
its load arrives in bursts of one request per worker and each burst queues
behind one core. That measures burst tolerance, not the overhead at an even
rate, and reads several milliseconds higher (see the README).

``--ceiling`` then raises the rate by ``--step`` until the gateway no longer
keeps up (fewer answers than requests, an error, or a p95 over 50 ms).
``--compare`` then measures the gateway as a proxy (``[local] backend =
"openai-compatible"`` in front of the same upstream) at ``--rate``, the same
runs as above, with its overhead over the direct upstream against the target
(p50 <= 1 ms, p95 <= 3 ms); then it puts that proxy and LiteLLM's proxy in
front of the upstream at ``--compare-rate`` (one LiteLLM worker sustains
~35/s here), prints their overheads and the ratio, and tries LiteLLM once at
``--rate``.

Each run also reports the CPU the measured server process used per answered
request (``cpu ms``): on a shared machine latencies move with the neighbours'
load, CPU per request much less.

``--proxy-only`` measures just the upstream and the gateway as a proxy at
``--rate`` (the target's line, without the in-process gateway and LiteLLM).

    python -m bench.bench_gateway_rate [--rate 500] [--seconds 10] [--repeats 3] [--ceiling] [--compare]
    python -m bench.bench_gateway_rate --proxy-only     # issue 21.6's line alone
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench._common import rss_mb
from bench.bench_gateway import (
    LITELLM_VENV,
    MESSAGES,
    Target,
    cpu_seconds,
    gateway,
    litellm,
    upstream,
    version_of_litellm,
)
from bench.openloop import drive

LINE = re.compile(r"^\s+(\d+)% in ([0-9.]+) secs", re.MULTILINE)
RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
INSTANT = '[local]\nbackend = "instant"\ninstant_token_delay_ms = 0'
#: A rate counts as sustained when it was achieved (97 %), without errors, and p95 stayed under this.
SUSTAINED_P95_MS = 50.0
#: The target for the gateway's overhead over the direct upstream at ``--rate`` (issue 21): p50, p95 in ms.
OVERHEAD_TARGET_MS = {"p50": 1.0, "p95": 3.0}
KEYS = ("p50", "p95", "p99", "rps", "ok", "errors", "cpu_ms")

Run = dict[str, float]


def _body(target: Target) -> str:
    return json.dumps({"model": target.model, "messages": MESSAGES, "max_tokens": 16, "stream": False})


def run_open_loop(target: Target, rate: int, seconds: float, connections: int) -> Run:
    result = drive(
        target.url, _body(target).encode(), target.headers, rate=rate, seconds=seconds, connections=connections
    )
    return result.summary()


def run_hey(target: Target, rate: int, seconds: float, workers: int) -> Run:
    command = ["hey", "-z", f"{seconds:g}s", "-c", str(workers), "-q", f"{rate / workers:.3f}", "-m", "POST"]
    command += ["-T", "application/json", "-d", _body(target)]
    for name, value in target.headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, target.url], capture_output=True, text=True, check=True).stdout
    percentiles = {int(p): float(s) * 1000 for p, s in LINE.findall(out)}
    status = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    ok = sum(int(n) for code, n in status if code == "200")
    total = sum(int(n) for _, n in status)
    achieved = float(match.group(1)) if (match := RPS.search(out)) else 0.0
    return {
        "p50": percentiles[50],
        "p95": percentiles[95],
        "p99": percentiles[99],
        "rps": achieved,
        "ok": ok,
        "errors": total - ok,
    }


def sustained(run: Run, rate: int) -> bool:
    return run["errors"] == 0 and run["rps"] >= 0.97 * rate and run["p95"] < SUSTAINED_P95_MS


Load = Callable[[Target, int, float], Run]


def with_cpu(load: Load, target: Target, rate: int, seconds: float) -> Run:
    """One run, with the CPU time the target process used per answered request (ms)."""
    before = cpu_seconds(target.pid)
    run = load(target, rate, seconds)
    run["cpu_ms"] = (cpu_seconds(target.pid) - before) * 1000.0 / max(run["ok"], 1.0)
    return run


def measure(load: Load, target: Target, rate: int, seconds: float, repeats: int) -> list[Run]:
    load(target, min(rate, 100), 2)  # warm-up: connections, caches, the engine's first request
    return [with_cpu(load, target, rate, seconds) for _ in range(repeats)]


def median_run(runs: list[Run]) -> Run:
    return {key: statistics.median(run[key] for run in runs) for key in KEYS}


def print_rows(rate: int, rows: list[tuple[str, list[Run]]]) -> None:
    base = median_run(rows[0][1])
    print(f"\ntarget {rate} requests/s")
    print(
        f"{'path':<22} {'run':>6} {'achieved/s':>10} {'ok':>6} {'err':>4} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'cpu ms':>7}"
    )
    for name, runs in rows:
        for i, run in enumerate(runs, 1):
            print(
                f"{name:<22} {i:>6} {run['rps']:>10.1f} {run['ok']:>6.0f} {run['errors']:>4.0f} "
                f"{run['p50']:>7.2f} {run['p95']:>7.2f} {run['p99']:>7.2f} {run['cpu_ms']:>7.3f}"
            )
        m = median_run(runs)
        print(
            f"{name:<22} {'median':>6} {m['rps']:>10.1f} {m['ok']:>6.0f} {m['errors']:>4.0f} "
            f"{m['p50']:>7.2f} {m['p95']:>7.2f} {m['p99']:>7.2f} {m['cpu_ms']:>7.3f}"
        )
    for name, runs in rows[1:]:
        m = median_run(runs)
        print(
            f"{name} overhead (median - {rows[0][0]} median): p50 +{m['p50'] - base['p50']:.2f} ms, "
            f"p95 +{m['p95'] - base['p95']:.2f} ms, p99 +{m['p99'] - base['p99']:.2f} ms"
        )


def compare(load: Load, work: Path, direct: Target, direct_runs: list[Run], args: argparse.Namespace) -> None:
    """The gateway as a proxy at ``--rate`` against the target; then beside LiteLLM's proxy, at a rate both sustain."""
    base = direct.url.rsplit("/chat", 1)[0]
    proxied = f'[local]\nbackend = "openai-compatible"\nmodel = "instant"\nbase_url = "{base}"'
    with gateway(work, "gw-proxy", "gateway -> upstream", proxied) as proxy:
        proxy_runs = measure(load, proxy, args.rate, args.seconds, args.repeats)
        print_rows(args.rate, [(direct.name, direct_runs), (proxy.name, proxy_runs)])
        print_proxy_verdict(direct_runs, proxy_runs, args.rate)
        if args.proxy_only:
            return
        with litellm(work, direct.url) as other:
            compare_litellm(load, direct, proxy, other, args)


def print_proxy_verdict(direct_runs: list[Run], proxy_runs: list[Run], rate: int) -> None:
    """Whether the proxy kept up in every run, and its median overhead against :data:`OVERHEAD_TARGET_MS`."""
    up, gw = median_run(direct_runs), median_run(proxy_runs)
    behind = sum(not sustained(run, rate) for run in proxy_runs)
    met = behind == 0 and all(gw[q] - up[q] <= limit for q, limit in OVERHEAD_TARGET_MS.items())
    runs = "kept up in every run" if behind == 0 else f"fell behind in {behind} of {len(proxy_runs)} runs"
    print(
        f"gateway as a proxy at {rate}/s: {runs}; "
        f"overhead p50 +{gw['p50'] - up['p50']:.2f} ms (target <= {OVERHEAD_TARGET_MS['p50']:g}), "
        f"p95 +{gw['p95'] - up['p95']:.2f} ms (target <= {OVERHEAD_TARGET_MS['p95']:g}): "
        f"{'met' if met else 'NOT met'}; gateway CPU {gw['cpu_ms']:.3f} ms per request"
    )


def compare_litellm(load: Load, direct: Target, proxy: Target, other: Target, args: argparse.Namespace) -> None:
    """Both proxies at ``--compare-rate``; LiteLLM once at ``--rate``."""
    targets = (direct, proxy, other)
    rows = [(t.name, measure(load, t, args.compare_rate, args.seconds, args.repeats)) for t in targets]
    print_rows(args.compare_rate, rows)
    up, gw, lite = (median_run(runs) for _, runs in rows)
    for q in ("p50", "p95"):
        extra_lite, extra_gw = lite[q] - up[q], gw[q] - up[q]
        ratio = extra_lite / max(extra_gw, 1e-9)
        print(f"proxy overhead at {q}, litellm / gateway: {extra_lite:.2f} / {extra_gw:.2f} ms (x{ratio:.1f})")
    print(f"resident memory: gateway -> upstream {rss_mb(proxy.pid):.0f} MB, litellm {rss_mb(other.pid):.0f} MB")
    print(f"litellm {version_of_litellm()} (1 worker), in {LITELLM_VENV}")
    run = load(other, args.rate, args.seconds)
    verdict = "kept up" if sustained(run, args.rate) else "fell behind"
    print(
        f"{other.name} at {args.rate}/s: achieved {run['rps']:.1f}/s, p50 {run['p50']:.2f} ms, "
        f"p95 {run['p95']:.2f} ms, errors {run['errors']:.0f}: {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=500, help="Target requests per second.")
    parser.add_argument("--seconds", type=float, default=10, help="Length of each run.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per path (the machine is shared: medians).")
    parser.add_argument("--generator", choices=("openloop", "hey"), default="openloop")
    parser.add_argument("--connections", type=int, default=8, help="openloop: keep-alive connections at start.")
    parser.add_argument("--workers", type=int, default=5, help="hey: workers (-c); they fire in bursts.")
    parser.add_argument("--ceiling", action="store_true", help="Then raise the rate until the gateway falls behind.")
    parser.add_argument("--step", type=int, default=100, help="--ceiling: rate increment.")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="Then the gateway as a proxy and LiteLLM's proxy in front of the same upstream "
        "(LiteLLM is installed into bench/.venv-litellm on first use).",
    )
    parser.add_argument("--compare-rate", type=int, default=30, help="--compare: a rate LiteLLM sustains.")
    parser.add_argument(
        "--proxy-only",
        action="store_true",
        help="Only the upstream and the gateway as a proxy at --rate (no in-process gateway, no LiteLLM): a "
        "shorter run, for a shared machine's quiet minutes.",
    )
    args = parser.parse_args()
    if args.generator == "hey":
        if shutil.which("hey") is None:
            raise SystemExit("hey is not installed: apt-get install hey (or use the default --generator openloop)")

        def load(target: Target, rate: int, seconds: float) -> Run:
            return run_hey(target, rate, seconds, args.workers)
    else:

        def load(target: Target, rate: int, seconds: float) -> Run:
            return run_open_loop(target, rate, seconds, args.connections)

    print(f"machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}; generator {args.generator}")
    with tempfile.TemporaryDirectory(prefix="bench-gw-rate-") as tmp, upstream(Path(tmp)) as direct:
        work = Path(tmp)
        direct_runs = measure(load, direct, args.rate, args.seconds, args.repeats)
        if args.proxy_only:
            compare(load, work, direct, direct_runs, args)
            print(f"load average now {os.getloadavg()[0]:.2f}")
            return
        with gateway(work, "gw", "gateway (instant)", INSTANT) as gw:
            gateway_runs = measure(load, gw, args.rate, args.seconds, args.repeats)
            print_rows(args.rate, [(direct.name, direct_runs), (gw.name, gateway_runs)])
            if args.ceiling:
                best, rate = 0, args.rate
                while True:
                    run = load(gw, rate, args.seconds)
                    kept_up = sustained(run, rate)
                    verdict = "kept up" if kept_up else "fell behind"
                    print(
                        f"ceiling: {rate}/s -> achieved {run['rps']:.1f}/s, p50 {run['p50']:.2f} ms, "
                        f"p95 {run['p95']:.2f} ms, errors {run['errors']:.0f}: {verdict}"
                    )
                    if not kept_up:
                        break
                    best, rate = rate, rate + args.step
                print(f"highest sustained rate: {best} requests/s (p95 < {SUSTAINED_P95_MS:.0f} ms, no errors)")
        if args.compare:
            compare(load, work, direct, direct_runs, args)
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
