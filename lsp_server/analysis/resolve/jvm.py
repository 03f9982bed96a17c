"""Java and Kotlin resolution: package + class names, wildcard and static imports.

``a.b.C`` is found among indexed files declaring package ``a.b`` (a
definition ``C``, or a file named ``C.java``/``C.kt``), else on disk under
the source root implied by the document's own package. Static imports
(``a.b.C.member``) fall back to class ``a.b.C``. Names used without an import
may come from the same package. ``java.*``/``javax.*``/``kotlin.*``... are
``stdlib``; other packages outside the workspace are ``third-party``.
"""

from __future__ import annotations

import os

from lsp_server.analysis.resolve.base import (
    Resolution,
    ResolveContext,
    Resolver,
    external,
    workspace,
)
from lsp_server.analysis.symbols import ImportRef

_STDLIB_PREFIXES = ("java.", "javax.", "jdk.", "sun.", "kotlin.", "kotlinx.", "android.")


class JvmResolver(Resolver):
    """Resolves Java/Kotlin imports by package and class name."""

    def __init__(self, ctx: ResolveContext, package: str, extensions: tuple[str, ...]) -> None:
        super().__init__(ctx)
        self.package = package
        self.extensions = extensions

    def _source_root(self) -> str | None:
        doc_dir = self.ctx.doc_dir
        if doc_dir is None:
            return None
        parts = self.package.split(".") if self.package else []
        suffix = os.sep + os.sep.join(parts)
        if parts and doc_dir.endswith(suffix):
            return doc_dir[: -len(suffix)]
        return doc_dir if not parts else None

    def find_in_package(self, package: str, name: str) -> Resolution | None:
        """The workspace definition (or file) of ``name`` in ``package``."""
        index = self.ctx.index
        if index is not None:
            files = tuple(s.path for s in index.files_in_package(package))
            if files:
                found = workspace(files, name, self.ctx, f"package {package}")
                if found.definition is not None:
                    return found
                by_stem = tuple(f for f in files if os.path.splitext(os.path.basename(f))[0] == name)
                if by_stem:
                    return Resolution("workspace", by_stem, None, f"package {package}")
        root = self._source_root()
        if root is not None:
            base = os.path.join(root, *package.split("."), name) if package else os.path.join(root, name)
            found_file = self.ctx.first_existing([base + ext for ext in self.extensions])
            if found_file is not None:
                return workspace((found_file,), name, self.ctx, f"package {package}")
        return None

    def _outside(self, module: str) -> Resolution:
        return external("stdlib" if module.startswith(_STDLIB_PREFIXES) else "third-party")

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        if ref.kind == "star":
            return self._outside(ref.module)
        package, _, name = ref.module.rpartition(".")
        found = self.find_in_package(package, name)
        if found is None and "." in package:
            outer_package, _, cls = package.rpartition(".")
            owner = self.find_in_package(outer_package, cls)
            if owner is not None:
                return workspace(owner.files, name, self.ctx, f"import static {ref.module}")
        if found is None:
            return self._outside(ref.module)
        if member and found.definition is not None:
            inner = workspace(found.files, member, self.ctx, found.detail)
            if inner.definition is not None:
                return inner
        return found

    def resolve_star(self, ref: ImportRef, name: str) -> Resolution | None:
        found = self.find_in_package(ref.module, name)
        if found is not None:
            return found
        package, _, cls = ref.module.rpartition(".")
        owner = self.find_in_package(package, cls) if package else None
        if owner is not None:
            inner = workspace(owner.files, name, self.ctx, f"import {ref.module}.*")
            if inner.definition is not None:
                return inner
        return None

    def resolve_unbound(self, name: str, member: str | None, imports: tuple[ImportRef, ...]) -> Resolution | None:
        found = self.find_in_package(self.package, name)
        if found is not None and found.files != (self.ctx.doc_path,):
            if member and found.definition is not None:
                inner = workspace(found.files, member, self.ctx, found.detail)
                if inner.definition is not None:
                    return inner
            return found
        return None
