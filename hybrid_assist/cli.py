"""The ``hybrid-assist`` command: ``lsp``, ``connect``, ``complete``, ``doctor``, ``config``, ``models``, ``gateway``,
``report``, ``routing``, ``version``.

Every subcommand logs to stderr; ``lsp`` in stdio mode keeps stdout for
JSON-RPC alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from hybrid_assist import __version__

logger = logging.getLogger("hybrid_assist")


def _host_port(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``PORT`` alone (loopback)."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range in {value!r}")
    return host or "127.0.0.1", number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybrid-assist",
        description="AI code assistance over LSP, routed between a local engine and cloud APIs.",
    )
    parser.add_argument("--version", action="version", version=f"hybrid-assist {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        help="debug, info, warning or error (default: [server] log_level for lsp and gateway, warning otherwise)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="Log at info level (and show library logs).")
    parser.add_argument("--log-file", default=None, help="Also write the log to this file.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lsp = sub.add_parser("lsp", help="Run the language server (stdio by default).")
    mode = lsp.add_mutually_exclusive_group()
    mode.add_argument(
        "--tcp", type=_host_port, metavar="[HOST:]PORT", help="Serve many editors over TCP (host default 127.0.0.1)."
    )
    mode.add_argument(
        "--ws",
        type=_host_port,
        metavar="[HOST:]PORT",
        help="Serve many editors over WebSocket (host default 127.0.0.1).",
    )
    lsp.add_argument("--stdio", action="store_true", help="Serve one editor over stdin/stdout (the default).")
    lsp.add_argument("--tls-certfile", default=None, help="PEM certificate for --ws over TLS ([server] tls_certfile).")
    lsp.add_argument("--tls-keyfile", default=None, help="PEM key for --ws over TLS ([server] tls_keyfile).")

    from hybrid_assist.commands.connect import add_connect_arguments

    connect = sub.add_parser(
        "connect", help="Relay stdio to a shared --tcp/--ws server, adding your key (for stdio-only editors)."
    )
    add_connect_arguments(connect)

    complete = sub.add_parser("complete", help="Run one request through scope, route and engine, and print it.")
    complete.add_argument("file", type=Path)
    complete.add_argument("--line", type=int, required=True, help="0-based line, as in LSP.")
    complete.add_argument("--character", type=int, required=True, help="0-based column (UTF-16 units, as in LSP).")
    complete.add_argument("--task", default="completion", help="Task identifier (completion, explain, review, ...).")
    complete.add_argument("--json", action="store_true", help="Print one JSON object.")
    complete.add_argument(
        "--workspace", type=Path, default=None, help="Workspace root (default: the git root or the file's folder)."
    )
    complete.add_argument("--wait", type=float, default=120.0, help="Seconds to wait for the local engine to start.")

    doctor = sub.add_parser("doctor", help="Say which backends are usable, and what to do about the others.")
    doctor.add_argument("--json", action="store_true")

    config = sub.add_parser("config", help="Inspect the configuration.")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_sub.add_parser("schema", help="Print the JSON schema of the configuration.")
    config_sub.add_parser("show", help="Print the effective configuration (no secrets).")
    docs = config_sub.add_parser("docs", help="Write docs/CONFIGURATION.md from the schema.")
    docs.add_argument("--output", type=Path, default=Path("docs/CONFIGURATION.md"))

    models = sub.add_parser("models", help="Fetch or list local models.")
    models_sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    pull = models_sub.add_parser("pull", help="Download a model into the Hugging Face cache.")
    pull.add_argument("model", nargs="?", default="", help="Hub id (default: the configured local model).")
    models_sub.add_parser("list", help="List cached models.")

    from hybrid_assist.commands.report import add_report_arguments

    report = sub.add_parser("report", help="Cost and usage from the ledger, beside the all-cloud counterfactual.")
    add_report_arguments(report)

    from hybrid_assist.commands.routing import add_routing_arguments

    routing = sub.add_parser("routing", help="Learn routing policy changes from the ledger's outcomes.")
    add_routing_arguments(routing)

    from hybrid_assist.commands.gateway import add_gateway_arguments

    gateway = sub.add_parser("gateway", help="Run the team gateway, and manage its users, keys and budgets.")
    add_gateway_arguments(gateway)

    sub.add_parser("version", help="Print the version.")
    return parser


#: Commands that serve for a long time log at ``[server] log_level``; one-shot commands say only
#: what went wrong (warnings and errors) unless ``--verbose`` or ``--log-level`` asks for more.
SERVING_COMMANDS = frozenset({"lsp", "gateway", "connect"})
#: Libraries whose info lines are noise to a user (Alembic announces every migration step).
QUIET_LIBRARIES = ("pygls", "httpx", "httpcore", "websockets", "alembic")


def log_level_for(args: argparse.Namespace, configured: str) -> str:
    """The log level a command runs at: flag, then verbosity, then the command's default."""
    if args.log_level:
        return str(args.log_level)
    if args.verbose:
        return "info" if configured.lower() not in ("debug",) else configured
    return configured if args.command in SERVING_COMMANDS else "warning"


def _setup_logging(level: str, log_file: str | None, *, verbose: bool = False) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    if not verbose:
        for noisy in QUIET_LIBRARIES:
            logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from hybrid_assist.settings import settings_loader

    loader = settings_loader()
    roots = [args.workspace] if getattr(args, "workspace", None) else []
    loaded = loader.load(roots)
    _setup_logging(
        log_level_for(args, loaded.settings.server.log_level),
        args.log_file,
        verbose=args.verbose or bool(args.log_level),
    )
    for problem in loaded.problems:
        logger.warning("%s", problem)

    if args.command == "version":
        print(f"hybrid-assist {__version__}")
        return 0
    if args.command == "lsp":
        from hybrid_assist.commands.lsp import run_lsp

        return run_lsp(
            loader,
            loaded.settings,
            tcp=args.tcp,
            ws=args.ws,
            tls_certfile=args.tls_certfile,
            tls_keyfile=args.tls_keyfile,
        )
    if args.command == "connect":
        from hybrid_assist.commands.connect import run_connect

        return run_connect(args)
    if args.command == "complete":
        from hybrid_assist.commands.complete import run_complete

        return asyncio.run(run_complete(args, loader))
    if args.command == "doctor":
        from hybrid_assist.commands.doctor import run_doctor

        return asyncio.run(run_doctor(loaded, as_json=args.json))
    if args.command == "config":
        from hybrid_assist.commands.config import run_config

        return run_config(args, loaded.settings)
    if args.command == "report":
        from hybrid_assist.commands.report import run_report

        return run_report(args, loaded.settings)
    if args.command == "routing":
        from hybrid_assist.commands.routing import run_routing

        return run_routing(args, loaded.settings)
    if args.command == "gateway":
        from hybrid_assist.commands.gateway import run_gateway

        return run_gateway(args, loaded.settings)
    if args.command == "models":
        from hybrid_assist.commands.models import run_models

        return run_models(args, loaded.settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
