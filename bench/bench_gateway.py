"""Gateway overhead, throughput ceiling and memory over a soak, beside LiteLLM's proxy, on loopback.

Four paths get the same OpenAI chat request (non-streamed, 16 tokens):

- ``upstream``: a minimal OpenAI-compatible server that answers at once
  (:mod:`bench.instant_upstream`), called directly — the baseline;
- ``gateway (instant)``: ``hybrid-assist gateway serve`` with the instant
  engine in-process (``[local] backend = "instant"``, zero delay), via its
  ``/v1/chat/completions`` (auth, routing, usage control, ledger row);
- ``gateway -> upstream``: the gateway with ``[local] backend =
  "openai-compatible"`` pointing at the upstream (a proxy hop, like LiteLLM);
- ``litellm -> upstream``: LiteLLM's proxy (``litellm[proxy]``, installed into
  its own venv ``bench/.venv-litellm`` on first run) pointing at the upstream.

For each: the closed-loop ceiling (``--concurrency`` callers back to back,
the highest sustained requests/s), then an open-loop run at ``--rate``
(default 500 requests/s; latency is measured from each request's due time),
reported as p50/p95/p99 and the overhead over the upstream's; between runs the
server is left to work off its backlog. A rate above a path's ceiling shows
as dropped requests (errors) and queueing latency, not as overhead: run it
again with ``--rate`` under the lowest ceiling to compare overheads. Last, the gateway's resident memory while it serves
``--soak-rate`` for ``--soak-seconds`` (default 600). Every server is a
single process (the gateway's uvicorn, LiteLLM with one worker). Numbers from
a loaded or small machine are noisy: the load average is printed with them.

    python -m bench.bench_gateway [--rate 500] [--seconds 10] [--soak-seconds 600]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._common import percentile, rss_mb
from bench.loadgen import LoadResult, closed_loop, open_loop

ROOT = Path(__file__).resolve().parents[1]
LITELLM_VENV = ROOT / "bench" / ".venv-litellm"
MESSAGES = [{"role": "user", "content": "Complete: def add(a, b):"}]


@dataclass
class Target:
    name: str
    url: str  # the chat completions URL
    headers: dict[str, str]
    model: str
    pid: int

    def body(self) -> dict[str, Any]:
        return {"model": self.model, "messages": MESSAGES, "max_tokens": 16, "stream": False}


@dataclass
class Row:
    target: Target
    load: LoadResult
    ceiling: LoadResult

    def p(self, q: float) -> float:
        return percentile([s * 1000 for s in self.load.latencies_s], q)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HYBRID_ASSIST_", "LITELLM_"))}
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT), **extra)
    return env


def wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout_s} s:\n{log.read_text()[-3000:]}")


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def upstream(work: Path) -> Iterator[Target]:
    port = free_port()
    log = work / "upstream.log"
    command = [sys.executable, "-m", "bench.instant_upstream", "--port", str(port)]
    with process(command, clean_env(), log) as child:
        wait_http(f"http://127.0.0.1:{port}/health", child, 30, log)
        yield Target("upstream (direct)", f"http://127.0.0.1:{port}/v1/chat/completions", {}, "instant", child.pid)


#: ``--limits``: the gateway's ``[limits]`` section. ``database`` buckets are shared by every replica (one
#: locked read-modify-write per request); ``memory`` buckets are per replica and cost no database round trip.
LIMITS = {
    "off": "[limits]\nenabled = false",
    "memory": '[limits]\nbackend = "memory"\nrequests_per_minute = 100000000\ntokens_per_minute = 0',
    "database": '[limits]\nbackend = "database"\nrequests_per_minute = 100000000\ntokens_per_minute = 0',
}
_limits = LIMITS["off"]


def gateway_config(directory: Path, local: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    config.write_text(
        f"""
data_dir = "{directory / "data"}"

{local}

{_limits}

