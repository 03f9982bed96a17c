"""Cost replay: one month of 100 developers at 20 / 50 / 80 % adoption, routed by the real policy.

Every simulated request gets a task, a scope level, a context size and an
answer size drawn from the workload model below, and is routed by
``routing.policy.decide`` with the default settings and default providers
(prices from ``inference.settings.default_providers()``). Its cost is what
``routing.pricing.actual_cost`` charges for the target the policy chose; the
all-cloud counterfactual prices the same tokens at the cloud model of its
task (``routing.settings.default_task_policies()``), with the same code as
``hybrid-assist report`` (:func:`routing.usage.report.summarize`). ``decide``
is pure, so the replay memoizes it on its exact inputs: each request still
gets the policy's decision for its own task, scope and size.

Workload (``/work/shared/design/workload-and-anchors.md``; (a) = assumption):

==========================  =============================  ================================  ======================
class                       rate per active developer-hour  input tokens                     output tokens
==========================  =============================  ================================  ======================
inline completion           450 requests                    lognormal p50 1,469 / p90 5,186,  lognormal p50 13 /
  (80 % inline_completion,                                  capped at 2,048                   p90 55, capped at 64
  20 % completion)
chat and code actions       9 requests                      lognormal p50 1,020 / p90 2,734;  lognormal p50 129 /
  explain 30, fix 20,                                       4-8k uniform at repository scope  p90 424, capped at the
  docstring 15, refactor 15,                                                                  task's max_output_tokens
  tests 10, naming 10 % (a)
repository-wide work        2 tasks x 1-30 model calls     10-30k uniform                     300-1,000 uniform
  review 25, multi-file                                     (uniform, mean 15.5) (a)
  refactor 20, documentation
  15, security 10, migration
  10, performance 10,
  architecture 5, API 5 % (a)
==========================  =============================  ================================  ======================

Scopes (a): completions 85 % single-file / 15 % multi-file; chat 60 / 30 /
10 % single-file / multi-file / repository; repository-wide work at
repository scope. 5 % of requests touch sensitive paths (a). An adopter is
active 4 hours a day (a), 21 working days a month; adoption is the share of
the 100 developers using the assistant. The local engine is available and
within its latency goal (the 2x A100 sized for the peak), so nothing is shed
or sent to overflow; prompt caching is not credited (cached tokens = 0) on
either side.

    python bench/bench_cost_replay.py [--seed 1] [--days 21] [--hours 4]
"""

from __future__ import annotations

import argparse
import bisect
import functools
import itertools
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.settings import default_providers
from inference.types import Usage
from routing.policy import LocalState, RouteDecision, RouteInput, RouteTarget, decide
from routing.pricing import actual_cost
from routing.settings import RoutingSettings
from routing.tasks import TaskKind
from routing.usage.ledger import UsageAggregate
from routing.usage.models import to_nanos
from routing.usage.report import ReportRow, summarize

DEVELOPERS = 100
ADOPTION = (0.20, 0.50, 0.80)
#: The reference design's monthly cost table: (cloud APIs, cloud GPU overflow, total) in USD.
REFERENCE = {0.20: (650, 162, 812), 0.50: (2_400, 400, 2_800), 0.80: (8_600, 650, 9_250)}
SENSITIVE_SHARE = 0.05
Z90 = 1.2815515655446004  # the 90th percentile of the standard normal
T = TypeVar("T")


def lognormal(rng: random.Random, p50: float, p90: float, cap: int) -> Callable[[], int]:
    mu, sigma = math.log(p50), (math.log(p90) - math.log(p50)) / Z90
    return lambda: max(1, min(cap, round(math.exp(rng.gauss(mu, sigma)))))


def weighted(rng: random.Random, choices: tuple[tuple[T, float], ...]) -> Callable[[], T]:
    """A sampler of ``choices`` by weight (cumulative weights and a bisection: cheap per draw)."""
    values = [value for value, _ in choices]
    cumulative = list(itertools.accumulate(weight for _, weight in choices))
    total = cumulative[-1]
    return lambda: values[bisect.bisect_right(cumulative, rng.random() * total)]


