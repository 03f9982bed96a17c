"""The unit of work of the initial index, run in worker processes.

A task is a batch of ``(path, cached_hash)`` pairs. For each file the worker
reads it, hashes it and, only when the hash differs from the cached one,
parses it and extracts its symbols. Results come back as cache rows (names
plus JSON text), which are cheaper to ship between processes than objects,
are written to the cache unchanged and decoded only when someone asks.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from lsp_server.analysis.cache import CachedFile, row_for
from lsp_server.analysis.extract import content_hash, symbols_from_bytes
from lsp_server.analysis.languages import language_from_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """Outcome for one file: ``row`` is None when its hash matched the cached one."""

    path: str
    mtime_ns: int
    size: int
    content_hash: str
    row: CachedFile | None


def read_source(path: str, max_bytes: int) -> tuple[bytes, int] | None:
    """``(content, mtime_ns)`` of a file, or None if unreadable or over ``max_bytes``."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            if stat.st_size > max_bytes:
                return None
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        logger.debug("cannot read %s: %s", path, exc)
        return None
    if len(data) > max_bytes:
        return None
    return data, stat.st_mtime_ns


def index_one(path: str, cached_hash: str, max_bytes: int) -> IndexedFile | None:
    """Index one file; None when it cannot be indexed (gone, too big, unknown language)."""
    language = language_from_path(path)
    if language is None:
        return None
    read = read_source(path, max_bytes)
    if read is None:
        return None
    data, mtime_ns = read
    digest = content_hash(data)
    if digest == cached_hash:
        return IndexedFile(path, mtime_ns, len(data), digest, None)
    symbols = symbols_from_bytes(path, language, data, mtime_ns, digest=digest)
    return IndexedFile(path, mtime_ns, len(data), digest, row_for(symbols))


def index_batch(tasks: list[tuple[str, str]], max_bytes: int) -> list[IndexedFile]:
    """:func:`index_one` over a batch of ``(path, cached_hash)``; skips unindexable files."""
    out: list[IndexedFile] = []
    for path, cached_hash in tasks:
        try:
            result = index_one(path, cached_hash, max_bytes)
        except (RecursionError, ValueError) as exc:
            logger.warning("could not index %s: %s", path, exc)
            continue
        if result is not None:
            out.append(result)
    return out
