"""Indexing the workspace in the background under ``$/progress`` (``initialized``, new folders, ``hybrid.reindex``)."""

from __future__ import annotations

import threading

from lsp_server.analysis.indexbuild import IndexStats
from lsp_server.host import Host
from lsp_server.progress import Report, run_with_progress

TITLE = "hybrid-assist: indexing workspace"


async def build_index_with_progress(host: Host) -> IndexStats | None:
    """(Re)build the session's index, reporting ``$/progress``; cancellable from the editor. None: no index."""
    index = host.session.index
    if index is None:
        return None
    cancel = threading.Event()

    async def build(report: Report) -> IndexStats:
        def progress(done: int, total: int, message: str) -> None:  # called on the event loop
            if total:
                report(message, min(100, done * 100 // total))

        return await index.build(progress=progress, cancel=cancel)

    try:
        return await run_with_progress(host, TITLE, build, done=lambda stats: f"{stats.files} files indexed")
    except BaseException:
        cancel.set()  # the build runs in a thread: tell it to stop
        raise
