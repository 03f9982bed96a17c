"""Routing decision latency with the scope already measured (target p50 <= 100 µs on 2 cores).

Calls the real ``routing.policy.decide`` with the default policy table and
providers over a mix of task kinds, scope levels, context sizes, sensitivity,
load and budget.

    python bench/bench_routing.py [--decisions 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import percentile
from inference.settings import default_providers
from routing.policy import LocalState, RouteInput, decide
from routing.settings import RoutingSettings
from routing.tasks import TaskKind


def inputs(count: int, seed: int = 7) -> list[RouteInput]:
    rng = random.Random(seed)
    tasks = list(TaskKind)
    levels = ["single_file", "single_file", "multi_file", "repository"]
    result = []
    for _ in range(count):
        result.append(
            RouteInput(
                task=rng.choice(tasks),
                scope_level=rng.choice(levels),
                context_tokens=int(rng.lognormvariate(7.3, 0.8)),
                sensitive=rng.random() < 0.05,
                local=LocalState(
                    model="qwen", queued=rng.choice([0, 0, 0, 3, 40]), recent_ttft_ms=rng.uniform(50, 600)
                ),
                missing_keys=frozenset({"gemini"}) if rng.random() < 0.2 else frozenset(),
                budget_remaining_usd=rng.choice([None, None, 5.0, 0.0]),
            )
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=100_000)
    args = parser.parse_args()
    settings = RoutingSettings()
    providers = default_providers()
    batch = inputs(args.decisions)
    for item in batch[:1000]:  # warm-up
        decide(item, settings, providers)
    timings = []
    for item in batch:
        started = time.perf_counter_ns()
        decide(item, settings, providers)
        timings.append((time.perf_counter_ns() - started) / 1000)
    print(
        f"routing decision: n={len(timings)} p50={percentile(timings, 50):.1f} µs "
        f"p90={percentile(timings, 90):.1f} µs p99={percentile(timings, 99):.1f} µs"
    )


if __name__ == "__main__":
    main()
