"""Decoding import-like statements (captured as ``@import``) into :class:`ImportRef` values.

One function per language turns an import node into the bindings it creates:
which local name refers to which module (and which name inside it). Where
the import resolves to is decided later by :mod:`.resolve`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tree_sitter import Node

from lsp_server.analysis.symbols import ImportRef

_VERSION_SEGMENT = re.compile(r"^v\d+$")


def node_text(node: Node | None, source: bytes) -> str:
    """Text of ``node`` in ``source`` ('' for ``None``); undecodable bytes are replaced."""
    if node is None:
        return ""
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _string_content(node: Node | None, source: bytes) -> str:
    """Contents of a string literal node without its quotes."""
    if node is None:
        return ""
    for child in node.named_children:
        if child.type in {"string_fragment", "string_content", "interpreted_string_literal_content"}:
            return node_text(child, source)
    raw = node_text(node, source)
    if len(raw) >= 2 and raw[0] in "\"'`<" and raw[-1] in "\"'`>":
        return raw[1:-1]
    return raw


def _python(node: Node, source: bytes) -> list[ImportRef]:
    line = node.start_point[0]
    refs: list[ImportRef] = []
    if node.type == "import_statement":
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                module = node_text(child.child_by_field_name("name"), source)
                alias = node_text(child.child_by_field_name("alias"), source)
                refs.append(ImportRef(module, "module", local=alias, line=line))
            else:
                module = node_text(child, source)
                refs.append(ImportRef(module, "module", local=module.split(".")[0], line=line))
        return refs
    module_node = node.child_by_field_name("module_name")
    level = 0
    module = ""
    if module_node is not None and module_node.type == "relative_import":
        for part in module_node.named_children:
            if part.type == "import_prefix":
                level = node_text(part, source).count(".")
            else:
                module = node_text(part, source)
    else:
        module = node_text(module_node, source)
    if any(c.type == "wildcard_import" for c in node.named_children):
        return [ImportRef(module, "star", local="*", level=level, line=line)]
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            name = node_text(child.child_by_field_name("name"), source)
            alias = node_text(child.child_by_field_name("alias"), source)
        else:
            name = alias = node_text(child, source)
        refs.append(ImportRef(module, "name", name=name, local=alias, level=level, line=line))
    return refs


def _require_target(node: Node, source: bytes) -> tuple[str, Node] | None:
    """``('./x', declarator)`` for ``const x = require('./x')``-style declarations."""
    for decl in node.named_children:
        if decl.type != "variable_declarator":
            continue
        value = decl.child_by_field_name("value")
        if value is None or value.type != "call_expression":
            continue
        args = value.child_by_field_name("arguments")
        if args is None or args.named_child_count == 0:
            continue
        first = args.named_children[0]
        if first.type == "string":
            return _string_content(first, source), decl
    return None


def _ecmascript(node: Node, source: bytes) -> list[ImportRef]:
    line = node.start_point[0]
    if node.type in {"lexical_declaration", "variable_declaration"}:
        target = _require_target(node, source)
        if target is None:
            return []
        module, decl = target
        name_node = decl.child_by_field_name("name")
        if name_node is not None and name_node.type == "identifier":
            return [ImportRef(module, "module", local=node_text(name_node, source), line=line)]
        refs = []
        if name_node is not None and name_node.type == "object_pattern":
            for part in name_node.named_children:
                if part.type == "shorthand_property_identifier_pattern":
                    name = node_text(part, source)
                    refs.append(ImportRef(module, "name", name=name, local=name, line=line))
                elif part.type == "pair_pattern":
                    key = node_text(part.child_by_field_name("key"), source)
                    value = node_text(part.child_by_field_name("value"), source)
                    refs.append(ImportRef(module, "name", name=key, local=value, line=line))
        return refs or [ImportRef(module, "side_effect", line=line)]
    source_node = node.child_by_field_name("source")
    if node.type == "export_statement":
        module = _string_content(source_node, source)
        refs = []
        for child in node.named_children:
            if child.type == "export_clause":
                for spec in child.named_children:
                    name = node_text(spec.child_by_field_name("name"), source)
                    alias = node_text(spec.child_by_field_name("alias"), source) or name
                    refs.append(ImportRef(module, "reexport", name=name, local=alias, line=line))
            elif child.type == "namespace_export":
                alias = node_text(child.named_children[0], source) if child.named_children else ""
                refs.append(ImportRef(module, "reexport", name="*", local=alias, line=line))
        return refs or [ImportRef(module, "reexport_star", local="*", line=line)]
    refs = []
    for child in node.named_children:
        if child.type == "import_require_clause":
            local = node_text(child.named_children[0], source)
            module = _string_content(child.child_by_field_name("source"), source)
            return [ImportRef(module, "module", local=local, line=line)]
    module = _string_content(source_node, source)
    for child in node.named_children:
        if child.type != "import_clause":
            continue
        for part in child.named_children:
            if part.type == "identifier":
                refs.append(ImportRef(module, "name", name="default", local=node_text(part, source), line=line))
            elif part.type == "namespace_import":
                local = node_text(part.named_children[0], source) if part.named_children else ""
                refs.append(ImportRef(module, "module", local=local, line=line))
            elif part.type == "named_imports":
                for spec in part.named_children:
                    if spec.type != "import_specifier":
                        continue
                    name = node_text(spec.child_by_field_name("name"), source)
                    alias = node_text(spec.child_by_field_name("alias"), source) or name
                    refs.append(ImportRef(module, "name", name=name, local=alias, line=line))
    return refs or [ImportRef(module, "side_effect", line=line)]


def go_package_name(import_path: str) -> str:
    """Default package name of a Go import path (last segment, skipping ``/vN``)."""
    parts = [p for p in import_path.split("/") if p]
    if not parts:
        return ""
    last = parts[-1]
    if _VERSION_SEGMENT.match(last) and len(parts) > 1:
        last = parts[-2]
    last = last.split(".")[0]
    for prefix in ("go-",):
        if last.startswith(prefix) and len(last) > len(prefix):
            last = last[len(prefix) :]
    return last.replace("-", "_")


def _go(node: Node, source: bytes) -> list[ImportRef]:
    refs: list[ImportRef] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type != "import_spec":
            stack.extend(reversed(current.named_children))
            continue
        path = _string_content(current.child_by_field_name("path"), source)
        name_node = current.child_by_field_name("name")
        line = current.start_point[0]
        if name_node is None:
            refs.append(ImportRef(path, "module", local=go_package_name(path), line=line))
        elif name_node.type == "dot":
            refs.append(ImportRef(path, "star", local="*", line=line))
        elif name_node.type == "blank_identifier":
            refs.append(ImportRef(path, "side_effect", line=line))
        else:
            refs.append(ImportRef(path, "module", local=node_text(name_node, source), line=line))
    return refs


def _rust_segments(node: Node | None, source: bytes) -> list[str]:
    if node is None:
        return []
    if node.type in {"scoped_identifier", "scoped_type_identifier"}:
        path = node.child_by_field_name("path")
        return [*_rust_segments(path, source), node_text(node.child_by_field_name("name"), source)]
    return [node_text(node, source)]


def _rust_use(node: Node, prefix: list[str], source: bytes, line: int) -> list[ImportRef]:
    kind = node.type
    if kind in {"scoped_identifier", "identifier", "crate", "super", "self"}:
        segs = [*prefix, *_rust_segments(node, source)]
        if segs and segs[-1] == "self":
            segs = segs[:-1]
        if not segs:
            return []
        return [ImportRef("::".join(segs), "name", name=segs[-1], local=segs[-1], line=line)]
    if kind == "use_as_clause":
        segs = [*prefix, *_rust_segments(node.child_by_field_name("path"), source)]
        alias = node_text(node.child_by_field_name("alias"), source)
        return [ImportRef("::".join(segs), "name", name=segs[-1], local=alias, line=line)]
    if kind == "use_wildcard":
        inner = node.named_children[0] if node.named_children else None
        segs = [*prefix, *_rust_segments(inner, source)]
        return [ImportRef("::".join(segs), "star", local="*", line=line)]
    if kind == "scoped_use_list":
        path = node.child_by_field_name("path")
        segs = [*prefix, *_rust_segments(path, source)] if path is not None else list(prefix)
        listed = node.child_by_field_name("list")
        return _rust_use(listed, segs, source, line) if listed is not None else []
    if kind == "use_list":
        refs: list[ImportRef] = []
        for child in node.named_children:
            refs.extend(_rust_use(child, prefix, source, line))
        return refs
    return []


def _rust(node: Node, source: bytes) -> list[ImportRef]:
    line = node.start_point[0]
    if node.type == "mod_item":
        if node.child_by_field_name("body") is not None:
            return []
        name = node_text(node.child_by_field_name("name"), source)
        return [ImportRef(name, "mod", name=name, local=name, line=line)]
    if node.type == "extern_crate_declaration":
        name = node_text(node.child_by_field_name("name"), source)
        alias = node_text(node.child_by_field_name("alias"), source) or name
        return [ImportRef(name, "module", local=alias, line=line)]
    argument = node.child_by_field_name("argument")
    return _rust_use(argument, [], source, line) if argument is not None else []


def _dotted(node: Node | None, source: bytes) -> str:
    return "".join(node_text(node, source).split())


def _java(node: Node, source: bytes) -> list[ImportRef]:
    line = node.start_point[0]
    path_node = next((c for c in node.named_children if c.type in {"scoped_identifier", "identifier"}), None)
    module = _dotted(path_node, source)
    if any(c.type == "asterisk" for c in node.named_children):
        return [ImportRef(module, "star", local="*", line=line)]
    name = module.rsplit(".", 1)[-1]
    return [ImportRef(module, "name", name=name, local=name, line=line)]


def _kotlin(node: Node, source: bytes) -> list[ImportRef]:
    line = node.start_point[0]
    path_node = next((c for c in node.named_children if c.type == "identifier"), None)
    module = _dotted(path_node, source)
    if any(c.type == "wildcard_import" for c in node.named_children):
        return [ImportRef(module, "star", local="*", line=line)]
    name = module.rsplit(".", 1)[-1]
    local = name
    for child in node.named_children:
        if child.type == "import_alias" and child.named_children:
            local = node_text(child.named_children[-1], source)
    return [ImportRef(module, "name", name=name, local=local, line=line)]


def _c(node: Node, source: bytes) -> list[ImportRef]:
    path = node.child_by_field_name("path")
    line = node.start_point[0]
    if path is None:
        return []
    if path.type == "system_lib_string":
        return [ImportRef(node_text(path, source)[1:-1], "system_include", line=line)]
    if path.type == "string_literal":
        return [ImportRef(_string_content(path, source), "include", line=line)]
    return []


def _csharp(node: Node, source: bytes) -> list[ImportRef]:
    line = node.start_point[0]
    alias = node.child_by_field_name("name")
    target = next(
        (c for c in node.named_children if c.type in {"qualified_name", "identifier", "generic_name"} and c != alias),
        None,
    )
    module = _dotted(target, source)
    if alias is not None:
        name = module.rsplit(".", 1)[-1]
        return [ImportRef(module, "name", name=name, local=node_text(alias, source), line=line)]
    return [ImportRef(module, "star", local="*", line=line)]


def _ruby(node: Node, source: bytes) -> list[ImportRef]:
    line = node.start_point[0]
    method = node_text(node.child_by_field_name("method"), source)
    args = node.child_by_field_name("arguments")
    if args is None or not args.named_children:
        return []
    first = args.named_children[0]
    if first.type != "string":
        return []
    target = _string_content(first, source)
    kind = "require" if method == "require" else "include"
    return [ImportRef(target, kind, line=line)]


def _php(node: Node, source: bytes) -> list[ImportRef]:
    line = node.start_point[0]
    if node.type != "namespace_use_declaration":
        strings = [c for c in _descendants(node) if c.type in {"string", "encapsed_string"}]
        if not strings:
            return []
        target = _string_content(strings[-1], source)
        if "__DIR__" in node_text(node, source) and target.startswith("/"):
            target = "." + target
        return [ImportRef(target, "include", line=line)]
    refs: list[ImportRef] = []
    prefix = ""
    for child in node.named_children:
        if child.type == "namespace_name":
            prefix = node_text(child, source)
        elif child.type == "namespace_use_group":
            for clause in child.named_children:
                refs.extend(_php_clause(clause, prefix, source, line))
        elif child.type == "namespace_use_clause":
            refs.extend(_php_clause(child, "", source, line))
    return refs


def _php_clause(clause: Node, prefix: str, source: bytes, line: int) -> list[ImportRef]:
    alias_node = clause.child_by_field_name("alias")
    target = next(
        (c for c in clause.named_children if c.type in {"qualified_name", "name"} and c != alias_node),
        None,
    )
    module = node_text(target, source).lstrip("\\")
    if prefix:
        module = prefix.rstrip("\\") + "\\" + module
    name = module.rsplit("\\", 1)[-1]
    local = node_text(alias_node, source) or name
    return [ImportRef(module, "name", name=name, local=local, line=line)]


def _descendants(node: Node) -> list[Node]:
    out: list[Node] = []
    stack = list(reversed(node.named_children))
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(current.named_children))
    return out


_DECODERS: dict[str, Callable[[Node, bytes], list[ImportRef]]] = {
    "python": _python,
    "javascript": _ecmascript,
    "typescript": _ecmascript,
    "tsx": _ecmascript,
    "go": _go,
    "rust": _rust,
    "java": _java,
    "kotlin": _kotlin,
    "c": _c,
    "cpp": _c,
    "csharp": _csharp,
    "ruby": _ruby,
    "php": _php,
}


def decode_import(language: str, node: Node, source: bytes) -> list[ImportRef]:
    """The bindings created by one ``@import`` node of ``language``."""
    decoder = _DECODERS.get(language)
    return decoder(node, source) if decoder is not None else []
