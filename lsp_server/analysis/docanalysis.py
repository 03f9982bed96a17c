"""What an open document binds, imports and references around a unit, cheaply.

Visible names at a position come from three ``locals`` queries, each bounded:

* the file's top level, to a depth of three levels (module-level names and
  imports, including those under ``if``/``try``): one cached result per
  top-level statement, keyed by its bytes, so a keystroke re-queries only the
  statement it touched (statements with syntax errors are always queried
  again: error recovery depends on their surroundings); while every edit
  since the last full analysis stays
  inside one statement that still binds and imports the same on the same
  lines, the last result is reused without visiting the other statements;
* each enclosing container of the unit (class, namespace, outer function),
  to a depth of three levels (its members, its parameters);
* the unit itself: its header (parameters) and its body, or, for a window
  request in a large unit, the part of the body inside the window.

Names bound inside *other* functions are therefore not visible, as in the
languages themselves. :func:`references_in` runs the ``references`` query
over one byte range.

Both accept a :class:`~.localparse.LocalSyntax` (the edited statement parsed
alone while the document's tree is stale) for a unit or range inside that
statement; the results are the same as from the up-to-date tree.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, replace

from tree_sitter import Node, QueryCursor, Tree

from lsp_server.analysis.documents import Document
from lsp_server.analysis.imports import decode_import, node_text
from lsp_server.analysis.langspec import spec_for
from lsp_server.analysis.languages import queries
from lsp_server.analysis.localparse import LocalSyntax
from lsp_server.analysis.symbols import ImportRef

SHALLOW_DEPTH = 3
"""How deep below the root or an enclosing container names count as visible."""

_CHUNKS_KEY = "docanalysis.top_level"
_VISIBLE_KEY = "docanalysis.visible"
_PACKAGE_TYPES = frozenset(
    {
        "package_clause",
        "package_declaration",
        "package_header",
        "file_scoped_namespace_declaration",
        "namespace_declaration",
        "namespace_definition",
    }
)
_PATH_SKIP = frozenset({"template_argument_list", "type_arguments", "arguments", "argument_list", "generic_type"})


@dataclass(frozen=True, slots=True)
class Reference:
    """A name used in the document; ``member`` for ``name.member``, ``segments`` for paths."""

    name: str
    member: str | None
    start_byte: int
    segments: tuple[str, ...] = ()
    count: int = 1
    """How many times the range uses it."""


@dataclass(frozen=True, slots=True)
class FileLocals:
    """Names visible around a unit, the imports in scope and the file's package."""

    bindings: frozenset[str]
    imports: tuple[ImportRef, ...]
    by_local: Mapping[str, list[ImportRef]]
    stars: tuple[ImportRef, ...]
    package: str


@dataclass(frozen=True, slots=True)
class _Found:
    bindings: frozenset[str]
    imports: tuple[ImportRef, ...]
    row: int = 0
    """First row of the queried node when queried (import lines are absolute then)."""


_EMPTY = _Found(frozenset(), ())


def _start(node: Node) -> int:
    return node.start_byte


def _query(doc: Document, node: Node, depth: int | None, window: tuple[int, int] | None = None) -> _Found:
    """``locals`` captures in ``node`` (start depth limited, byte range limited)."""
    assert doc.language is not None
    source = doc.source
    cursor = QueryCursor(queries(doc.language).locals)
    if depth is not None:
        cursor.set_max_start_depth(depth)
    if window is not None:
        cursor.set_byte_range(*window)
    bindings: set[str] = set()
    imports: list[ImportRef] = []
    seen: set[int] = set()
    for key, nodes in cursor.captures(node).items():
        if key == "binding":
            bindings.update(node_text(n, source) for n in nodes)
        elif key == "import":  # in document order: captures do not always come in it
            for n in sorted(nodes, key=_start):
                if n.id not in seen:
                    seen.add(n.id)
                    imports.extend(decode_import(doc.language, n, source))
    return _Found(frozenset(bindings), tuple(imports))


MAX_REUSED_EDITS = 64
"""Edits after which the top-level result is rebuilt (and rebased) even if it could be reused."""


