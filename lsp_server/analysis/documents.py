"""Open documents: text plus an incrementally maintained tree-sitter tree.

Each :class:`Document` keeps its text as UTF-8 bytes, a :class:`LineTable`
of line starts and, for a known language under ``max_parse_bytes``, a syntax
tree. ``didChange`` edits go through :meth:`Document.apply_change`, which
applies the text and calls ``Tree.edit``; the reparse (incremental, with the
edited old tree) is deferred to the next read of :attr:`Document.tree`, so a
burst of keystrokes between two requests costs one parse, and a burst that
restores the last parsed text (type a character, delete it) costs none.

While every edit since the last parse stays inside one top-level Python
statement, :meth:`Document.local_syntax` parses that statement alone
(:mod:`.localparse`), so the request path need not reparse the whole file.
A :class:`DocumentStore` keeps the trees of only the ``max_trees`` most
recently used documents; the others keep their text and parse again when
next needed.
Documents of unknown languages or over the size cap have no tree and behave
as plain text; binary content and lone surrogates never raise.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TypeVar

from tree_sitter import Node, Parser, Tree

from lsp_server.analysis import positions
from lsp_server.analysis.languages import SUPPORTED_LANGUAGES, detect_language, new_parser
from lsp_server.analysis.localparse import LOCAL_LANGUAGES, LocalSyntax, parse_statement, statement_span
from lsp_server.analysis.paths import normalize_uri
from lsp_server.analysis.positions import LineTable, PositionEncoding, encode_text

logger = logging.getLogger(__name__)

T = TypeVar("T")

_EDIT_HISTORY = 256
"""How many recent edits a document remembers for :meth:`Document.edits_since`."""
MAX_TREES = 16
"""Default number of documents of a :class:`DocumentStore` that keep their syntax trees."""


class Document:
    """One open document: text, line table and (when parsable) a syntax tree."""

    def __init__(
        self,
        uri: str,
        text: str,
        language_id: str = "",
        version: int = 0,
        *,
        max_parse_bytes: int = 2_000_000,
    ) -> None:
        self.uri = uri
        self.language_id = language_id
        self.version = version
        self.max_parse_bytes = max_parse_bytes
        detected = detect_language(language_id, uri)
        self.language: str | None = detected if detected in SUPPORTED_LANGUAGES else None
        self._source = encode_text(text)
        self._text: str | None = text
        self._lines = LineTable(self._source)
        self._parser: Parser | None = None
        self._tree: Tree | None = None
        self._stale = False
        """``_tree`` has been edited (``Tree.edit``) but not reparsed yet."""
        self._parsed: tuple[bytes, Tree] | None = None
        """While stale: the source the tree was last parsed from and an unedited copy of that tree."""
        self._span: tuple[int, int] | None = None
        """While stale: byte range (current offsets) of the one top-level statement holding every edit."""
        self._local: tuple[int, LocalSyntax | None] | None = None
        """``(revision, result)`` of the last statement parse."""
        self._released = False
        """The tree was dropped to save memory (see :class:`DocumentStore`); parse again on the next read."""
        self.on_tree_use: Callable[[Document], None] | None = None
        """Called when the tree is read or edited (the store's recency list)."""
        self._edits: list[tuple[int, int, int, int]] = []
        """Recent edits as ``(revision after, start, old end, new end)`` byte offsets, oldest first."""
        self._edits_floor = 0
        """Revision from which ``_edits`` is complete (history before it is lost)."""
        self._revision = 0
        self._memo: dict[str, tuple[int, object]] = {}
        self.scratch: dict[str, object] = {}
        """Caches owned by analysis modules that survive edits (keyed by module)."""
        self._reparse_full()

    # -- state -----------------------------------------------------------------

    @property
    def text(self) -> str:
        """The document text (decoded lazily after edits)."""
        if self._text is None:
            self._text = positions.decode_text(self._source)
        return self._text

    @property
    def source(self) -> bytes:
        """The document as UTF-8 bytes, the buffer tree byte offsets refer to."""
        return self._source

    @property
    def tree(self) -> Tree | None:
        """The current syntax tree; ``None`` for plain text or oversized documents.

        Reparses (incrementally) here when the document changed since the last read.
        """
        if self.on_tree_use is not None:
            self.on_tree_use(self)
        if self._released:
            self._released = False
            self._reparse_full()
        elif self._stale:
            self._refresh_tree()
        return self._tree

    @property
    def has_tree(self) -> bool:
        """Whether the document has a syntax tree, without bringing it up to date."""
        return self._tree is not None or self._released

    def local_syntax(self, start: int, end: int | None = None) -> LocalSyntax | None:
        """The freshly parsed top-level statement around bytes ``[start, end]`` while the tree is stale.

        ``None`` when :attr:`tree` is up to date or free to bring up to date (the
        edits cancelled out), or when the edits since the last parse are not all
        inside one self-contained top-level statement containing the range
        (then read :attr:`tree`).
        """
        if not self._stale or self._span is None or self._tree is None:
            return None
        if self._parsed is not None and self._parsed[0] == self._source:
            return None
        if self.on_tree_use is not None:
            self.on_tree_use(self)
        cached = self._local
        if cached is None or cached[0] != self._revision:
            assert self._parser is not None
            result = parse_statement(self._parser, self._tree, self._source, self._span, self._lines.point_of)
            if result is None:
                self._span = None
            cached = self._local = (self._revision, result)
        local = cached[1]
        if local is None or not local.covers(start, start if end is None else end):
            return None
        return local

    def release_tree(self) -> None:
        """Drop the tree (and what refers to it) to save memory; it is parsed again when next read."""
        if self._tree is None:
            return
        self._tree = None
        self._parser = None
        self._stale = False
        self._parsed = None
        self._span = None
        self._local = None
        self._memo.clear()
        self._released = True

    @property
    def revision(self) -> int:
        """Counter bumped on every change (versions from the client may repeat)."""
        return self._revision

    @property
    def line_count(self) -> int:
        """Number of lines in the document."""
        return self._lines.line_count

    @property
    def lines(self) -> LineTable:
        """The line table of the document."""
        return self._lines

    def edits_since(self, revision: int) -> list[tuple[int, int, int]] | None:
        """Byte edits ``(start, old end, new end)`` from ``revision`` to now, in order.

        ``None`` when they are not known (too old, a full replacement, or ``revision`` is in the future).
        """
        if revision < self._edits_floor or revision > self._revision:
            return None
        return [(start, old_end, new_end) for after, start, old_end, new_end in self._edits if after > revision]

    def memo(self, key: str, factory: Callable[[], T]) -> T:
        """Value of ``factory()`` cached until the document next changes."""
        hit = self._memo.get(key)
        if hit is not None and hit[0] == self._revision:
            return hit[1]  # type: ignore[return-value]
        value = factory()
        self._memo[key] = (self._revision, value)
        return value

    # -- positions -------------------------------------------------------------

    def offset_at(self, line: int, character: int, encoding: PositionEncoding) -> int:
        """UTF-8 byte offset of an LSP position, clamped (see :mod:`.positions`)."""
        return positions.offset_at(self._source, self._lines, line, character, encoding)

    def position_at(self, byte_offset: int, encoding: PositionEncoding) -> tuple[int, int]:
        """LSP position ``(line, character)`` of a byte offset."""
        return positions.position_at(self._source, self._lines, byte_offset, encoding)

    def point_at(self, byte_offset: int) -> tuple[int, int]:
        """Tree-sitter point ``(row, byte column)`` of a byte offset."""
        return self._lines.point_of(byte_offset)

    def line_text(self, line: int) -> str:
        """Text of ``line`` without its line break ('' past the end)."""
        if line < 0 or line >= self._lines.line_count:
            return ""
        start = self._lines.line_start(line)
        end = self._lines.line_end(line)
        raw = self._source[start:end]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return positions.decode_text(raw)

    def text_between(self, start: int, end: int) -> str:
        """Text of the byte range ``[start, end)`` (clamped, never raises)."""
        start = max(0, min(start, len(self._source)))
        end = max(start, min(end, len(self._source)))
        return positions.decode_text(self._source[start:end])

    def node_at(self, byte_offset: int) -> Node | None:
        """Smallest named node spanning ``byte_offset`` (None without a tree)."""
        tree = self.tree
        if tree is None:
            return None
        return tree.root_node.named_descendant_for_byte_range(byte_offset, byte_offset)

    # -- edits -----------------------------------------------------------------

    def apply_change(
        self,
        start: tuple[int, int],
        end: tuple[int, int],
        new_text: str,
        encoding: PositionEncoding,
        version: int | None = None,
    ) -> None:
        """Replace the LSP range ``start``..``end`` with ``new_text``.

        Positions are ``(line, character)`` in ``encoding`` and are clamped.
        The tree is edited with ``Tree.edit`` and reparsed incrementally when next read.
        """
        a = self.offset_at(start[0], start[1], encoding)
        b = self.offset_at(end[0], end[1], encoding)
        if b < a:
            a, b = b, a
        self.apply_byte_change(a, b, encode_text(new_text), version)

    def apply_byte_change(self, start: int, end: int, new: bytes, version: int | None = None) -> None:
        """Replace bytes ``[start, end)`` of the source with ``new``."""
        old = self._source
        start = max(0, min(start, len(old)))
        end = max(start, min(end, len(old)))
        start_point = self._lines.point_of(start)
        old_end_point = self._lines.point_of(end)
        new_end_point = positions.end_point_after(start_point, new)
        self._source = old[:start] + new + old[end:]
        self._lines.apply_edit(start, end, new)
        self._text = None
        self._revision += 1
        self._edits.append((self._revision, start, end, start + len(new)))
        if len(self._edits) > _EDIT_HISTORY:
            self._edits_floor = self._edits[0][0]
            del self._edits[0]
        if version is not None:
            self.version = version
        if self._released:
            if len(self._source) > self.max_parse_bytes:
                self._released = False
            return
        if self._tree is not None and len(self._source) <= self.max_parse_bytes:
            if self.on_tree_use is not None:
                self.on_tree_use(self)
            if not self._stale:
                local = self.language in LOCAL_LANGUAGES
                self._span = statement_span(self._tree, old, start, end) if local else None
                self._parsed = (old, self._tree.copy())
                self._stale = True
            elif self._span is not None and not (self._span[0] < start and end <= self._span[1]):
                self._span = None
            if self._span is not None:
                self._span = (self._span[0], self._span[1] + len(new) - (end - start))
            self._tree.edit(start, end, start + len(new), start_point, old_end_point, new_end_point)
        else:
            self._reparse_full()

    def replace_all(self, text: str, version: int | None = None) -> None:
        """Replace the whole text (full-document sync); reparses from scratch."""
        self._source = encode_text(text)
        self._text = text
        self._lines = LineTable(self._source)
        self._revision += 1
        self._edits.clear()
        self._edits_floor = self._revision
        if version is not None:
            self.version = version
        self._tree = None
        self._released = False
        self._reparse_full()

    def _refresh_tree(self) -> None:
        """Bring the edited tree up to date with the source (see :attr:`tree`)."""
        parsed, self._parsed, self._stale = self._parsed, None, False
        self._span = self._local = None
        if self._tree is None:
            return
        if parsed is not None and parsed[0] == self._source:
            self._tree = parsed[1]  # the edits cancelled out: the last parse still holds
            return
        assert self._parser is not None
        self._tree = self._parser.parse(self._source, self._tree)

    def _reparse_full(self) -> None:
        self._stale = False
        self._parsed = None
        self._span = self._local = None
        if self.language is None or len(self._source) > self.max_parse_bytes:
            if self._tree is not None:
                logger.debug("%s: over %d bytes, dropping its tree", self.uri, self.max_parse_bytes)
            self._tree = None
            return
        if self._parser is None:
            self._parser = new_parser(self.language)
        self._tree = self._parser.parse(self._source)


class DocumentStore:
    """The open documents of one session, keyed by normalised URI.

    Only the ``max_trees`` most recently used documents keep their syntax
    trees (a 5,000-line Python file's tree takes megabytes); the others drop
    theirs and parse again when next read.
    """

    def __init__(self, *, max_parse_bytes: int = 2_000_000, max_trees: int = MAX_TREES) -> None:
        self._docs: dict[str, Document] = {}
        self.max_parse_bytes = max_parse_bytes
        self.max_trees = max(1, max_trees)
        self._recent: OrderedDict[int, Document] = OrderedDict()
        """Documents that hold a tree, least recently used first (keyed by ``id``)."""

    def open(self, uri: str, text: str, language_id: str = "", version: int = 0) -> Document:
        """Open (or reopen) a document and return it."""
        previous = self._docs.get(normalize_uri(uri))
        if previous is not None:
            self._forget(previous)
        doc = Document(uri, text, language_id, version, max_parse_bytes=self.max_parse_bytes)
        doc.on_tree_use = self._used
        self._docs[normalize_uri(uri)] = doc
        self._used(doc)
        return doc

    def _used(self, doc: Document) -> None:
        key = id(doc)
        recent = self._recent
        if not doc.has_tree:
            recent.pop(key, None)
            return
        if key in recent:
            if next(reversed(recent)) != key:
                recent.move_to_end(key)
            return
        recent[key] = doc
        while len(recent) > self.max_trees:
            _, oldest = recent.popitem(last=False)
            oldest.release_tree()

    def _forget(self, doc: Document) -> None:
        doc.on_tree_use = None
        self._recent.pop(id(doc), None)

    def get(self, uri: str) -> Document | None:
        """The open document at ``uri``, if any."""
        return self._docs.get(normalize_uri(uri))

    def close(self, uri: str) -> None:
        """Forget a document (no error if it was not open)."""
        doc = self._docs.pop(normalize_uri(uri), None)
        if doc is not None:
            self._forget(doc)

    def __iter__(self) -> Iterator[Document]:
        return iter(list(self._docs.values()))

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, uri: object) -> bool:
        return isinstance(uri, str) and normalize_uri(uri) in self._docs
