"""Cost replay: one month of 100 developers at 20 / 50 / 80 % adoption, with what the product really sends.

Every request's tokens come from the product's own code run over real code
bases (:mod:`bench.cost_corpus`: the workspace index, the repository digest
builder, the context assembler and the prompt builders over eight code bases
in Python, JavaScript, Go and Rust from PyPI, npm and Debian); its route is
``routing.policy.decide`` with the default settings and providers; its price
is ``routing.pricing.actual_cost`` (cache reads and writes at the published
prices of ``routing.pricing.PUBLISHED_PRICES``). The all-cloud counterfactual
sends the same requests, with the same prompts and the same caching rules,
to the cloud model of each task (``[routing.tasks.*] cloud``): an all-cloud
assistant as well engineered as the hybrid.

What is assumed (a) rather than measured; the ones marked (decides) move the
result most (see the sensitivity rows):

* rates per active developer-hour (the workload document): 450 completions,
  9 chat requests and code actions, 2 repository-wide tasks (decides); an
  adopter is active 4 hours a day, 21 working days a month;
* task mixes: chat explain 30, fix 20, docstring 15, refactor 15, tests 10,
  naming 10 %; repository-wide work review 25, multi-file refactor 20,
  documentation 15, security 10, migration 10, performance 10, architecture 5,
  API integration 5 %; review/security/performance commands at diff 40, file
  30, repository 30 % scope, documentation of a file 50 %, of the repository
  50 % (decides: repository-scope digests are the large prompts);
* each developer works on one of the eight code bases (round robin);
* answer lengths: completions lognormal p50 13 / p90 55 tokens (cap 64); chat
  lognormal p50 129 / p90 424; repository work uniform 300-1,000; each capped
  at the task's ``max_output_tokens``;
* calls per command: one, plus one retry (the checked-edit loop's) for 10 % of
  edit tasks (fix, refactor, docstring, tests, migration, multi-file refactor);
  the retry repeats the prompt with the parse error added after it, so its
  prefix is a cache read; findings are not retried (the product reports an
  unusable answer); the local engine is healthy, so nothing falls back;
* cheap first (``[routing.tasks.*] tiers``: review, security and performance
  try gemini-2.5-flash before their cloud model): 80 % of the cheap tier's
  answers pass their check (findings parse and cite lines shown) (decides: the
  "tiers pass 50 %" row); a failing answer is paid for and the same prompt is
  sent to the next tier (routed by ``decide`` with the escalated settings; a
  cache write there). The all-cloud assistant sends each task straight to its
  cloud model (the "no tiers" row gives the hybrid the same);
* local first: a local answer that fails its check is asked of the task's
  first cloud tier (never for sensitive code): 80 % of the local engine's
  findings pass (decides: the "local pass 50 %" row), and an edit task's
  retry (the 10 % above) is such an escalation when the local engine answered;
* caching (both sides alike): 30 % of repository commands and of chat requests
  follow the developer's previous one on the same code within the cache
  lifetime (decides; the "no caching" row sets it aside); a follow-up's prefix
  is a cache read when the measured prefixes are byte-identical (same digest or
  position), the same provider and model serve it and it reaches the model's
  minimum; otherwise a prefix of the minimum length or more is a cache write
  (Anthropic charges 1.25x for it); consecutive completions share the prompt
  before the cursor (measured: what one more typed character leaves
  unchanged), read from the cache when it reaches 1,024 tokens;
* 5 % of requests touch sensitive paths (kept local by the hybrid, sent by the
  all-cloud assistant); the local engine serves within its latency goal (the
  2x A100 sized for the peak): nothing is shed or sent to overflow;
* the local window is ``[routing] local_context_tokens`` (8,192 by default; the
  "local 32k" row: a 32k-token model such as Qwen2.5-Coder-7B on the
  reference design's GPUs); the router sees the whole prompt's size.

    python bench/bench_cost_replay.py [--seed 1] [--refresh]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cost_corpus import CODE_BASES, Sample, corpus_samples
from inference.settings import ProviderSettings, default_providers
from inference.types import Usage
from routing.policy import LOCAL, LocalState, RouteInput, RouteTarget, decide, split_target
from routing.pricing import PUBLISHED_PRICES, actual_cost
from routing.settings import RoutingSettings
from routing.tasks import TaskKind

DEVELOPERS = 100
ADOPTION = (0.20, 0.50, 0.80)
#: The reference design's monthly cost table: (cloud APIs, cloud GPU overflow, total) in USD.
REFERENCE = {0.20: (650, 162, 812), 0.50: (2_400, 400, 2_800), 0.80: (8_600, 650, 9_250)}
#: Per-seat list prices of hosted assistants (business plans, USD per user-month, 2025), for orientation.
SEATS = (
    ("GitHub Copilot Business", 19),
    ("GitHub Copilot Enterprise", 39),
    ("Cursor Teams", 40),
    ("Amazon Q Developer Pro", 19),
    ("Tabnine Enterprise", 39),
)
DAYS, HOURS = 21, 4.0
RATES = {"completion": 450.0, "chat": 9.0, "repository": 2.0}
SENSITIVE_SHARE = 0.05
RETRY_SHARE = 0.10
FOLLOW_SHARE = 0.30
TIER_PASS = 0.80
LOCAL_PASS = 0.80  # share of the local engine's findings (review, security, performance) that pass their check
FINDINGS_TASKS = frozenset({"review", "security", "performance"})
EDIT_TASKS = frozenset({"fix", "refactor", "docstring", "tests", "migration", "multi_file_refactor"})
CHAT_MIX = (("explain", 30), ("fix", 20), ("docstring", 15), ("refactor", 15), ("tests", 10), ("naming", 10))
REPOSITORY_MIX = (
    ("review", 25),
    ("multi_file_refactor", 20),
    ("documentation", 15),
    ("security", 10),
    ("migration", 10),
    ("performance", 10),
    ("architecture", 5),
    ("api_integration", 5),
)
FINDINGS_SCOPES = (("diff", 40), ("file", 30), ("repository", 30))
COMMAND_SCOPES = {
    "review": FINDINGS_SCOPES,
    "security": FINDINGS_SCOPES,
    "performance": FINDINGS_SCOPES,
    "documentation": (("file", 50), ("repository", 50)),
    "architecture": (("repository", 100),),
    "api_integration": (("repository", 100),),
}
Z90 = 1.2815515655446004
T = TypeVar("T")


def weighted(rng: random.Random, choices: Sequence[tuple[T, float]]) -> Callable[[], T]:
    values = [value for value, _ in choices]
    cumulative = list(itertools.accumulate(weight for _, weight in choices))
    return lambda: values[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]


def lognormal(rng: random.Random, p50: float, p90: float) -> Callable[[], float]:
    mu, sigma = math.log(p50), (math.log(p90) - math.log(p50)) / Z90
    return lambda: math.exp(rng.gauss(mu, sigma))


@dataclass(frozen=True)
class Variant:
    name: str
    repository_factor: float = 1.0
    caching: bool = True
    local_window: int = 8_192
    tier_pass: float = TIER_PASS  # share of the cheap tier's answers that pass their check
    tiers: bool = True  # False: every task's tiers cleared (its cloud model alone)
    local_pass: float = LOCAL_PASS  # share of the local engine's findings that pass their check


VARIANTS = (
    Variant("default policy"),
    Variant("agentic (repository x4)", repository_factor=4.0),
    Variant("no caching", caching=False),
    Variant("local 32k window", local_window=32_768),
    Variant("tiers pass 50 %", tier_pass=0.50),
    Variant("no tiers", tiers=False),
    Variant("local pass 50 %", local_pass=0.50),
)


@dataclass
class Side:
    """Token sums per (target, model) of one side (the hybrid or all-cloud), priced at the end."""

    usage: dict[tuple[str, str], Usage] = field(default_factory=lambda: defaultdict(Usage))
    requests: int = 0
    local: int = 0
    calls: int = 0

    def add(self, target: RouteTarget, usage: Usage, calls: int = 1) -> None:
        self.calls += calls
        key = (target.target, target.model)
        self.usage[key] = self.usage[key] + usage

    def cost(self, providers: dict[str, ProviderSettings], settings: RoutingSettings) -> float:
        # actual_cost is linear in the token counts: pricing the sums equals summing the prices
        return sum(
            actual_cost(RouteTarget(t, m, cloud=t != LOCAL), usage, providers, settings)
            for (t, m), usage in self.usage.items()
        )

    def cached_saving(self, providers: dict[str, ProviderSettings], settings: RoutingSettings) -> float:
        """What the cache reads saved, net of the write premiums."""
        uncached = sum(
            actual_cost(
                RouteTarget(t, m, cloud=t != LOCAL), Usage(u.prompt_tokens, 0, u.completion_tokens), providers, settings
            )
            for (t, m), u in self.usage.items()
        )
        return uncached - self.cost(providers, settings)


@dataclass
class Result:
    variant: str
    adoption: float
    developers: int
    hybrid: Side
    cloud: Side
    hybrid_usd: float
    cloud_usd: float
    hybrid_saved_by_cache: float
    escalations: int
    by_class: dict[str, tuple[float, float, int, int]]
    by_task: dict[str, tuple[float, float]]


class Replay:
    def __init__(self, samples: list[Sample], seed: int, variant: Variant) -> None:
        self.rng = random.Random(seed)
        self.variant = variant
        self.providers = default_providers()
        if not variant.caching:
            self.providers = {n: p.model_copy(update={"prompt_cache": "off"}) for n, p in self.providers.items()}
        self.settings = RoutingSettings(local_context_tokens=variant.local_window)
        if not variant.tiers:
            tasks = {name: p.model_copy(update={"tiers": []}) for name, p in self.settings.tasks.items()}
            self.settings = RoutingSettings(local_context_tokens=variant.local_window, tasks=tasks)
        self.escalations = 0
        self.local = LocalState(available=True, model="Qwen/Qwen2.5-Coder-7B", context_window=variant.local_window)
        self.by_base: dict[str, dict[str, list[Sample]]] = defaultdict(lambda: defaultdict(list))
        self.by_site: dict[tuple[str, str], Sample] = {}
        for s in samples:
            key = f"{s.kind}:{s.task}:{s.command_scope}" if s.kind == "command" else f"{s.kind}:{s.task}"
            self.by_base[s.code_base][key].append(s)
            self.by_site[s.site, s.task] = s
        rng = self.rng
        completion_out = lognormal(rng, 13, 55)
        self.completion_mean = sum(min(64, max(1, round(completion_out()))) for _ in range(20_000)) / 20_000
        self.chat_out = lognormal(rng, 129, 424)
        self.decisions: dict[tuple[str, str, int, bool, int, bool], RouteTarget | None] = {}
        self.by_task: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # cloud $: hybrid, all-cloud

    def route(self, sample: Sample, sensitive: bool, tier: int = 0, to_cloud: bool = False) -> RouteTarget | None:
        key = (sample.task, sample.scope_level, sample.input_tokens, sensitive, tier, to_cloud)
        if key not in self.decisions:
            request = RouteInput(
                task=TaskKind(sample.task),
                scope_level=sample.scope_level,
                context_tokens=max(sample.context_tokens, sample.input_tokens),
                sensitive=sensitive,
                sensitive_reasons=("sensitive path",) if sensitive else (),
                local=self.local,
            )
            settings = self.settings.escalated(sample.task, tier, to_cloud=to_cloud)
            self.decisions[key] = decide(request, settings, self.providers).primary
        return self.decisions[key]

    def escalation(self, sample: Sample, sensitive: bool, target: RouteTarget) -> RouteTarget | None:
        """Where a failing answer of ``target`` goes next: the task's next tier (None: not a cheap tier)."""
        order = self.settings.tasks[sample.task].order
        if len(order) < 2 or not target.cloud:
            return None
        name, model = split_target(order[0])
        by_name = target.target == name or self.providers[target.target].kind == name
        if not by_name or model not in ("", target.model):
            return None
        return self.route(sample, sensitive, 1)

    def cloud_target(self, task: str) -> RouteTarget:
        name, model = split_target(self.settings.tasks[task].cloud)
        provider = self.providers[name]
        return RouteTarget(name, provider.model_or_default(model), cloud=True)

    def usage(self, target: RouteTarget, sample: Sample, output: int, state: str) -> Usage:
        """The call's usage: ``state`` is "read" (prefix from the cache), "write" (prefix cached now) or "none"."""
        minimum = PUBLISHED_PRICES[target.model].min_cacheable_tokens if target.model in PUBLISHED_PRICES else 1024
        provider = self.providers.get(target.target)
        caching = provider is not None and provider.prompt_cache != "off"
        prefix = sample.stable_tokens if caching and target.target != LOCAL and sample.stable_tokens >= minimum else 0
        if state == "read" and prefix:
            return Usage(sample.input_tokens, prefix, output)
        if state == "write" and prefix and provider is not None and provider.kind == "anthropic":
            return Usage(sample.input_tokens, 0, output, cache_write_tokens=prefix)
        return Usage(sample.input_tokens, 0, output)

    def month(self, adoption: float) -> Result:
        rng = self.rng
        self.by_task.clear()
        self.escalations = 0
        developers = round(DEVELOPERS * adoption)
        hybrid, cloud = Side(), Side()
        classes: dict[str, tuple[Side, Side]] = {c: (Side(), Side()) for c in RATES}
        pick_chat = weighted(rng, CHAT_MIX)
        pick_repo = weighted(rng, REPOSITORY_MIX)
        scope_pickers = {task: weighted(rng, scopes) for task, scopes in COMMAND_SCOPES.items()}
        hours = DAYS * HOURS
        for developer in range(developers):
            base = CODE_BASES[developer % len(CODE_BASES)].name
            pools = self.by_base[base]
            self._completions(
                pools["completion:inline_completion"],
                round(RATES["completion"] * hours),
                hybrid,
                cloud,
                classes["completion"],
            )
            last: dict[str, Sample | None] = {"chat": None, "repository": None}
            chat = round(RATES["chat"] * hours)
            work = round(RATES["repository"] * hours * self.variant.repository_factor)
            for kind, count, pick in (("chat", chat, pick_chat), ("repository", work, pick_repo)):
                for _ in range(count):
                    task = pick()
                    previous = last[kind]
                    follow = previous is not None and self.variant.caching and rng.random() < FOLLOW_SHARE
                    sample = self.by_site.get((previous.site, task)) if follow and previous else None
                    if sample is None:
                        if task in COMMAND_SCOPES:
                            pool = pools[f"command:{task}:{scope_pickers[task]()}"]
                        else:
                            pool = pools[f"action:{task}"]
                        sample = rng.choice(pool)
                    self._request(kind, sample, previous if follow else None, hybrid, cloud, classes[kind])
                    last[kind] = sample
        by_class = {}
        for name, (h, c) in classes.items():
            by_class[name] = (
                h.cost(self.providers, self.settings),
                c.cost(self.providers, self.settings),
                h.requests,
                h.local,
            )
        return Result(
            self.variant.name,
            adoption,
            developers,
            hybrid,
            cloud,
            hybrid.cost(self.providers, self.settings),
            cloud.cost(self.providers, self.settings),
            hybrid.cached_saving(self.providers, self.settings),
            self.escalations,
            by_class,
            {task: (h, c) for task, (h, c) in self.by_task.items()},
        )

    def _completions(self, pool: list[Sample], count: int, hybrid: Side, cloud: Side, sides: tuple[Side, Side]) -> None:
        """``count`` completions drawn from ``pool``; cost is linear, so each measured sample is priced once with
        its draw count (answer lengths at the capped distribution's mean)."""
        target = self.cloud_target("inline_completion")
        drawn = Counter(self.rng.choices(range(len(pool)), k=count))
        for index, times in drawn.items():
            sample = pool[index]
            output = round(self.completion_mean * times)
            routed = self.route(sample, False)  # sensitive or not, a completion is served on the premises
            usage = self.usage(target, sample, 0, "read" if self.variant.caching else "none")
            scaled = Usage(usage.prompt_tokens * times, usage.cached_tokens * times, output)
            for side in (cloud, sides[1]):
                side.requests += times
                side.add(target, scaled, times)
            for side in (hybrid, sides[0]):
                side.requests += times
                if routed is None or routed.target == LOCAL:
                    side.local += times
                    local = RouteTarget(LOCAL, self.local.model, False)
                    side.add(local, Usage(sample.input_tokens * times, 0, output), times)
                else:
                    side.add(routed, scaled, times)

    def _request(
        self, kind: str, sample: Sample, previous: Sample | None, hybrid: Side, cloud: Side, sides: tuple[Side, Side]
    ) -> None:
        rng = self.rng
        cap = self.settings.tasks[sample.task].max_output_tokens
        output = min(cap, round(self.chat_out()) if kind == "chat" else rng.randint(300, 1_000))
        calls = 2 if sample.task in EDIT_TASKS and rng.random() < RETRY_SHARE else 1
        sensitive = rng.random() < SENSITIVE_SHARE
        routed = self.route(sample, sensitive)
        shared = (
            previous is not None and previous.digest_key == sample.digest_key
            if sample.digest_key
            else (previous is not None and previous.site == sample.site)
        )
        for side, part, target in (
            (hybrid, sides[0], routed),
            (cloud, sides[1], self.cloud_target(sample.task)),
        ):
            side.requests += 1
            part.requests += 1
            if target is None or target.target == LOCAL:
                side.local += 1
                part.local += 1
                # local first: a failing local answer (a findings check, an edit's retry) goes to the first cloud
                # tier, never for sensitive code
                failed = calls > 1 or (sample.task in FINDINGS_TASKS and rng.random() >= self.variant.local_pass)
                up = self.route(sample, False, 0, to_cloud=True) if failed and not sensitive else None
                for _ in range(1 if up is not None else calls):
                    usage = Usage(sample.input_tokens, 0, output)
                    side.add(RouteTarget(LOCAL, self.local.model, False), usage)
                    part.add(RouteTarget(LOCAL, self.local.model, False), usage)
                if up is not None and up.cloud:
                    self.escalations += 1
                    usage = self.usage(up, sample, output, "write")
                    side.add(up, usage)
                    part.add(up, usage)
                    self.by_task[sample.task][0 if side is hybrid else 1] += actual_cost(
                        up, usage, self.providers, self.settings
                    )
                continue
            before = (
                self.route(previous, False)
                if previous is not None and side is hybrid
                else (self.cloud_target(previous.task) if previous is not None else None)
            )
            hit = shared and before is not None and (before.target, before.model) == (target.target, target.model)
            served = [(target, "read" if hit or call > 0 else "write") for call in range(calls)]
            up = self.escalation(sample, sensitive, target) if side is hybrid else None
            if up is not None and rng.random() >= self.variant.tier_pass:
                self.escalations += 1
                served.append((up, "write"))  # the same prompt, asked of the next tier
            for used, state in served:
                usage = self.usage(used, sample, output, state)
                side.add(used, usage)
                part.add(used, usage)
                cost = actual_cost(used, usage, self.providers, self.settings)
                self.by_task[sample.task][0 if side is hybrid else 1] += cost


