"""``hybrid-assist gateway``: run the team gateway, and administer its users, keys and budgets.

::

    hybrid-assist gateway serve [--host H] [--port P]
    hybrid-assist gateway users add NAME [--team T] [--admin]   # the new key alone on the last line
    hybrid-assist gateway users list [--json]
    hybrid-assist gateway users revoke NAME
    hybrid-assist gateway keys rotate NAME                      # the new key alone on the last line
    hybrid-assist gateway budgets set (--user U | --team T) --monthly-usd X

The admin commands act on the database of ``[ledger] url`` (the one the
gateway serves from), so they work while the gateway runs, on any machine
that can reach that database.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Literal

from hybrid_assist.settings import HybridSettings

logger = logging.getLogger(__name__)


def add_gateway_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``gateway`` subcommand's actions and options."""
    actions = parser.add_subparsers(dest="gateway_command", required=True, metavar="ACTION")
    serve = actions.add_parser("serve", help="Serve the gateway HTTP API (docs/GATEWAY_API.md).")
    serve.add_argument("--host", default=None, help="Listen address (default: [gateway_server] host).")
    serve.add_argument("--port", type=int, default=None, help="Listen port (default: [gateway_server] port; 0: any).")
    serve.add_argument(
        "--tls-certfile", default=None, help="PEM certificate for HTTPS ([gateway_server] tls_certfile)."
    )
    serve.add_argument("--tls-keyfile", default=None, help="PEM key for HTTPS ([gateway_server] tls_keyfile).")
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        default=None,
        help="Trust X-Forwarded-* from --forwarded-allow-ips (behind a TLS-terminating proxy).",
    )
    serve.add_argument("--forwarded-allow-ips", default=None, help="Proxies whose X-Forwarded-* headers are trusted.")

    users = actions.add_parser("users", help="Add, list or revoke gateway users.")
    users_actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_actions.add_parser("add", help="Add a user; prints their new API key alone on the last line.")
    add.add_argument("name")
    add.add_argument("--team", default="default", help="Team, for budgets, policy overrides and reports.")
    add.add_argument("--admin", action="store_true", help="May call the /v1/admin endpoints.")
    listing = users_actions.add_parser("list", help="List users.")
    listing.add_argument("--json", action="store_true", help="Print a JSON array.")
    revoke = users_actions.add_parser("revoke", help="Revoke a user and all their keys.")
    revoke.add_argument("name")

    keys = actions.add_parser("keys", help="Rotate API keys.")
    keys_actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate = keys_actions.add_parser("rotate", help="Replace a user's key; prints the new key alone on the last line.")
    rotate.add_argument("name")

    budgets = actions.add_parser("budgets", help="Set monthly cloud budgets.")
    budgets_actions = budgets.add_subparsers(dest="budgets_command", required=True, metavar="ACTION")
    set_budget = budgets_actions.add_parser("set", help="Set the monthly budget of a user or a team.")
    who = set_budget.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", default=None)
    who.add_argument("--team", default=None)
    set_budget.add_argument("--monthly-usd", type=float, required=True, help="Monthly limit in US dollars.")
    set_budget.add_argument("--soft-fraction", type=float, default=None, help="Warn at this share (default [budgets]).")


def run_gateway(args: argparse.Namespace, settings: HybridSettings) -> int:
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    if args.gateway_command == "serve":
        return run_serve(args, settings)
    from gateway.store import StoreError
    from routing.usage.errors import LedgerError

    try:
        return _run_admin(args, settings)
    except StoreError as exc:
        print(f"hybrid-assist gateway: {exc}", file=sys.stderr)
        return 1
    except (LedgerError, ValueError) as exc:
        print(f"hybrid-assist gateway: {exc}", file=sys.stderr)
        return 2


def _run_admin(args: argparse.Namespace, settings: HybridSettings) -> int:
    from gateway.database import open_gateway_engine
    from gateway.store import UserStore, check_name
    from routing.usage.database import ledger_url

    engine = open_gateway_engine(ledger_url(settings.ledger.url, settings.data_dir))
    try:
        store = UserStore(engine)
        if args.gateway_command == "users" and args.users_command == "add":
            user, key = store.add_user(args.name, args.team, admin=args.admin)
            role = "admin" if user.admin else "user"
            print(f"added {role} {user.name} (team {user.team}); their API key, shown only this once:")
            print(key)
            return 0
        if args.gateway_command == "users" and args.users_command == "list":
            users = store.list_users()
            if args.json:
                print(json.dumps([u.to_json() for u in users], indent=2))
                return 0
            print(f"{'NAME':24} {'TEAM':16} {'ROLE':6} {'KEYS':>4}  STATE")
            for u in users:
                state = f"revoked {u.revoked_at:%Y-%m-%d}" if u.revoked_at else "active"
                print(f"{u.name:24} {u.team:16} {'admin' if u.admin else 'user':6} {u.active_keys:>4}  {state}")
            return 0
        if args.gateway_command == "users" and args.users_command == "revoke":
            user = store.revoke_user(args.name)
            print(f"revoked {user.name} and all their keys (gateways notice within [gateway_server] key_cache_ttl_s)")
            return 0
        if args.gateway_command == "keys" and args.keys_command == "rotate":
            key = store.rotate_key(args.name)
            print(f"rotated the key of {args.name}; the old key no longer works. The new key, shown only this once:")
            print(key)
            return 0
        if args.gateway_command == "budgets" and args.budgets_command == "set":
            from routing.usage.budgets import BudgetManager

            scope: Literal["user", "team"] = "user" if args.user else "team"
            name = check_name(args.user or args.team, scope)
            soft = args.soft_fraction if args.soft_fraction is not None else settings.budgets.soft_fraction
            BudgetManager(engine, settings.budgets).set_budget(scope, name, args.monthly_usd, soft)
            print(f"monthly budget of {scope} {name}: ${args.monthly_usd:.2f} (warning at {soft:.0%})")
            return 0
        return 2
    finally:
        engine.dispose()


def run_serve(args: argparse.Namespace, settings: HybridSettings) -> int:
    """Serve until interrupted (SIGINT/SIGTERM: finish open requests, flush the ledger)."""
    import uvicorn

    from hybrid_assist.gateway_app import build_gateway_app
    from hybrid_assist.http_protocol import http_protocol

    cfg = settings.gateway_server
    host = args.host if args.host is not None else cfg.host
    port = args.port if args.port is not None else cfg.port
    certfile = args.tls_certfile if args.tls_certfile is not None else cfg.tls_certfile
    keyfile = args.tls_keyfile if args.tls_keyfile is not None else cfg.tls_keyfile
    if bool(certfile) != bool(keyfile):
        print("hybrid-assist gateway: HTTPS needs both tls_certfile and tls_keyfile", file=sys.stderr)
        return 2
    proxy_headers = args.proxy_headers if args.proxy_headers is not None else cfg.proxy_headers
    forwarded = args.forwarded_allow_ips if args.forwarded_allow_ips is not None else cfg.forwarded_allow_ips
    app = build_gateway_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=certfile or None,
        ssl_keyfile=keyfile or None,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        server_header=False,
        http=http_protocol(cfg.header_timeout_s),
    )
    scheme = "https" if certfile else "http"
    logger.info("hybrid-assist gateway starting on %s://%s:%s", scheme, host, port)
    uvicorn.Server(config).run()
    return 0
