"""The one ``$/progress`` helper: work run under a cancellable, server-initiated progress token.

:func:`run_with_progress` creates the token (none when the editor cannot
show progress, and the work runs all the same), runs the work as a task that
``window/workDoneProgress/cancel`` cancels (:attr:`Host.progress_tasks`),
hands it a :data:`Report` callable and always ends the token: with what
``done`` says of the result, ``cancelled`` or ``failed``. Used by workspace
indexing (:mod:`lsp_server.indexing`) and the long commands
(:mod:`lsp_server.long_commands`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from lsprotocol import types

from lsp_server.host import Host

logger = logging.getLogger(__name__)

T = TypeVar("T")

Report = Callable[[str, int], None]
"""``report(message, percentage)``: one ``$/progress`` report (nothing once the token has ended)."""


async def _begin(host: Host, title: str) -> str | None:
    """A new progress token, begun; None when the client cannot show progress or refused the token."""
    if not host.session.client.work_done_progress:
        return None
    token = f"hybrid-{uuid.uuid4().hex[:12]}"
    try:
        await host.work_done_progress.create_async(token)
    except Exception:  # the client refused: carry on without progress
        logger.debug("progress create refused", exc_info=True)
        return None
    host.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0))
    return token


def _done(_: object) -> str:
    return "done"


async def run_with_progress(
    host: Host,
    title: str,
    work: Callable[[Report], Awaitable[T]],
    *,
    done: Callable[[T], str] = _done,
) -> T:
    """Run ``work(report)`` under a progress token titled ``title``; its result, or its exception.

    The token ends with ``done(result)``, ``cancelled`` (the editor cancelled
    the token, or the caller was cancelled: ``CancelledError`` propagates) or
    ``failed``.
    """
    token = await _begin(host, title)
    ended = False

    def report(message: str, percentage: int) -> None:
        if token is not None and not ended:
            value = types.WorkDoneProgressReport(message=message, percentage=percentage)
            host.work_done_progress.report(token, value)

    task = host.spawn(work(report))
    if token is not None:
        host.progress_tasks[token] = task
    message = "failed"
    try:
        result = await task
        message = done(result)
        return result
    except asyncio.CancelledError:
        message = "cancelled"
        raise
    finally:
        ended = True
        if token is not None:
            host.progress_tasks.pop(token, None)
            host.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))


def only_the_work_was_cancelled() -> bool:
    """Inside ``except CancelledError``: True when the work was cancelled, not the request awaiting it.

    A command whose progress the editor cancelled answers normally (e.g.
    ``{"cancelled": true}``); one that was itself cancelled (shutdown) must re-raise.
    """
    current = asyncio.current_task()
    return current is None or not current.cancelling()
