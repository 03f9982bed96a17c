"""Line tables and LSP position conversion for UTF-8 document buffers.

Documents are stored as UTF-8 bytes (lone surrogates are kept with the
``surrogatepass`` error handler, i.e. WTF-8, so any Python ``str`` round-trips).
LSP positions are ``(line, character)`` pairs where ``character`` counts code
units of the negotiated encoding (``utf-8`` bytes, ``utf-16`` units or
``utf-32`` code points). This module converts between those and byte offsets.

Lines are separated by ``\\n``; a ``\\r`` before it is not part of the line's
content. A lone ``\\r`` is not treated as a line break (tree-sitter rows count
``\\n`` only, and the two must agree).

:class:`LineTable` keeps the byte offset of every line start in blocks of a
few hundred lines, so an edit costs O(lines touched + number of blocks)
instead of O(lines in the document).
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import Literal

PositionEncoding = Literal["utf-8", "utf-16", "utf-32"]

ENCODING_ERRORS = "surrogatepass"
"""Error handler used for every str <-> bytes conversion of document text."""

_BLOCK = 512


def encode_text(text: str) -> bytes:
    """Encode document text to the UTF-8 (WTF-8) bytes the trees are built from."""
    return text.encode("utf-8", ENCODING_ERRORS)


def decode_text(data: bytes) -> str:
    """Decode document bytes produced by :func:`encode_text` (or read from disk)."""
    try:
        return data.decode("utf-8", ENCODING_ERRORS)
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def _line_starts(data: bytes, base: int = 0) -> list[int]:
    """Offsets (plus ``base``) just after each ``\\n`` in ``data``, C-speed."""
    if b"\n" not in data:
        return []
    parts = data.split(b"\n")
    parts.pop()
    return list(accumulate(map((1).__add__, map(len, parts)), initial=base))[1:]


class LineTable:
    """Byte offsets of line starts, updated incrementally on edits."""

    __slots__ = ("_bases", "_blocks", "_first_line", "_length")

    def __init__(self, data: bytes) -> None:
        self._length = len(data)
        starts = [0, *_line_starts(data)]
        self._blocks: list[list[int]] = []
        self._bases: list[int] = []
        for i in range(0, len(starts), _BLOCK):
            chunk = starts[i : i + _BLOCK]
            base = chunk[0]
            self._bases.append(base)
            self._blocks.append([s - base for s in chunk])
        self._first_line: list[int] = []
        self._reindex()

    def _reindex(self) -> None:
        self._first_line = list(accumulate((len(b) for b in self._blocks[:-1]), initial=0))

    @property
    def line_count(self) -> int:
        """Number of lines (a trailing newline starts one more, empty line)."""
        return self._first_line[-1] + len(self._blocks[-1])

    @property
    def length(self) -> int:
        """Length in bytes of the buffer the table describes."""
        return self._length

    def line_start(self, line: int) -> int:
        """Byte offset where ``line`` starts; ``line`` must be in range."""
        i = bisect_right(self._first_line, line) - 1
        return self._bases[i] + self._blocks[i][line - self._first_line[i]]

    def line_end(self, line: int) -> int:
        """Byte offset just after ``line``'s content (before its ``\\n``)."""
        if line + 1 < self.line_count:
            return self.line_start(line + 1) - 1
        return self._length

    def line_of(self, offset: int) -> int:
        """Line containing byte ``offset`` (clamped to the buffer)."""
        offset = max(0, min(offset, self._length))
        i = bisect_right(self._bases, offset) - 1
        return self._first_line[i] + bisect_right(self._blocks[i], offset - self._bases[i]) - 1

    def point_of(self, offset: int) -> tuple[int, int]:
        """Tree-sitter point (row, byte column) of byte ``offset``."""
        line = self.line_of(offset)
        return line, offset - self.line_start(line)

    def apply_edit(self, start: int, end: int, new: bytes) -> None:
        """Update the table for replacing bytes ``[start, end)`` with ``new``."""
        delta = len(new) - (end - start)
        first = bisect_right(self._bases, start) - 1
        last = max(first, bisect_right(self._bases, end) - 1)
        merged: list[int] = []
        for i in range(first, last + 1):
            base = self._bases[i]
            merged.extend(base + s for s in self._blocks[i])
        keep_head = [s for s in merged if s <= start]
        tail = [s + delta for s in merged if s > end]
        rebuilt = keep_head + _line_starts(new, start) + tail
        blocks: list[list[int]] = []
        bases: list[int] = []
        for i in range(0, len(rebuilt), _BLOCK):
            chunk = rebuilt[i : i + _BLOCK]
            bases.append(chunk[0])
            blocks.append([s - chunk[0] for s in chunk])
        self._blocks[first : last + 1] = blocks
        self._bases[first : last + 1] = bases
        if delta:
            after = first + len(blocks)
            self._bases[after:] = [b + delta for b in self._bases[after:]]
        self._length += delta
        self._reindex()


