"""The ledger's local journal: rows kept on disk, fsynced, while the usage database is down.

When the ledger's writer cannot reach the database
(:func:`routing.usage.outage.is_unavailable`), its batch is appended here
instead — one JSON line per :class:`~routing.usage.ledger.LedgerEntry`,
``fsync``-ed before the batch counts as written — so a row survives a
gateway restart during the outage. :meth:`Journal.drain` hands everything to
the database (in batches, each an idempotent insert: a row whose
``request_id`` is already there is ignored) and only then empties the file;
a crash between the two writes the same rows again, which the database
ignores, so every row lands exactly once. Several processes may share one
file: appends and drains hold an exclusive ``flock`` on it.

The journal is bounded (``[ledger] journal_max_entries``): beyond it, rows
are dropped and counted (:attr:`Journal.dropped`, logged) rather than filling
the disk. A torn last line (a crash mid-append) is skipped with a warning.
A line written before a field was added to the entry (``workspace`` and
``reason`` came with ledger migration 0003) reads with that field's default.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from routing.usage.database import default_data_dir
from routing.usage.ledger import LedgerEntry

logger = logging.getLogger(__name__)

DRAIN_BATCH = 1000


def encode(entry: LedgerEntry) -> str:
    """One JSON line for ``entry`` (its time as ISO 8601)."""
    values: dict[str, Any] = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}
    values["time"] = entry.time.isoformat()
    values["fallback_chain"] = list(entry.fallback_chain)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def decode(line: str) -> LedgerEntry:
    values = json.loads(line)
    values["time"] = datetime.fromisoformat(values["time"])
    values["fallback_chain"] = tuple(values["fallback_chain"])
    return LedgerEntry(**values)


class Journal:
    """An append-only, fsynced JSON-lines file of ledger rows waiting for the database."""

    def __init__(self, path: Path, max_entries: int = 100_000) -> None:
        self.path = path
        self.max_entries = max_entries
        self.dropped = 0
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked() as handle:
            self._entries = sum(1 for line in handle if line.strip())
        if self._entries:
            logger.warning(
                "the ledger journal %s holds %d rows from before; written when possible", path, self._entries
            )

    @property
    def entries(self) -> int:
        """Rows waiting (as this process counts them)."""
        return self._entries

    def size_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def append(self, entries: Sequence[LedgerEntry]) -> int:
        """Write ``entries`` and fsync; returns how many were kept (the rest dropped: the journal is full)."""
        room = max(0, self.max_entries - self._entries)
        kept = list(entries[:room])
        if len(kept) < len(entries):
            self.dropped += len(entries) - len(kept)
            logger.error(
                "the ledger journal %s is full (%d rows); %d rows dropped so far",
                self.path,
                self.max_entries,
                self.dropped,
            )
        if not kept:
            return 0
        data = "".join(encode(e) + "\n" for e in kept)
        with self._locked() as handle:
            handle.seek(0, os.SEEK_END)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            self._entries += len(kept)
        return len(kept)

    def drain(self, write: Callable[[Sequence[LedgerEntry]], None]) -> int:
        """Hand every row to ``write`` (idempotent, in batches), then empty the file; returns the rows written.

        If ``write`` raises, the file is left as it was (its rows are written again next time).
        """
        with self._locked() as handle:
            handle.seek(0)
            entries = list(self._read(handle))
            for start in range(0, len(entries), DRAIN_BATCH):
                write(entries[start : start + DRAIN_BATCH])
            handle.truncate(0)
            handle.flush()
            os.fsync(handle.fileno())
            self._entries = 0
        if entries:
            logger.warning("wrote %d journalled rows to the ledger", len(entries))
        return len(entries)

    def _read(self, handle: IO[str]) -> Iterator[LedgerEntry]:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield decode(line)
            except (ValueError, TypeError, KeyError) as exc:
                logger.warning("skipping line %d of the ledger journal %s: %s", number, self.path, exc)

    @contextmanager
    def _locked(self) -> Iterator[IO[str]]:
        with self._lock, open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                handle.seek(0)
                yield handle
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def open_journal(path: str, data_dir: str, max_entries: int) -> Journal:
    """The journal at ``path`` (``[ledger] journal_path``; empty: ``ledger-journal.jsonl`` in the data directory)."""
    directory = Path(data_dir).expanduser() if data_dir else default_data_dir()
    return Journal(Path(path).expanduser() if path else directory / "ledger-journal.jsonl", max_entries)
