"""The gateway's user store as the language server's session key checks read it: outages said once.

:class:`KeyVerifier <hybrid_assist.language_server.KeyVerifier>` checks the
key of every ``--tcp``/``--ws`` session at ``initialize`` and again every
``[server] key_recheck_s``. While the database is unreachable the
:class:`~gateway.auth.Authenticator` answers from the record it last read
(revocations wait for the database) or, for a key it never read, refuses it
for now; :class:`ReportingUserStore` logs the outage once when it starts and
once when it ends, not at every check of every session.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from gateway.store import KeyRecord, UserStore
from routing.usage.outage import UNAVAILABLE, is_unavailable

logger = logging.getLogger(__name__)


class ReportingUserStore(UserStore):
    """:class:`UserStore` whose :meth:`lookup` logs the start and the end of an outage (thread-safe)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.down = False
        self._lock = threading.Lock()

    def lookup(self, key_id: str) -> KeyRecord | None:
        try:
            record = super().lookup(key_id)
        except Exception as exc:
            if is_unavailable(exc):
                self._mark(True, exc)
            raise
        if self.down:
            self._mark(False)
        return record

    def _mark(self, down: bool, exc: BaseException | None = None) -> None:
        with self._lock:
            if self.down == down:
                return
            self.down = down
        if exc is not None:
            logger.warning(
                "%s: session keys cannot be checked (%s): running sessions go on with the keys they were admitted "
                "with, revocations take effect once it is back",
                UNAVAILABLE,
                str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
            )
        else:
            logger.warning("the user database is reachable again: session keys are checked again")