def uniform(rng: random.Random, low: int, high: int) -> Callable[[], int]:
    return lambda: rng.randint(low, high)


@dataclass(frozen=True)
class RequestClass:
    name: str
    per_active_hour: float  # requests (or, with calls_per_task, tasks) per active developer-hour
    tasks: tuple[tuple[TaskKind, float], ...]
    scopes: tuple[tuple[str, float], ...]
    calls_per_task: tuple[int, int] = (1, 1)


COMPLETION = RequestClass(
    "inline completion",
    450,
    ((TaskKind.INLINE_COMPLETION, 0.8), (TaskKind.COMPLETION, 0.2)),
    (("single_file", 0.85), ("multi_file", 0.15)),
)
CHAT = RequestClass(
    "chat and code actions",
    9,
    (
        (TaskKind.EXPLAIN, 0.30),
        (TaskKind.FIX, 0.20),
        (TaskKind.DOCSTRING, 0.15),
        (TaskKind.REFACTOR, 0.15),
        (TaskKind.TESTS, 0.10),
        (TaskKind.NAMING, 0.10),
    ),
    (("single_file", 0.6), ("multi_file", 0.3), ("repository", 0.1)),
)
REPOSITORY = RequestClass(
    "repository-wide work",
    2,
    (
        (TaskKind.REVIEW, 0.25),
        (TaskKind.MULTI_FILE_REFACTOR, 0.20),
        (TaskKind.DOCUMENTATION, 0.15),
        (TaskKind.SECURITY, 0.10),
        (TaskKind.MIGRATION, 0.10),
        (TaskKind.PERFORMANCE, 0.10),
        (TaskKind.ARCHITECTURE, 0.05),
        (TaskKind.API_INTEGRATION, 0.05),
    ),
    (("repository", 1.0),),
    calls_per_task=(1, 30),
)
CLASSES = (COMPLETION, CHAT, REPOSITORY)


@dataclass
class LevelResult:
    adoption: float
    developers: int
    total: ReportRow
    by_class: dict[str, ReportRow]
    shed: int
    seconds: float


class Replay:
    def __init__(self, seed: int, days: int, hours: float, repository_tasks_per_hour: float) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.hours = hours
        self.repository_tasks_per_hour = repository_tasks_per_hour
        self.settings = RoutingSettings()
        self.providers = default_providers()
        self.local = LocalState(available=True, model="Qwen/Qwen2.5-Coder-1.5B")
        rng = self.rng
        self.completion_in = lognormal(rng, 1469, 5186, 2048)
        self.completion_out = lognormal(rng, 13, 55, 64)
        self.chat_in = lognormal(rng, 1020, 2734, 1_000_000)
        self.chat_repo_in = uniform(rng, 4_000, 8_000)
        self.chat_out = lognormal(rng, 129, 424, 1_000_000)
        self.repo_in = uniform(rng, 10_000, 30_000)
        self.repo_out = uniform(rng, 300, 1_000)

    @functools.cache  # noqa: B019 - decide() is pure: memoizing on its exact inputs changes no decision
    def decide(self, task: TaskKind, scope: str, tokens: int, sensitive: bool) -> RouteDecision:
        request = RouteInput(
            task=task,
            scope_level=scope,
            context_tokens=tokens,
            sensitive=sensitive,
            sensitive_reasons=("sensitive path",) if sensitive else (),
            local=self.local,
        )
        return decide(request, self.settings, self.providers)

    def rate(self, kind: RequestClass) -> float:
        return self.repository_tasks_per_hour if kind is REPOSITORY else kind.per_active_hour

    def sizes(self, kind: RequestClass, task: TaskKind, scope: str) -> tuple[int, int]:
        if kind is COMPLETION:
            return self.completion_in(), self.completion_out()
        if kind is CHAT:
            tokens = self.chat_repo_in() if scope == "repository" else self.chat_in()
            return tokens, min(self.chat_out(), self.settings.tasks[task.value].max_output_tokens)
        return self.repo_in(), self.repo_out()

    def run_level(self, adoption: float) -> LevelResult:
        started = time.perf_counter()
        developers = round(DEVELOPERS * adoption)
        # (class, task, target, model) -> [requests, input tokens, output tokens]
        sums: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        shed = 0
        rng = self.rng
        for kind in CLASSES:
            pick_task = weighted(rng, kind.tasks)
            pick_scope = weighted(rng, kind.scopes)
            low, high = kind.calls_per_task
            units = round(self.rate(kind) * self.hours * self.days * developers)
            for _ in range(units):
                task, scope = pick_task(), pick_scope()
                sensitive = rng.random() < SENSITIVE_SHARE
                for _call in range(rng.randint(low, high) if high > low else 1):
                    tokens, answer = self.sizes(kind, task, scope)
                    primary = self.decide(task, scope, tokens, sensitive).primary
                    if primary is None:
                        shed += 1
                        continue
                    entry = sums[kind.name, task.value, primary.target, primary.model]
                    entry[0] += 1
                    entry[1] += tokens
                    entry[2] += answer
        by_class: dict[str, list[UsageAggregate]] = defaultdict(list)
        for (name, task, target, model), (requests, tokens, answer) in sums.items():
            # cost is linear in tokens: pricing the group's sums equals summing each request's price
            route = RouteTarget(target, model, cloud=target in self.providers and not self.providers[target].local)
            cost = actual_cost(route, Usage(tokens, 0, answer), self.providers, self.settings)
            by_class[name].append(
                UsageAggregate(name, task, target, model, requests, 0, tokens, 0, answer, to_nanos(cost), 0, 0)
            )
        rows = {
            name: summarize(aggregates, None, None, "class", self.providers, self.settings.tasks).total
            for name, aggregates in by_class.items()
        }
        total = ReportRow("total")
        for row in rows.values():
            total = total + row
        return LevelResult(adoption, developers, total, rows, shed, time.perf_counter() - started)


