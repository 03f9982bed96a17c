"""``HybridLanguageServer``: one editor session on pygls, sharing the process-wide assistant.

A new instance is made per connection (stdio has one, TCP/WebSocket many);
each has its own :class:`Session` (documents, settings, index) and they all
share one :class:`~lsp_server.assistant.Assistant` and thus one engine and
router. Features live in :mod:`lsp_server.handlers`, registered by
:mod:`lsp_server.registration`; they see the server through the
:class:`~lsp_server.host.Host` protocol, which this class implements.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from hybrid_assist.config import ConfigLayer
from hybrid_assist.config.loader import WORKSPACE_FILE
from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import uri_to_path
from lsp_server.analysis.positions import PositionEncoding
from lsp_server.assistant import Assistant
from lsp_server.auth import Identity
from lsp_server.protocol import HybridProtocol
from lsp_server.registration import register_handlers
from lsp_server.session import Session
from lsp_server.session_settings import SettingsSource

logger = logging.getLogger(__name__)

SERVER_NAME = "hybrid-assist"
#: Seconds after the last keystroke before an open document is re-indexed.
INDEX_REFRESH_DELAY_S = 1.0


def server_version() -> str:
    """The installed hybrid-assist's version (the language server does not import the application's package)."""
    try:
        return version("hybrid-assist")
    except PackageNotFoundError:  # a checkout that was never installed
        return "0+unknown"


T = TypeVar("T")


def as_position_encoding(value: object) -> PositionEncoding:
    """The negotiated ``PositionEncodingKind`` as the analysis layer names it (UTF-16 when unknown)."""
    text = str(getattr(value, "value", value) or "utf-16")
    if text == "utf-8":
        return "utf-8"
    if text == "utf-32":
        return "utf-32"
    return "utf-16"


def _without_data(diagnostic: types.Diagnostic) -> types.Diagnostic:
    if diagnostic.data is None:
        return diagnostic
    bare = copy.copy(diagnostic)
    bare.data = None
    return bare


class HybridLanguageServer(LanguageServer):
    """The language server of one editor connection."""

    protocol: HybridProtocol

    def __init__(self, assistant: Assistant, loader: SettingsSource) -> None:
        super().__init__(SERVER_NAME, server_version(), protocol_cls=HybridProtocol, max_workers=2)
        self.assistant = assistant
        self.loader = loader
        loaded = loader.load()
        self.session = Session(settings=loaded.settings)
        self.session.apply_loaded(loaded)
        self.editor_layers: dict[str, ConfigLayer] = {}
        #: Set from a verified key (multi-client servers with ``[server] auth = "keys"``); overrides user/team.
        self.identity: Identity | None = None
        self.background: set[asyncio.Task[Any]] = set()
        self.inflight_completions: dict[str, asyncio.Task[Any]] = {}
        self.progress_tasks: dict[str | int, asyncio.Task[Any]] = {}
        self._index_refresh: dict[str, asyncio.TimerHandle] = {}
        register_handlers(self)

    # -- the Host protocol: what the handlers use ----------------------------
    def negotiated_encoding(self) -> PositionEncoding:
        return as_position_encoding(self.protocol.workspace.position_encoding)

    def structure(self, data: object, cls: type[T]) -> T:
        structured: T = self.protocol._converter.structure(data, cls)
        return structured

    def document(self, uri: str) -> Document | None:
        return self.session.documents.get(uri)

    def offset(self, doc: Document, position: types.Position) -> int:
        return doc.offset_at(position.line, position.character, self.session.encoding)

    def position(self, doc: Document, byte_offset: int) -> types.Position:
        line, character = doc.position_at(byte_offset, self.session.encoding)
        return types.Position(line=line, character=character)

    def reload_settings(self) -> None:
        """Re-layer the settings (files, env, editor options) and tell the user what was wrong."""
        layers = list(self.editor_layers.values())
        if self.identity is not None:  # last, so the client's own options cannot change who it is
            identity = {"user": self.identity.user, "team": self.identity.team}
            layers.append(ConfigLayer("the session's key", identity))
        confinement = self.session.confinement  # a workspace's hybrid-assist.toml linking out of it is not read
        roots = [root for root in self.session.roots if confinement.allows(root / WORKSPACE_FILE)]
        loaded = self.loader.load(roots, layers)
        for problem in self.session.apply_loaded(loaded):
            self.show_message(problem, types.MessageType.Warning)

    def schedule_index_refresh(self, uri: str) -> None:
        """Re-index an edited document from its tree once typing pauses (no reparse, no disk read)."""
        if self.session.index is None or not uri.startswith("file:"):
            return
        pending = self._index_refresh.pop(uri, None)
        if pending is not None:
            pending.cancel()
        loop = asyncio.get_running_loop()
        self._index_refresh[uri] = loop.call_later(INDEX_REFRESH_DELAY_S, self._refresh_index, uri)

    def _refresh_index(self, uri: str) -> None:
        self._index_refresh.pop(uri, None)
        doc, index = self.document(uri), self.session.index
        if doc is None or index is None:
            return
        try:
            index.update_document(uri_to_path(uri), doc)
        except Exception:  # the index is an optimisation; a failure must not break editing
            logger.exception("re-indexing %s failed", uri)

    def show_message(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def tell_once(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        if self.session.first_time(message):
            self.show_message(message, kind)

    def publish_diagnostics(self, uri: str, diagnostics: list[types.Diagnostic]) -> None:
        """Publish ``diagnostics`` for ``uri`` (without their ``data`` to a client that does not keep it)."""
        if not self.session.client.diagnostic_data:
            diagnostics = [_without_data(d) for d in diagnostics]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))

    async def apply_edit(self, edit: types.WorkspaceEdit, label: str) -> types.ApplyWorkspaceEditResult:
        return await self.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))

    async def show_document(self, uri: str) -> bool:
        """Open ``uri`` in the editor (``window/showDocument``); False when it cannot or refused."""
        if not self.session.client.show_document:
            return False
        try:
            shown = await self.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True))
        except Exception:  # the editor refused
            logger.debug("showDocument failed", exc_info=True)
            return False
        return bool(shown.success)

    def spawn(self, coro: Awaitable[T]) -> asyncio.Task[T]:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    def cancel_background(self) -> None:
        """Cancel the session's background work (indexing, superseded completions, long commands)."""
        for handle in self._index_refresh.values():
            handle.cancel()
        self._index_refresh.clear()
        for task in [*self.background, *self.inflight_completions.values(), *self.progress_tasks.values()]:
            task.cancel()

    def cancel_all(self) -> None:
        """Cancel every task of this session, pending requests included (its client went away)."""
        self.cancel_background()
        for future in list(self.protocol._request_futures.values()):
            future.cancel()
