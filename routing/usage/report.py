"""Cost and usage reports from the ledger: by user, team, task or route, with the all-cloud counterfactual.

:func:`build_report` sums the ledger over a period and prices the same
requests as if every one had gone to the cloud: a request served by a cloud
provider counts at its real cost; one served on the premises (the local
engine, an on-premises endpoint, the overflow GPU) is priced at the cloud
model its task would have used (``[routing.tasks.*] cloud``) with its own
token counts, cached prompt tokens at the cached price. ``estimated`` counts
the requests whose server reported no usage (their token counts are the
backend's own). A report covers one workspace (the requests of sessions
whose workspace root is it or a folder inside it) or, with ``workspace``
None, every workspace; its header says which. Failed, denied and unserved
requests count in ``failed`` (at no cost). The renderers turn a report into a table, JSON, CSV or a PNG
chart (matplotlib, Agg).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from inference.settings import ProviderSettings
from routing.policy import LOCAL, OVERFLOW, split_target
from routing.settings import TaskPolicy
from routing.usage.ledger import GroupBy, Ledger, UsageAggregate
from routing.usage.models import to_nanos, to_usd
from routing.usage.report_activity import Activity, activity


@dataclass(frozen=True, slots=True)
class ReportRow:
    """Usage of one user, team, task or route (or the total) over the report's period."""

    key: str
    requests: int = 0
    local_requests: int = 0  # served on the premises
    cloud_requests: int = 0  # served by a cloud provider
    failed: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost_nanousd: int = 0
    all_cloud_nanousd: int = 0  # the same requests, had all gone to the cloud
    accepted: int = 0
    rejected: int = 0
    estimated: int = 0  # requests whose token counts were estimated (the server reported no usage)
    local_saved_nanousd: int = 0  # all-cloud cost of the requests served on the premises, less what they cost
    cache_saved_nanousd: int = 0  # cloud prompt tokens read from the provider's cache: full input price less cached
    reused: int = 0  # answers reused without a model call
    reuse_saved_nanousd: int = 0  # what asking their model again would have cost
    tier_saved_nanousd: int = 0  # cheap-first tiers: the task's premium model's price less what the tiers cost
    check_failed: int = 0  # answers that failed their check (asked again of the next tier)

    @property
    def cost_usd(self) -> float:
        return to_usd(self.cost_nanousd)

    @property
    def all_cloud_usd(self) -> float:
        return to_usd(self.all_cloud_nanousd)

    @property
    def local_saved_usd(self) -> float:
        return to_usd(self.local_saved_nanousd)

    @property
    def cache_saved_usd(self) -> float:
        return to_usd(self.cache_saved_nanousd)

    @property
    def reuse_saved_usd(self) -> float:
        return to_usd(self.reuse_saved_nanousd)

    @property
    def tier_saved_usd(self) -> float:
        return to_usd(self.tier_saved_nanousd)

    @property
    def local_share(self) -> float | None:
        served = self.local_requests + self.cloud_requests
        return self.local_requests / served if served else None

    @property
    def cost_fraction(self) -> float | None:
        """Spend as a fraction of the all-cloud counterfactual."""
        return self.cost_nanousd / self.all_cloud_nanousd if self.all_cloud_nanousd else None

    @property
    def acceptance_rate(self) -> float | None:
        verdicts = self.accepted + self.rejected
        return self.accepted / verdicts if verdicts else None

    def __add__(self, other: ReportRow) -> ReportRow:
        return ReportRow(
            self.key,
            *(getattr(self, f) + getattr(other, f) for f in _SUMMED),
        )

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        data.update(
            cost_usd=self.cost_usd,
            all_cloud_usd=self.all_cloud_usd,
            local_saved_usd=self.local_saved_usd,
            cache_saved_usd=self.cache_saved_usd,
            reuse_saved_usd=self.reuse_saved_usd,
            tier_saved_usd=self.tier_saved_usd,
            local_share=self.local_share,
            cost_fraction=self.cost_fraction,
            acceptance_rate=self.acceptance_rate,
        )
        return data


