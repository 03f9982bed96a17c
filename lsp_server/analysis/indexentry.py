"""One file's entry in the workspace index, decoded lazily.

An entry holds the cache row (hash, size, language, package, definition
names, JSON symbols). Name lookups need only the names; a definition lookup
decodes the JSON once and builds just the definitions asked for; the full
:class:`FileSymbols` is built only when someone asks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsp_server.analysis.cache import CachedFile, loads
from lsp_server.analysis.symbols import Definition, FileSymbols, ImportRef

logger = logging.getLogger(__name__)

Reparse = Callable[[str, CachedFile], FileSymbols]
"""Fallback that re-extracts a file whose stored row is malformed."""


@dataclass(slots=True)
class IndexEntry:
    """Index state of one file (mutable: decoding is cached in place)."""

    row: CachedFile
    names: frozenset[str]
    symbols: FileSymbols | None = None
    parsed: list[Any] | None = None
    by_name: dict[str, list[list[Any]]] | None = None

    @classmethod
    def from_row(cls, row: CachedFile, symbols: FileSymbols | None = None) -> IndexEntry:
        """An entry for a cache row (and its symbols when already at hand)."""
        names = frozenset(row.names.split("\n")) if row.names else frozenset()
        return cls(row, names, symbols)

    def full(self, path: str, reparse: Reparse) -> FileSymbols:
        """All symbols of the file."""
        if self.symbols is None:
            try:
                self.symbols = FileSymbols.from_json(
                    path, self.row.content_hash, self.row.size, self.row.mtime_ns, loads(self.row.data)
                )
            except (ValueError, TypeError, IndexError) as exc:
                logger.warning("malformed index entry for %s, re-reading the file: %s", path, exc)
                self.symbols = reparse(path, self.row)
            self.parsed = self.by_name = None
        return self.symbols

    def _rows(self) -> list[Any] | None:
        if self.parsed is None:
            try:
                parsed = loads(self.row.data)
                if len(parsed) != 5 or not all(isinstance(p, list) for p in parsed[2:]):
                    raise ValueError("unexpected row layout")
            except ValueError:
                return None
            self.parsed = parsed
        return self.parsed

    def definitions_named(self, path: str, name: str, reparse: Reparse) -> tuple[Definition, ...]:
        """Definitions of ``name`` in the file, top-level first."""
        if name not in self.names:
            return ()
        if self.symbols is None and self.by_name is None:
            parsed = self._rows()
            if parsed is not None:
                by_name: dict[str, list[list[Any]]] = {}
                for row in parsed[2]:
                    by_name.setdefault(row[0], []).append(row)
                self.by_name = by_name
        if self.symbols is not None or self.by_name is None:
            return tuple(self.full(path, reparse).definitions_named(name))
        found = [Definition(r[0], r[1], path, *r[2:]) for r in self.by_name.get(name, [])]
        found.sort(key=lambda d: (d.container != "", d.start_byte))
        return tuple(found)

    def imports(self, path: str, reparse: Reparse) -> tuple[ImportRef, ...]:
        """The file's imports."""
        parsed = self._rows() if self.symbols is None else None
        if parsed is not None:
            return tuple(ImportRef(*i) for i in parsed[3])
        return self.full(path, reparse).imports

    def exports(self, path: str, reparse: Reparse) -> tuple[str, ...]:
        """The file's exported names."""
        parsed = self._rows() if self.symbols is None else None
        if parsed is not None:
            return tuple(str(e) for e in parsed[4])
        return self.full(path, reparse).exports
