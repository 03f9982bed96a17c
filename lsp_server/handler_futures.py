"""Release the futures pygls keeps for handlers that answer no request.

pygls (2.1) registers in ``JsonRPCProtocol._request_futures`` the future of
every handler it runs through ``_execute_handler``, under the message id, so
that a ``$/cancelRequest`` can find it; only a request's future is removed,
when its response is sent. A notification's handler (``didChange``, ...) and
each step of a generator handler run under a fresh ``uuid4`` id that nothing
ever removes: about 1.8 KB kept per keystroke-and-completion, forever (the
resident memory of a long-lived multi-client server grew linearly with the
requests it had answered). :class:`ReleasedHandlerFutures` removes every
handler's entry once its future is done, if the entry is still that future;
a running handler stays registered, so cancelling and session shutdown
(``HybridLanguageServer.cancel_all``) still reach it.
"""

from __future__ import annotations

from typing import Any

from pygls.protocol import JsonRPCProtocol
from pygls.protocol.json_rpc import MsgId


class ReleasedHandlerFutures(JsonRPCProtocol):
    """Mixin for a pygls protocol: a handler's entry in ``_request_futures`` ends with the handler."""

    def _execute_handler(
        self,
        msg_id: MsgId,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future: Any = self._request_futures.get(msg_id)
        if future is None:
            return

        def release(done: Any) -> None:
            if self._request_futures.get(msg_id) is done:
                del self._request_futures[msg_id]

        future.add_done_callback(release)  # a finished thread future calls it at once
