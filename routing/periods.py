"""Points in time as people write them on a command line or in a query: ``30d``, ``12h``, ``2025-06-01``.

Used by ``hybrid-assist report``, ``hybrid-assist routing learn`` and the
gateway's ``POST /v1/admin/routing/learn``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_when(value: str, now: datetime) -> datetime:
    """``YYYY-MM-DD``, an ISO date-time (naive = UTC) or ``<n>d|h|m`` before ``now``."""
    relative = _RELATIVE.match(value.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"cannot read {value!r} as a time: use YYYY-MM-DD, an ISO date-time, or e.g. 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
