"""What an open document binds, imports and references around a unit, cheaply.

Visible names at a position come from three ``locals`` queries, each bounded:

* the file's top level, to a depth of three levels (module-level names and
  imports, including those under ``if``/``try``): one cached result per
  top-level statement, keyed by its bytes, so a keystroke re-queries only the
  statement it touched;
* each enclosing container of the unit (class, namespace, outer function),
  to a depth of three levels (its members, its parameters);
* the unit itself: its header (parameters) and its body, or, for a window
  request in a large unit, the part of the body inside the window.

Names bound inside *other* functions are therefore not visible, as in the
languages themselves. :func:`references_in` runs the ``references`` query
over one byte range.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, replace

from tree_sitter import Node, QueryCursor

from lsp_server.analysis.documents import Document
from lsp_server.analysis.imports import decode_import, node_text
from lsp_server.analysis.langspec import spec_for
from lsp_server.analysis.languages import queries
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
        elif key == "import":
            for n in nodes:
                if n.id not in seen:
                    seen.add(n.id)
                    imports.extend(decode_import(doc.language, n, source))
    return _Found(frozenset(bindings), tuple(imports))


@dataclass(slots=True)
class _Chunks:
    """Per top-level statement results of one revision, for reuse by the next."""

    revision: int
    by_range: dict[tuple[str, int, int], _Found]
    """Keyed by ``(type, start byte, end byte)``; valid for ``revision``."""
    by_bytes: dict[tuple[str, bytes], _Found] | None
    """Keyed by ``(type, bytes)``; kept only while edits are not known (full-text sync)."""


def _shifted(
    by_range: dict[tuple[str, int, int], _Found], edits: list[tuple[int, int, int]]
) -> dict[tuple[str, int, int], _Found]:
    """``by_range`` moved through ``edits``; statements an edit touched are dropped."""
    entries = list(by_range.items())
    for edit_start, old_end, new_end in edits:
        delta = new_end - old_end
        moved: list[tuple[tuple[str, int, int], _Found]] = []
        for (kind, start, end), found in entries:
            if end <= edit_start:
                moved.append(((kind, start, end), found))
            elif start >= old_end:
                moved.append(((kind, start + delta, end + delta), found))
        entries = moved
    return dict(entries)


def _top_level(doc: Document) -> tuple[_Found, str]:
    """Names and imports of the file's top level, and its package (cached per statement).

    Statements that no edit since the last analysis touched keep their results; with edits
    unknown (full-text sync) statements are matched by their bytes instead.
    """

    def compute() -> tuple[_Found, str]:
        tree = doc.tree
        assert tree is not None
        source = doc.source
        old = doc.scratch.get(_CHUNKS_KEY)
        edits = doc.edits_since(old.revision) if isinstance(old, _Chunks) else None
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
        batch = _query_children(doc, root, children, missing) if len(missing) > 8 else {}
        fresh: dict[tuple[str, int, int], _Found] = {}
        bindings: set[str] = set()
        imports: list[ImportRef] = []
        package = ""
        for i, child in enumerate(children):
            found = priors[i] or batch.get(i)
            if found is None:
                found = replace(_query(doc, child, SHALLOW_DEPTH - 1), row=child.start_point[0])
            fresh[ranges[i]] = found
            if fresh_bytes is not None and byte_keys is not None:
                fresh_bytes[byte_keys[i]] = found
            bindings |= found.bindings
            if found.imports:
                shift = child.start_point[0] - found.row
                imports.extend(replace(r, line=r.line + shift) if shift else r for r in found.imports)
            if not package and ranges[i][0] in _PACKAGE_TYPES:
                package = _package_name(child, source)
        doc.scratch[_CHUNKS_KEY] = _Chunks(doc.revision, fresh, fresh_bytes)
        return _Found(frozenset(bindings), tuple(imports)), package

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
        for node in nodes:
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
) -> FileLocals:
    """Names visible in ``unit`` (the whole unit, or its part inside ``window``).

    ``ancestors`` are the named nodes enclosing ``unit``, root first.
    """
    if doc.tree is None or doc.language is None:
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
    top, package = _top_level(doc)
    parts = [top]
    root_id = doc.tree.root_node.id
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
        parts.append(_query(doc, doc.tree.root_node, None, window))
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


def references_in(doc: Document, start: int, end: int) -> list[Reference]:
    """Names referenced in bytes ``[start, end)`` of ``doc``, in order, deduplicated.

    Names captured as ``@reference.ignore`` (definition names, import
    statements, attribute names) and identifiers inside qualified paths are
    not plain references. ``object.member`` pairs come from captures that the
    query produces in document order, one object per member.
    """
    tree = doc.tree
    if tree is None or doc.language is None:
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
    for obj_node, member_node in _pairs(captures, cursor_range=(start, end), doc=doc):
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
        else:
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


def _pairs(captures: dict[str, list[Node]], cursor_range: tuple[int, int], doc: Document) -> list[tuple[Node, Node]]:
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
        edges = [pair for node in members[:lead] for pair in _pairs_at(doc, node)]
        edges.extend(pair for node in objects[trail:] for pair in _pairs_at(doc, node))
        unique = {(o.start_byte, o.end_byte, m.start_byte, m.end_byte): (o, m) for o, m in edges}
        for o, m in inner:
            unique.setdefault((o.start_byte, o.end_byte, m.start_byte, m.end_byte), (o, m))
        return sorted(unique.values(), key=lambda pair: (pair[0].start_byte, pair[1].start_byte))
    return _pairs_matching(doc, cursor_range)


def _pairs_matching(doc: Document, byte_range: tuple[int, int], node: Node | None = None) -> list[tuple[Node, Node]]:
    """``object.member`` pairs from the query's matches in ``byte_range`` (those with ``node`` only)."""
    assert doc.tree is not None and doc.language is not None
    cursor = QueryCursor(queries(doc.language).references)
    cursor.set_byte_range(*byte_range)
    out: list[tuple[Node, Node]] = []
    for _, match in cursor.matches(doc.tree.root_node):
        obj, member = match.get("reference.object"), match.get("reference.member")
        if obj and member and (node is None or node in (obj[0], member[0])):
            out.append((obj[0], member[0]))
    return out


def _pairs_at(doc: Document, node: Node) -> list[tuple[Node, Node]]:
    """The pair with ``node`` (cut by the edge of a range), from a query over its bytes."""
    return _pairs_matching(doc, (node.start_byte, node.end_byte), node)
