"""Routing that learns: success rates per cell from the ledger's outcomes, and the policy changes they support.

A *cell* is (task, scope level, prompt-size bucket, language): the buckets are
``[routing.learning] context_buckets`` over the row's ``input_tokens``, the
language the row's ``language`` ('' unknown or mixed). Each ledger row in the
window is judged:

- success: its ``ledger_feedback`` verdict is accepted — a completion
  accepted, a code action's edit applied, a review quick fix applied, a
  checked answer that passed its check;
- failure: the verdict is not accepted (rejected, not applied, a checked
  answer refused), the answer was escalated to a next tier (a ``-tierN`` row
  of the same request follows it), or the call failed with an error;
- not judged: served without a verdict, or sent nowhere for reasons that say
  nothing of the target (denied, over budget, no target, cancelled).

Per cell and side (local: the local engine and an on-premises overflow
endpoint; cloud: every other target) the success rate gets a Wilson score
interval; the two sides are compared through Newcombe's interval for the
difference of two proportions (built from the two Wilson intervals). A cell
moves to local when the upper end of (cloud - local) is at most ``margin``,
stays or goes back to the cloud when its lower end is above ``margin``, and
does not move when either side has fewer than ``min_samples`` judged requests
or the interval straddles the margin. Each :class:`Proposal` carries its
evidence and the expected monthly saving (the cell's cloud cost per request
in the window times its requests, scaled to 30 days).

Sensitive code: rows the ledger marks ``sensitive`` (kept on the premises
because the code is sensitive: there was no choice of target) are left out of
the estimates and counted apart. And a proposal only writes a learned rule
into the policy table, while :func:`routing.policy.decide` keeps sensitive
code on the premises before it looks at the table, learned rules included:
nothing learned can send it out.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import NormalDist
from typing import Any, Literal

from sqlalchemy import case, func, select

from inference.settings import ProviderSettings
from routing.exploration import EXPLORE_REASON
from routing.policy import LOCAL, OVERFLOW, RouteInput, table_keeps_local
from routing.settings import LearningSettings, RoutingSettings
from routing.tasks import TaskKind
from routing.usage.ledger import Ledger, requests_in
from routing.usage.models import ledger_feedback, ledger_requests, to_usd

Side = Literal["local", "cloud"]
Action = Literal["to_local", "to_cloud", "keep", "too_few", "no_fit"]

#: Outcomes of calls that were not a target's answer at all: they say nothing of its quality.
NOT_JUDGED = frozenset({"cancelled", "denied", "no_target", "budget_exceeded", "rate_limited"})
_TIER = re.compile(r"^(?P<base>.+)-tier(?P<n>\d+)$")


@dataclass(frozen=True, slots=True)
class Cell:
    task: str
    scope_level: str
    bucket: int  # index into the bucket edges: 0 is below the first edge
    language: str  # "" unknown or mixed


@dataclass(frozen=True, slots=True)
class Group:
    """Ledger rows of the window alike in everything learning looks at, counted in the database."""

    task: str
    scope_level: str
    bucket: int
    language: str
    target: str
    outcome: str  # "ok", "skip" (not a target's answer: :data:`NOT_JUDGED`) or "error"
    accepted: bool | None  # the feedback verdict (None: none)
    escalated: bool  # a later tier's answer replaced these
    explored: bool  # reason "explore"
    sensitive: bool  # kept on the premises because the code is sensitive: no choice, no evidence
    requests: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Rate:
    """Successes out of judged requests, with a Wilson score interval."""

    successes: int
    trials: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "successes": self.successes,
            "trials": self.trials,
            "rate": round(self.rate, 4),
            "interval": [round(self.low, 4), round(self.high, 4)],
        }

    def shown(self) -> str:
        if not self.trials:
            return "0/0"
        return f"{self.successes}/{self.trials} {self.rate:.0%} [{self.low:.0%}, {self.high:.0%}]"


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile of ``confidence`` (1.96 for 0.95)."""
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson(successes: int, trials: int, confidence: float = 0.95) -> Rate:
    """The Wilson score interval of ``successes`` out of ``trials`` (``[0, 1]`` when there are none)."""
    if trials <= 0:
        return Rate(0, 0, 0.0, 1.0)
    z = z_value(confidence)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Rate(successes, trials, max(0.0, centre - half), min(1.0, centre + half))


