"""Authenticating the sessions of a multi-client (``--tcp``/``--ws``) server.

With ``[server] auth = "keys"`` a connection is served only after its
``initialize`` carries a user's key: ``initializationOptions`` ``{"hybridAssist":
{"key": "..."}}``, or (WebSocket) an ``Authorization: Bearer <key>`` header on
the handshake. The key is checked by a :data:`Verifier` the composition root
injects (the gateway's user store: the same users, keys, hashing and
revocation; this package never imports :mod:`gateway`). A missing, unknown or
revoked key gets an ``initialize`` error with the reason and the connection is
closed; nothing else on it is processed. A verified key's user and team become
the session's identity (:attr:`HybridLanguageServer.identity`), which the
client's own settings cannot override.

The key is removed from the ``initialize`` message before pygls sees it, so it
is neither logged nor mistaken for a setting.

A running session's key is checked again every ``[server] key_recheck_s``
(:meth:`Gate.watch`): once it is refused (revoked, rotated, unknown) the
session's requests are refused, the client is told why (``window/showMessage``,
Error) and the connection is closed. While the key cannot be checked
(:class:`KeyUnavailable`: the user store is unreachable) the session goes on
and the next interval tries again: revocations wait for the store, as at the
gateway.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from hybrid_assist.config.loader import EDITOR_SECTIONS

if TYPE_CHECKING:
    from lsp_server.server import HybridLanguageServer

logger = logging.getLogger(__name__)

#: JSON-RPC ``RequestFailed`` (LSP 3.17): the request was well formed but refused.
REQUEST_FAILED = -32803
#: Seconds a connection may take to send a verifiable ``initialize`` before it is closed.
AUTH_DEADLINE_S = 60.0
KEY_FIELD = "key"

MISSING_KEY = (
    "hybrid-assist: this server needs a key: send it in initializationOptions as "
    '{"hybridAssist": {"key": "<your key>"}} (or, over WebSocket, as an "Authorization: Bearer <key>" header). '
    "Keys are issued by the server's admin (`hybrid-assist gateway users add NAME`); "
    "the editor configurations read yours from $HYBRID_ASSIST_KEY or a file."
)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a session belongs to: budgets, rate limits and the ledger are theirs."""

    user: str
    team: str


class AuthenticationFailed(Exception):
    """The key was refused; the message (never the key) goes to the client."""


class KeyUnavailable(AuthenticationFailed):
    """The key cannot be checked now (the user store is unreachable): neither accepted nor refused.

    A new session is refused with the message (it may retry); a running one is kept until the key can be
    checked again.
    """


#: Checks a key: its :class:`Identity`, or :class:`AuthenticationFailed` with the reason.
Verifier = Callable[[str], Awaitable[Identity]]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def pop_key(params: Any) -> str | None:
    """Remove and return the key from initialize ``params`` (``initializationOptions.hybridAssist.key``)."""
    if not isinstance(params, dict):
        return None
    options = params.get("initializationOptions")
    if not isinstance(options, dict):
        return None
    for section in EDITOR_SECTIONS:
        values = options.get(section)
        if isinstance(values, dict) and KEY_FIELD in values:
            key = values.pop(KEY_FIELD)
            return key.strip() if isinstance(key, str) and key.strip() else None
    return None


