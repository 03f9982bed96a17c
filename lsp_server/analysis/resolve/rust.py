"""Rust module resolution: ``mod`` declarations and ``crate::``/``super::``/``self::`` paths.

The crate root is ``src/lib.rs`` or ``src/main.rs`` next to the nearest
``Cargo.toml`` (or the document's directory without one). Module ``a::b`` is
``src/a/b.rs`` or ``src/a/b/mod.rs``. A path is walked through modules as
far as files exist; the next segment is an item looked up in the last
module's file. Paths starting with another crate are external (``stdlib``
for ``std``/``core``/``alloc``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lsp_server.analysis.resolve.base import (
    LOCAL,
    UNRESOLVED,
    Resolution,
    Resolver,
    external,
    workspace,
)
from lsp_server.analysis.symbols import ImportRef

_STD_CRATES = frozenset({"std", "core", "alloc", "proc_macro", "test"})


class RustResolver(Resolver):
    """Resolves Rust module paths inside one crate."""

    def _src(self) -> str | None:
        doc_dir = self.ctx.doc_dir
        if doc_dir is None:
            return None
        crate = self.ctx.configs.cargo_dir(doc_dir)
        if crate is not None and self.ctx.is_dir(os.path.join(crate, "src")):
            return os.path.join(crate, "src")
        return doc_dir

    def current_module(self) -> list[str]:
        """Module path of the document inside its crate."""
        src = self._src()
        path = self.ctx.doc_path
        if src is None or path is None or not path.startswith(src + os.sep):
            return []
        parts = os.path.splitext(os.path.relpath(path, src))[0].split(os.sep)
        if parts[-1] == "mod":
            parts = parts[:-1]
        if parts in (["lib"], ["main"]) or parts[:1] == ["bin"]:
            return []
        return parts

    def module_file(self, segments: list[str]) -> str | None:
        """File of the module at ``segments`` from the crate root."""
        src = self._src()
        if src is None:
            return None
        if not segments:
            return self.ctx.first_existing([os.path.join(src, "lib.rs"), os.path.join(src, "main.rs")])
        base = os.path.join(src, *segments)
        return self.ctx.first_existing([base + ".rs", os.path.join(base, "mod.rs")])

    def _start(self, segments: list[str]) -> tuple[list[str], list[str]] | None:
        current = self.current_module()
        first = segments[0]
        if first == "crate":
            return [], segments[1:]
        if first in {"super", "self"}:
            module = list(current)
            rest = list(segments)
            while rest and rest[0] in {"super", "self"}:
                if rest.pop(0) == "super" and module:
                    module.pop()
            return module, rest
        if self.module_file([*current, first]) is not None:
            return current, segments
        if not current and self.module_file([first]) is not None:
            return [], segments
        return None

    def resolve_segments(self, segments: list[str], member: str | None, detail: str) -> Resolution:
        """Resolve a module path plus an optional item/member."""
        start = self._start(segments) if segments else None
        if start is None:
            first = segments[0] if segments else ""
            return external("stdlib" if first in _STD_CRATES else "third-party")
        module, rest = start
        while rest and self.module_file([*module, rest[0]]) is not None:
            module.append(rest.pop(0))
        target = self.module_file(module)
        if target is None:
            return UNRESOLVED
        item = rest[0] if rest else member
        return workspace((target,), item, self.ctx, detail)

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        if ref.kind == "mod":
            target = self.module_file([*self.current_module(), ref.name])
            if target is None:
                return Resolution("unresolved", detail=f"mod {ref.name}: file not found")
            return workspace((target,), member, self.ctx, f"mod {ref.name}")
        if ref.kind == "module":
            return external("stdlib" if ref.module in _STD_CRATES else "third-party")
        segments = ref.module.split("::")
        if ref.kind == "star":
            return self.resolve_segments(segments, member, f"use {ref.module}::*")
        resolved = self.resolve_segments(segments, None, f"use {ref.module}")
        if member and resolved.kind == "workspace" and resolved.definition is None:
            return self.resolve_segments([*segments, member], None, f"use {ref.module}")
        return resolved

    def resolve_star(self, ref: ImportRef, name: str) -> Resolution | None:
        resolved = self.resolve_segments(ref.module.split("::"), name, f"use {ref.module}::*")
        if resolved.kind == "external":
            return resolved
        return resolved if resolved.definition is not None else None

    def resolve_path(
        self, segments: list[str], bindings: frozenset[str], imports: Mapping[str, list[ImportRef]]
    ) -> Resolution | None:
        first = segments[0]
        if first in {"crate", "super", "self"}:
            return self.resolve_segments(segments, None, "::".join(segments))
        refs = imports.get(first)
        if refs:
            ref = refs[0]
            if ref.kind == "mod":
                return self.resolve_segments([*self.current_module(), *segments], None, f"mod {first}")
            if ref.kind == "name":
                base = ref.module.split("::")
                return self.resolve_segments([*base, *segments[1:]], None, f"use {ref.module}")
            return self.resolve_import(ref, segments[1] if len(segments) > 1 else None)
        if first in bindings:
            return LOCAL
        return None