def difference(cloud: Rate, local: Rate) -> tuple[float, float, float]:
    """cloud - local with Newcombe's hybrid score interval (method 10), from the two Wilson intervals."""
    d = cloud.rate - local.rate
    low = d - math.sqrt((cloud.rate - cloud.low) ** 2 + (local.high - local.rate) ** 2)
    high = d + math.sqrt((cloud.high - cloud.rate) ** 2 + (local.rate - local.low) ** 2)
    return d, low, high


def bucket_bounds(bucket: int, edges: Sequence[int]) -> tuple[int, int]:
    """``(min_context_tokens, max_context_tokens)`` of a bucket; 0 as the upper bound: none."""
    low = edges[bucket - 1] if bucket > 0 else 0
    high = edges[bucket] if bucket < len(edges) else 0
    return low, high


def bucket_label(bucket: int, edges: Sequence[int]) -> str:
    low, high = bucket_bounds(bucket, edges)
    if not high:
        return f">={low}"
    return f"<{high}" if not low else f"{low}-{high - 1}"


def judge(group: Group) -> bool | None:
    """Success (True), failure (False) or not judged (None) of a group's rows; see the module's docstring."""
    if group.accepted is not None:
        return group.accepted
    if group.escalated:
        return False
    return None if group.outcome in ("ok", "skip") else False


def escalated_ids(request_ids: Iterable[str]) -> set[str]:
    """Of the ids of escalations (``X-tierN``), the ids whose answer a later tier replaced: ``X`` when ``X-tier2``
    exists, ``X-tier2`` when ``X-tier3`` does."""
    tiers: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for request_id in request_ids:
        match = _TIER.match(request_id)
        if match:
            tiers[match["base"]].append((int(match["n"]), request_id))
    escalated: set[str] = set()
    for base, attempts in tiers.items():
        attempts.sort()
        escalated.add(base)
        escalated.update(request_id for _, request_id in attempts[:-1])
    return escalated


#: How many request ids one ``IN (...)`` names.
_CHUNK = 500


def read_groups(ledger: Ledger, since: datetime | None, until: datetime | None, edges: Sequence[int]) -> list[Group]:
    """The rows of ``[since, until)`` counted per :class:`Group` in the database (a month of a team's completions
    is millions of rows; only the escalations' ids are read one by one, and they are few)."""
    r = ledger_requests.c
    f = ledger_feedback.c
    window = requests_in(since, until)
    joined = ledger_requests.outerjoin(ledger_feedback, f.request_id == r.request_id)
    bucket = case(*[(r.input_tokens < edge, index) for index, edge in enumerate(edges)], else_=len(edges))
    outcome = case((r.outcome == "ok", "ok"), (r.outcome.in_(sorted(NOT_JUDGED)), "skip"), else_="error")
    explored = r.reason == EXPLORE_REASON
    keys = (r.task, r.scope_level, bucket, r.language, r.target, outcome, f.accepted, explored, r.sensitive)
    counted = (func.count(), func.coalesce(func.sum(r.cost_nanousd), 0))
    with ledger.engine.connect() as connection:
        tiered = connection.execute(select(r.request_id).where(*window, r.request_id.like("%-tier%"))).scalars()
        escalated = sorted(escalated_ids(tiered))
        totals: dict[tuple[Any, ...], list[int]] = {}
        for row in connection.execute(select(*keys, *counted).select_from(joined).where(*window).group_by(*keys)):
            totals[(*row[:-2], False)] = [int(row[-2]), int(row[-1])]
        for start in range(0, len(escalated), _CHUNK):  # move escalated rows to groups of their own
            chunk = escalated[start : start + _CHUNK]
            query = select(*keys, *counted).select_from(joined).where(*window, r.request_id.in_(chunk)).group_by(*keys)
            for row in connection.execute(query):
                total = totals[(*row[:-2], False)]
                total[0] -= int(row[-2])
                total[1] -= int(row[-1])
                moved = totals.setdefault((*row[:-2], True), [0, 0])
                moved[0] += int(row[-2])
                moved[1] += int(row[-1])
    return [
        Group(
            task=task,
            scope_level=scope_level,
            bucket=int(bucket_index),
            language=language or "",
            target=target,
            outcome=outcome_class,
            accepted=None if accepted is None else bool(accepted),
            escalated=was_escalated,
            explored=bool(was_explored),
            sensitive=bool(sensitive),
            requests=requests,
            cost_usd=to_usd(cost),
        )
        for (
            task,
            scope_level,
            bucket_index,
            language,
            target,
            outcome_class,
            accepted,
            was_explored,
            sensitive,
            was_escalated,
        ), (requests, cost) in totals.items()
        if requests > 0
    ]


