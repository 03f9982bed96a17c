"""``workspace/executeCommand``: ``hybrid.explainRoute``, status, and long commands with progress.

Long commands report ``$/progress`` and stop on
``window/workDoneProgress/cancel`` (pygls does not cancel a running command
on ``$/cancelRequest``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import uri_to_path
from lsp_server.host import Host, Registrar
from lsp_server.indexing import build_index_with_progress
from lsp_server.progress import only_the_work_was_cancelled
from lsp_server.requests import AssistRequest
from routing.tasks import parse_task

logger = logging.getLogger(__name__)

EXPLAIN_ROUTE = "hybrid.explainRoute"
STATUS = "hybrid.status"
REINDEX = "hybrid.reindex"
DOCUMENT_STATE = "hybrid.documentState"
MAX_DISK_DOCUMENT_BYTES = 5_000_000


def _argument(args: tuple[Any, ...]) -> dict[str, Any]:
    if len(args) != 1 or not isinstance(args[0], dict):
        raise JsonRpcInvalidParams(f"{EXPLAIN_ROUTE} takes one argument {{uri, position: {{line, character}}, task}}")
    return args[0]


def _document_for(ls: Host, uri: str) -> Document:
    """The open document, or the file read from disk when it is not open."""
    doc = ls.document(uri)
    if doc is not None:
        return doc
    if not uri.startswith("file:"):
        raise JsonRpcInvalidParams(f"document {uri!r} is not open")
    path = uri_to_path(uri)
    confinement = ls.session.confinement
    if not confinement.allows(path):
        raise JsonRpcInvalidParams(confinement.refusal(path))
    try:
        if path.stat().st_size > MAX_DISK_DOCUMENT_BYTES:
            raise JsonRpcInvalidParams(f"{path} is too large to analyse")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise JsonRpcInvalidParams(f"cannot read {path}: {exc.strerror}") from None
    return Document(uri, text, "")


def register(server: Registrar) -> None:
    @server.command(EXPLAIN_ROUTE)
    async def explain_route(ls: Host, *args: Any) -> dict[str, object]:
        arg = _argument(args)
        try:
            uri = str(arg["uri"])
            line = int(arg["position"]["line"])
            character = int(arg["position"]["character"])
            task = parse_task(str(arg.get("task", "completion")))
        except (KeyError, TypeError, ValueError) as exc:
            raise JsonRpcInvalidParams(f"{EXPLAIN_ROUTE}: bad argument ({exc})") from None
        if line < 0 or character < 0:
            raise JsonRpcInvalidParams(f"{EXPLAIN_ROUTE}: negative position")
        doc = _document_for(ls, uri)
        offset = doc.offset_at(line, character, ls.session.encoding)
        explanation = await ls.assistant.explain_route(ls.session, doc, AssistRequest(task, uri, offset))
        return explanation.to_json()

    @server.command(STATUS)
    async def status(ls: Host, *args: Any) -> dict[str, object]:
        runtime = ls.assistant.runtime
        budget = await ls.assistant.budget_status(ls.session.settings.user, ls.session.settings.team)
        local = runtime.local_state()
        index = ls.session.index
        return {
            "local": {
                "available": local.available,
                "reason": local.reason,
                "model": local.model,
                "queued": local.queued,
                "running": local.running,
                "aborted_total": runtime.local.load().aborted_total if runtime.local else 0,
            },
            "providers_missing_keys": sorted(runtime.missing_keys()),
            "providers_unhealthy": sorted(runtime.unhealthy()),
            "roots": [str(Path(r)) for r in ls.session.roots],
            "open_documents": len(ls.session.documents),
            "index_ready": bool(index and index.ready),
            "encoding": ls.session.encoding,
            "completions": {"accepted": ls.assistant.accepted, "rejected": ls.assistant.rejected},
            "budget": budget,
            "gateway": await ls.assistant.serving.status(),  # None: served in process
        }

    @server.command(DOCUMENT_STATE)
    def document_state(ls: Host, *args: Any) -> dict[str, object] | None:
        """The server's view of an open document, for diagnosing sync problems."""
        uri = args[0].get("uri") if args and isinstance(args[0], dict) else None
        doc = ls.document(str(uri)) if uri else None
        if doc is None:
            return None
        text = doc.text
        return {
            "uri": doc.uri,
            "version": doc.version,
            "language": doc.language,
            "has_tree": doc.tree is not None,
            "length": len(text),
            "sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
            "text": text if len(text) <= 100_000 else None,
        }

    @server.command(REINDEX)
    async def reindex(ls: Host, *args: Any) -> dict[str, object]:
        if ls.session.index is None:
            return {"indexed": False, "reason": "no workspace folder"}
        try:
            stats = await build_index_with_progress(ls)
        except asyncio.CancelledError:
            if only_the_work_was_cancelled():
                return {"indexed": False, "cancelled": True}
            raise  # the command itself was cancelled, not just the indexing it started
        return {"indexed": True, "files": getattr(stats, "files", None)}
