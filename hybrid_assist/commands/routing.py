"""``hybrid-assist routing learn``: the policy changes the ledger's outcomes support, as a TOML overlay.

::

    hybrid-assist routing learn                  # the last 30 days; prints the changes, writes the proposal
    hybrid-assist routing learn --since 7d --all # every cell, with why it stays
    hybrid-assist routing learn --json
    hybrid-assist routing learn --apply          # adopt: the loader reads it from now on

The proposal is written to ``--output`` (default
``<data_dir>/routing-learned.proposed.toml``); ``--apply`` also writes it as
the adopted overlay ``<data_dir>/routing-learned.toml``, which the layered
configuration loader reads right above the defaults (see
:mod:`routing.learned_overlay`). The estimator is :mod:`routing.learning`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from hybrid_assist.commands.report import open_ledger
from hybrid_assist.settings import HybridSettings, data_directory
from routing.periods import parse_when


def add_routing_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``routing`` subcommand's actions and options."""
    actions = parser.add_subparsers(dest="routing_command", required=True, metavar="ACTION")
    learn = actions.add_parser(
        "learn", help="Propose policy changes from the ledger's outcomes (success rates with intervals)."
    )
    learn.add_argument(
        "--since", default="30d", help="Start: 30d / 7d / 12h ago, YYYY-MM-DD or an ISO date-time (default: 30d)."
    )
    learn.add_argument("--until", default="", help="End (exclusive), same forms (default: now).")
    learn.add_argument("--apply", action="store_true", help="Adopt the proposal: write the overlay the loader reads.")
    learn.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="PATH",
        help="Where to write the proposed overlay (default: <data_dir>/routing-learned.proposed.toml).",
    )
    learn.add_argument("--json", action="store_true", help="Print one JSON object.")
    learn.add_argument("--all", action="store_true", help="Show every cell, also those that do not move, and why.")
    learn.add_argument("--ledger", default="", help="Ledger URL (default: [ledger] url, or the data directory).")


def run_routing(args: argparse.Namespace, settings: HybridSettings, *, now: datetime | None = None) -> int:
    # Imported here: the parser is built for every command and must stay cheap.
    from routing.learned_overlay import adopted_path, proposed_path, write_atomically
    from routing.learning import learn, overlay_text, render_table

    now = now or datetime.now(UTC)
    try:
        since = parse_when(args.since, now)
        until = parse_when(args.until, now) if args.until else now
    except ValueError as exc:
        print(f"hybrid-assist routing learn: {exc}", file=sys.stderr)
        return 2
    if since >= until:
        print("hybrid-assist routing learn: --since must be before --until", file=sys.stderr)
        return 2
    ledger = open_ledger(args.ledger, settings, "routing learn")
    if ledger is None:
        return 1
    try:
        learned = learn(ledger, settings.routing, settings.providers, since, until)
    finally:
        ledger.close()
    data_dir = data_directory(settings.data_dir)
    text = overlay_text(learned)
    written = [args.output or proposed_path(data_dir)]
    if args.apply:
        written.append(adopted_path(data_dir))
    try:
        for path in written:
            write_atomically(path, text)
    except OSError as exc:
        print(f"hybrid-assist routing learn: cannot write the overlay: {exc}", file=sys.stderr)
        return 1
    if args.json:
        body = {**learned.to_json(), "overlay": str(written[0]), "applied": str(written[1]) if args.apply else None}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(learned, all_cells=args.all))
        print(f"overlay written to {written[0]}")
        if args.apply:
            print(f"adopted: {written[1]} (read by the configuration loader right above the defaults)")
        elif learned.changes:
            print("not adopted: run again with --apply to use it")
    return 0