def side_of(target: str, providers: Mapping[str, ProviderSettings]) -> Side | None:
    """Which side served ``target``: the local engine and an on-premises overflow endpoint are local."""
    if target in ("", "none"):
        return None
    if target == LOCAL:
        return "local"
    provider = providers.get(target)
    if target == OVERFLOW:
        return "cloud" if provider is not None and not provider.local else "local"
    return "local" if provider is not None and provider.local else "cloud"


@dataclass(slots=True)
class _Tally:
    successes: int = 0
    trials: int = 0

    def add(self, success: bool, count: int) -> None:
        self.trials += count
        self.successes += count if success else 0


@dataclass(slots=True)
class CellEvidence:
    """Everything observed of one cell in the window."""

    cell: Cell
    requests: int = 0
    unjudged: int = 0
    explored: int = 0
    sensitive: int = 0  # left out: sensitive code had no choice of target
    cloud_requests: int = 0
    cloud_cost_usd: float = 0.0
    sides: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    targets: dict[str, _Tally] = field(default_factory=lambda: defaultdict(_Tally))


def gather(groups: Sequence[Group], providers: Mapping[str, ProviderSettings]) -> list[CellEvidence]:
    """Judge each group and tally it in its cell, per side and per target."""
    cells: dict[Cell, CellEvidence] = {}
    for group in groups:
        side = side_of(group.target, providers)
        if side is None:
            continue
        cell = Cell(group.task, group.scope_level, group.bucket, group.language)
        evidence = cells.setdefault(cell, CellEvidence(cell))
        if group.sensitive:
            evidence.sensitive += group.requests
            continue
        evidence.requests += group.requests
        evidence.explored += group.requests if group.explored else 0
        if side == "cloud":
            evidence.cloud_requests += group.requests
            evidence.cloud_cost_usd += group.cost_usd
        verdict = judge(group)
        if verdict is None:
            evidence.unjudged += group.requests
            continue
        evidence.sides[side].add(verdict, group.requests)
        evidence.targets[group.target].add(verdict, group.requests)
    return sorted(cells.values(), key=lambda e: (e.cell.task, e.cell.scope_level, e.cell.bucket, e.cell.language))


@dataclass(frozen=True, slots=True)
class Proposal:
    """What the evidence says of one cell, and the policy change (if any) it supports."""

    cell: Cell
    bucket: str  # the bucket's label, e.g. "1024-4095"
    current: Side  # where the policy sends the cell now
    proposed: Side  # where it would send it
    action: Action
    why: str
    local: Rate
    cloud: Rate
    difference: tuple[float, float, float]  # cloud - local, with its interval
    requests: int
    unjudged: int
    explored: int
    sensitive: int  # sensitive requests of the cell, left out of the estimates
    cloud_cost_usd: float  # in the window
    monthly_saving_usd: float  # negative: moving to the cloud costs this much more
    targets: dict[str, Rate]

    @property
    def moves(self) -> bool:
        return self.action in ("to_local", "to_cloud")

    def to_json(self) -> dict[str, object]:
        d, low, high = self.difference
        return {
            "task": self.cell.task,
            "scope_level": self.cell.scope_level,
            "context_bucket": self.bucket,
            "language": self.cell.language,
            "current": self.current,
            "proposed": self.proposed,
            "action": self.action,
            "why": self.why,
            "local": self.local.to_json(),
            "cloud": self.cloud.to_json(),
            "cloud_minus_local": {"estimate": round(d, 4), "interval": [round(low, 4), round(high, 4)]},
            "requests": self.requests,
            "unjudged": self.unjudged,
            "explored": self.explored,
            "sensitive_left_out": self.sensitive,
            "cloud_cost_usd": round(self.cloud_cost_usd, 6),
            "monthly_saving_usd": round(self.monthly_saving_usd, 2),
            "targets": {name: rate.to_json() for name, rate in sorted(self.targets.items())},
        }

    def evidence(self) -> str:
        """One line for the overlay's rule and the route's reasons."""
        d, low, high = self.difference
        return (
            f"local {self.local.shown()} vs cloud {self.cloud.shown()}; cloud-local {d:+.0%} [{low:+.0%}, {high:+.0%}]"
            f"; ${self.monthly_saving_usd:+.2f}/month"
        )