def money(usd: float) -> str:
    return f"${usd:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=21, help="Working days in the month.")
    parser.add_argument("--hours", type=float, default=4.0, help="Active hours per adopter per day.")
    parser.add_argument(
        "--repository-tasks", type=float, default=2.0, help="Repository-wide tasks per active developer-hour."
    )
    args = parser.parse_args()
    replay = Replay(args.seed, args.days, args.hours, args.repository_tasks)
    results = [replay.run_level(level) for level in ADOPTION]

    print(
        f"one month: {DEVELOPERS} developers, {args.days} working days, {args.hours:g} active hours per adopter a day, "
        f"{args.repository_tasks:g} repository-wide tasks per active hour;"
    )
    print(
        "routing.policy.decide with default settings and providers "
        f"({Replay.decide.cache_info().currsize:,} distinct inputs decided)"
    )
    header = (
        f"{'adoption':>8} {'devs':>5} {'requests':>11} {'local share':>11} {'cloud spend':>12} "
        f"{'all-cloud':>11} {'spend/all':>9} | {'ref. cloud APIs':>15} {'ref. overflow':>13} {'ref. total':>10}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        apis, overflow, total = REFERENCE[result.adoption]
        row = result.total
        print(
            f"{result.adoption:>8.0%} {result.developers:>5} {row.requests:>11,} {row.local_share or 0:>11.1%} "
            f"{money(row.cost_usd):>12} {money(row.all_cloud_usd):>11} {row.cost_fraction or 0:>9.1%} | "
            f"{money(apis):>15} {money(overflow):>13} {money(total):>10}"
        )
    print()
    print("by request class (80 % adoption):")
    for name, row in results[-1].by_class.items():
        print(
            f"  {name:<24} {row.requests:>10,} requests  local {row.local_share or 0:6.1%}  "
            f"spend {money(row.cost_usd):>8}  all-cloud {money(row.all_cloud_usd):>8}"
        )
    shed = sum(r.shed for r in results)
    seconds = sum(r.seconds for r in results)
    requests = sum(r.total.requests for r in results)
    print(f"\nshed (no target): {shed}; replay took {seconds:.1f} s for {requests:,} requests")


if __name__ == "__main__":
    main()
