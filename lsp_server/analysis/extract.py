"""Extracting a file's definitions, imports, exports and package with the ``tags`` queries.

:func:`index_file` is the unit of work of the workspace index: read a file,
hash it, parse it, run the queries, return :class:`FileSymbols`. It runs in
worker processes during the initial index, so it only uses this package and
tree-sitter, and keeps no trees.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from tree_sitter import Node, QueryCursor, Tree

from lsp_server.analysis.imports import decode_import, node_text
from lsp_server.analysis.langspec import LanguageSpec, spec_for
from lsp_server.analysis.languages import new_parser, queries
from lsp_server.analysis.nodes import doc_of, node_name, signature_of
from lsp_server.analysis.symbols import Definition, FileSymbols, ImportRef

logger = logging.getLogger(__name__)

_VARIABLE_LIKE = frozenset(
    {
        "assignment",
        "expression_statement",
        "variable_declarator",
        "property_declaration",
        "declaration",
        "field_declaration",
        "var_spec",
    }
)
"""Definition nodes that are constants only when their name is UPPER_CASE."""

_DECLARATORS = frozenset({"variable_declarator", "const_spec", "var_spec", "type_spec", "type_alias"})
"""Definition nodes whose signature starts at their declaration (``const x = ...``)."""

_KIND_PRIORITY = {"class": 0, "method": 1, "function": 2, "type": 3, "module": 4, "constant": 5}


def content_hash(data: bytes) -> str:
    """The content hash the index and its cache key files by."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(slots=True)
class _Found:
    """A captured definition (or scope) while extracting.

    ``local`` (inside a function) and ``scope_name`` (name of the innermost
    enclosing class-like entry, itself included) are filled in from the
    enclosing entries as the captures are walked in document order.
    """

    node: Node
    name: str
    kind: str
    rank: int
    start: int
    end: int
    local: bool = False
    scope_name: str = ""


def _special_container(node: Node, source: bytes, spec: LanguageSpec) -> str | None:
    """Containers not given by nesting: Go receivers, C++ ``Type::method`` definitions."""
    if node.type == "method_declaration" and spec.name == "go":
        text = node_text(node.child_by_field_name("receiver"), source).strip("()")
        return text.split()[-1].lstrip("*").split("[")[0] if text else ""
    declarator = node.child_by_field_name("declarator")
    if declarator is not None and declarator.type == "function_declarator":
        inner = declarator.child_by_field_name("declarator")
        if inner is not None and inner.type == "qualified_identifier":
            return node_text(inner.child_by_field_name("scope"), source).split("::")[-1]
    return None


def _outer(node: Node, by_end: dict[int, list[Node]]) -> Node:
    """The outermost wrapper ending where ``node`` ends (decorators, export, declaration)."""
    outer = node
    while True:
        candidates = by_end.get(outer.end_byte, []) + by_end.get(outer.end_byte + 1, [])
        wider = [
            w
            for w in candidates
            if w.start_byte <= outer.start_byte and (w.start_byte < outer.start_byte or w.end_byte > outer.end_byte)
        ]
        if not wider:
            return outer
        outer = min(wider, key=lambda w: w.start_byte)


def _is_private(node: Node, source: bytes) -> bool:
    for child in node.children[:6]:
        if child.type in {
            "modifiers",
            "modifier",
            "visibility_modifier",
            "access_specifier",
        } and "private" in node_text(child, source):
            return True
    return False


def _exported(node: Node, outer: Node, name: str, container: str, source: bytes, spec: LanguageSpec) -> bool:
    lang = spec.name
    if lang == "python":
        return not name.startswith("_")
    if lang in {"javascript", "typescript", "tsx"}:
        return outer.type == "export_statement" or bool(container)
    if lang == "go":
        return name[:1].isupper()
    if lang == "rust":
        return any(c.type == "visibility_modifier" for c in node.children[:3])
    if lang in {"c", "cpp"}:
        return not any(
            c.type == "storage_class_specifier" and node_text(c, source) == "static" for c in node.children[:4]
        )
    if lang == "ruby":
        return True
    return not _is_private(node, source)


def _python_all(root: Node, source: bytes) -> list[str] | None:
    for child in root.named_children:
        node = child
        if node.type == "expression_statement" and node.named_child_count:
            node = node.named_children[0]
        if node.type not in {"assignment", "augmented_assignment"}:
            continue
        if node_text(node.child_by_field_name("left"), source) != "__all__":
            continue
        right = node.child_by_field_name("right")
        if right is None or right.type not in {"list", "tuple"}:
            return None
        names: list[str] = []
        for item in right.named_children:
            if item.type == "string":
                names.extend(node_text(c, source) for c in item.named_children if c.type == "string_content")
        return names
    return None


def _js_export_names(node: Node, source: bytes) -> list[str]:
    if node.child_by_field_name("source") is not None:
        return []
    names: list[str] = []
    for child in node.named_children:
        if child.type == "export_clause":
            for spec in child.named_children:
                names.append(node_text(spec.child_by_field_name("name"), source))
    if any(c.type == "default" for c in node.children) or node_text(node, source).startswith("export default"):
        value = node.child_by_field_name("value")
        if value is not None and value.type == "identifier":
            names.append(node_text(value, source))
    return names


