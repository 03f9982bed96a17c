"""What a resolution is, and the context every language resolver works in.

A resolver answers, for a name used in an open document: is it defined in
this file, in another workspace file (which file, which definition), outside
the workspace (standard library, third party, builtin), or nowhere known.
Language resolvers subclass :class:`Resolver` and override the hooks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.projectconfig import ConfigCache
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.analysis.symbols import Definition, FileSymbols, ImportRef

ResolutionKind = Literal["local", "workspace", "external", "unresolved"]


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a name resolves: ``files`` are workspace paths, ``definition`` the target."""

    kind: ResolutionKind
    files: tuple[str, ...] = ()
    definition: Definition | None = None
    detail: str = ""


LOCAL = Resolution("local", detail="defined in this file")
UNRESOLVED = Resolution("unresolved")


def external(detail: str) -> Resolution:
    """An external resolution (``stdlib``, ``third-party``, ``builtin``...)."""
    return Resolution("external", detail=detail)


@dataclass
class ResolveContext:
    """Everything resolvers may consult for one request."""

    doc_path: str | None
    language: str
    index: WorkspaceIndex | None
    settings: AnalysisSettings
    configs: ConfigCache
    roots: tuple[str, ...] = ()
    memo: dict[object, object] = field(default_factory=dict)

    @property
    def doc_dir(self) -> str | None:
        """Directory of the document (None for unsaved documents)."""
        return os.path.dirname(self.doc_path) if self.doc_path else None

    def has_file(self, path: str) -> bool:
        """Whether ``path`` is a workspace source file."""
        if path == self.doc_path:
            return True
        if self.index is not None:
            return self.index.has_file(path)
        return os.path.isfile(path)

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a directory (memoised per request)."""
        key = ("isdir", path)
        hit = self.memo.get(key)
        if hit is None:
            hit = os.path.isdir(path)
            self.memo[key] = hit
        return bool(hit)

    def symbols(self, path: str) -> FileSymbols | None:
        """Indexed symbols of a workspace file, if known (decodes everything: prefer below)."""
        return self.index.file(path) if self.index is not None else None

    def definitions(self, path: str, name: str) -> tuple[Definition, ...]:
        """Definitions of ``name`` in an indexed file, top-level first."""
        return self.index.definitions_named(path, name) if self.index is not None else ()

    def imports(self, path: str) -> tuple[ImportRef, ...]:
        """Imports of an indexed file."""
        return self.index.imports_of(path) if self.index is not None else ()

    def exports(self, path: str) -> tuple[str, ...]:
        """Exported names of an indexed file."""
        return self.index.exports_of(path) if self.index is not None else ()

    def indexed(self, path: str) -> bool:
        """Whether the index holds symbols for ``path``."""
        return self.index is not None and self.index.file_meta(path) is not None

    def first_existing(self, candidates: list[str]) -> str | None:
        """First candidate path that is a workspace file."""
        for candidate in candidates:
            if self.has_file(candidate):
                return candidate
        return None

    def root_of(self, path: str) -> str | None:
        """Innermost workspace folder containing ``path``."""
        best: str | None = None
        for root in self.roots:
            if (path == root or path.startswith(root.rstrip(os.sep) + os.sep)) and (
                best is None or len(root) > len(best)
            ):
                best = root
        return best


def definition_in(files: tuple[str, ...], name: str, ctx: ResolveContext) -> Definition | None:
    """The first top-level definition of ``name`` among ``files``."""
    for path in files:
        found = ctx.definitions(path, name)
        if found:
            return found[0]
    return None


def workspace(files: tuple[str, ...], member: str | None, ctx: ResolveContext, detail: str = "") -> Resolution:
    """A workspace resolution, narrowed to the file defining ``member`` when known."""
    if not files:
        return UNRESOLVED
    if member:
        found = definition_in(files, member, ctx)
        if found is not None:
            return Resolution("workspace", (found.path,), found, detail)
    return Resolution("workspace", files, None, detail)


class Resolver:
    """Language-neutral resolution; language subclasses override the hooks."""

    def __init__(self, ctx: ResolveContext) -> None:
        self.ctx = ctx

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        """Where the binding created by ``ref`` points (``member``: attribute used on it)."""
        return UNRESOLVED

    def resolve_unbound(self, name: str, member: str | None, imports: tuple[ImportRef, ...]) -> Resolution | None:
        """Fallback for names neither bound in the file nor imported (None: unknown)."""
        return None

    def resolve_path(
        self, segments: list[str], bindings: frozenset[str], imports: Mapping[str, list[ImportRef]]
    ) -> Resolution | None:
        """A qualified path such as ``crate::a::b`` or ``ns::Foo`` (None: not handled)."""
        return None

    def resolve_star(self, ref: ImportRef, name: str) -> Resolution | None:
        """``name`` through a wildcard import (None when that module does not provide it)."""
        return None
