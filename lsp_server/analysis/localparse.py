"""Reparsing only the edited top-level statement of a Python document.

tree-sitter's Python grammar reuses few nodes on an incremental reparse: its
top-level repetition nodes are "fragile" and the external indentation scanner
makes leaves reusable only in identical lexer states, so a keystroke in a file
of many short statements re-lexes everything after it (~20 ms per 5,000
lines). Yet a top-level statement that starts at column 0 after a finished
statement and is followed only by blank lines and then by the next column-0
statement (or the end of the file) parses the same on its own as inside the
file. So while every edit since the last full parse stays strictly inside one
such statement (:func:`statement_span`), the statement alone is parsed
(:func:`parse_statement`, with ``included_ranges`` so nodes keep document
offsets) and accepted only when that parse is clean: no error or missing node,
exactly one named top-level node covering the statement, nothing but
whitespace after it, and no line continuation at its end. Anything else makes
the caller reparse the whole document as before.

The result, :class:`LocalSyntax`, is authoritative for the nodes inside its
statement; the rest of the document is described by the edited (not
reparsed) full tree, whose nodes outside the statement are unchanged and
correctly shifted by ``Tree.edit``. Tests compare both against full parses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tree_sitter import Node, Parser, Range, Tree

LOCAL_LANGUAGES = frozenset({"python"})
"""Languages whose top-level statements may be reparsed on their own."""
MAX_STATEMENT_BYTES = 8_192
"""Larger statements are left to the incremental reparse (which can reuse their inner nodes)."""

_WHITESPACE = b" \t\r\n\f\v"


@dataclass(frozen=True, slots=True)
class LocalSyntax:
    """The current syntax of one top-level statement while the full tree is stale.

    ``node`` (a child of ``tree``'s root) is the statement, with the same
    types and byte ranges as a full parse of the current text would give.
    ``outer`` is the document's edited full tree: its root's children other
    than the one starting at ``start`` are current (positions included), the
    one at ``start`` must be read from ``node`` instead.
    """

    tree: Tree
    node: Node
    outer: Tree

    @property
    def start(self) -> int:
        """First byte of the statement."""
        return self.node.start_byte

    @property
    def end(self) -> int:
        """End byte of the statement (exclusive)."""
        return self.node.end_byte

    def covers(self, start: int, end: int) -> bool:
        """Whether bytes ``[start, end]`` lie within the statement."""
        return self.node.start_byte <= start and end <= self.node.end_byte

    def top_level(self) -> list[Node]:
        """The document's top-level named nodes, the edited statement taken from ``node``."""
        out: list[Node] = []
        for child in self.outer.root_node.named_children:
            out.append(self.node if child.start_byte == self.node.start_byte else child)
        return out


def statement_span(tree: Tree, source: bytes, start: int, end: int) -> tuple[int, int] | None:
    """``(first byte, end byte)`` of the top-level statement that strictly contains an edit of ``[start, end)``.

    ``tree`` must be the up-to-date parse of ``source``. ``None`` when the edit
    is not strictly inside one self-contained top-level statement (see the
    module docstring): it touches the statement's first byte or lies between
    statements, shares a line with another statement, is followed by a comment
    before the next statement, or the tree has errors.
    """
    root = tree.root_node
    if root.has_error or start <= 0:
        return None
    cursor = tree.walk()
    if cursor.goto_first_child_for_byte(start - 1) is None:
        return None
    node = cursor.node
    if node is None or not node.is_named or node.start_byte >= start or end > node.end_byte:
        return None
    if node.start_point[1] != 0 or node.end_byte - node.start_byte > MAX_STATEMENT_BYTES:
        return None
    previous = node.prev_sibling
    if previous is not None and previous.end_point[0] >= node.start_point[0]:
        return None
    following = node.next_sibling
    gap_end = len(source) if following is None else following.start_byte
    if following is not None and following.start_point[0] <= node.end_point[0]:
        return None
    if source[node.end_byte : gap_end].strip(_WHITESPACE):
        return None
    return node.start_byte, node.end_byte


def parse_statement(
    parser: Parser, outer: Tree, source: bytes, span: tuple[int, int], point_of: Callable[[int], tuple[int, int]]
) -> LocalSyntax | None:
    """Parse ``source[span[0]:span[1]]`` alone; ``None`` unless it is one clean statement (see module)."""
    start, end = span
    text = source[start:end]
    stripped = text.rstrip(_WHITESPACE)
    if not stripped or stripped.endswith(b"\\"):
        return None
    parser.included_ranges = [Range(point_of(start), point_of(end), start, end)]
    try:
        tree = parser.parse(source)
    finally:
        parser.included_ranges = []
    root = tree.root_node
    if root.has_error or root.named_child_count != 1:
        return None
    node = root.named_children[0]
    if node.start_byte != start or node.end_byte != start + len(stripped) or node.start_point[1] != 0:
        return None
    return LocalSyntax(tree, node, outer)