_SUMMED = (
    "requests",
    "local_requests",
    "cloud_requests",
    "failed",
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "cost_nanousd",
    "all_cloud_nanousd",
    "accepted",
    "rejected",
    "estimated",
    "local_saved_nanousd",
    "cache_saved_nanousd",
    "reused",
    "reuse_saved_nanousd",
    "tier_saved_nanousd",
    "check_failed",
)


@dataclass(frozen=True, slots=True)
class UsageReport:
    since: datetime | None
    until: datetime | None
    by: str
    rows: tuple[ReportRow, ...]
    total: ReportRow
    activity: Activity | None = None  # active developers, escalations (None: not read from a ledger)
    workspace: str | None = None  # the workspace whose requests these are (None: every workspace)
    elsewhere: int = 0  # requests of the period in other workspaces (not in this report)

    @property
    def scope(self) -> str:
        """Whose requests: ``workspace PATH`` or ``all workspaces``."""
        return "all workspaces" if self.workspace is None else f"workspace {self.workspace}"

    def to_json(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "by": self.by,
            "workspace": self.workspace,
            "other_workspaces_requests": self.elsewhere,
            "rows": [row.to_json() for row in self.rows],
            "total": self.total.to_json(),
            "activity": self.activity.to_json(self.total.cost_usd) if self.activity else None,
        }


def build_report(
    ledger: Ledger,
    since: datetime | None,
    until: datetime | None,
    by: GroupBy,
    providers: Mapping[str, ProviderSettings],
    task_policies: Mapping[str, TaskPolicy],
    workspace: str | None = None,
) -> UsageReport:
    """Usage grouped ``by`` over ``[since, until)``, each group with its all-cloud counterfactual; ``workspace``:
    only that workspace's requests (None: every workspace's)."""
    aggregates = ledger.aggregate(since, until, by, workspace=workspace)
    report = summarize(aggregates, since, until, by, providers, task_policies)
    shown = activity(ledger, since, until, workspace)
    elsewhere = activity(ledger, since, until).requests - shown.requests if workspace is not None else 0
    return replace(report, activity=shown, workspace=workspace, elsewhere=elsewhere)


def summarize(
    aggregates: Iterable[UsageAggregate],
    since: datetime | None,
    until: datetime | None,
    by: str,
    providers: Mapping[str, ProviderSettings],
    task_policies: Mapping[str, TaskPolicy],
) -> UsageReport:
    rows: dict[str, ReportRow] = {}
    for aggregate in aggregates:
        row = _row(aggregate, providers, task_policies)
        rows[aggregate.key] = rows[aggregate.key] + row if aggregate.key in rows else row
    ordered = tuple(sorted(rows.values(), key=lambda r: (-r.cost_nanousd, -r.requests, r.key)))
    total = ReportRow("total")
    for row in ordered:
        total = total + row
    return UsageReport(since, until, by, ordered, replace(total, key="total"))


def is_cloud(target: str, providers: Mapping[str, ProviderSettings]) -> bool:
    """Served by a cloud API (not the local engine, the overflow GPU or an on-premises endpoint)."""
    provider = providers.get(target)
    return provider is not None and target != OVERFLOW and not provider.local


def all_cloud_cost(
    aggregate: UsageAggregate,
    providers: Mapping[str, ProviderSettings],
    task_policies: Mapping[str, TaskPolicy],
) -> int:
    """Nano-dollars these requests would have cost at the cloud model of their task (real cost if cloud)."""
    if is_cloud(aggregate.target, providers):
        return aggregate.cost_nanousd
    policy = task_policies.get(aggregate.task)
    if policy is None or not policy.cloud:
        return aggregate.cost_nanousd
    name, model = split_target(policy.cloud)
    provider = providers.get(name)
    price = provider.price(provider.model_or_default(model)) if provider else None
    if price is None:
        return aggregate.cost_nanousd
    return to_nanos(price.cost(aggregate.input_tokens, aggregate.cached_tokens, aggregate.output_tokens))


def _price_nanos(
    target: str, model: str, providers: Mapping[str, ProviderSettings], tokens: tuple[int, int, int]
) -> int:
    """``tokens`` (input, cached, output) at ``target``'s price for ``model`` (0: unpriced, or on the premises)."""
    provider = providers.get(target)
    if provider is None or not is_cloud(target, providers):
        return 0
    price = provider.price(provider.model_or_default(model))
    return to_nanos(price.cost(*tokens)) if price is not None else 0