def extract_symbols(
    language: str, source: bytes, path: str, tree: Tree | None = None
) -> tuple[tuple[Definition, ...], tuple[ImportRef, ...], tuple[str, ...], str]:
    """Definitions, imports, exported names and package of one file.

    Nesting (container classes, definitions local to functions) is computed
    from the captured nodes' byte ranges, never with ``Node.parent``.
    """
    spec = spec_for(language)
    if tree is None:
        tree = new_parser(language).parse(source)
    root = tree.root_node
    cursor = QueryCursor(queries(language).tags)
    cursor.set_max_start_depth(spec.index_depth)
    found: dict[tuple[int, str], _Found] = {}
    wrappers: list[Node] = []
    imports: list[ImportRef] = []
    seen_imports: set[int] = set()
    package = ""
    export_names: list[str] = []
    for _, captures in cursor.matches(root):
        for key, nodes in captures.items():
            if key.startswith("definition."):
                name_nodes = captures.get("name")
                if not name_nodes:
                    continue
                node = nodes[0]
                name = node_text(name_nodes[0], source)
                kind = key[len("definition.") :]
                rank = _KIND_PRIORITY.get(kind, 9)
                slot = (node.start_byte, name)
                previous = found.get(slot)
                if previous is None or rank < previous.rank:
                    found[slot] = _Found(node, name, kind, rank, node.start_byte, node.end_byte)
            elif key == "wrapper":
                wrappers.extend(nodes)
            elif key == "scope":
                for node in nodes:
                    slot = (node.start_byte, "")
                    found.setdefault(slot, _Found(node, "", "scope", 99, node.start_byte, node.end_byte))
            elif key == "import":
                for node in nodes:
                    if node.id not in seen_imports:
                        seen_imports.add(node.id)
                        imports.extend(decode_import(language, node, source))
            elif key == "package" and not package:
                package = "".join(node_text(nodes[0], source).split())
            elif key == "export":
                for node in nodes:
                    export_names.extend(_js_export_names(node, source))
    all_names = _python_all(root, source) if language == "python" else None
    explicit = set(export_names) | set(all_names or ())
    by_end: dict[int, list[Node]] = {}
    for wrapper in wrappers:
        by_end.setdefault(wrapper.end_byte, []).append(wrapper)
    definitions: list[Definition] = []
    stack: list[_Found] = []
    function_types = spec.function_types
    class_types = spec.class_types
    for entry in sorted(found.values(), key=lambda f: (f.start, -f.end, f.rank)):
        while stack and stack[-1].end <= entry.start:
            stack.pop()
        parent = stack[-1] if stack else None
        node = entry.node
        kind = entry.kind
        if kind == "constant" and node.type == "variable_declarator":
            value = node.child_by_field_name("value")
            if value is not None and value.type in {"arrow_function", "function_expression", "function"}:
                kind = entry.kind = "function"
        enclosing_scope = parent.scope_name if parent is not None else ""
        entry.local = parent is not None and (
            parent.local or parent.kind in {"function", "method"} or parent.node.type in function_types
        )
        if kind == "scope" or node.type in class_types:
            entry.scope_name = entry.name or node_name(node, source)
        else:
            entry.scope_name = enclosing_scope
        stack.append(entry)
        if kind == "scope" or not entry.name or entry.local:
            continue
        container = _special_container(node, source, spec)
        if container is None:
            container = enclosing_scope
        if kind == "function" and container:
            kind = "method"
        elif kind == "constant" and node.type in _VARIABLE_LIKE:
            kind = "constant" if entry.name.isupper() else "variable"
        name = entry.name
        outer = _outer(node, by_end)
        exported = _exported(node, outer, name, container, source, spec)
        if all_names is not None and not container:
            exported = name in explicit
        elif name in explicit:
            exported = True
        sig_start = outer.start_byte if node.type in _DECLARATORS and outer is not node else None
        definitions.append(
            Definition(
                name=name,
                kind=kind,
                path=path,
                start_line=outer.start_point[0],
                start_col=outer.start_point[1],
                end_line=outer.end_point[0],
                end_col=outer.end_point[1],
                start_byte=outer.start_byte,
                end_byte=outer.end_byte,
                signature=signature_of(node, source, spec, sig_start),
                doc=doc_of(node, source, spec, outer),
                container=container,
                exported=exported,
            )
        )
    if all_names is not None:
        exports = tuple(dict.fromkeys(all_names))
    else:
        exports = tuple(dict.fromkeys([d.name for d in definitions if d.exported and not d.container] + export_names))
    return tuple(definitions), tuple(imports), exports, package


def symbols_from_bytes(
    path: str,
    language: str,
    data: bytes,
    mtime_ns: int = 0,
    tree: Tree | None = None,
    digest: str | None = None,
) -> FileSymbols:
    """:class:`FileSymbols` of ``data`` (the content of ``path``)."""
    definitions, imports, exports, package = extract_symbols(language, data, path, tree)
    return FileSymbols(
        path=path,
        language=language,
        content_hash=digest or content_hash(data),
        size=len(data),
        mtime_ns=mtime_ns,
        package=package,
        definitions=definitions,
        imports=imports,
        exports=exports,
    )
