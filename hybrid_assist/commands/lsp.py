"""``hybrid-assist lsp``: stdio for one editor, ``--tcp``/``--ws`` for a team's editors."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys

from hybrid_assist.config import HybridSettings, SettingsLoader
from hybrid_assist.runtime import build_assistant

logger = logging.getLogger(__name__)


def run_lsp(
    loader: SettingsLoader,
    settings: HybridSettings,
    *,
    tcp: tuple[str, int] | None = None,
    ws: tuple[str, int] | None = None,
) -> int:
    from lsp_server import transport
    from lsp_server.server import HybridLanguageServer

    stdout = None if (tcp or ws) else transport.reserve_stdout_for_jsonrpc()

    async def main() -> int:
        assistant = build_assistant(settings)
        # Everything loaded so far lives as long as the process: keep it out of the collector's
        # full passes (a gen-2 collection over it pauses requests for ~150 ms on this machine).
        gc.freeze()
        max_bytes = settings.server.max_message_bytes

        def factory() -> HybridLanguageServer:
            return HybridLanguageServer(assistant, loader)

        def ready(host: str, port: int) -> None:
            print(f"hybrid-assist: listening on {host}:{port}", file=sys.stderr, flush=True)

        try:
            if tcp is not None:
                await transport.serve_tcp(factory, tcp[0], tcp[1], max_bytes, ready)
            elif ws is not None:
                await transport.serve_websocket(factory, ws[0], ws[1], max_bytes, ready)
            else:
                server = factory()
                await transport.serve_stdio(server, max_bytes, stdout=stdout)
                return 0 if server.protocol._shutdown else 1
        finally:
            await assistant.close()
        return 0

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 130