def end_point_after(start: tuple[int, int], inserted: bytes) -> tuple[int, int]:
    """Tree-sitter point reached after inserting ``inserted`` at point ``start``."""
    newlines = inserted.count(b"\n")
    if newlines:
        return start[0] + newlines, len(inserted) - inserted.rfind(b"\n") - 1
    return start[0], start[1] + len(inserted)


def _char_start(data: bytes, offset: int, floor: int) -> int:
    """Move ``offset`` back to the first byte of the UTF-8 sequence it is in."""
    while offset > floor and offset < len(data) and (data[offset] & 0xC0) == 0x80:
        offset -= 1
    return offset


def column_to_bytes(line: bytes, character: int, encoding: PositionEncoding) -> int:
    """Byte length of the first ``character`` units of ``line`` (clamped)."""
    if character <= 0:
        return 0
    if encoding == "utf-8" or line.isascii():
        if character >= len(line):
            return len(line)
        return _char_start(line, character, 0)
    text = decode_text(line)
    if encoding == "utf-32":
        return len(encode_text(text[:character]))
    units = text.encode("utf-16-le", ENCODING_ERRORS)
    cut = units[: 2 * character]
    if len(cut) >= 2 and len(cut) < len(units):
        last = int.from_bytes(cut[-2:], "little")
        following = int.from_bytes(units[len(cut) : len(cut) + 2], "little")
        if 0xD800 <= last <= 0xDBFF and 0xDC00 <= following <= 0xDFFF:
            cut = cut[:-2]
    return len(encode_text(cut.decode("utf-16-le", ENCODING_ERRORS)))


def bytes_to_column(line_prefix: bytes, encoding: PositionEncoding) -> int:
    """Number of ``encoding`` units in the UTF-8 bytes ``line_prefix``."""
    if encoding == "utf-8" or line_prefix.isascii():
        return len(line_prefix)
    text = decode_text(line_prefix)
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le", ENCODING_ERRORS)) // 2


def offset_at(data: bytes, lines: LineTable, line: int, character: int, encoding: PositionEncoding) -> int:
    """Byte offset of LSP position ``(line, character)``, clamped to the buffer.

    A line past the end maps to the end of the buffer; a character past the
    end of its line maps to the end of that line (before ``\\r\\n``); a
    position inside a multi-unit character maps to that character's start.
    """
    if line < 0:
        return 0
    if line >= lines.line_count:
        return len(data)
    start = lines.line_start(line)
    end = lines.line_end(line)
    if end > start and data[end - 1 : end] == b"\r" and end < len(data):
        end -= 1
    return start + column_to_bytes(data[start:end], character, encoding)


def position_at(data: bytes, lines: LineTable, byte_offset: int, encoding: PositionEncoding) -> tuple[int, int]:
    """LSP position of ``byte_offset`` (clamped, moved back to a character start)."""
    offset = max(0, min(byte_offset, len(data)))
    line = lines.line_of(offset)
    start = lines.line_start(line)
    offset = _char_start(data, offset, start)
    return line, bytes_to_column(data[start:offset], encoding)
