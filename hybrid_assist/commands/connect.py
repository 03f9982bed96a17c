"""``hybrid-assist connect ADDRESS``: a stdio language server that relays to a shared ``--tcp``/``--ws`` server.

For editors that start language servers only on stdio (JetBrains LSP4IJ,
Helix) and for anyone who prefers not to put a key in an editor's settings:
the editor starts ``hybrid-assist connect tcp://host:2087`` (or ``ws://``,
``wss://``) and this process relays JSON-RPC both ways, adding the user's key
— read from ``$HYBRID_ASSIST_KEY`` (``--key-env``) or ``--key-file``, never
from the command line — to ``initialize``'s ``initializationOptions``
(``{"hybridAssist": {"key": ...}}``) over TCP, or as an ``Authorization:
Bearer`` header on the WebSocket handshake. It ends when either side closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from hybrid_assist.config.loader import EDITOR_SECTIONS

logger = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "HYBRID_ASSIST_KEY"
_MAX_BYTES = 128 * 1024 * 1024


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address", help="The shared server: tcp://HOST:PORT (or HOST:PORT), ws://HOST:PORT or wss://HOST:PORT."
    )
    parser.add_argument(
        "--key-env", default=DEFAULT_KEY_ENV, help=f"Environment variable holding your key (default {DEFAULT_KEY_ENV})."
    )
    parser.add_argument("--key-file", default=None, help="File holding your key, read when the variable is unset.")
    parser.add_argument("--cafile", default=None, help="PEM CA bundle to trust for wss:// (default: the system's).")


def read_key(env_name: str, key_file: str | None, environ: Any = None) -> str | None:
    """The key from ``$env_name``, else the first line of ``key_file``; None when neither has one."""
    environ = os.environ if environ is None else environ
    value = environ.get(env_name, "").strip() if env_name else ""
    if value:
        return str(value)
    if key_file:
        text = Path(key_file).expanduser().read_text(encoding="utf-8").strip()
        return text.splitlines()[0].strip() if text else None
    return None


def add_key(body: bytes, key: str) -> bytes:
    """``body`` with ``key`` in ``initializationOptions.hybridAssist.key`` when it is an ``initialize`` request."""
    try:
        message = json.loads(body)
    except ValueError:
        return body
    if not isinstance(message, dict) or message.get("method") != "initialize":
        return body
    params = message.get("params")
    if not isinstance(params, dict):
        return body
    options = params.get("initializationOptions")
    if not isinstance(options, dict):
        options = {}
    section = next((name for name in EDITOR_SECTIONS if isinstance(options.get(name), dict)), None)
    if section is None:  # flat settings: move them into the section, where the server reads them too
        options = {"hybridAssist": dict(options)}
        section = "hybridAssist"
    options[section]["key"] = key
    params["initializationOptions"] = options
    return json.dumps(message).encode("utf-8")


def frame(body: bytes) -> bytes:
    return f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body


def run_connect(args: argparse.Namespace) -> int:
    try:
        key = read_key(args.key_env, args.key_file)
    except OSError as exc:
        print(f"hybrid-assist connect: cannot read the key file: {exc}", file=sys.stderr)
        return 2
    if key is None:
        logger.warning("no key in $%s or --key-file: the server may refuse the session", args.key_env)
    address = args.address if "://" in args.address else f"tcp://{args.address}"
    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "ws", "wss") or not parts.hostname or parts.port is None:
        print(f"hybrid-assist connect: expected tcp://HOST:PORT, ws://... or wss://..., got {args.address!r}")
        return 2
    try:
        return asyncio.run(_relay(address, parts.scheme, parts.hostname, parts.port, key, args.cafile))
    except KeyboardInterrupt:
        return 130


async def _relay(address: str, scheme: str, host: str, port: int, key: str | None, cafile: str | None) -> int:
    from lsp_server.transport import ProtocolViolation, read_message

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin.buffer)
    stdout: BinaryIO = sys.stdout.buffer

    def to_editor(body: bytes) -> None:
        stdout.write(frame(body))
        stdout.flush()

    async def from_editor() -> bytes | None:
        try:
            return await read_message(stdin, _MAX_BYTES)
        except ProtocolViolation as exc:
            logger.error("the editor sent something that is not LSP: %s", exc)
            return None

    if scheme == "tcp":
        try:
            reader, writer = await asyncio.open_connection(host, port, limit=2**20)
        except OSError as exc:
            print(f"hybrid-assist connect: cannot reach {address}: {exc}", file=sys.stderr)
            return 1

        async def upstream_tcp() -> None:
            first = True
            while (body := await from_editor()) is not None:
                if first and key is not None:
                    body = add_key(body, key)
                first = False
                writer.write(frame(body))
                await writer.drain()

        async def downstream_tcp() -> None:
            while (body := await read_message(reader, _MAX_BYTES)) is not None:
                to_editor(body)

        try:
            return await _until_either(upstream_tcp(), downstream_tcp())
        finally:
            writer.close()

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    headers = {"Authorization": f"Bearer {key}"} if key is not None else None
    tls = ssl.create_default_context(cafile=cafile) if scheme == "wss" else None
    try:
        ws = await connect(address, additional_headers=headers, ssl=tls, max_size=_MAX_BYTES)
    except (OSError, InvalidHandshake) as exc:
        print(f"hybrid-assist connect: cannot open {address}: {exc}", file=sys.stderr)
        return 1

    async def upstream_ws() -> None:
        while (body := await from_editor()) is not None:
            await ws.send(body.decode("utf-8"))

    async def downstream_ws() -> None:
        try:
            async for message in ws:
                to_editor(message.encode("utf-8") if isinstance(message, str) else message)
        except ConnectionClosed:
            pass

    try:
        return await _until_either(upstream_ws(), downstream_ws())
    finally:
        await ws.close()


async def _until_either(upstream: Any, downstream: Any) -> int:
    """Run both pumps; 0 when the editor closed its side, 1 when the server did."""
    editor = asyncio.ensure_future(upstream)
    server = asyncio.ensure_future(downstream)
    done, pending = await asyncio.wait({editor, server}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            logger.info("relay ended: %s", task.exception())
    return 0 if editor in done else 1