@dataclass(slots=True)
class _Chunks:
    """Per top-level statement results of one revision, for reuse by the next."""

    revision: int
    by_range: dict[tuple[str, int, int], _Found]
    """Keyed by ``(type, start byte, end byte)``; valid for ``revision``."""
    by_bytes: dict[tuple[str, bytes], _Found] | None
    """Keyed by ``(type, bytes)``; kept only while edits are not known (full-text sync)."""
    result: tuple[_Found, str] | None = None
    """The merged result of ``revision``."""
    by_start: dict[int, tuple[int, _Found]] | None = None
    """Start byte -> ``(end byte, found)`` of each statement, for :func:`_reused`."""
    line_count: int = 0
    """Lines of the document at ``revision``."""
    clean: bool = False
    """The tree of ``revision`` had no errors (its statements are where a fresh parse puts them)."""


def _composed(edits: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    """One edit ``(start, old end, new end)`` covering all of ``edits`` (applied in order)."""
    start, old_end, new_end = edits[0]
    for edit_start, edit_old_end, edit_new_end in edits[1:]:
        high = max(new_end, edit_old_end)
        old_end += high - new_end
        start = min(start, edit_start)
        new_end = high + edit_new_end - edit_old_end
    return start, old_end, new_end


def _shifted(
    by_range: dict[tuple[str, int, int], _Found], edits: list[tuple[int, int, int]]
) -> dict[tuple[str, int, int], _Found]:
    """``by_range`` moved through ``edits``; statements the edits' covering range touches are dropped."""
    edit_start, old_end, new_end = _composed(edits)
    delta = new_end - old_end
    moved: dict[tuple[str, int, int], _Found] = {}
    for (kind, start, end), found in by_range.items():
        if end <= edit_start:
            moved[(kind, start, end)] = found
        elif start >= old_end:
            moved[(kind, start + delta, end + delta)] = found
    return moved


def _edited_statement(tree: Tree, edits: list[tuple[int, int, int]]) -> Node | None:
    """The top-level node of an error-free ``tree`` that may hold all of ``edits`` (checked by the caller)."""
    if tree.root_node.has_error:
        return None
    start = _composed(edits)[0]
    cursor = tree.walk()
    if start <= 0 or cursor.goto_first_child_for_byte(start - 1) is None:
        return None
    node = cursor.node
    return node if node is not None and node.is_named else None


def _reused(doc: Document, old: _Chunks, edits: list[tuple[int, int, int]], node: Node) -> bool:
    """Whether ``old.result`` still holds: every edit since is inside the top-level ``node``,
    which binds and imports the same as before, and the document has as many lines (so the
    statements after it, whose import lines the result holds, did not move). Both trees must
    be free of errors, whose recovery can regroup statements (the caller checks the current one)."""
    if old.result is None or old.by_start is None or not 0 < len(edits) <= MAX_REUSED_EDITS:
        return False
    if not old.clean or doc.line_count != old.line_count:
        return False
    first, end = node.start_byte, node.end_byte
    for edit_start, old_end, new_end in reversed(edits):
        if edit_start <= first or new_end > end:
            return False
        end -= new_end - old_end
    before = old.by_start.get(first)
    if before is None or before[0] != end:
        return False
    found, prior = _query(doc, node, SHALLOW_DEPTH - 1), before[1]
    if found.bindings != prior.bindings or len(found.imports) != len(prior.imports):
        return False
    row = node.start_point[0]
    return all(
        replace(a, line=a.line - row) == replace(b, line=b.line - prior.row)
        for a, b in zip(found.imports, prior.imports, strict=True)
    )


def _top_level(doc: Document, local: LocalSyntax | None = None) -> tuple[_Found, str]:
    """Names and imports of the file's top level, and its package (cached per statement).

    Statements that no edit since the last analysis touched keep their results; with edits
    unknown (full-text sync) statements are matched by their bytes instead. With ``local``
    the statements come from the edited (stale) tree, the edited one from ``local``.
    """

    def compute() -> tuple[_Found, str]:
        source = doc.source
        old = doc.scratch.get(_CHUNKS_KEY)
        edits = doc.edits_since(old.revision) if isinstance(old, _Chunks) else None
        if isinstance(old, _Chunks) and edits and old.result is not None:
            if local is not None:
                statement: Node | None = local.node
            else:
                current = doc.tree
                statement = _edited_statement(current, edits) if current is not None else None
            if statement is not None and _reused(doc, old, edits, statement):
                return old.result  # the scratch keeps the older base, whose edits the next call checks
        if local is not None:
            root = local.outer.root_node
            children = local.top_level()
        else:
            tree = doc.tree
            assert tree is not None
            root = tree.root_node
            children = root.named_children
        ranges = [(c.type, c.start_byte, c.end_byte) for c in children]
        byte_keys: list[tuple[str, bytes]] | None = None
        fresh_bytes: dict[tuple[str, bytes], _Found] | None = None
        if isinstance(old, _Chunks) and edits is not None:
            by_range = _shifted(old.by_range, edits) if edits else old.by_range
            priors = [by_range.get(key) for key in ranges]
        else:
            by_bytes = (old.by_bytes if isinstance(old, _Chunks) else None) or {}
            byte_keys = [(kind, source[start:end]) for kind, start, end in ranges]
            priors = [by_bytes.get(key) for key in byte_keys]
            fresh_bytes = {}
        missing = [i for i, found in enumerate(priors) if found is None]
        if local is not None:  # the stale tree's nodes of the edited statement must not be queried
            missing = [i for i in missing if children[i] is not local.node]
        batch = _query_children(doc, root, children, missing) if len(missing) > 8 else {}
        fresh: dict[tuple[str, int, int], _Found] = {}
        by_start: dict[int, tuple[int, _Found]] = {}
        errors = root.has_error
        bindings: set[str] = set()
        imports: list[ImportRef] = []
        package = ""
        for i, child in enumerate(children):
            found = priors[i] or batch.get(i)
            if found is None:
                found = replace(_query(doc, child, SHALLOW_DEPTH - 1), row=child.start_point[0])
            if not errors or not child.has_error:  # error recovery depends on context: keep no such result
                fresh[ranges[i]] = found
                by_start[ranges[i][1]] = (ranges[i][2], found)
                if fresh_bytes is not None and byte_keys is not None:
                    fresh_bytes[byte_keys[i]] = found
            bindings |= found.bindings
            if found.imports:
                shift = child.start_point[0] - found.row
                imports.extend(replace(r, line=r.line + shift) if shift else r for r in found.imports)
            if not package and ranges[i][0] in _PACKAGE_TYPES:
                package = _package_name(child, source)
        result = _Found(frozenset(bindings), tuple(imports)), package
        # with ``local`` the edited tree was clean, and so is the statement
        doc.scratch[_CHUNKS_KEY] = _Chunks(
            doc.revision, fresh, fresh_bytes, result, by_start, doc.line_count, not errors
        )
        return result

    return doc.memo("docanalysis.top", compute)


def _query_children(doc: Document, root: Node, children: list[Node], wanted: list[int]) -> dict[int, _Found]:
    """One depth-limited query over the root, split per top-level child (first analysis)."""
    assert doc.language is not None
    source = doc.source
    starts = [c.start_byte for c in children]
    bindings: dict[int, set[str]] = {i: set() for i in wanted}
    imports: dict[int, list[ImportRef]] = {i: [] for i in wanted}
    seen: set[int] = set()
    cursor = QueryCursor(queries(doc.language).locals)
    cursor.set_max_start_depth(SHALLOW_DEPTH)
    for key, nodes in cursor.captures(root).items():
        for node in sorted(nodes, key=_start) if key == "import" else nodes:
            owner = bisect_right(starts, node.start_byte) - 1
            if owner not in bindings or node.end_byte > children[owner].end_byte:
                continue
            if key == "binding":
                bindings[owner].add(node_text(node, source))
            elif key == "import" and node.id not in seen:
                seen.add(node.id)
                imports[owner].extend(decode_import(doc.language, node, source))
    return {i: _Found(frozenset(bindings[i]), tuple(imports[i]), children[i].start_point[0]) for i in wanted}


def _package_name(node: Node, source: bytes) -> str:
    if node.type == "package_clause":
        names = [c for c in node.named_children if c.type == "package_identifier"]
        return node_text(names[0], source) if names else ""
    name = node.child_by_field_name("name")
    if name is None:
        name = next((c for c in node.named_children if c.type != "modifiers"), None)
    return "".join(node_text(name, source).split())


def visible_locals(
    doc: Document,
    unit: Node | None,
    window: tuple[int, int] | None,
    ancestors: tuple[Node, ...] = (),
    *,
    local: LocalSyntax | None = None,
) -> FileLocals:
    """Names visible in ``unit`` (the whole unit, or its part inside ``window``).

    ``ancestors`` are the named nodes enclosing ``unit``, root first. ``unit`` and
    ``ancestors`` come from ``local``'s tree when given (``unit`` inside its statement).
    """
    if not doc.has_tree or doc.language is None:
        return FileLocals(frozenset(), (), {}, (), "")
    tree = local.tree if local is not None else doc.tree
    if tree is None:
        return FileLocals(frozenset(), (), {}, (), "")
    cached = doc.scratch.get(_VISIBLE_KEY)
    table: dict[object, FileLocals] = {}
    if isinstance(cached, tuple) and cached[0] == doc.revision:
        table = cached[1]
    else:
        doc.scratch[_VISIBLE_KEY] = (doc.revision, table)
    key = (unit.start_byte, unit.end_byte, unit.type, window) if unit is not None else window
    hit = table.get(key)
    if hit is not None:
        return hit
    top, package = _top_level(doc, local)
    parts = [top]
    root_id = tree.root_node.id
    if unit is not None and unit.id != root_id:
        if window is not None:
            parts.append(_query(doc, unit, 1))
        parts.append(_query(doc, unit, None, window))
        spec = spec_for(doc.language)
        scopes = spec.function_types | spec.class_types | spec.container_types
        for ancestor in ancestors:
            if ancestor.id != root_id and ancestor.type in scopes:
                parts.append(_query(doc, ancestor, SHALLOW_DEPTH))
    elif window is not None:
        parts.append(_query(doc, tree.root_node, None, window))
    result = _merge(parts, package)
    table[key] = result
    return result


def _merge(parts: list[_Found], package: str) -> FileLocals:
    bindings: set[str] = set()
    imports: list[ImportRef] = []
    for part in parts:
        bindings |= part.bindings
        imports.extend(part.imports)
    unique = tuple(dict.fromkeys(imports))
    by_local: dict[str, list[ImportRef]] = {}
    for ref in unique:
        if ref.local and ref.local != "*" and ref.kind not in {"reexport", "reexport_star"}:
            by_local.setdefault(ref.local, []).append(ref)
    stars = tuple(r for r in unique if r.kind == "star")
    return FileLocals(frozenset(bindings), unique, by_local, stars, package)


def _path_segments(node: Node, source: bytes) -> tuple[str, ...]:
    segments: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in _PATH_SKIP:
            continue
        children = current.named_children
        if not children:
            segments.append(node_text(current, source))
        else:
            stack.extend(reversed(children))
    return tuple(s for s in segments if s)


class _Intervals:
    """Union of byte ranges, for fast "is this node inside an ignored node" checks.

    (``Node.parent`` walks down from the root in tree-sitter, so ranges are used.)
    """

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(ranges):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [m[0] for m in merged]
        self._ends = [m[1] for m in merged]

    def covers(self, start: int, end: int) -> bool:
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and end <= self._ends[i]


def references_in(doc: Document, start: int, end: int, *, local: LocalSyntax | None = None) -> list[Reference]:
    """Names referenced in bytes ``[start, end)`` of ``doc``, in order, deduplicated.

    Names captured as ``@reference.ignore`` (definition names, import
    statements, attribute names) and identifiers inside qualified paths are
    not plain references. ``object.member`` pairs come from captures that the
    query produces in document order, one object per member. ``local`` (whose
    statement must contain the range) stands in for the document's tree.
    """
    if not doc.has_tree or doc.language is None:
        return []
    tree = local.tree if local is not None else doc.tree
    if tree is None:
        return []
    source = doc.source
    cursor = QueryCursor(queries(doc.language).references)
    cursor.set_byte_range(start, end)
    captures = cursor.captures(tree.root_node)
    skip = _Intervals([(n.start_byte, n.end_byte) for n in captures.get("reference.ignore", ())])
    outermost: list[Node] = []
    for node in sorted(captures.get("reference.path", ()), key=lambda n: (n.start_byte, -n.end_byte)):
        if outermost and node.end_byte <= outermost[-1].end_byte:
            continue
        outermost.append(node)
    in_path = _Intervals([(n.start_byte, n.end_byte) for n in outermost]) if outermost else None
    found: dict[tuple[str, str | None, tuple[str, ...]], Reference] = {}
    counts: dict[tuple[str, str | None, tuple[str, ...]], int] = {}
    taken: set[int] = set()
    for obj_node, member_node in _pairs(captures, cursor_range=(start, end), doc=doc, tree=tree):
        begin, finish = obj_node.start_byte, obj_node.end_byte
        taken.add(begin)
        taken.add(member_node.start_byte)
        if skip.covers(begin, finish) or (in_path is not None and in_path.covers(begin, finish)):
            continue
        name = source[begin:finish].decode("utf-8", "replace")
        member = node_text(member_node, source)
        key: tuple[str, str | None, tuple[str, ...]] = (name, member, ())
        found.setdefault(key, Reference(name, member, begin))
        counts[key] = counts.get(key, 0) + 1
    for node in outermost:
        taken.add(node.start_byte)
        if skip.covers(node.start_byte, node.end_byte):
            continue
        segments = _path_segments(node, source)
        if len(segments) >= 2:
            key = (segments[0], segments[1], segments)
            found.setdefault(key, Reference(segments[0], segments[1], node.start_byte, segments))
            counts[key] = counts.get(key, 0) + 1
    plain: dict[bytes, list[int]] = {}
    for node in captures.get("reference", ()):
        begin, finish = node.start_byte, node.end_byte
        if begin in taken or skip.covers(begin, finish):
            continue
        if in_path is not None and in_path.covers(begin, finish):
            continue
        raw = source[begin:finish]
        seen = plain.get(raw)
        if seen is None:
            plain[raw] = [begin, 1]
        else:  # captures do not always come in document order: keep the first use
            seen[0] = min(seen[0], begin)
            seen[1] += 1
    for raw, (begin, count) in plain.items():
        name = raw.decode("utf-8", "replace")
        key = (name, None, ())
        if key not in found:
            found[key] = Reference(name, None, begin)
            counts[key] = count
    return sorted(
        (
            Reference(ref.name, ref.member, ref.start_byte, ref.segments, counts.get(key, 1))
            for key, ref in found.items()
        ),
        key=lambda r: r.start_byte,
    )


def _pairs(
    captures: dict[str, list[Node]], cursor_range: tuple[int, int], doc: Document, tree: Tree
) -> list[tuple[Node, Node]]:
    """``object.member`` node pairs.

    Pairs never overlap, so the i-th object (by position) belongs to the i-th
    member; the matches are consulted only when that does not hold.
    """
    objects = sorted(captures.get("reference.object", []), key=lambda n: n.start_byte)
    members = sorted(captures.get("reference.member", []), key=lambda n: n.start_byte)
    # A range can cut a pair at either edge: a member whose object lies before the range, an object
    # whose member lies after it. Those few are paired by a query over their own bytes.
    lead = 0
    while lead < len(members) and (lead == len(objects) or members[lead].start_byte < objects[0].end_byte):
        lead += 1
    trail = len(objects)
    while trail > 0 and (len(members) == lead or objects[trail - 1].end_byte > members[-1].start_byte):
        trail -= 1
    inner_objects, inner_members = objects[:trail], members[lead:]
    if len(inner_objects) == len(inner_members) and all(
        o.end_byte <= m.start_byte for o, m in zip(inner_objects, inner_members, strict=True)
    ):
        inner = list(zip(inner_objects, inner_members, strict=True))
        if lead == 0 and trail == len(objects):
            return inner
        edges = [pair for node in members[:lead] for pair in _pairs_at(doc, tree, node)]
        edges.extend(pair for node in objects[trail:] for pair in _pairs_at(doc, tree, node))
        unique = {(o.start_byte, o.end_byte, m.start_byte, m.end_byte): (o, m) for o, m in edges}
        for o, m in inner:
            unique.setdefault((o.start_byte, o.end_byte, m.start_byte, m.end_byte), (o, m))
        return sorted(unique.values(), key=lambda pair: (pair[0].start_byte, pair[1].start_byte))
    return _pairs_matching(doc, tree, cursor_range)


def _pairs_matching(
    doc: Document, tree: Tree, byte_range: tuple[int, int], node: Node | None = None
) -> list[tuple[Node, Node]]:
    """``object.member`` pairs from the query's matches in ``byte_range`` (those with ``node`` only)."""
    assert doc.language is not None
    cursor = QueryCursor(queries(doc.language).references)
    cursor.set_byte_range(*byte_range)
    out: list[tuple[Node, Node]] = []
    for _, match in cursor.matches(tree.root_node):
        obj, member = match.get("reference.object"), match.get("reference.member")
        if obj and member and (node is None or node in (obj[0], member[0])):
            out.append((obj[0], member[0]))
    return out


def _pairs_at(doc: Document, tree: Tree, node: Node) -> list[tuple[Node, Node]]:
    """The pair with ``node`` (cut by the edge of a range), from a query over its bytes."""
    return _pairs_matching(doc, tree, (node.start_byte, node.end_byte), node)