def tier_saving(
    aggregate: UsageAggregate,
    providers: Mapping[str, ProviderSettings],
    task_policies: Mapping[str, TaskPolicy],
) -> int:
    """Cheap first: nano-dollars saved by a cheaper tier's answers against the task's premium model.

    The tokens of the answers that passed, at the premium (``cloud``) model's price, less what every answer of the
    group cost, the ones that failed their check (and were asked again) included. 0 outside tiered tasks, on the
    premises, and for the premium model's own answers.
    """
    policy = task_policies.get(aggregate.task)
    if policy is None or len(policy.order) < 2 or not is_cloud(aggregate.target, providers):
        return 0
    name, model = split_target(policy.cloud)
    premium = providers.get(name)
    if premium is None or (aggregate.target == name and premium.model_or_default(model) == aggregate.model):
        return 0
    passed = (
        aggregate.input_tokens - aggregate.check_failed_input_tokens,
        aggregate.cached_tokens,
        aggregate.output_tokens - aggregate.check_failed_output_tokens,
    )
    premium_cost = _price_nanos(name, model, providers, passed)
    return premium_cost - aggregate.cost_nanousd if premium_cost else 0


def _row(
    aggregate: UsageAggregate,
    providers: Mapping[str, ProviderSettings],
    task_policies: Mapping[str, TaskPolicy],
) -> ReportRow:
    cloud = is_cloud(aggregate.target, providers)
    on_premises = aggregate.target == LOCAL or (aggregate.target in providers and not cloud)
    all_cloud = all_cloud_cost(aggregate, providers, task_policies)
    cache_saved = 0
    if cloud and aggregate.cached_tokens:
        price = providers[aggregate.target].price(aggregate.model)
        if price is not None:
            cache_saved = to_nanos(aggregate.cached_tokens * (price.input - price.cached_input) / 1_000_000)
    return ReportRow(
        key=aggregate.key,
        requests=aggregate.requests,
        local_requests=aggregate.requests if on_premises else 0,
        cloud_requests=aggregate.requests if cloud else 0,
        failed=aggregate.failed,
        input_tokens=aggregate.input_tokens,
        cached_tokens=aggregate.cached_tokens,
        output_tokens=aggregate.output_tokens,
        cost_nanousd=aggregate.cost_nanousd,
        all_cloud_nanousd=all_cloud,
        accepted=aggregate.accepted,
        rejected=aggregate.rejected,
        estimated=aggregate.estimated,
        local_saved_nanousd=max(0, all_cloud - aggregate.cost_nanousd) if on_premises else 0,
        cache_saved_nanousd=cache_saved,
        reused=aggregate.reused,
        reuse_saved_nanousd=_price_nanos(
            aggregate.target,
            aggregate.model,
            providers,
            (aggregate.reused_input_tokens, 0, aggregate.reused_output_tokens),
        ),
        tier_saved_nanousd=tier_saving(aggregate, providers, task_policies),
        check_failed=aggregate.check_failed,
    )


# --- rendering -----------------------------------------------------------------------------------------------------

_COLUMNS = (
    "requests",
    "local %",
    "failed",
    "input tok",
    "cached tok",
    "output tok",
    "estimated",
    "cost $",
    "all-cloud $",
    "cost/all-cloud",
    "accepted %",
)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _cells(row: ReportRow) -> list[str]:
    return [
        str(row.requests),
        _percent(row.local_share),
        str(row.failed),
        str(row.input_tokens),
        str(row.cached_tokens),
        str(row.output_tokens),
        str(row.estimated),
        f"{row.cost_usd:.4f}",
        f"{row.all_cloud_usd:.4f}",
        _percent(row.cost_fraction) + ("" if row.cost_fraction is None else " %"),
        _percent(row.acceptance_rate),
    ]


