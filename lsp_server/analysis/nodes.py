"""Small, language-aware readings of syntax nodes: names, signatures, doc comments.

Shared by symbol extraction (index), scope measurement (units) and context
assembly (snippets), so a definition reads the same everywhere.
"""

from __future__ import annotations

from tree_sitter import Node, Tree

from lsp_server.analysis.imports import node_text
from lsp_server.analysis.langspec import LanguageSpec

MAX_SIGNATURE_CHARS = 240
MAX_DOC_CHARS = 600

_NAME_TYPES = frozenset(
    {
        "identifier",
        "type_identifier",
        "simple_identifier",
        "field_identifier",
        "property_identifier",
        "constant",
        "name",
        "namespace_identifier",
        "qualified_identifier",
        "operator_name",
        "destructor_name",
    }
)
_DECLARATOR_TYPES = frozenset(
    {
        "function_declarator",
        "pointer_declarator",
        "reference_declarator",
        "init_declarator",
        "array_declarator",
        "parenthesized_declarator",
    }
)


def ancestor_path(tree: Tree, start: int, end: int | None = None) -> list[Node]:
    """Named nodes containing bytes ``[start, end]``, root first, deepest last.

    Walks down with a tree cursor: ``Node.parent`` re-descends from the root
    on every call in tree-sitter, so climbing with it is quadratic.
    """
    end = start if end is None else end
    cursor = tree.walk()
    root = cursor.node
    assert root is not None
    path = [root]
    while cursor.goto_first_child_for_byte(start) is not None:
        node = cursor.node
        if node is None or node.start_byte > start or node.end_byte < end:
            break
        if node.is_named:
            path.append(node)
    return path


def _declarator_name(node: Node, source: bytes) -> str:
    current: Node | None = node
    for _ in range(8):
        if current is None:
            return ""
        if current.type in _DECLARATOR_TYPES:
            current = current.child_by_field_name("declarator")
            continue
        if current.type == "qualified_identifier":
            inner = current.child_by_field_name("name")
            if inner is None:
                return node_text(current, source)
            current = inner
            continue
        if current.type in _NAME_TYPES:
            return node_text(current, source)
        return ""
    return ""


def node_name(node: Node, source: bytes, parent: Node | None = None) -> str:
    """The declared name of a definition-like node ('' when anonymous).

    ``parent`` (when the caller knows it) names anonymous functions and classes
    after the variable or key they are assigned to.
    """
    name = node.child_by_field_name("name")
    if name is not None:
        if name.type in {"scope_resolution", "qualified_name", "scoped_identifier"}:
            inner = name.child_by_field_name("name")
            if inner is not None:
                return node_text(inner, source)
        return node_text(name, source)
    declarator = node.child_by_field_name("declarator")
    if declarator is not None:
        found = _declarator_name(declarator, source)
        if found:
            return found
    if node.type == "impl_item":
        return node_text(node.child_by_field_name("type"), source)
    if node.type == "type_declaration":
        for child in node.named_children:
            if child.type in {"type_spec", "type_alias"}:
                return node_text(child.child_by_field_name("name"), source)
    if node.type in {"arrow_function", "function_expression", "generator_function", "class"}:
        if parent is not None:
            if parent.type == "variable_declarator":
                return node_text(parent.child_by_field_name("name"), source)
            if parent.type == "pair":
                return node_text(parent.child_by_field_name("key"), source)
            if parent.type == "assignment_expression":
                return node_text(parent.child_by_field_name("left"), source)
        return ""
    for child in node.named_children:
        if child.type in {"type_identifier", "simple_identifier", "identifier", "name"}:
            return node_text(child, source)
    return ""


def body_of(node: Node, spec: LanguageSpec) -> Node | None:
    """The body child of a definition (block, class body), if any."""
    for field in spec.body_fields:
        body = node.child_by_field_name(field)
        if body is not None:
            return body
    if spec.body_types:
        for child in node.named_children:
            if child.type in spec.body_types:
                return child
    if node.type == "type_declaration":
        for child in node.named_children:
            inner = child.child_by_field_name("type")
            if inner is not None and inner.named_child_count:
                return inner
    return None


def outer_node(node: Node, spec: LanguageSpec) -> Node:
    """``node`` widened over wrappers (``export``, decorators, templates, declarations)."""
    current = node
    if current.type == "variable_declarator" and current.parent is not None:
        current = current.parent
    while current.parent is not None and current.parent.type in spec.wrapper_types:
        current = current.parent
    return current


def signature_of(node: Node, source: bytes, spec: LanguageSpec, start: int | None = None) -> str:
    """The definition's header: text from ``start`` (default: the node) up to its body."""
    body = body_of(node, spec)
    start = node.start_byte if start is None else start
    if body is not None and body.start_byte > start:
        raw = source[start : body.start_byte]
    else:
        end = source.find(b"\n", start, node.end_byte)
        raw = source[start : node.end_byte if end < 0 else end]
    text = " ".join(raw.decode("utf-8", "replace").split())
    text = text.rstrip("{:= ").rstrip()
    if len(text) > MAX_SIGNATURE_CHARS:
        text = text[: MAX_SIGNATURE_CHARS - 1] + "…"
    return text


def _python_docstring(node: Node, source: bytes) -> str:
    body = node.child_by_field_name("body")
    if body is None or body.named_child_count == 0:
        return ""
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_child_count:
        first = first.named_children[0]
    if first.type != "string":
        return ""
    parts = [node_text(c, source) for c in first.named_children if c.type == "string_content"]
    return "".join(parts).strip()


def _comment_text(raw: str, spec: LanguageSpec) -> str:
    lines = []
    for line in raw.splitlines():
        stripped = line.strip()
        for marker in ("/**", "/*", "*/", "///", "//!", "//", "#", "*"):
            if stripped.startswith(marker):
                stripped = stripped[len(marker) :]
                break
        if stripped.endswith("*/"):
            stripped = stripped[:-2]
        lines.append(stripped.strip())
    return "\n".join(line for line in lines if line).strip()


def doc_of(node: Node, source: bytes, spec: LanguageSpec, outer: Node | None = None) -> str:
    """Docstring (Python) or the comment block right above the definition (or ``outer``)."""
    if spec.name == "python":
        doc = _python_docstring(node, source)
    else:
        outer = outer if outer is not None else outer_node(node, spec)
        comments: list[str] = []
        current = outer.prev_sibling
        row = outer.start_point[0]
        while current is not None and "comment" in current.type:
            if current.end_point[0] < row - 1:
                break
            comments.append(node_text(current, source))
            row = current.start_point[0]
            current = current.prev_sibling
        doc = _comment_text("\n".join(reversed(comments)), spec) if comments else ""
    if len(doc) > MAX_DOC_CHARS:
        doc = doc[: MAX_DOC_CHARS - 1] + "…"
    return doc