def current_side(routing: RoutingSettings, cell: Cell, edges: Sequence[int]) -> tuple[Side, bool] | None:
    """Where the policy sends the cell now, and whether the local window can hold its prompts at all.

    None: the task is not in the policy table (or is no task kind).
    """
    policy = routing.tasks.get(cell.task)
    try:
        task = TaskKind(cell.task)
    except ValueError:
        return None
    if policy is None:
        return None
    low, _ = bucket_bounds(cell.bucket, edges)
    probe = RouteInput(task, cell.scope_level, low, language=cell.language)
    fits = low + policy.max_output_tokens <= routing.local_context_tokens
    return ("local" if table_keeps_local(policy, probe)[0] else "cloud"), fits


def propose(evidence: Sequence[CellEvidence], routing: RoutingSettings, window_days: float) -> list[Proposal]:
    """A :class:`Proposal` for each cell of a task in the policy table."""
    options = routing.learning
    edges = options.context_buckets
    proposals: list[Proposal] = []
    for cell_evidence in evidence:
        cell = cell_evidence.cell
        where = current_side(routing, cell, edges)
        if where is None:
            continue
        current, fits = where
        local = _rate(cell_evidence.sides.get("local"), options)
        cloud = _rate(cell_evidence.sides.get("cloud"), options)
        diff = difference(cloud, local)
        proposed, action, why = _verdict(current, fits, local, cloud, diff, options)
        per_request = cell_evidence.cloud_cost_usd / cell_evidence.cloud_requests if cell_evidence.cloud_requests else 0
        monthly = per_request * cell_evidence.requests * 30.0 / max(window_days, 1e-9)
        saving = monthly if action == "to_local" else -monthly if action == "to_cloud" else 0.0
        proposals.append(
            Proposal(
                cell=cell,
                bucket=bucket_label(cell.bucket, edges),
                current=current,
                proposed=proposed,
                action=action,
                why=why,
                local=local,
                cloud=cloud,
                difference=diff,
                requests=cell_evidence.requests,
                unjudged=cell_evidence.unjudged,
                explored=cell_evidence.explored,
                sensitive=cell_evidence.sensitive,
                cloud_cost_usd=cell_evidence.cloud_cost_usd,
                monthly_saving_usd=saving,
                targets={name: _rate(t, options) for name, t in cell_evidence.targets.items()},
            )
        )
    return proposals


def _rate(tally: _Tally | None, options: LearningSettings) -> Rate:
    tally = tally or _Tally()
    return wilson(tally.successes, tally.trials, options.confidence)


def _verdict(
    current: Side,
    fits: bool,
    local: Rate,
    cloud: Rate,
    diff: tuple[float, float, float],
    options: LearningSettings,
) -> tuple[Side, Action, str]:
    _, low, high = diff
    if not fits:
        return current, "no_fit", "prompts of this size do not fit the local window"
    fewest = min(local.trials, cloud.trials)
    if fewest < options.min_samples:
        return (
            current,
            "too_few",
            f"too few judged requests to move it (local {local.trials}, cloud {cloud.trials}; "
            f"at least {options.min_samples} each)",
        )
    margin = options.margin
    if high <= margin:
        why = f"local is within {margin:.0%} of the cloud (cloud-local at most {high:+.1%})"
        return "local", ("to_local" if current == "cloud" else "keep"), why
    if low > margin:
        why = f"local is clearly worse (cloud-local at least {low:+.1%}, more than the {margin:.0%} margin)"
        return "cloud", ("to_cloud" if current == "local" else "keep"), why
    return current, "keep", f"undecided: cloud-local [{low:+.1%}, {high:+.1%}] straddles the {margin:.0%} margin"


