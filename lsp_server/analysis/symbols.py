"""Values describing what a source file defines, imports and exports.

These are what the workspace index stores per file (and persists as JSON),
and what scope measurement and context assembly look up.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFINITION_KINDS = frozenset({"function", "method", "class", "type", "constant", "variable", "module"})
"""Kinds a :class:`Definition` can have."""

IMPORT_KINDS = frozenset(
    {
        "module",  # binds a module/package/namespace (import os, import * as ns, using X)
        "name",  # binds one name from a module (from m import f, import {f} from 'm')
        "star",  # makes every exported name of a module visible (from m import *, import a.*)
        "reexport",  # re-exports names without binding them (export {f} from './m')
        "reexport_star",  # export * from './m'
        "include",  # #include "x.h", require_relative, include 'x.php'
        "system_include",  # #include <x.h>
        "require",  # Ruby require 'x' (load path)
        "mod",  # Rust `mod name;`
        "side_effect",  # import './polyfill', import _ "pkg"
    }
)
"""Kinds an :class:`ImportRef` can have."""


@dataclass(frozen=True, slots=True)
class Definition:
    """A named definition in a file.

    Lines are 0-based; columns are UTF-8 byte columns (tree-sitter points);
    ``start_byte``/``end_byte`` cover the definition including decorators,
    ``export`` and template headers.
    """

    name: str
    kind: str
    path: str
    start_line: int
    start_col: int
    end_line: int
    end_col: int
    start_byte: int
    end_byte: int
    signature: str
    doc: str = ""
    container: str = ""
    exported: bool = True

    @property
    def qualified_name(self) -> str:
        """``Container.name`` for members, ``name`` otherwise."""
        return f"{self.container}.{self.name}" if self.container else self.name


@dataclass(frozen=True, slots=True)
class ImportRef:
    """One name binding (or dependency) created by an import-like statement.

    ``module`` is the spec as written (``os.path``, ``./util``, ``crate::a::b``,
    ``fmt``, ``util.h``); ``name`` the imported name inside it (``""`` when the
    module itself is bound); ``local`` the name bound in the importing file
    (``""`` when none); ``level`` the number of leading dots of a Python
    relative import.
    """

    module: str
    kind: str
    name: str = ""
    local: str = ""
    level: int = 0
    line: int = 0


@dataclass(frozen=True, slots=True)
class FileSymbols:
    """Everything the index knows about one file."""

    path: str
    language: str
    content_hash: str
    size: int
    mtime_ns: int
    package: str
    definitions: tuple[Definition, ...]
    imports: tuple[ImportRef, ...]
    exports: tuple[str, ...]

    def definitions_named(self, name: str) -> list[Definition]:
        """Definitions in this file called ``name`` (top-level first)."""
        found = [d for d in self.definitions if d.name == name]
        found.sort(key=lambda d: (d.container != "", d.start_byte))
        return found

    def to_json(self) -> list[object]:
        """Compact JSON-compatible form of the extracted parts (see :meth:`from_json`)."""
        return [
            self.language,
            self.package,
            [
                [
                    d.name,
                    d.kind,
                    d.start_line,
                    d.start_col,
                    d.end_line,
                    d.end_col,
                    d.start_byte,
                    d.end_byte,
                    d.signature,
                    d.doc,
                    d.container,
                    d.exported,
                ]
                for d in self.definitions
            ],
            [[i.module, i.kind, i.name, i.local, i.level, i.line] for i in self.imports],
            list(self.exports),
        ]

    @classmethod
    def from_json(cls, path: str, content_hash: str, size: int, mtime_ns: int, data: list[object]) -> FileSymbols:
        """Rebuild from :meth:`to_json` output (``ValueError``/``TypeError`` if malformed)."""
        language, package, defs, imports, exports = data
        if not (isinstance(defs, list) and isinstance(imports, list) and isinstance(exports, list)):
            raise ValueError("malformed cached symbols")
        return cls(
            path=path,
            language=str(language),
            content_hash=content_hash,
            size=size,
            mtime_ns=mtime_ns,
            package=str(package),
            definitions=tuple(Definition(d[0], d[1], path, *d[2:]) for d in defs),
            imports=tuple(ImportRef(*i) for i in imports),
            exports=tuple(str(e) for e in exports),
        )
