"""The gateway while the usage database is down: who is still served, and what the others are told.

The policy (``docs/GATEWAY.md``, "When the usage database is down") is
carried out by usage control (:mod:`routing.usage.outage`,
:class:`routing.control.UsageControl`); this module turns it into HTTP:

- a request that needs the budget is answered **503** with ``Retry-After``
  and the code ``usage_unavailable``, its message naming the cause ("usage
  database unavailable") — before an SSE stream starts when the outage is
  already known (:func:`refuse_if_unavailable`), and from any endpoint whose
  database call fails because the database is unreachable
  (:func:`as_api_error`, used by the hot routes and the application's last
  handler) instead of a 500;
- ``/readyz`` reports the database's state and the journal's backlog
  (:func:`database_json`).
"""

from __future__ import annotations

import math

from gateway.errors import ApiError
from gateway.state import Gateway
from routing.policy import RouteDecision
from routing.usage.errors import UsageUnavailable
from routing.usage.outage import UNAVAILABLE, is_unavailable

CODE = "usage_unavailable"


def unavailable_error(exc: UsageUnavailable) -> ApiError:
    """503 ``usage_unavailable`` with ``Retry-After``."""
    return ApiError(503, CODE, exc.message, {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))})


def as_api_error(gateway: Gateway, exc: BaseException) -> ApiError | None:
    """The 503 for an error caused by the unreachable usage database; None for any other error."""
    if isinstance(exc, UsageUnavailable):
        return unavailable_error(exc)
    if is_unavailable(exc):
        gateway.usage.health.failed(exc)
        return unavailable_error(gateway.usage.unavailable())
    return None


def refuse_if_unavailable(gateway: Gateway, decision: RouteDecision) -> None:
    """Raise the 503 now if ``decision`` needs the budget while the database is known to be down."""
    usage = gateway.usage
    if usage.health.available or usage.budgets is None or usage.fail_open:
        return
    primary = decision.primary
    if primary is not None and primary.cloud and decision.cost_usd > 0:
        raise unavailable_error(usage.unavailable())


def database_json(gateway: Gateway) -> dict[str, object]:
    """The usage database's state for ``/readyz``."""
    state = gateway.usage.health.state()
    ledger = gateway.ledger
    journal = ledger.journal if ledger is not None else None
    body: dict[str, object] = {"available": state.available}
    if not state.available:
        body["reason"] = f"{UNAVAILABLE}: {state.reason}"
        body["since"] = state.since
    if journal is not None:
        body["journal_entries"] = journal.entries
    return body
