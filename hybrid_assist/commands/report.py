"""``hybrid-assist report``: cost and usage from the ledger, beside what it would have cost all in the cloud.

::

    hybrid-assist report --since 2025-06-01 --by team
    hybrid-assist report --since 7d --by route --format csv
    hybrid-assist report --by user --format json --chart cost.png
    hybrid-assist report --all                      # every workspace's requests, not only this one's

A report shows the requests of one workspace: by default the current one (the
git repository around the current directory, else the directory itself);
``--workspace PATH`` picks another, ``--all`` shows every workspace (the
ledger is shared by every checkout of the user, and a team gateway's by the
team). Its header says which.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hybrid_assist.settings import HybridSettings
from hybrid_assist.workspace import workspace_root
from routing.periods import parse_when

__all__ = ["add_report_arguments", "open_ledger", "parse_when", "run_report"]

if TYPE_CHECKING:
    from routing.usage.ledger import Ledger


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``report`` subcommand's options."""
    parser.add_argument(
        "--since",
        default="",
        help="Start: YYYY-MM-DD, an ISO date-time, or 7d / 24h / 30m ago (default: start of this month, UTC).",
    )
    parser.add_argument("--until", default="", help="End (exclusive), same forms (default: now).")
    parser.add_argument("--by", choices=["user", "team", "task", "route"], default="team", help="Group rows by.")
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table", help="Output format.")
    parser.add_argument("--chart", type=Path, default=None, metavar="FILE.png", help="Also draw a bar chart.")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--workspace",
        type=Path,
        default=None,
        metavar="PATH",
        help="Only the requests of this workspace (default: the git root of the current directory, else it).",
    )
    which.add_argument("--all", action="store_true", help="The requests of every workspace.")
    parser.add_argument("--ledger", default="", help="Ledger URL (default: [ledger] url, or the data directory).")


def open_ledger(url: str, settings: HybridSettings, command: str) -> Ledger | None:
    """The ledger at ``url`` (default: the configured one); None, said on stderr, when there is none or it fails."""
    from routing.usage.database import ledger_url
    from routing.usage.errors import LedgerError
    from routing.usage.ledger import Ledger

    url = url or ledger_url(settings.ledger.url, settings.data_dir)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).expanduser().exists():
        print(f"hybrid-assist {command}: no ledger yet at {url.removeprefix('sqlite:///')}", file=sys.stderr)
        return None
    try:
        return Ledger.open(url)
    except LedgerError as exc:
        print(f"hybrid-assist {command}: {exc.message}", file=sys.stderr)
        return None


def run_report(args: argparse.Namespace, settings: HybridSettings, *, now: datetime | None = None) -> int:
    # Imported here: the parser (add_report_arguments) is built for every command and must stay cheap.
    from routing.usage.report import build_report, render_chart, render_csv, render_json, render_table

    now = now or datetime.now(UTC)
    try:
        since = (
            parse_when(args.since, now) if args.since else now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        )
        until = parse_when(args.until, now) if args.until else now
    except ValueError as exc:
        print(f"hybrid-assist report: {exc}", file=sys.stderr)
        return 2
    ledger = open_ledger(args.ledger, settings, "report")
    if ledger is None:
        return 1
    workspace = None if args.all else str((args.workspace or workspace_root(Path.cwd())).resolve())
    try:
        report = build_report(ledger, since, until, args.by, settings.providers, settings.routing.tasks, workspace)
    finally:
        ledger.close()
    renderers = {"table": render_table, "json": render_json, "csv": render_csv}
    sys.stdout.write(renderers[args.format](report).rstrip("\n") + "\n")
    if args.chart is not None:
        try:
            render_chart(report, args.chart)
        except ImportError:
            print("hybrid-assist report: --chart needs matplotlib (pip install matplotlib)", file=sys.stderr)
            return 1
        print(f"chart written to {args.chart}", file=sys.stderr)
    return 0
