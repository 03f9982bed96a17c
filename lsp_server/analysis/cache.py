"""The on-disk index cache: one SQLite file per workspace folder.

Each row holds a file's path, modification time, size, content hash and its
:class:`FileSymbols` as compact JSON. A restart reuses a row when mtime and
size are unchanged, or when the content hash still matches, so only changed
files are parsed again. The schema key mixes an extractor version with the
text of every query file: editing a query invalidates the cache.

The cache is an optimisation: if SQLite fails (read-only disk, corrupt file,
locked by another process for too long) the failure is logged and indexing
goes on without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsp_server.analysis.languages import SUPPORTED_LANGUAGES, query_source
from lsp_server.analysis.symbols import FileSymbols

logger = logging.getLogger(__name__)

EXTRACTOR_VERSION = "2"


def schema_key() -> str:
    """Key that changes whenever extraction could produce different symbols."""
    digest = hashlib.blake2b(EXTRACTOR_VERSION.encode(), digest_size=12)
    for language in sorted(SUPPORTED_LANGUAGES):
        digest.update(language.encode())
        digest.update(query_source(language).encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class CachedFile:
    """One cache row: what the file looked like, its defined names and serialized symbols.

    ``names`` (newline-separated definition names) and ``package`` let the
    index answer name lookups without decoding ``data``.
    """

    mtime_ns: int
    size: int
    content_hash: str
    language: str
    package: str
    names: str
    data: str


class IndexCache:
    """Persistent symbols of the files under one workspace folder."""

    def __init__(self, directory: Path, root: Path) -> None:
        name = hashlib.blake2b(str(root).encode(), digest_size=10).hexdigest()
        self.path = directory / f"{name}.sqlite"
        self.root = root

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, mtime_ns INTEGER, "
            "size INTEGER, hash TEXT, language TEXT, package TEXT, names TEXT, data TEXT)"
        )
        key = schema_key()
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None or row[0] != key:
            with conn:
                conn.execute("DROP TABLE files")
                conn.execute(
                    "CREATE TABLE files (path TEXT PRIMARY KEY, mtime_ns INTEGER, size INTEGER, "
                    "hash TEXT, language TEXT, package TEXT, names TEXT, data TEXT)"
                )
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (key,))
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('root', ?)", (str(self.root),))
        return conn

    def load(self) -> dict[str, CachedFile]:
        """Every cached file of this folder ({} if the cache is unusable)."""
        try:
            conn = self._connect()
            try:
                rows = conn.execute(
                    "SELECT path, mtime_ns, size, hash, language, package, names, data FROM files"
                ).fetchall()
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            logger.warning("index cache %s unusable, indexing without it: %s", self.path, exc)
            return {}
        return {r[0]: CachedFile(*r[1:]) for r in rows}

    def store(self, rows: Iterable[tuple[str, CachedFile]], removed: Iterable[str] = ()) -> None:
        """Insert or replace ``rows`` and delete ``removed`` paths, in one transaction."""
        try:
            conn = self._connect()
            try:
                with conn:
                    conn.executemany(
                        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            (
                                p,
                                c.mtime_ns,
                                c.size,
                                c.content_hash,
                                c.language,
                                c.package,
                                c.names,
                                c.data,
                            )
                            for p, c in rows
                        ),
                    )
                    conn.executemany("DELETE FROM files WHERE path = ?", ((p,) for p in removed))
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            logger.warning("could not write index cache %s: %s", self.path, exc)

    def clear(self) -> None:
        """Delete every cached row of this folder."""
        try:
            conn = self._connect()
            try:
                with conn:
                    conn.execute("DELETE FROM files")
            finally:
                conn.close()
        except (sqlite3.Error, OSError) as exc:
            logger.warning("could not clear index cache %s: %s", self.path, exc)


def row_for(symbols: FileSymbols) -> CachedFile:
    """The cache row of freshly extracted symbols."""
    return CachedFile(
        mtime_ns=symbols.mtime_ns,
        size=symbols.size,
        content_hash=symbols.content_hash,
        language=symbols.language,
        package=symbols.package,
        names="\n".join(dict.fromkeys(d.name for d in symbols.definitions)),
        data=dumps(symbols.to_json()),
    )


def dumps(data: list[object]) -> str:
    """Compact JSON used for cache rows."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def loads(text: str) -> list[Any]:
    """Parse a cache row's JSON (``ValueError`` if it is not a list)."""
    value = json.loads(text)
    if not isinstance(value, list):
        raise ValueError("cache row is not a list")
    return value