def overlay_rules(proposals: Sequence[Proposal], routing: RoutingSettings) -> dict[str, list[dict[str, Any]]]:
    """The learned rules per task: the moves, and the rules already in force for other cells; a language's rules
    before the any-language ones (the first covering rule decides), the moves first within each."""
    edges = routing.learning.context_buckets
    rules: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for proposal in (p for p in proposals if p.moves):
        low, high = bucket_bounds(proposal.cell.bucket, edges)
        rules[proposal.cell.task].append(
            {
                "scope_level": proposal.cell.scope_level,
                "min_context_tokens": low,
                "max_context_tokens": high,
                "language": proposal.cell.language,
                "route": proposal.proposed,
                "evidence": proposal.evidence(),
            }
        )
    for task, policy in routing.tasks.items():
        moved = {_cell_key(rule) for rule in rules.get(task, [])}
        rules[task] += [r.model_dump() for r in policy.learned if _cell_key(r.model_dump()) not in moved]
    return {task: sorted(found, key=lambda r: not r["language"]) for task, found in rules.items() if found}


def _cell_key(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    return rule["scope_level"], rule["min_context_tokens"], rule["max_context_tokens"], rule["language"]


@dataclass(frozen=True, slots=True)
class Learned:
    """The result of one run: every cell's proposal and the overlay's rules."""

    since: datetime | None
    until: datetime
    rows: int
    proposals: list[Proposal]
    rules: dict[str, list[dict[str, Any]]]

    @property
    def changes(self) -> list[Proposal]:
        return [p for p in self.proposals if p.moves]

    @property
    def monthly_saving_usd(self) -> float:
        return sum(p.monthly_saving_usd for p in self.changes)

    def to_json(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat(),
            "rows": self.rows,
            "changes": len(self.changes),
            "monthly_saving_usd": round(self.monthly_saving_usd, 2),
            "proposals": [p.to_json() for p in self.proposals],
        }


def learn(
    ledger: Ledger,
    routing: RoutingSettings,
    providers: Mapping[str, ProviderSettings],
    since: datetime,
    until: datetime,
) -> Learned:
    """Read ``[since, until)`` of the ledger and propose what the evidence supports."""
    groups = read_groups(ledger, since, until, routing.learning.context_buckets)
    evidence = gather(groups, providers)
    days = (until - since).total_seconds() / 86400.0
    proposals = propose(evidence, routing, days)
    rows = sum(g.requests for g in groups)
    return Learned(since, until, rows, proposals, overlay_rules(proposals, routing))


def summary(learned: Learned) -> str:
    """One line saying what an adoption of ``learned`` changes (kept with the adoption's row)."""
    return (
        f"{len(learned.changes)} change(s), expected saving ${learned.monthly_saving_usd:.2f}/month, "
        f"from {learned.rows} ledger requests"
    )


def overlay_text(learned: Learned) -> str:
    """The learned overlay's TOML text (see :mod:`routing.learned_overlay`)."""
    from routing.learned_overlay import render

    since = learned.since.isoformat() if learned.since else "the beginning"
    header = (
        f"Learned routing overlay, written by `hybrid-assist routing learn` from the ledger's {learned.rows} "
        f"requests\nof {since} to {learned.until.isoformat()}: {len(learned.changes)} change(s), expected saving "
        f"${learned.monthly_saving_usd:.2f}/month.\nSensitive code stays on the premises whatever these rules say."
    )
    return render(learned.rules, header)


def render_table(learned: Learned, *, all_cells: bool = False) -> str:
    """The proposals as a readable table (the changes, or with ``all_cells`` every cell)."""
    shown = learned.proposals if all_cells else learned.changes
    lines = [
        f"{learned.rows} ledger requests, {len(learned.proposals)} cell(s), {len(learned.changes)} change(s) proposed; "
        f"expected saving ${learned.monthly_saving_usd:.2f}/month",
    ]
    if not shown:
        held = [p for p in learned.proposals if not p.moves]
        lines.append("no change proposed" + (f" ({len(held)} cell(s) kept; --all shows why)" if held else ""))
        return "\n".join(lines) + "\n"
    header = ("task", "scope", "tokens", "lang", "now", "to", "local", "cloud", "cloud-local", "$/month", "why")
    table = [header]
    for p in shown:
        d, low, high = p.difference
        table.append(
            (
                p.cell.task,
                p.cell.scope_level,
                p.bucket,
                p.cell.language or "-",
                p.current,
                p.proposed if p.moves else "=",
                p.local.shown(),
                p.cloud.shown(),
                f"{d:+.0%} [{low:+.0%}, {high:+.0%}]",
                f"{p.monthly_saving_usd:+.2f}",
                p.why,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return "\n".join(lines) + "\n"