def render_table(report: UsageReport) -> str:
    header = [report.by, *_COLUMNS]
    body = [[row.key, *_cells(row)] for row in report.rows]
    footer = [report.total.key, *_cells(report.total)]
    widths = [max(len(line[i]) for line in [header, *body, footer]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    period = f"{_when(report.since)} .. {_when(report.until)}"
    lines = [
        f"usage {period}, by {report.by}, {report.scope}",
        line(header),
        rule,
        *map(line, body),
        rule,
        line(footer),
    ]
    lines.extend(summary_lines(report))
    if report.total.estimated:
        lines.append(
            f"estimated: {report.total.estimated} request(s) whose server reported no token usage; "
            "their counts are the gateway's own (tokenizer or ~3.5 characters a token)"
        )
    if report.elsewhere:
        lines.append(f"not shown: {report.elsewhere} request(s) of other workspaces in this period (--all shows them)")
    return "\n".join(lines)


def summary_lines(report: UsageReport) -> list[str]:
    """Spend beside the all-cloud counterfactual, what local serving and caching saved, escalations, and the
    cost per active developer-month (beside hosted assistants' per-seat prices)."""
    total = report.total
    fraction = f" ({_percent(total.cost_fraction)} % of it)" if total.cost_fraction is not None else ""
    lines = [
        f"spent ${total.cost_usd:,.2f} beside ${total.all_cloud_usd:,.2f} all in the cloud{fraction}; "
        f"saved by local serving ${total.local_saved_usd:,.2f}, by provider prompt caching "
        f"${total.cache_saved_usd:,.2f} (cache reads at the cached price), by answer reuse "
        f"${total.reuse_saved_usd:,.2f} ({total.reused} answer(s) reused), by cheap-first tiers "
        f"${total.tier_saved_usd:,.2f} (against each task's premium model; {total.check_failed} answer(s) "
        "failed their check and were asked again)"
    ]
    activity = report.activity
    if activity is not None:
        per_month = activity.per_developer_month(total.cost_usd)
        lines.append(
            f"escalation rate {_percent(activity.escalation_rate)} % ({activity.escalated} of {activity.requests} "
            f"requests served by a second target: {activity.tier_escalated} asked of the next tier after a "
            f"failed check, the rest fallbacks); {activity.active_users} active developer(s) over "
            f"{activity.days:.1f} days: "
            + (f"${per_month:,.2f} per active developer-month" if per_month is not None else "no cost per month yet")
            + f" (hosted assistants list {SEAT_PRICES} per seat-month)"
        )
    return lines


SEAT_PRICES = "$19-40"
"""Business-plan list prices of hosted assistants per user-month in 2025 (GitHub Copilot Business $19 and
Enterprise $39, Cursor Teams $40, Amazon Q Developer Pro $19), for the reader's orientation."""


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


def render_json(report: UsageReport) -> str:
    return json.dumps(report.to_json(), indent=2)


def render_csv(report: UsageReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    fields = [
        "key",
        *_SUMMED,
        "cost_usd",
        "all_cloud_usd",
        "local_saved_usd",
        "cache_saved_usd",
        "reuse_saved_usd",
        "tier_saved_usd",
        "local_share",
        "cost_fraction",
        "acceptance_rate",
    ]
    writer.writerow([report.by if f == "key" else f for f in fields])
    for row in (*report.rows, report.total):
        data = row.to_json()
        writer.writerow(["" if data[f] is None else data[f] for f in fields])
    return out.getvalue()


def render_chart(report: UsageReport, path: Path, *, top: int = 20) -> None:
    """A PNG bar chart of spend beside the all-cloud counterfactual, per group (largest ``top``)."""
    from matplotlib.figure import Figure  # Agg canvas; no pyplot, no global state

    rows = report.rows[:top]
    figure = Figure(figsize=(max(6.0, 0.6 * len(rows) + 3), 4.5), layout="constrained")
    axes = figure.subplots()
    positions = range(len(rows))
    width = 0.4
    axes.bar([p - width / 2 for p in positions], [r.cost_usd for r in rows], width, label="spent")
    axes.bar([p + width / 2 for p in positions], [r.all_cloud_usd for r in rows], width, label="all cloud")
    axes.set_xticks(list(positions), [r.key for r in rows], rotation=45, ha="right")
    axes.set_ylabel("US dollars")
    axes.set_title(f"Cost by {report.by}: spent vs all-cloud ({_when(report.since)} .. {_when(report.until)})")
    axes.legend()
    figure.savefig(path, format="png", dpi=100)
