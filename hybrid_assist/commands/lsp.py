"""``hybrid-assist lsp``: stdio for one editor, ``--tcp``/``--ws`` for a team's editors.

A network server binds loopback unless a host is given, and refuses to bind
any other address without ``[server] auth = "keys"`` (each session then proves
its user with a key from the gateway's user store, see :mod:`lsp_server.auth`).
``--ws`` checks the handshake's ``Origin`` against ``[server] allowed_origins``
and serves TLS with ``--tls-certfile``/``--tls-keyfile``.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import socket
import ssl
import sys
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hybrid_assist.config import SettingsLoader
from hybrid_assist.language_server import KeyVerifier, build_assistant
from hybrid_assist.settings import HybridSettings

if TYPE_CHECKING:
    from lsp_server.assistant import Assistant
    from lsp_server.server import HybridLanguageServer

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` listens on loopback only (a name counts when all its addresses are loopback)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def unauthenticated_exposure(settings: HybridSettings, host: str, port: int) -> str | None:
    """Why serving on ``host`` is refused (a non-loopback address without authentication), else None."""
    if settings.server.auth != "none" or is_loopback(host):
        return None
    return (
        f"hybrid-assist: refusing to serve on {host}:{port} without authentication: anyone who can reach that "
        "address could use this server's engines, cloud budget and the files it can read. "
        'Set [server] auth = "keys" in the config file (or HYBRID_ASSIST_SERVER__AUTH=keys) and give each user '
        "a key with `hybrid-assist gateway users add NAME`; or serve on 127.0.0.1 only."
    )


async def follow_learned_routing(
    settings: HybridSettings, assistant: Assistant, servers: Iterable[HybridLanguageServer]
) -> asyncio.Task[Any] | None:
    """Embedded mode on a usage database: the newest adopted learned overlay now (before the first session
    loads its settings), then a task following newer ones every ``[routing.learning] reload_s``, re-layering the
    settings of every session in ``servers``; None when there is nothing to follow."""
    from hybrid_assist.learned_routing import language_server_follower
    from routing.service import RoutingService

    serving = assistant.serving
    usage = serving.usage if isinstance(serving, RoutingService) else None
    ledger = usage.ledger if usage is not None else None
    loop = asyncio.get_running_loop()

    def reload_all() -> None:
        for server in list(servers):
            try:
                server.reload_settings()
            except Exception:  # one session's settings must not stop the others'
                logger.exception("cannot reload a session's settings after a learned routing adoption")

    follower = language_server_follower(
        settings, ledger.engine if ledger is not None else None, lambda: loop.call_soon_threadsafe(reload_all)
    )
    if follower is None:
        return None
    try:
        await asyncio.to_thread(follower.check)
    except Exception as exc:  # unreachable: the cached overlay file stays in force
        logger.warning("cannot read the adopted learned routing overlay at start (%s); the cached one stays", exc)
    return asyncio.create_task(follower.run()) if follower.interval_s > 0 else None


def tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


def run_lsp(
    loader: SettingsLoader[HybridSettings],
    settings: HybridSettings,
    *,
    tcp: tuple[str, int] | None = None,
    ws: tuple[str, int] | None = None,
    tls_certfile: str | None = None,
    tls_keyfile: str | None = None,
) -> int:
    from lsp_server import transport
    from lsp_server.server import HybridLanguageServer

    address = tcp or ws
    tls: ssl.SSLContext | None = None
    verifier: KeyVerifier | None = None
    if address is not None:
        problem = unauthenticated_exposure(settings, *address)
        if problem is not None:
            print(problem, file=sys.stderr, flush=True)
            return 2
        if tcp is not None and (tls_certfile or tls_keyfile):
            print("hybrid-assist: --tls-certfile/--tls-keyfile apply to --ws only", file=sys.stderr, flush=True)
            return 2
        certfile = tls_certfile if tls_certfile is not None else settings.server.tls_certfile
        keyfile = tls_keyfile if tls_keyfile is not None else settings.server.tls_keyfile
        if ws is not None and (certfile or keyfile):
            if not (certfile and keyfile):
                print("hybrid-assist: TLS needs both tls_certfile and tls_keyfile", file=sys.stderr, flush=True)
                return 2
            try:
                tls = tls_context(certfile, keyfile)
            except (OSError, ssl.SSLError) as exc:
                print(f"hybrid-assist: cannot load the TLS certificate or key: {exc}", file=sys.stderr, flush=True)
                return 2
        if settings.server.auth == "keys":
            logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
            try:
                verifier = KeyVerifier(settings)
                if not verifier.active_users():
                    logger.warning("no user has a key yet: add one with `hybrid-assist gateway users add NAME`")
                if settings.gateway.url:
                    logger.warning(
                        "gateway mode: the gateway charges every session to this server's own gateway key; "
                        "the session users' budgets and ledger rows apply only to what this process serves itself"
                    )
            except Exception as exc:
                print(f"hybrid-assist: cannot open the user store ([ledger] url): {exc}", file=sys.stderr, flush=True)
                return 2

    stdout = None if address else transport.reserve_stdout_for_jsonrpc()

    async def main() -> int:
        assistant = build_assistant(settings)
        # Everything loaded so far lives as long as the process: keep it out of the collector's
        # full passes (a gen-2 collection over it pauses requests for ~150 ms on this machine).
        gc.freeze()
        max_bytes = settings.server.max_message_bytes
        recheck_s = settings.server.key_recheck_s

        servers: weakref.WeakSet[HybridLanguageServer] = weakref.WeakSet()

        def factory() -> HybridLanguageServer:
            server = HybridLanguageServer(assistant, loader)
            servers.add(server)
            return server

        following = await follow_learned_routing(settings, assistant, servers)

        def ready(host: str, port: int) -> None:
            print(f"hybrid-assist: listening on {host}:{port}", file=sys.stderr, flush=True)

        try:
            if tcp is not None:
                await transport.serve_tcp(
                    factory, tcp[0], tcp[1], max_bytes, ready, verifier=verifier, key_recheck_s=recheck_s
                )
            elif ws is not None:
                await transport.serve_websocket(
                    factory,
                    ws[0],
                    ws[1],
                    max_bytes,
                    ready,
                    verifier=verifier,
                    key_recheck_s=recheck_s,
                    allowed_origins=settings.server.allowed_origins,
                    tls=tls,
                )
            else:
                server = factory()
                await transport.serve_stdio(server, max_bytes, stdout=stdout)
                return 0 if server.protocol._shutdown else 1
        finally:
            if following is not None:
                following.cancel()
            await assistant.close()
        return 0

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 130
    finally:
        if verifier is not None:
            verifier.close()