[providers.openai]
enabled = false
[providers.anthropic]
enabled = false
[providers.gemini]
enabled = false
""",
        encoding="utf-8",
    )
    return config


@contextmanager
def gateway(work: Path, name: str, label: str, local: str) -> Iterator[Target]:
    directory = work / name
    env = clean_env(HYBRID_ASSIST_CONFIG=str(gateway_config(directory, local)))
    cli = [sys.executable, "-m", "hybrid_assist.cli"]
    added = subprocess.run(
        [*cli, "gateway", "users", "add", "bench"], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    key = added.stdout.strip().splitlines()[-1]
    port = free_port()
    log = directory / "gateway.log"
    command = [*cli, "--log-level", "warning", "gateway", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with process(command, env, log) as child:
        wait_http(f"http://127.0.0.1:{port}/readyz", child, 120, log)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        yield Target(label, url, {"Authorization": f"Bearer {key}"}, "auto", child.pid)


def ensure_litellm() -> Path:
    """The pinned LiteLLM proxy's executable, made or reused by ``scripts/litellm-venv.sh`` (the tests' venv)."""
    binary = LITELLM_VENV / "bin" / "litellm"
    if not binary.exists():
        print(f"installing the pinned litellm[proxy] into {LITELLM_VENV} ...", file=sys.stderr, flush=True)
        subprocess.run(["bash", str(ROOT / "scripts" / "litellm-venv.sh")], cwd=ROOT, check=True)
    return binary


@contextmanager
def litellm(work: Path, upstream_url: str) -> Iterator[Target]:
    binary = ensure_litellm()
    base = upstream_url.rsplit("/chat/completions", 1)[0]
    master_key = "sk-bench-" + secrets.token_hex(16)  # LiteLLM refuses to start without one
    config = work / "litellm.yaml"
    config.write_text(
        f"""model_list:
  - model_name: instant
    litellm_params:
      model: openai/instant
      api_base: {base}
      api_key: none
litellm_settings:
  telemetry: false
  drop_params: true
general_settings:
  master_key: {master_key}
""",
        encoding="utf-8",
    )
    port = free_port()
    log = work / "litellm.log"
    env = clean_env(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", DISABLE_SCHEMA_UPDATE="True")
    env.pop("PYTHONPATH")
    command = [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    with process(command, env, log) as child:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness", child, 180, log)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        headers = {"Authorization": f"Bearer {master_key}"}
        yield Target("litellm -> upstream", url, headers, "instant", child.pid)


def version_of_litellm() -> str:
    python = LITELLM_VENV / "bin" / "python"
    script = "import importlib.metadata as m; print(m.version('litellm'))"
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def measure(target: Target, args: argparse.Namespace) -> Row:
    body = target.body()
    with httpx.Client(timeout=60) as client:  # the first requests may be slow (lazy initialisation)
        for _ in range(20):
            response = client.post(target.url, json=body, headers=target.headers)
            if response.status_code != 200:
                raise SystemExit(f"{target.name}: HTTP {response.status_code}: {response.text[:500]}")
    # The ceiling first: an overloaded open loop leaves a backlog that the server works off afterwards.
    print(f"  {target.name}: closed loop, {args.concurrency} callers ...", file=sys.stderr, flush=True)
    ceiling = closed_loop(target.url, target.headers, body, args.concurrency, args.seconds, workers=args.workers)
    wait_idle(target.pid)
    print(f"  {target.name}: open loop at {args.rate:g}/s for {args.seconds:g} s ...", file=sys.stderr, flush=True)
    load = open_loop(target.url, target.headers, body, args.rate, args.seconds, workers=args.workers)
    wait_idle(target.pid)
    return Row(target, load, ceiling)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout_s: float = 120.0) -> None:
    """Wait until ``pid`` uses under 10 % of a CPU (it has worked off the requests of a finished run)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.1:
            return
    print(f"  (process {pid} still busy after {timeout_s:g} s)", file=sys.stderr)


