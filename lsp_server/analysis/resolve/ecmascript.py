"""JavaScript/TypeScript import resolution: relative specifiers, index files, extensions, tsconfig.

A specifier resolves, in order: relative (``./``, ``../``) or absolute paths;
``tsconfig.json``/``jsconfig.json`` ``paths`` patterns (after ``extends``);
``baseUrl``. Each candidate is tried as a file, with each known extension
(``.js`` written for a ``.ts`` source included), then as a directory with an
``index`` file. Anything else is a package: ``stdlib`` for Node built-ins
(``node:`` prefix or a core module name), ``third-party`` otherwise.
Re-exports (``export * from``, ``export {x} from``) are followed.
"""

from __future__ import annotations

import os

from lsp_server.analysis.resolve.base import (
    UNRESOLVED,
    Resolution,
    Resolver,
    external,
    workspace,
)
from lsp_server.analysis.symbols import ImportRef

EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_NODE_BUILTINS = frozenset(
    [
        "assert",
        "buffer",
        "child_process",
        "cluster",
        "console",
        "constants",
        "crypto",
        "dgram",
        "dns",
        "domain",
        "events",
        "fs",
        "http",
        "http2",
        "https",
        "inspector",
        "module",
        "net",
        "os",
        "path",
        "perf_hooks",
        "process",
        "punycode",
        "querystring",
        "readline",
        "repl",
        "stream",
        "string_decoder",
        "sys",
        "timers",
        "tls",
        "trace_events",
        "tty",
        "url",
        "util",
        "v8",
        "vm",
        "worker_threads",
        "zlib",
        "test",
    ]
)
_MAX_HOPS = 3


class EcmaScriptResolver(Resolver):
    """Resolves ES module / CommonJS specifiers against the workspace."""

    def _try_path(self, base: str) -> str | None:
        candidates = [base]
        stem, ext = os.path.splitext(base)
        if ext in {".js", ".jsx", ".mjs", ".cjs"}:
            candidates += [stem + ".ts", stem + ".tsx", stem + ".mts", stem + ".cts"]
        candidates += [base + e for e in EXTENSIONS]
        candidates += [os.path.join(base, "index" + e) for e in EXTENSIONS]
        return self.ctx.first_existing(candidates)

    def find(self, spec: str, from_file: str | None) -> str | None:
        """Workspace file a specifier names (None: not a workspace file)."""
        if spec.startswith(("./", "../")) or spec in {".", ".."}:
            if from_file is None:
                return None
            return self._try_path(os.path.normpath(os.path.join(os.path.dirname(from_file), spec)))
        if os.path.isabs(spec):
            return self._try_path(spec)
        start = os.path.dirname(from_file) if from_file else (self.ctx.roots or ("",))[0]
        config = self.ctx.configs.tsconfig(start) if start else None
        if config is not None:
            for pattern, targets in config.paths:
                if "*" in pattern:
                    head, _, tail = pattern.partition("*")
                    if not (spec.startswith(head) and spec.endswith(tail)):
                        continue
                    middle = spec[len(head) : len(spec) - len(tail) if tail else len(spec)]
                    mapped = [t.replace("*", middle) for t in targets]
                elif spec == pattern:
                    mapped = list(targets)
                else:
                    continue
                for target in mapped:
                    found = self._try_path(target)
                    if found is not None:
                        return found
            if config.base_url is not None:
                found = self._try_path(os.path.join(config.base_url, spec))
                if found is not None:
                    return found
        return None

    def _outside(self, spec: str) -> Resolution:
        if spec.startswith(("./", "../", "/")):
            return UNRESOLVED
        bare = spec[5:] if spec.startswith("node:") else spec
        if spec.startswith("node:") or bare.split("/")[0] in _NODE_BUILTINS:
            return external("stdlib")
        return external("third-party")

    def resolve_import(self, ref: ImportRef, member: str | None) -> Resolution:
        return self._resolve(ref, member, self.ctx.doc_path, 0)

    def _resolve(self, ref: ImportRef, member: str | None, from_file: str | None, hops: int) -> Resolution:
        found = self.find(ref.module, from_file)
        if found is None:
            return self._outside(ref.module)
        detail = f"import from '{ref.module}'"
        name = member if ref.kind == "module" else ref.name
        if name in {None, "", "*"}:
            return Resolution("workspace", (found,), None, detail)
        assert name is not None
        if name == "default":
            exports = self.ctx.exports(found)
            if len(exports) == 1:
                return workspace((found,), exports[0], self.ctx, detail)
            return Resolution("workspace", (found,), None, detail)
        resolved = workspace((found,), name, self.ctx, detail)
        if resolved.definition is not None or hops >= _MAX_HOPS:
            return resolved
        for imported in self.ctx.imports(found):
            if imported.kind == "reexport" and imported.local == name:
                inner = self._resolve(ImportRef(imported.module, "name", imported.name, name), None, found, hops + 1)
            elif imported.kind == "reexport_star":
                inner = self._resolve(ImportRef(imported.module, "name", name, name), None, found, hops + 1)
                if inner.definition is None:
                    continue
            elif imported.kind in {"name", "module"} and imported.local == name:
                inner = self._resolve(imported, None, found, hops + 1)
            else:
                continue
            if inner.kind == "workspace":
                return Resolution("workspace", inner.files, inner.definition, detail)
        return resolved
