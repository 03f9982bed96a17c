"""How long a remote backend waits before trying a failed request again.

The number of retries comes from ``settings.max_retries``; this module only
decides the wait: the provider's ``retry-after`` when it sent one (up to
``max_retry_after_s``; a longer wait is better spent on a fallback target),
otherwise exponential backoff with jitter. No wait may run past the request's
deadline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryTiming:
    """Backoff parameters; tests pass tiny ones so retries take milliseconds."""

    initial_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    #: A longer retry-after is not waited for: the error goes to the router at once.
    max_retry_after_s: float = 20.0
    #: Fraction by which a backoff is randomly shortened (0.25: up to 25 %).
    jitter: float = 0.25

    def delay(self, retries_done: int, retry_after: float | None, remaining_s: float) -> float | None:
        """Seconds to wait before retry number ``retries_done + 1``; None to give up."""
        if retry_after is not None:
            if retry_after > self.max_retry_after_s:
                return None
            wait = retry_after
        else:
            backoff = min(self.initial_backoff_s * 2.0**retries_done, self.max_backoff_s)
            wait = backoff * (1.0 - self.jitter * random.random())
        if wait >= remaining_s:
            return None
        return max(0.0, wait)
