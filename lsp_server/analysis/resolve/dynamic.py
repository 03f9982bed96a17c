"""C#, PHP and Ruby resolution: namespaces, PSR-4 autoloading, ``require``.

* C#: ``using A.B;`` makes the types of namespace ``A.B`` visible; a name is
  looked up in the document's namespace (and its parents) and every used
  namespace among indexed files. ``System``/``Microsoft`` are ``stdlib``.
* PHP: ``use A\\B\\C;`` maps through ``composer.json`` PSR-4 prefixes to a file,
  else to an indexed file declaring namespace ``A\\B`` and defining ``C``;
  ``require``/``include`` paths are relative to the file. Unqualified names
  also resolve within the document's namespace.
* Ruby: ``require_relative`` is relative to the file, ``require`` looks in
  each workspace folder's ``lib/`` and root; constants (classes, modules)
  resolve globally by name, as autoloading makes them visible everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lsp_server.analysis.resolve.base import (
    Resolution,
    ResolveContext,
    Resolver,
    definition_in,
    external,
    workspace,
)
from lsp_server.analysis.symbols import ImportRef

_GLOBAL_KINDS = frozenset({"class", "type", "module", "constant", "function"})


def _global_definition(ctx: ResolveContext, name: str, detail: str) -> Resolution | None:
    if ctx.index is None:
        return None
    for definition in ctx.index.find_definitions(name):
        if definition.kind in _GLOBAL_KINDS and definition.path != ctx.doc_path:
            return Resolution("workspace", (definition.path,), definition, detail)
    return None


class CSharpResolver(Resolver):
    """Resolves C# names through namespaces."""

    def __init__(self, ctx: ResolveContext, namespace: str) -> None:
        super().__init__(ctx)
        self.namespace = namespace

    def _in_namespace(self, namespace: str, name: str) -> Resolution | None:
        if self.ctx.index is None:
            return None
        files = tuple(s.path for s in self.ctx.index.files_in_package(namespace) if s.path != self.ctx.doc_path)
        found = definition_in(files, name, self.ctx)
        if found is None:
            return None
        return Resolution("workspace", (found.path,), found, f"namespace {namespace}")

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        namespace, _, name = ref.module.rpartition(".")
        found = self._in_namespace(namespace, name) if namespace else None
        if found is not None:
            return found
        return self._outside(ref.module)

    def _outside(self, module: str) -> Resolution:
        first = module.split(".")[0]
        return external("stdlib" if first in {"System", "Microsoft"} else "third-party")

    def resolve_unbound(self, name: str, member: str | None, imports: tuple[ImportRef, ...]) -> Resolution | None:
        parts = self.namespace.split(".") if self.namespace else []
        candidates = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
        candidates += [r.module for r in imports if r.kind == "star"]
        for namespace in dict.fromkeys(candidates):
            found = self._in_namespace(namespace, name)
            if found is not None:
                return found
        return None


class PhpResolver(Resolver):
    """Resolves PHP namespaces (PSR-4) and includes."""

    def __init__(self, ctx: ResolveContext, namespace: str) -> None:
        super().__init__(ctx)
        self.namespace = namespace

    def find_class(self, qualified: str, member: str | None) -> Resolution | None:
        """Workspace file of a fully qualified class name."""
        qualified = qualified.lstrip("\\")
        doc_dir = self.ctx.doc_dir or (self.ctx.roots[0] if self.ctx.roots else None)
        if doc_dir is not None:
            for prefix, directory in self.ctx.configs.composer_psr4(doc_dir):
                if qualified.startswith(prefix):
                    rest = qualified[len(prefix) :].replace("\\", os.sep)
                    found = self.ctx.first_existing([os.path.join(directory, rest + ".php")])
                    if found is not None:
                        name = qualified.rsplit("\\", 1)[-1]
                        return workspace((found,), member or name, self.ctx, f"use {qualified}")
        namespace, _, name = qualified.rpartition("\\")
        if self.ctx.index is not None and namespace:
            files = tuple(s.path for s in self.ctx.index.files_in_package(namespace))
            found_def = definition_in(files, name, self.ctx)
            if found_def is not None:
                if member:
                    inner = workspace((found_def.path,), member, self.ctx, f"use {qualified}")
                    if inner.definition is not None:
                        return inner
                return Resolution("workspace", (found_def.path,), found_def, f"use {qualified}")
        return None

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        if ref.kind == "include":
            base = self.ctx.doc_dir or ""
            candidates = [os.path.normpath(os.path.join(base, ref.module))]
            candidates += [os.path.join(r, ref.module.lstrip("./")) for r in self.ctx.roots]
            found = self.ctx.first_existing(candidates)
            if found is None:
                return Resolution("unresolved", detail=f"include {ref.module} not found")
            return workspace((found,), member, self.ctx, f"include {ref.module}")
        found_class = self.find_class(ref.module, member)
        return found_class if found_class is not None else external("third-party")

    def resolve_unbound(self, name: str, member: str | None, imports: tuple[ImportRef, ...]) -> Resolution | None:
        if self.namespace:
            found = self.find_class(f"{self.namespace}\\{name}", member)
            if found is not None and found.files != (self.ctx.doc_path,):
                return found
        for ref in imports:
            if ref.kind == "include":
                resolved = self.resolve_import(ref, name)
                if resolved.definition is not None:
                    return resolved
        return _global_definition(self.ctx, name, "defined in the workspace")

    def resolve_path(
        self, segments: list[str], bindings: frozenset[str], imports: Mapping[str, list[ImportRef]]
    ) -> Resolution | None:
        first = segments[0]
        refs = imports.get(first)
        if refs:
            qualified = refs[0].module + "\\" + "\\".join(segments[1:])
        elif self.namespace:
            qualified = self.namespace + "\\" + "\\".join(segments)
        else:
            qualified = "\\".join(segments)
        return self.find_class(qualified, None) or external("third-party")


class RubyResolver(Resolver):
    """Resolves Ruby requires and constants."""

    def require_file(self, ref: ImportRef) -> str | None:
        """Workspace file a ``require``/``require_relative`` names."""
        name = ref.module if ref.module.endswith(".rb") else ref.module + ".rb"
        if ref.kind == "include":
            base = self.ctx.doc_dir or ""
            return self.ctx.first_existing([os.path.normpath(os.path.join(base, name))])
        candidates = []
        for root in self.ctx.roots:
            candidates += [os.path.join(root, "lib", name), os.path.join(root, name)]
        return self.ctx.first_existing(candidates)

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        found = self.require_file(ref)
        if found is None:
            if ref.kind == "include":
                return Resolution("unresolved", detail=f"require_relative {ref.module}")
            return external("gem or stdlib")
        return workspace((found,), member, self.ctx, f"require {ref.module}")

    def resolve_unbound(self, name: str, member: str | None, imports: tuple[ImportRef, ...]) -> Resolution | None:
        required = tuple(f for f in (self.require_file(r) for r in imports if r.kind in {"include", "require"}) if f)
        found = definition_in(required, name, self.ctx)
        if found is None:
            global_found = _global_definition(self.ctx, name, "constant defined in the workspace")
            if global_found is None:
                return None
            found = global_found.definition
            assert found is not None
        if member:
            inner = workspace((found.path,), member, self.ctx, "required")
            if inner.definition is not None:
                return inner
        return Resolution("workspace", (found.path,), found, "required")
