"""The exceptions of usage control, drawn in one place.

::

    UsageControlError          any failure of the ledger, budgets or rate limits
    ├── LedgerError            the ledger cannot be opened, migrated or written
    ├── BudgetExceeded         a hard monthly budget would be exceeded: cloud blocked, local still served
    └── UsageUnavailable       the usage database is down and the request needs it (fail closed: HTTP 503)

A rate limit is not an exception: :meth:`RateLimiter.check` returns a
:class:`~routing.usage.ratelimit.RateDecision` the pipeline acts on.
"""

from __future__ import annotations


class UsageControlError(Exception):
    """Base class of the errors raised by :mod:`routing.usage`."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class LedgerError(UsageControlError):
    """The ledger database cannot be opened, migrated or written; the message says what to do."""


class BudgetExceeded(UsageControlError):
    """A reservation would take a user or team past its hard monthly budget.

    ``scope`` is ``"user"`` or ``"team"``, ``name`` whose budget it is; the
    message is meant for the user as is.
    """

    def __init__(self, message: str, *, scope: str, name: str, limit_usd: float, used_usd: float) -> None:
        super().__init__(message)
        self.scope = scope
        self.name = name
        self.limit_usd = limit_usd
        self.used_usd = used_usd


class UsageUnavailable(UsageControlError):
    """The usage database is down and this request needs its budget: refused, ``retry_after_s`` later.

    The message names the cause ("usage database unavailable"); the gateway
    answers 503 with ``Retry-After``.
    """

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