class Gate:
    """One connection's admission: holds ``initialize`` until its key is verified.

    ``verifier`` None: no authentication (every message passes). Otherwise
    :meth:`admit` is awaited for each message in arrival order (the next one is
    not read meanwhile), so nothing after ``initialize`` runs before the
    identity is set.
    """

    def __init__(self, verifier: Verifier | None, bearer: str | None = None, recheck_s: float = 0.0) -> None:
        self.verifier = verifier
        self.bearer = bearer
        self.recheck_s = recheck_s
        self.passed = verifier is None
        self._key: str | None = None  # the verified key, kept for the re-checks (never logged)

    @property
    def rechecks(self) -> bool:
        """Whether :meth:`watch` re-checks the key (a verifier and a positive ``recheck_s``)."""
        return self.verifier is not None and self.recheck_s > 0

    def arm(self, server: HybridLanguageServer) -> None:
        """Make the session's protocol refuse everything until this gate lets ``initialize`` through."""
        if not self.passed:
            server.protocol.authenticated = False

    async def admit(self, server: HybridLanguageServer, body: bytes | str) -> bytes | str | None:
        """The message to dispatch (the key removed), or None: refused, close the connection."""
        if self.passed or self.verifier is None:
            return body
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return body  # answered with a parse error by dispatch; still unauthenticated
        if not isinstance(message, Mapping) or message.get("method") != "initialize":
            return body  # the protocol refuses requests (ServerNotInitialized) and drops notifications
        request_id = message.get("id")
        if request_id is None:
            logger.warning("closing connection: initialize sent as a notification before authentication")
            return None
        params = message.get("params")
        key = pop_key(params)
        if self.bearer:
            key = self.bearer
        try:
            if key is None:
                raise AuthenticationFailed(MISSING_KEY)
            identity = await self.verifier(key)
        except AuthenticationFailed as exc:
            logger.warning("refused a session: %s", _first_line(exc))
            _refuse(server, request_id, str(exc), retry=isinstance(exc, KeyUnavailable))
            return None
        except Exception:
            logger.exception("the key could not be checked")
            _refuse(server, request_id, "hybrid-assist: the key could not be checked (see the server's log)")
            return None
        logger.info("session authenticated as %s (team %s)", identity.user, identity.team)
        server.identity = identity
        server.protocol.authenticated = True
        self.passed = True
        self._key = key
        return json.dumps(message)

    async def watch(self, server: HybridLanguageServer) -> None:
        """Re-check the session's key every ``recheck_s`` seconds; return once it is refused and the session ended.

        One verification per interval. A refused key ends the session (:func:`end_session`); the caller then
        closes the connection. :class:`KeyUnavailable` or an unexpected error keeps the session, logged once
        until a check succeeds again. Cancelled with the connection.
        """
        verifier = self.verifier
        if verifier is None or self.recheck_s <= 0:
            return
        unchecked = False
        while True:
            await asyncio.sleep(self.recheck_s)
            if self._key is None:
                continue  # not authenticated yet
            user = server.identity.user if server.identity is not None else "?"
            try:
                await verifier(self._key)
            except KeyUnavailable as exc:
                if not unchecked:
                    logger.warning(
                        "cannot re-check the key of %s's session (%s); the session goes on until it can be checked",
                        user,
                        _first_line(exc),
                    )
                unchecked = True
                continue
            except AuthenticationFailed as exc:
                end_session(server, str(exc))
                return
            except Exception:
                if not unchecked:
                    logger.exception("cannot re-check the key of %s's session; the session goes on", user)
                unchecked = True
                continue
            if unchecked:
                logger.info("the key of %s's session is checked again", user)
            unchecked = False


def end_session(server: HybridLanguageServer, reason: str) -> None:
    """A running session's key was refused: refuse its requests from now on, cancel its work, tell the client.

    The caller closes the connection. ``reason`` is the verifier's message (never the key).
    """
    detail = reason.removeprefix("hybrid-assist: ")
    logger.warning(
        "ending the session of %s: %s", server.identity.user if server.identity else "?", _first_line(detail)
    )
    protocol = server.protocol
    protocol.authenticated = False
    protocol.unauthenticated_reason = f"this session's key is no longer accepted ({_first_line(detail)})"
    server.cancel_all()
    server.show_message(
        f"hybrid-assist: this session was closed because its key is no longer accepted: {detail}",
        types.MessageType.Error,
    )


def _first_line(message: object) -> str:
    return str(message).splitlines()[0][:200] if str(message) else ""


def _refuse(server: HybridLanguageServer, request_id: Any, message: str, *, retry: bool = False) -> None:
    error = {"code": REQUEST_FAILED, "message": message, "data": {"retry": retry}}
    server.protocol._send_data({"jsonrpc": "2.0", "id": request_id, "error": error})
