"""C and C++ resolution: ``#include`` files and the names they declare.

``#include "x.h"`` is looked for next to the including file, then in the
configured ``include_dirs`` (absolute, or relative to each workspace folder),
then in each folder's root, ``include/`` and ``src/``; ``#include <x.h>``
skips the including file's directory and is a system header when not found.
A name used in the document resolves to the first definition found in its
workspace includes, followed transitively (three levels). Names found in no
workspace header are external when the file includes system headers (they
most likely come from there) and unresolved otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lsp_server.analysis.resolve.base import (
    Resolution,
    Resolver,
    definition_in,
    external,
    workspace,
)
from lsp_server.analysis.symbols import ImportRef

_MAX_DEPTH = 3


class CFamilyResolver(Resolver):
    """Resolves includes and the names of included headers."""

    def _search_dirs(self) -> list[str]:
        cached = self.ctx.memo.get("c_dirs")
        if isinstance(cached, list):
            return cached
        dirs: list[str] = []
        for configured in self.ctx.settings.include_dirs:
            if os.path.isabs(configured):
                dirs.append(configured)
            else:
                dirs.extend(os.path.join(root, configured) for root in self.ctx.roots)
        for root in self.ctx.roots:
            dirs.extend([root, os.path.join(root, "include"), os.path.join(root, "src")])
        unique = list(dict.fromkeys(os.path.normpath(d) for d in dirs))
        self.ctx.memo["c_dirs"] = unique
        return unique

    def include_file(self, ref: ImportRef, from_file: str | None) -> str | None:
        """Workspace file an include names."""
        dirs = list(self._search_dirs())
        if ref.kind == "include" and from_file is not None:
            dirs.insert(0, os.path.dirname(from_file))
        return self.ctx.first_existing([os.path.normpath(os.path.join(d, ref.module)) for d in dirs])

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        found = self.include_file(ref, self.ctx.doc_path)
        if found is None:
            if ref.kind == "system_include":
                return external("system header")
            return Resolution("unresolved", detail=f'#include "{ref.module}" not found')
        return workspace((found,), member, self.ctx, f"#include {ref.module}")

    def included_files(self, imports: tuple[ImportRef, ...]) -> list[str]:
        """Workspace headers included by the document, transitively, nearest first."""
        cached = self.ctx.memo.get("c_closure")
        if isinstance(cached, list):
            return cached
        seen: list[str] = []
        frontier: list[tuple[ImportRef, str | None]] = [(r, self.ctx.doc_path) for r in imports]
        for _ in range(_MAX_DEPTH):
            following: list[tuple[ImportRef, str | None]] = []
            for ref, origin in frontier:
                if ref.kind not in {"include", "system_include"}:
                    continue
                found = self.include_file(ref, origin)
                if found is None or found in seen or found == self.ctx.doc_path:
                    continue
                seen.append(found)
                following.extend((r, found) for r in self.ctx.imports(found))
            frontier = following
        self.ctx.memo["c_closure"] = seen
        return seen

    def resolve_unbound(self, name: str, member: str | None, imports: tuple[ImportRef, ...]) -> Resolution | None:
        headers = tuple(self.included_files(imports))
        found = definition_in(headers, name, self.ctx)
        if found is not None:
            return Resolution("workspace", (found.path,), found, "declared in an included header")
        if any(r.kind == "system_include" for r in imports):
            return external("system header (assumed)")
        return None

    def resolve_path(
        self, segments: list[str], bindings: frozenset[str], imports: Mapping[str, list[ImportRef]]
    ) -> Resolution | None:
        if segments[0] == "std":
            return external("stdlib")
        return None
