"""Lifecycle and workspace handlers: initialize, configuration, folders, watched files, indexing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from hybrid_assist.config.loader import editor_layer
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.paths import uri_to_path
from lsp_server.client_capabilities import ClientSupport
from lsp_server.host import Host, Registrar
from lsp_server.indexing import build_index_with_progress

logger = logging.getLogger(__name__)


class RootRefusedError(JsonRpcException):
    """``initialize`` named a workspace root outside ``[server] allowed_roots`` (``RequestFailed``)."""

    CODE = -32803
    MESSAGE = "Request failed"


def _roots(params: types.InitializeParams) -> list[Path]:
    uris = [folder.uri for folder in params.workspace_folders or []]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    if not uris and params.root_path:
        return [Path(params.root_path)]
    return [uri_to_path(uri) for uri in uris if uri.startswith("file:")]


def register(server: Registrar) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: Host, params: types.InitializeParams) -> None:
        session = ls.session
        session.encoding = ls.negotiated_encoding()
        session.client = ClientSupport.of(params.capabilities)
        roots = _roots(params)
        for root in roots:  # before anything reads a root (its hybrid-assist.toml included)
            refused = session.root_refusal(root, ls.identity.user if ls.identity else None)
            if refused is not None:
                logger.warning("refused a session's initialize: %s", refused)
                raise RootRefusedError(refused)
        session.roots = roots
        layer = editor_layer(params.initialization_options, "initializationOptions")
        if layer is not None:
            ls.editor_layers["init"] = layer
        ls.reload_settings()

    @server.feature(types.INITIALIZED)
    def initialized(ls: Host, params: types.InitializedParams) -> None:
        ls.assistant.runtime.start_local_in_background()
        ls.spawn(_announce_local_engine(ls))
        if ls.session.roots:
            ls.session.index = WorkspaceIndex(
                ls.session.roots, ls.session.settings.analysis, confined=ls.session.confined
            )
            ls.spawn(build_index_with_progress(ls))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: Host, params: types.DidChangeConfigurationParams) -> None:
        layer = editor_layer(params.settings, "didChangeConfiguration")
        if layer is not None:
            ls.editor_layers["change"] = layer
        ls.reload_settings()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: Host, params: types.DidChangeWatchedFilesParams) -> None:
        index = ls.session.index
        if index is None:
            return
        for change in params.changes:
            if not change.uri.startswith("file:"):
                continue
            path = uri_to_path(change.uri)
            if change.type == types.FileChangeType.Deleted:
                index.remove_file(path)
            else:
                open_doc = ls.document(change.uri)
                index.update_file(path, open_doc.text if open_doc else None)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(ls: Host, params: types.DidChangeWorkspaceFoldersParams) -> None:
        session = ls.session
        for folder in params.event.removed:
            path = uri_to_path(folder.uri)
            if path in session.roots:
                session.roots.remove(path)
            if session.index is not None:
                session.index.remove_root(path)
        for folder in params.event.added:
            path = uri_to_path(folder.uri)
            refused = session.root_refusal(path, ls.identity.user if ls.identity else None)
            if refused is not None:
                ls.show_message(refused, types.MessageType.Error)
                continue
            if path not in session.roots:
                session.roots.append(path)
            if session.index is None:
                session.index = WorkspaceIndex([path], session.settings.analysis, confined=session.confined)
            else:
                session.index.add_root(path)
        if params.event.added and session.index is not None:
            ls.spawn(build_index_with_progress(ls))
        ls.reload_settings()

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(ls: Host, params: types.WorkDoneProgressCancelParams) -> None:
        task = ls.progress_tasks.get(params.token)
        if task is not None:
            task.cancel()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: Host, *args: Any) -> None:
        ls.cancel_background()  # pygls cancels the other pending requests itself


async def _announce_local_engine(ls: Host) -> None:
    runtime = ls.assistant.runtime
    task = runtime.start_local_in_background()
    if task is not None:
        await task
    if runtime.local_error:
        ls.tell_once(
            f"hybrid-assist: the local engine is unavailable: {runtime.local_error}. "
            "Cloud-routed features keep working; run `hybrid-assist doctor` for what to do.",
            types.MessageType.Warning,
        )