def money(usd: float) -> str:
    return f"${usd:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--refresh", action="store_true", help="Measure the corpus again (else the cached samples).")
    args = parser.parse_args()
    started = time.perf_counter()
    samples = corpus_samples(args.seed, refresh=args.refresh)
    print(
        f"{len(samples):,} measured requests over {len(CODE_BASES)} code bases ({time.perf_counter() - started:.1f} s)"
    )
    _print_measured(samples)
    header = (
        f"{'variant':<24} {'adopt':>5} {'devs':>4} {'local share':>11} {'cloud spend':>11} {'all-cloud':>10} "
        f"{'spend/all':>9} {'per dev-month':>13} {'cache saved':>11} {'escalated':>9} | {'ref. APIs':>9}"
    )
    print()
    print(header)
    print("-" * len(header))
    results: list[Result] = []
    for variant in VARIANTS:
        replay = Replay(samples, args.seed, variant)
        for adoption in ADOPTION:
            result = replay.month(adoption)
            results.append(result)
            share = result.hybrid.local / result.hybrid.requests if result.hybrid.requests else 0
            print(
                f"{variant.name:<24} {adoption:>5.0%} {result.developers:>4} {share:>11.1%} "
                f"{money(result.hybrid_usd):>11} {money(result.cloud_usd):>10} "
                f"{result.hybrid_usd / result.cloud_usd:>9.1%} {result.hybrid_usd / result.developers:>13,.2f} "
                f"{money(result.hybrid_saved_by_cache):>11} {result.escalations:>9,} "
                f"| {money(REFERENCE[adoption][0]):>9}"
            )
    print("\nby request class, default policy at 80 % (hybrid spend / all-cloud, requests, local share):")
    default80 = next(r for r in results if r.variant == VARIANTS[0].name and r.adoption == 0.80)
    for name, (spend, all_cloud, requests, local) in default80.by_class.items():
        print(
            f"  {name:<12} {money(spend):>8} / {money(all_cloud):>8}  {requests:>10,} requests  "
            f"local {local / requests:6.1%}"
        )
    print("cloud spend by task of chat and repository work, default policy at 80 % (hybrid / all-cloud):")
    print(
        "  "
        + "; ".join(
            f"{t} {money(h)} / {money(c)}" for t, (h, c) in sorted(default80.by_task.items(), key=lambda kv: -kv[1][1])
        )
    )
    print("\nper-seat list prices of hosted assistants (USD per user-month, business plans, 2025):")
    print("  " + "; ".join(f"{name} ${price}" for name, price in SEATS))
    print(f"\nreplay took {time.perf_counter() - started:.1f} s")


def _print_measured(samples: list[Sample]) -> None:
    """Measured prompt sizes by kind and code base (what the product sends), p50 / p90 input tokens."""
    groups: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for s in samples:
        label = f"{s.kind} {s.command_scope}".strip()
        groups[label, s.code_base].append(s)
    print("measured input tokens p50 / p90 (stable prefix p50), by request kind and code base:")
    bases = [c.name for c in CODE_BASES]
    kinds = sorted({k for k, _ in groups})
    print(f"  {'':<20}" + "".join(f"{b:>18}" for b in bases))
    for kind in kinds:
        cells = []
        for base in bases:
            values = sorted(s.input_tokens for s in groups[kind, base])
            stable = sorted(s.stable_tokens for s in groups[kind, base])
            cells.append(
                f"{values[len(values) // 2]:,}/{values[int(len(values) * 0.9)]:,} ({stable[len(stable) // 2]:,})"
            )
        print(f"  {kind:<20}" + "".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()