def soak(target: Target, args: argparse.Namespace) -> list[tuple[float, float]]:
    """``(seconds, RSS MB)`` samples of ``target``'s process while it serves ``--soak-rate``."""
    import threading

    samples: list[tuple[float, float]] = [(0.0, rss_mb(target.pid))]
    done = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not done.wait(args.soak_sample_s):
            samples.append((time.monotonic() - started, rss_mb(target.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    body = target.body()
    result = open_loop(target.url, target.headers, body, args.soak_rate, args.soak_seconds, workers=args.workers)
    done.set()
    sampler.join()
    samples.append((time.monotonic() - started, rss_mb(target.pid)))
    print(f"  soak: {len(result.latencies_s)} answered, {result.errors} errors", file=sys.stderr)
    return samples


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    base = rows[0]
    print(
        f"\nopen loop at {args.rate:g} requests/s for {args.seconds:g} s ({args.workers} generator processes); "
        f"+p50/+p95: over the upstream's; ceiling: closed loop, {args.concurrency} callers"
    )
    header = (
        f"{'path':24} {'sent':>6} {'err':>5} {'achieved/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'+p50 ms':>8} {'+p95 ms':>8} {'ceiling/s':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        over50 = row.p(50) - base.p(50)
        over95 = row.p(95) - base.p(95)
        print(
            f"{row.target.name:24} {row.load.sent:>6} {row.load.errors:>5} {row.load.throughput:>10.0f}"
            f" {row.p(50):>8.2f} {row.p(95):>8.2f} {row.p(99):>8.2f}"
            f" {over50 if row is not base else 0:>8.2f} {over95 if row is not base else 0:>8.2f}"
            f" {row.ceiling.throughput:>9.0f}"
        )
        if row.load.errors:
            print(f"    first error: {row.load.first_error}")
        if row.load.late_s > 0.05:
            print(f"    the generator fell up to {row.load.late_s * 1000:.0f} ms behind its schedule")
    by_name = {r.target.name: r for r in rows}
    proxy, other = by_name.get("gateway -> upstream"), by_name.get("litellm -> upstream")
    if proxy is not None and other is not None:
        gp50, lp50 = proxy.p(50) - base.p(50), other.p(50) - base.p(50)
        gp95, lp95 = proxy.p(95) - base.p(95), other.p(95) - base.p(95)
        gmax, lmax = proxy.ceiling.throughput, other.ceiling.throughput
        print(
            f"\nproxy overhead over the same upstream, litellm / gateway: p50 {lp50:.2f} / {gp50:.2f} ms "
            f"(x{_ratio(lp50, gp50)}), p95 {lp95:.2f} / {gp95:.2f} ms (x{_ratio(lp95, gp95)}); "
            f"ceiling litellm / gateway {lmax:.0f} / {gmax:.0f} requests/s (x{_ratio(lmax, gmax)})"
        )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a"


def print_soak(samples: list[tuple[float, float]]) -> None:
    start, end = samples[0][1], samples[-1][1]
    peak = max(m for _, m in samples)
    shown = samples[:: max(1, len(samples) // 12)]
    print("RSS MB at " + ", ".join(f"{t:.0f}s={m:.0f}" for t, m in shown))
    print(f"RSS start {start:.0f} MB, end {end:.0f} MB, peak {peak:.0f} MB, growth {end - start:+.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500.0, help="Open-loop requests per second.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Length of each open and closed loop run.")
    parser.add_argument("--concurrency", type=int, default=64, help="Callers of the closed-loop ceiling run.")
    parser.add_argument("--workers", type=int, default=2, help="Load generator processes.")
    parser.add_argument("--soak-seconds", type=float, default=600.0, help="Memory soak length (0: skip).")
    parser.add_argument("--soak-rate", type=float, default=200.0, help="Requests per second during the soak.")
    parser.add_argument("--soak-sample-s", type=float, default=10.0, help="Seconds between RSS samples.")
    parser.add_argument("--no-litellm", action="store_true", help="Skip LiteLLM's proxy.")
    parser.add_argument(
        "--limits",
        choices=sorted(LIMITS),
        default="off",
        help="The gateway's rate limiter: off, per-replica memory buckets, or database buckets shared by replicas "
        "(limits high enough never to refuse; this measures their cost).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="A short run: 3 s loops, no soak, no LiteLLM, no proxy path (about 30 s in all).",
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.soak_seconds, args.no_litellm = min(args.seconds, 3.0), 0.0, True
    global _limits
    _limits = LIMITS[args.limits]

    print(f"machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}", flush=True)
    print(f"gateway rate limiter: [limits] {args.limits}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        up = stack.enter_context(upstream(work))
        instant = stack.enter_context(
            gateway(work, "gw-instant", "gateway (instant)", '[local]\nbackend = "instant"\ninstant_reply = "a + b"')
        )
        local = (
            f'[local]\nbackend = "openai-compatible"\nmodel = "instant"\nbase_url = "{up.url.rsplit("/chat", 1)[0]}"'
        )
        targets = [up, instant]
        if not args.quick:
            targets.append(stack.enter_context(gateway(work, "gw-proxy", "gateway -> upstream", local)))
        if not args.no_litellm:
            targets.append(stack.enter_context(litellm(work, up.url)))
        rows = []
        for target in targets:
            rows.append(measure(target, args))
            print(f"  load average {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
        print_table(rows, args)
        memory = [f"{t.name} {rss_mb(t.pid):.0f} MB" for t in targets[1:]]
        print("resident memory after the runs: " + ", ".join(memory))
        if not args.no_litellm:
            print(f"litellm {version_of_litellm()} (1 worker); the gateway is 1 uvicorn process")
        print(f"load average now {os.getloadavg()[0]:.2f}")
        if args.soak_seconds > 0:
            print(f"\nsoak: gateway (instant) at {args.soak_rate:g} requests/s for {args.soak_seconds:g} s", flush=True)
            print_soak(soak(instant, args))
            print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
