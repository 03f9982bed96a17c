"""What a handler needs from the language server: the :class:`Host` protocol, and the :class:`Registrar`.

The handlers (:mod:`lsp_server.handlers`) and the helpers behind them
(:mod:`lsp_server.edits`, :mod:`lsp_server.resolver`,
:mod:`lsp_server.long_commands`, :mod:`lsp_server.progress`) take a
:class:`Host` — the session, the shared assistant, a few conveniences and
the editor-facing calls (messages, progress, diagnostics, applying an edit,
showing a document) — and never import the server class:
:class:`~lsp_server.server.HybridLanguageServer` implements :class:`Host`
(checked by mypy where it registers its handlers, :mod:`lsp_server.registration`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from lsprotocol import types
from pygls.progress import Progress

from hybrid_assist.config import ConfigLayer
from lsp_server.analysis.documents import Document
from lsp_server.analysis.positions import PositionEncoding
from lsp_server.assistant import Assistant
from lsp_server.auth import Identity
from lsp_server.session import Session

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class Host(Protocol):
    """One editor connection as its handlers see it."""

    session: Session
    """Documents, settings, roots, index, the review findings and the hover cache of this connection.

    ``session.client`` (:class:`~lsp_server.client_capabilities.ClientSupport`) is what the editor
    declared it can do; handlers ask it, never the raw ``ClientCapabilities``.
    """
    assistant: Assistant
    """The process-wide request pipeline (routing, engines, budgets)."""
    identity: Identity | None
    """The user/team of a verified key (``[server] auth = "keys"``), else None."""
    editor_layers: dict[str, ConfigLayer]
    """Settings the editor sent (``initializationOptions``, ``didChangeConfiguration``) by origin."""
    inflight_completions: dict[str, asyncio.Task[Any]]
    """The running completion per document URI (a new one supersedes it)."""
    progress_tasks: dict[str | int, asyncio.Task[Any]]
    """Work running under a ``$/progress`` token (``window/workDoneProgress/cancel`` cancels it)."""

    @property
    def work_done_progress(self) -> Progress: ...

    def negotiated_encoding(self) -> PositionEncoding:
        """The position encoding chosen at ``initialize`` (UTF-16 when unknown)."""
        ...

    def structure(self, data: object, cls: type[T]) -> T:
        """``data`` (JSON) as the lsprotocol type ``cls``; raises on a mismatch."""
        ...

    def document(self, uri: str) -> Document | None: ...

    def offset(self, doc: Document, position: types.Position) -> int: ...

    def position(self, doc: Document, byte_offset: int) -> types.Position: ...

    def reload_settings(self) -> None: ...

    def schedule_index_refresh(self, uri: str) -> None: ...

    def show_message(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None: ...

    def tell_once(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None: ...

    def publish_diagnostics(self, uri: str, diagnostics: list[types.Diagnostic]) -> None: ...

    async def apply_edit(self, edit: types.WorkspaceEdit, label: str) -> types.ApplyWorkspaceEditResult: ...

    async def show_document(self, uri: str) -> bool:
        """Open ``uri`` in the editor (``window/showDocument``); False when it cannot or refused."""
        ...

    def spawn(self, coro: Awaitable[T]) -> asyncio.Task[T]: ...

    def cancel_background(self) -> None: ...


class Registrar(Protocol):
    """Where a handler module registers its features and commands (pygls' decorators)."""

    def feature(self, feature_name: str, options: Any | None = None) -> Callable[[F], F]: ...

    def command(self, command_name: str) -> Callable[[F], F]: ...


class Server(Host, Registrar, Protocol):
    """A :class:`Host` its handler modules can register on: what :mod:`lsp_server.registration` takes."""
