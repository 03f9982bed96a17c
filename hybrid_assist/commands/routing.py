"""``hybrid-assist routing learn``: the policy changes the ledger's outcomes support, as a TOML overlay.

::

    hybrid-assist routing learn                  # the last 30 days; prints the changes, writes the proposal
    hybrid-assist routing learn --since 7d --all # every cell, with why it stays
    hybrid-assist routing learn --json
    hybrid-assist routing learn --apply          # adopt: every replica on the usage database follows it
    hybrid-assist routing learn --revert         # adopt an empty overlay: no learned rules anywhere

The proposal is written to ``--output`` (default
``<data_dir>/routing-learned.proposed.toml``); ``--apply`` adopts it: a row of
the usage database's ``routing_adoptions`` (:mod:`routing.usage.adoptions`),
which every gateway replica and language server on that database switches to
within ``[routing.learning] reload_s``, and the adopted overlay file
``<data_dir>/routing-learned.toml``, which the layered configuration loader
reads right above the defaults when it has no database (see
:mod:`routing.learned_overlay`). The estimator is :mod:`routing.learning`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hybrid_assist.commands.report import open_ledger
from hybrid_assist.settings import HybridSettings, data_directory
from routing.periods import parse_when

if TYPE_CHECKING:
    from routing.usage.adoptions import Adoption
    from routing.usage.ledger import Ledger


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
    adopt = learn.add_mutually_exclusive_group()
    adopt.add_argument(
        "--apply",
        action="store_true",
        help="Adopt the proposal: a row of the usage database every replica follows, and the overlay file.",
    )
    adopt.add_argument(
        "--revert", action="store_true", help="Adopt an empty overlay (no learned rules), without learning."
    )
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
    from routing.learning import learn, overlay_text, render_table, summary

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
        if args.revert:
            return _revert(ledger, settings, args.json)
        learned = learn(ledger, settings.routing, settings.providers, since, until)
        data_dir = data_directory(settings.data_dir)
        text = overlay_text(learned)
        written = [args.output or proposed_path(data_dir)]
        try:
            write_atomically(written[0], text)
            adoption = _adopt(ledger, settings, text, summary(learned)) if args.apply else None
            if args.apply:
                written.append(adopted_path(data_dir))
                write_atomically(written[1], text)
        except (OSError, _Refused) as exc:
            print(f"hybrid-assist routing learn: cannot {_what(exc)}: {exc}", file=sys.stderr)
            return 1
    finally:
        ledger.close()
    if args.json:
        body = {
            **learned.to_json(),
            "overlay": str(written[0]),
            "applied": str(written[1]) if args.apply else None,
            "adoption": adoption.to_json() if adoption is not None else None,
        }
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(learned, all_cells=args.all))
        print(f"overlay written to {written[0]}")
        if adoption is not None:
            print(
                f"adopted as #{adoption.id} in the usage database: every gateway replica and language server on it "
                f"follows within [routing.learning] reload_s ({settings.routing.learning.reload_s:g} s); "
                f"cached in {written[1]}"
            )
        elif learned.changes:
            print("not adopted: run again with --apply to use it")
    return 0


class _Refused(Exception):
    """The usage database refused the adoption (nothing was adopted)."""


def _what(exc: Exception) -> str:
    return "adopt the overlay" if isinstance(exc, _Refused) else "write the overlay"


def _adopt(ledger: Ledger, settings: HybridSettings, text: str, summary: str) -> Adoption:
    from sqlalchemy.exc import SQLAlchemyError

    from routing.usage.adoptions import record_adoption

    try:
        return record_adoption(ledger.engine, text, settings.user, summary)
    except SQLAlchemyError as exc:
        raise _Refused(f"the usage database: {str(exc).splitlines()[0]}") from None


def _revert(ledger: Ledger, settings: HybridSettings, as_json: bool) -> int:
    from routing.learned_overlay import REVERTED, adopted_path, empty_overlay, write_atomically

    text = empty_overlay(settings.user)
    path = adopted_path(data_directory(settings.data_dir))
    try:
        adoption = _adopt(ledger, settings, text, REVERTED)
        write_atomically(path, text)
    except (OSError, _Refused) as exc:
        print(f"hybrid-assist routing learn: cannot {_what(exc)}: {exc}", file=sys.stderr)
        return 1
    if as_json:
        sys.stdout.write(json.dumps({"reverted": True, "applied": str(path), "adoption": adoption.to_json()}) + "\n")
    else:
        print(f"reverted: adopted an empty overlay as #{adoption.id}; every replica drops its learned rules")
    return 0
