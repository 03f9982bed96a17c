"""Go import resolution: module path from ``go.mod``, package directories, same-package names.

An import path under the module path of the nearest ``go.mod`` names a
directory of the module; its package is every non-test ``.go`` file there.
``pkg.Name`` resolves to the file defining ``Name``. Names used without a
package qualifier may come from other files of the same package (same
directory). Paths outside the module are ``stdlib`` when their first element
has no dot, ``third-party`` otherwise.
"""

from __future__ import annotations

import os

from lsp_server.analysis.resolve.base import Resolution, Resolver, external, workspace
from lsp_server.analysis.symbols import ImportRef


class GoResolver(Resolver):
    """Resolves Go imports and same-package identifiers."""

    def package_files(self, directory: str) -> tuple[str, ...]:
        """Non-test Go files of the package in ``directory``."""
        key = ("go_pkg", directory)
        cached = self.ctx.memo.get(key)
        if isinstance(cached, tuple):
            return cached
        files: list[str] = []
        if self.ctx.index is not None and self.ctx.index.ready:
            files = [s.path for s in self.ctx.index.files_in_directory(directory)]
        elif self.ctx.is_dir(directory):
            try:
                files = [os.path.join(directory, n) for n in sorted(os.listdir(directory))]
            except OSError:
                files = []
        out = tuple(f for f in files if f.endswith(".go") and not f.endswith("_test.go") and f != self.ctx.doc_path)
        self.ctx.memo[key] = out
        return out

    def package_dir(self, import_path: str) -> str | None:
        """Workspace directory of an import path (None when outside the module)."""
        if self.ctx.doc_dir is None:
            return None
        module = self.ctx.configs.go_module(self.ctx.doc_dir)
        if module is None:
            return None
        if import_path == module.module:
            return module.directory
        if import_path.startswith(module.module + "/"):
            rest = import_path[len(module.module) + 1 :]
            return os.path.join(module.directory, *rest.split("/"))
        return None

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        directory = self.package_dir(ref.module)
        if directory is None:
            first = ref.module.split("/")[0]
            return external("third-party" if "." in first else "stdlib")
        files = self.package_files(directory)
        if not files:
            return Resolution("unresolved", detail=f"no Go files in {ref.module}")
        return workspace(files, member, self.ctx, f'import "{ref.module}"')

    def resolve_unbound(self, name: str, member: str | None, imports: tuple[ImportRef, ...]) -> Resolution | None:
        if self.ctx.doc_dir is None:
            return None
        files = self.package_files(self.ctx.doc_dir)
        found = workspace(files, name, self.ctx, "same package") if files else None
        if found is not None and found.definition is not None:
            return found
        for ref in imports:
            if ref.kind == "star":
                resolved = self.resolve_import(ref, name)
                if resolved.definition is not None:
                    return resolved
        return None
