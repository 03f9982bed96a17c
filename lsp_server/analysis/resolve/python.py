"""Python import resolution: absolute and relative imports, packages, ``__init__.py``, ``*``.

Absolute modules are looked for under every source root: each workspace
folder, its ``src/`` and ``lib/``, and the directory above the top-most
package containing the importing file. A module is ``a/b.py``, ``a/b.pyi``
or ``a/b/__init__.py``. Names imported from a package that the package does
not define resolve to its submodule when one exists; names the target only
re-imports are followed (up to three hops). Modules not in the workspace are
external: ``stdlib`` when in ``sys.stdlib_module_names``, else ``third-party``.
"""

from __future__ import annotations

import os
import sys

from lsp_server.analysis.resolve.base import (
    UNRESOLVED,
    Resolution,
    Resolver,
    external,
    workspace,
)
from lsp_server.analysis.symbols import ImportRef

_MAX_HOPS = 3


class PythonResolver(Resolver):
    """Resolves Python imports against the workspace."""

    def _source_roots(self) -> list[str]:
        cached = self.ctx.memo.get("py_roots")
        if isinstance(cached, list):
            return cached
        roots: list[str] = []
        for root in self.ctx.roots:
            roots.extend([root, os.path.join(root, "src"), os.path.join(root, "lib")])
        doc_dir = self.ctx.doc_dir
        if doc_dir is not None:
            top = doc_dir
            while self.ctx.has_file(os.path.join(top, "__init__.py")):
                parent = os.path.dirname(top)
                if parent == top:
                    break
                top = parent
            roots.append(top)
            roots.append(doc_dir)
        unique = list(dict.fromkeys(roots))
        self.ctx.memo["py_roots"] = unique
        return unique

    def module_file(self, base: str, parts: list[str]) -> str | None:
        """The file of module ``parts`` under directory ``base``."""
        target = os.path.join(base, *parts) if parts else base
        candidates = [os.path.join(target, "__init__.py"), os.path.join(target, "__init__.pyi")]
        if parts:
            candidates = [target + ".py", target + ".pyi", *candidates]
        return self.ctx.first_existing(candidates)

    def find_module(self, module: str, level: int, from_file: str | None) -> str | None:
        """Workspace file of a module, relative to ``from_file`` when ``level`` > 0."""
        parts = [p for p in module.split(".") if p] if module else []
        if level > 0:
            if from_file is None:
                return None
            base = os.path.dirname(from_file)
            for _ in range(level - 1):
                base = os.path.dirname(base)
            return self.module_file(base, parts)
        for root in self._source_roots():
            found = self.module_file(root, parts)
            if found is not None:
                return found
        return None

    def _outside(self, module: str) -> Resolution:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            return external("stdlib")
        return external("third-party")

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        return self._resolve(ref, member, self.ctx.doc_path, 0)

    def _resolve(self, ref: ImportRef, member: str | None, from_file: str | None, hops: int) -> Resolution:
        detail = f"import {ref.module}" if ref.kind == "module" else f"from {ref.module} import"
        if ref.kind == "module":
            bound = ref.module if ref.local != ref.module.split(".")[0] else ref.local
            found = self.find_module(bound, 0, from_file)
            if found is None:
                return self._outside(ref.module)
            if member:
                sub = self.find_module(f"{bound}.{member}", 0, from_file)
                if sub is not None:
                    return Resolution("workspace", (sub,), None, detail)
            return self._narrow((found,), member, from_file, hops, detail)
        package = self.find_module(ref.module, ref.level, from_file)
        if package is None:
            if ref.level > 0:
                return UNRESOLVED
            return self._outside(ref.module)
        if ref.kind == "star":
            return Resolution("workspace", (package,), None, detail)
        name = ref.name
        is_package = os.path.basename(package).startswith("__init__.")
        if is_package and not self.ctx.definitions(package, name):
            sub = self.module_file(os.path.dirname(package), [name])
            if sub is not None:
                return self._narrow((sub,), member, from_file, hops, detail)
        return self._narrow((package,), name, package, hops, detail, member)

    def _narrow(
        self,
        files: tuple[str, ...],
        name: str | None,
        from_file: str | None,
        hops: int,
        detail: str,
        member: str | None = None,
    ) -> Resolution:
        """Find ``name`` in ``files``, following re-imports; then ``member`` inside a module."""
        resolved = workspace(files, name, self.ctx, detail)
        if not name or resolved.definition is not None or hops >= _MAX_HOPS:
            return resolved
        for imported in self.ctx.imports(files[0]):
            if imported.local == name or (imported.kind == "star" and name in self._exports_of(imported, files[0])):
                target = imported
                if imported.kind == "star":
                    target = ImportRef(imported.module, "name", name, name, imported.level)
                inner = self._resolve(target, member, files[0], hops + 1)
                if inner.kind == "workspace":
                    return Resolution("workspace", inner.files, inner.definition, detail)
                return resolved
        return resolved

    def _exports_of(self, ref: ImportRef, from_file: str) -> tuple[str, ...]:
        found = self.find_module(ref.module, ref.level, from_file)
        return self.ctx.exports(found) if found else ()

    def resolve_star(self, ref: ImportRef, name: str) -> Resolution | None:
        found = self.find_module(ref.module, ref.level, self.ctx.doc_path)
        if found is None:
            return None if ref.level > 0 else self._outside(ref.module)
        if name in self.ctx.exports(found) or self.ctx.definitions(found, name):
            return self._narrow((found,), name, found, 0, f"from {ref.module} import *")
        return None
