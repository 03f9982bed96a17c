"""Running one :class:`~routing.service.RoutedCall` in its own task while its text is streamed out.

:class:`ServeTask` starts ``RoutingService.serve`` in a separate asyncio task
(tracked by the :class:`~gateway.state.Gateway`), so a client that goes away
only has to :meth:`ServeTask.cancel` it: the cancellation reaches the engine
(the generation is aborted) and the service still settles the budget and
writes the ledger row (outcome ``cancelled``) in that task, undisturbed by the
cancelled response.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request

from gateway.state import Gateway
from inference.types import ToolCallDelta
from routing.service import RoutedCall, Served

T = TypeVar("T")
_END = object()
#: Seconds between keep-alive comments on an open event stream.
SSE_PING_S = 15.0


class ClientGone(Exception):
    """The client closed the connection before the answer was ready."""


class ServeTask:
    def __init__(self, gateway: Gateway, call: RoutedCall, *, forward: bool = True) -> None:
        """``forward=False``: the text is not streamed, only :attr:`task`'s result counts (no queue)."""
        self._queue: asyncio.Queue[object] | None = asyncio.Queue() if forward else None
        serving = self._run(gateway, call, self._queue) if self._queue is not None else gateway.service.serve(call)
        self.task: asyncio.Task[Served] = asyncio.get_running_loop().create_task(serving)
        gateway.track(self.task)

    @staticmethod
    async def _run(gateway: Gateway, call: RoutedCall, queue: asyncio.Queue[object]) -> Served:
        try:
            return await gateway.service.serve(call, on_text=queue.put_nowait, on_tool_call=queue.put_nowait)
        finally:
            queue.put_nowait(_END)

    async def next_item(self) -> str | ToolCallDelta | None:
        """The next piece of streamed text or of a tool call, or None when the call has ended."""
        assert self._queue is not None, "next_item needs forward=True"
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # later calls see the end too
            return None
        assert isinstance(item, (str, ToolCallDelta))
        return item

    async def next_piece(self) -> str | None:
        """The next piece of streamed text, or None when the call has ended (tool-call pieces are skipped)."""
        while (item := await self.next_item()) is not None:
            if isinstance(item, str):
                return item
        return None

    async def result(self) -> Served:
        """What the call came to (re-raises an unexpected error of the service)."""
        return await asyncio.shield(self.task)

    def cancel(self) -> bool:
        """Abort the call if it is still running; True when it was."""
        if self.task.done():
            return False
        self.task.cancel()
        return True


async def unless_disconnected(request: Request, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``, raising :class:`ClientGone` if the client disconnects first.

    Only for after the body has been read: the next ASGI message is then the disconnect.
    ``awaitable`` is cancelled when the client goes (or when this coroutine is cancelled).
    """
    work = asyncio.ensure_future(awaitable)
    watch = asyncio.ensure_future(_disconnect(request))
    try:
        done, _ = await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        work.cancel()
        raise
    finally:
        watch.cancel()
        with contextlib.suppress(BaseException):
            await watch
    if work in done:
        return work.result()
    work.cancel()
    raise ClientGone


async def _disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def sse_response(events: AsyncIterator[dict[str, str]], headers: dict[str, str]) -> EventSourceResponse:
    """``events`` as a ``text/event-stream`` answer: never cached or buffered by proxies, a ping every 15 s."""
    return EventSourceResponse(
        events,
        ping=SSE_PING_S,
        sep="\n",
        headers={**headers, "Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
