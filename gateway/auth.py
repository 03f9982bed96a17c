"""Who is calling: ``Authorization: Bearer <key>`` checked against the store, cached in memory.

A key's record is kept for ``[gateway_server] key_cache_ttl_s`` seconds
(default 5), so a busy gateway reads the database for a key at most once per
TTL; a revocation or rotation made elsewhere (another replica, the CLI) takes
effect within that time, and one made through this gateway at once
(:meth:`Authenticator.forget_user`). Unknown key ids are cached too, so a
flood of made-up keys does not reach the database more than once per TTL each.

While the database is unreachable, a key seen before is checked against its
cached record however old (revocations made meanwhile wait for the
database); a key never seen before gets 503 ``usage_unavailable`` with
``Retry-After``, not 401 or 500.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway import keys
from gateway.errors import ApiError
from gateway.store import KeyRecord, UserStore
from routing.usage.outage import UNAVAILABLE, is_unavailable

_MAX_CACHED = 50_000
_RETRY_AFTER_S = 5
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hybrid-assist"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    name: str
    team: str
    admin: bool


class Authenticator:
    def __init__(self, store: UserStore, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[KeyRecord | None, float]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller named by an ``Authorization`` header value; :class:`ApiError` 401 otherwise."""
        if not authorization:
            raise ApiError(401, "unauthorized", "missing Authorization: Bearer <key> header", _CHALLENGE)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "expected Authorization: Bearer <key>", _CHALLENGE)
        parsed = keys.parse(token.strip())
        if parsed is None:
            raise ApiError(401, "unauthorized", "malformed API key", _CHALLENGE)
        key_id, secret = parsed
        record = await self._record(key_id)
        if record is None or not keys.verify(secret, record.salt, record.digest):
            raise ApiError(401, "unauthorized", "unknown API key", _CHALLENGE)
        if not record.active:
            raise ApiError(401, "unauthorized", "this API key has been revoked", _CHALLENGE)
        return Principal(record.user, record.team, record.admin)

    async def _record(self, key_id: str) -> KeyRecord | None:
        now = self._clock()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[1] < self.ttl_s:
            return cached[0]
        try:
            record = await asyncio.to_thread(self.store.lookup, key_id)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            if cached is not None:
                return cached[0]
            raise ApiError(
                503,
                "usage_unavailable",
                f"{UNAVAILABLE}: this key cannot be checked until it is back",
                {"Retry-After": str(_RETRY_AFTER_S)},
            ) from None
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[key_id] = (record, now)
        return record

    def forget_user(self, name: str) -> None:
        """Drop every cached key of ``name`` (after a revocation or rotation through this process)."""
        for key_id in [k for k, (record, _) in self._cache.items() if record is not None and record.user == name]:
            del self._cache[key_id]
