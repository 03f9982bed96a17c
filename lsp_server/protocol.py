"""``HybridProtocol``: pygls' LSP protocol made robust for editors and for many clients.

Differences from pygls' stock protocol:

- a request whose params do not validate gets a JSON-RPC ``InvalidParams``
  error instead of silence, and a request before ``initialize`` gets
  ``ServerNotInitialized`` instead of an internal error;
- UTF-8 positions are chosen whenever the client offers them (tree-sitter
  works in bytes), UTF-16 otherwise;
- the text of open documents is kept once, by the session's
  :class:`~lsp_server.analysis.documents.DocumentStore` (pygls' own copy is
  not maintained), so each keystroke is applied once;
- ``exit`` calls :attr:`on_exit` when set (multi-client mode ends just that
  session) instead of ``sys.exit()``;
- while :attr:`authenticated` is False (a multi-client server with
  ``[server] auth = "keys"`` before the key was verified, see
  :mod:`lsp_server.auth`, or one whose key was revoked since) every request is
  refused (with :attr:`unauthenticated_reason`) and every notification but
  ``exit`` dropped, ``initialize`` included;
- a handler's future is released when it is done, notifications' included
  (:mod:`lsp_server.handler_futures`), so memory does not grow per request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from lsp_server.handler_futures import ReleasedHandlerFutures

logger = logging.getLogger(__name__)

_ALWAYS_ALLOWED = {types.INITIALIZE, types.EXIT, types.CANCEL_REQUEST, "$/setTrace"}


@dataclass(frozen=True, slots=True)
class MalformedRequest:
    """A request whose params could not be structured; answered with ``error``."""

    id: int | str
    method: str
    error: JsonRpcException
    jsonrpc: str = "2.0"


class HybridProtocol(ReleasedHandlerFutures, LanguageServerProtocol):
    """One editor session's JSON-RPC protocol."""

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.initialized = False
        self.on_exit: Callable[[], None] | None = None
        self.authenticated = True
        self.unauthenticated_reason = "this session has not been authenticated"

    # -- robustness ------------------------------------------------------
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                return MalformedRequest(data["id"], str(data["method"]), exc)
            raise

    def handle_message(self, message: Any) -> None:
        if isinstance(message, MalformedRequest):
            logger.warning("malformed %s request %r", message.method, message.id)
            invalid = JsonRpcInvalidParams(f"invalid params for {message.method}")
            self._send_response(message.id, error=invalid.to_response_error())
            return
        method = getattr(message, "method", None)
        if not self.authenticated and method is not None and method != types.EXIT:
            if getattr(message, "id", None) is not None:
                refused = JsonRpcServerNotInitialized(f"{method}: {self.unauthenticated_reason}")
                self._send_response(message.id, error=refused.to_response_error())
            return
        if not self.initialized and method is not None and method not in _ALWAYS_ALLOWED:
            if getattr(message, "id", None) is not None:
                early = JsonRpcServerNotInitialized(f"{method}: the server has not been initialized")
                self._send_response(message.id, error=early.to_response_error())
            return
        super().handle_message(message)

    # -- lifecycle -------------------------------------------------------
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            offered = list(general.position_encodings)
            if types.PositionEncodingKind.Utf8 in offered:
                offered.remove(types.PositionEncodingKind.Utf8)
                general.position_encodings = [types.PositionEncodingKind.Utf8, *offered]
        result = yield from super().lsp_initialize(params)
        self.initialized = True
        return result

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        if self.on_exit is None:
            yield from super().lsp_exit(*args)
            return
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        self.on_exit()

    # -- document sync: one copy, owned by the session --------------------
    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield user_handler, (params,), None
