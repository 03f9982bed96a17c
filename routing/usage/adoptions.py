"""Adopted learned routing overlays in the shared usage database, and following the newest one.

Every adoption (``hybrid-assist routing learn --apply``, ``--revert``, the
gateway's ``POST /v1/admin/routing/learn?apply=true``) is a row of
``routing_adoptions``: who, when, the overlay's TOML text and the proposal's
summary. The newest row is the overlay in force; reverting is adopting an
empty overlay. Each replica on the database runs an :class:`AdoptionFollower`:
once per ``[routing.learning] reload_s`` it asks for the newest row's id (one
indexed query, in a worker thread, never on a request's path) and, when it is
newer than the one it follows, reads that row and hands it to ``apply`` (the
same code path a local adoption takes). While the database is unreachable
(:func:`routing.usage.outage.is_unavailable`) the replica keeps its current
policy and says so once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, insert, select

from routing.usage.database import write_transaction
from routing.usage.models import routing_adoptions
from routing.usage.outage import is_unavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Adoption:
    """One adopted overlay: ``overlay`` is its TOML text ('' or comments only: the learned rules are reverted)."""

    id: int
    created_at: datetime
    adopted_by: str
    overlay: str
    summary: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "adopted_by": self.adopted_by,
            "summary": self.summary,
        }


def record_adoption(engine: Engine, overlay: str, adopted_by: str, summary: str = "") -> Adoption:
    """Adopt ``overlay``: a new row, from now on the newest (every replica follows it)."""
    created = datetime.now(UTC).replace(tzinfo=None)
    by = adopted_by[:128]
    row = {"created_at": created, "adopted_by": by, "overlay": overlay, "summary": summary}
    with write_transaction(engine) as connection:
        inserted = connection.execute(insert(routing_adoptions).values(**row))
        key = inserted.inserted_primary_key
        assert key is not None
        adoption_id = int(key[0])
    return Adoption(adoption_id, created.replace(tzinfo=UTC), by, overlay, summary)


def newest_adoption_id(engine: Engine) -> int | None:
    """The newest adoption's id (None: nothing was ever adopted through the database)."""
    with engine.connect() as connection:
        value = connection.execute(select(func.max(routing_adoptions.c.id))).scalar_one()
    return None if value is None else int(value)


def newest_adoption(engine: Engine) -> Adoption | None:
    """The overlay in force: the newest row (None: nothing was ever adopted through the database)."""
    query = select(routing_adoptions).order_by(routing_adoptions.c.id.desc()).limit(1)
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None:
        return None
    created: datetime = row["created_at"]
    return Adoption(int(row["id"]), created.replace(tzinfo=UTC), row["adopted_by"], row["overlay"], row["summary"])


class AdoptionFollower:
    """Follows the newest adoption in ``engine``: ``apply`` gets each newer one (from a worker thread).

    ``seen``: the id in force here already (e.g. the one loaded at start, or one this replica adopted itself:
    :meth:`adopted`). :meth:`run` checks every ``interval_s``; :meth:`check` is one check (blocking).
    """

    def __init__(
        self, engine: Engine, apply: Callable[[Adoption], object], interval_s: float, seen: int | None = None
    ) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.seen = seen
        self._apply = apply
        self._down = False

    def adopted(self, adoption: Adoption) -> None:
        """This process adopted ``adoption`` itself (already applied): not again."""
        self.seen = max(self.seen or 0, adoption.id)

    def check(self) -> Adoption | None:
        """Apply the newest adoption if it is newer than the one in force; it (or None). Raises what the database
        raises."""
        newest = newest_adoption_id(self.engine)
        if newest is None or (self.seen is not None and newest <= self.seen):
            return None
        adoption = newest_adoption(self.engine)
        if adoption is None:
            return None
        try:
            self._apply(adoption)
        except ValueError as exc:  # a row this version cannot read (TOML, rules): keep the policy in force
            self.seen = adoption.id
            logger.error("cannot adopt learned routing overlay #%d: %s; keeping the one in force", adoption.id, exc)
            return None
        self.seen = adoption.id
        logger.info(
            "adopted learned routing overlay #%d (by %s%s)",
            adoption.id,
            adoption.adopted_by,
            f": {adoption.summary}" if adoption.summary else "",
        )
        return adoption

    async def run(self) -> None:
        """Check every ``interval_s`` until cancelled; an unreachable database keeps the current policy."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.check)
            except Exception as exc:
                if not self._down:
                    self._down = True
                    why = "usage database unavailable" if is_unavailable(exc) else "cannot read the adoptions"
                    logger.warning(
                        "%s: the learned routing overlay in force here stays until it is back (%s: %s)",
                        why,
                        type(exc).__name__,
                        str(exc).splitlines()[0] if str(exc) else "",
                    )
                continue
            if self._down:
                self._down = False
                logger.info("usage database reachable again: following the adopted learned routing overlay")
