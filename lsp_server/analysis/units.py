"""The enclosing unit of a position: function, class, top-level statement or module.

The innermost function-like node around the position is a ``function`` unit
(JavaScript arrow functions and Rust closures only when their body is a
block); else the innermost class-like node is a ``class`` unit; else the
top-level statement containing the position (inside namespaces, the
statement inside them) is a ``statement`` unit; else the whole ``module``.
In indentation-delimited languages (Python) a position on a blank line
belongs to the block its column is indented into, as tree-sitter ends a block
at its last statement, and a position at the end of a line's code belongs to
that code (typing at the end of a function's last line is typing in the
function, although its node ends just before the cursor).

With a :class:`~.localparse.LocalSyntax` (the freshly parsed statement
around the position while the document's tree is stale) the unit is found in
it; a position it does not place in a function, class or statement gets the
``module`` unit of the full tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from lsp_server.analysis.documents import Document
from lsp_server.analysis.langspec import LanguageSpec, spec_for
from lsp_server.analysis.localparse import LocalSyntax
from lsp_server.analysis.nodes import ancestor_path, node_name

_BLOCK_BODIED = frozenset({"arrow_function", "closure_expression", "lambda_expression"})


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit of code: kind, name and byte/point range."""

    kind: str
    name: str
    start_byte: int
    end_byte: int
    start_point: tuple[int, int]
    end_point: tuple[int, int]
    node_type: str = ""
    node: Node | None = None
    """The unit's syntax node (with its decorators/export wrapper); the root for a module."""
    ancestors: tuple[Node, ...] = ()
    """Named nodes enclosing ``node``, root first."""

    @property
    def range(self) -> tuple[int, int, int, int]:
        """``(start_line, start_col, end_line, end_col)``, byte columns."""
        return (*self.start_point, *self.end_point)


def _module(doc: Document) -> Unit:
    end = len(doc.source)
    root = doc.tree.root_node if doc.tree is not None else None
    return Unit("module", "", 0, end, (0, 0), doc.point_at(end), "module", root, ())


def _from_path(kind: str, path: list[Node], index: int, doc: Document, spec: LanguageSpec) -> Unit:
    """The unit for ``path[index]``, widened over wrapper parents (decorators, export)."""
    node = path[index]
    parent = path[index - 1] if index > 0 else None
    outer_index = index
    if kind != "statement":
        while outer_index > 1 and path[outer_index - 1].type in spec.wrapper_types:
            outer_index -= 1
    outer = path[outer_index]
    return Unit(
        kind,
        node_name(node, doc.source, parent),
        outer.start_byte,
        outer.end_byte,
        (outer.start_point[0], outer.start_point[1]),
        (outer.end_point[0], outer.end_point[1]),
        node.type,
        outer,
        tuple(path[:outer_index]),
    )


def _is_function(node: Node, spec: LanguageSpec) -> bool:
    if node.type not in spec.function_types:
        return False
    if node.type in _BLOCK_BODIED:
        body = node.child_by_field_name("body")
        return body is not None and body.type in {"statement_block", "block", "compound_statement"}
    return True


def _is_top_level(path: list[Node], index: int, spec: LanguageSpec) -> bool:
    """Whether ``path[index]`` is a statement of the file (or of a namespace body)."""
    node = path[index]
    if index == 0 or node.type in spec.container_types:
        return False
    if index == 1 or path[index - 1].type in spec.container_types:
        return True
    return index >= 2 and path[index - 2].type in spec.container_types


def _blank_line_anchor(doc: Document, offset: int) -> tuple[int, int] | None:
    """For a position on a whitespace-only line: (last code byte before, cursor column)."""
    line, col = doc.point_at(offset)
    lines = doc.lines
    source = doc.source
    if source[lines.line_start(line) : lines.line_end(line)].strip():
        return None
    for previous in range(line - 1, -1, -1):
        start = lines.line_start(previous)
        text = source[start : lines.line_end(previous)].rstrip()
        if text:
            return start + len(text) - 1, col
    return None


def _line_end_anchor(doc: Document, offset: int) -> int | None:
    """For a position after the last code of its line: the last code byte before it."""
    line = doc.lines.line_of(offset)
    source = doc.source
    line_start = doc.lines.line_start(line)
    if source[offset : doc.lines.line_end(line)].strip():
        return None
    code = source[line_start:offset].rstrip()
    return line_start + len(code) - 1 if code.strip() else None


def enclosing_unit(doc: Document, start: int, end: int | None = None, *, local: LocalSyntax | None = None) -> Unit:
    """The unit enclosing bytes ``[start, end]`` (a position when ``end`` is None)."""
    if doc.language is None or not doc.has_tree:
        return _module(doc)
    tree = local.tree if local is not None else doc.tree
    if tree is None:
        return _module(doc)
    spec = spec_for(doc.language)
    end = start if end is None else max(start, end)
    column: int | None = None
    if spec.indent_blocks and start == end:
        anchor = _blank_line_anchor(doc, start)
        if anchor is not None:
            start = end = anchor[0]
            column = anchor[1]
        else:
            code_end = _line_end_anchor(doc, start)
            if code_end is not None:
                start = end = code_end
    path = ancestor_path(tree, start, end)
    top: int | None = None
    for index in range(len(path) - 1, 0, -1):
        current = path[index]
        fits = column is None or column > current.start_point[1]
        if fits and _is_function(current, spec):
            return _from_path("function", path, index, doc, spec)
        if fits and current.type in spec.class_types:
            return _from_path("class", path, index, doc, spec)
        if top is None and _is_top_level(path, index, spec):
            top = index
    if top is not None and (column is None or column > path[top].start_point[1]):
        return _from_path("statement", path, top, doc, spec)
    return _module(doc)
