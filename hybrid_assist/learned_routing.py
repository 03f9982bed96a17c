"""The learned routing overlay in force in one process (a gateway replica), kept in step with the database.

:class:`LearnedRouting` switches the running routing settings to an overlay
(:func:`routing.learned_overlay.switch_learned`: learned rules right above the
defaults, whatever a person configured still wins), keeps the adopted overlay
file ``<data_dir>/routing-learned.toml`` as the cache the loader reads when
the database is unreachable at start or absent, and adopts through the shared
usage database (:mod:`routing.usage.adoptions`): :meth:`adopt` writes a row,
:meth:`load_newest` takes the newest row at start, and :attr:`follower`
follows newer rows every ``[routing.learning] reload_s``, through the same
:meth:`apply` a local adoption takes. A language server on the same database
follows through :func:`language_server_follower`: it rewrites the overlay file
its settings loader reads and re-layers every session's settings.
"""

from __future__ import annotations

import logging
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hybrid_assist.settings import HybridSettings, data_directory
from routing.learned_overlay import adopted_path, rules_of, switch_learned, write_atomically
from routing.settings import RoutingSettings
from routing.usage.adoptions import Adoption, AdoptionFollower, record_adoption
from routing.usage.outage import is_unavailable

logger = logging.getLogger(__name__)


def _rules_in_file(path: Path) -> dict[str, list[Any]]:
    """The learned rules the loader layered from ``path`` at start (none when it is absent or unreadable)."""
    try:
        return rules_of(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


class LearnedRouting:
    """Adopts learned overlays for one process: ``read``/``write`` get and put its running routing settings."""

    def __init__(
        self,
        data_dir: str,
        read: Callable[[], RoutingSettings],
        write: Callable[[RoutingSettings], None],
        engine: Engine | None = None,
    ) -> None:
        self.path = adopted_path(data_directory(data_dir))
        self._read = read
        self._write = write
        self._lock = threading.Lock()
        self._rules = _rules_in_file(self.path)  # the overlay the running settings were loaded with
        self.engine = engine
        self.follower = (
            AdoptionFollower(engine, self.apply_adoption, read().learning.reload_s) if engine is not None else None
        )

    def apply(self, text: str) -> str:
        """Put ``text``'s learned rules in force here (requests in flight keep the settings they started with) and
        write it as this process's cached overlay; the path written. ``ValueError`` when it cannot be read."""
        rules = rules_of(text)
        with self._lock:
            self._write(switch_learned(self._read(), self._rules, rules))
            self._rules = rules
        try:
            write_atomically(self.path, text)
        except OSError as exc:  # the running policy switched; only the start-up cache is stale
            logger.warning("cannot write the learned routing overlay cache %s: %s", self.path, exc)
        return str(self.path)

    def apply_adoption(self, adoption: Adoption) -> None:
        self.apply(adoption.overlay)

    def adopt(self, text: str, adopted_by: str, summary: str = "") -> tuple[str, Adoption | None]:
        """Adopt ``text`` in the shared database (every replica follows it), then here; the path written and the
        row (None without a database). Raises what the database raises: nothing is adopted then."""
        rules_of(text)  # a text this process cannot read is refused before every replica gets it
        adoption = record_adoption(self.engine, text, adopted_by, summary) if self.engine is not None else None
        path = self.apply(text)
        if adoption is not None and self.follower is not None:
            self.follower.adopted(adoption)
        return path, adoption

    def load_newest(self) -> Adoption | None:
        """At start: the newest adoption in the database, in force (None: none, or the database is unreachable,
        and the cached file the loader read stays in force)."""
        if self.follower is None:
            return None
        try:
            return self.follower.check()
        except Exception as exc:  # the process starts all the same, on the overlay its loader read
            why = "usage database unavailable" if is_unavailable(exc) else f"cannot read the adoptions ({exc})"
            logger.warning("%s at start: the cached learned routing overlay %s stays in force", why, self.path)
            return None


def language_server_follower(
    settings: HybridSettings, engine: Engine | None, reload: Callable[[], object]
) -> AdoptionFollower | None:
    """A language server's follower (embedded mode, on the usage database ``engine``; None in gateway mode,
    where the gateway routes, or without a database): each newer adoption is written to the overlay file its
    settings loader reads, then ``reload`` re-layers every session's settings (called from a worker thread)."""
    if engine is None or settings.gateway.url:
        return None
    path = adopted_path(data_directory(settings.data_dir))

    def apply(adoption: Adoption) -> None:
        rules_of(adoption.overlay)  # ValueError: not written, the sessions keep theirs
        write_atomically(path, adoption.overlay)
        reload()

    return AdoptionFollower(engine, apply, settings.routing.learning.reload_s)
