"""Line tables and LSP position conversion: incremental updates and clamping rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lsp_server.analysis.positions import LineTable, encode_text, offset_at, position_at

ALPHABET = st.sampled_from(["a", "b", " ", "\n", "\r\n", "é", "😀", "\t", "x\ny"])
TEXT = st.lists(ALPHABET, max_size=60).map("".join)


def _starts(table: LineTable) -> list[int]:
    return [table.line_start(n) for n in range(table.line_count)]


@settings(max_examples=150, deadline=None)
@given(TEXT, st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400), TEXT), max_size=12))
def test_incremental_line_table_matches_rebuilt(initial: str, edits: list[tuple[int, int, str]]) -> None:
    data = encode_text(initial)
    table = LineTable(data)
    for a, b, new_text in edits:
        start, end = sorted((min(a, len(data)), min(b, len(data))))
        new = encode_text(new_text)
        table.apply_edit(start, end, new)
        data = data[:start] + new + data[end:]
        fresh = LineTable(data)
        assert _starts(table) == _starts(fresh)
        assert table.length == len(data)
        for offset in range(0, len(data) + 1, 3):
            assert table.line_of(offset) == fresh.line_of(offset)


def test_line_table_over_many_blocks() -> None:
    data = b"line\n" * 5000
    table = LineTable(data)
    table.apply_edit(100, 100, b"new\nlines\n")
    data = data[:100] + b"new\nlines\n" + data[100:]
    assert _starts(table) == _starts(LineTable(data))
    table.apply_edit(10, 20_000, b"")
    data = data[:10] + data[20_000:]
    assert _starts(table) == _starts(LineTable(data))


def test_utf16_and_utf32_positions() -> None:
    text = 'x = "é😀"\nnext\n'
    data = encode_text(text)
    table = LineTable(data)
    assert offset_at(data, table, 0, 6, "utf-16") == 7
    assert offset_at(data, table, 0, 7, "utf-16") == 7, "inside a surrogate pair clamps to its start"
    assert offset_at(data, table, 0, 8, "utf-16") == 11
    assert offset_at(data, table, 0, 7, "utf-32") == 11
    assert offset_at(data, table, 0, 7, "utf-8") == 7
    assert offset_at(data, table, 0, 8, "utf-8") == 7, "inside a UTF-8 sequence clamps to its start"
    assert position_at(data, table, 11, "utf-16") == (0, 8)
    assert position_at(data, table, 11, "utf-32") == (0, 7)
    assert position_at(data, table, 9, "utf-16") == (0, 6)


def test_clamping_past_line_and_document_end() -> None:
    text = "ab\r\ncd\n"
    data = encode_text(text)
    table = LineTable(data)
    assert offset_at(data, table, 0, 99, "utf-16") == 2, "CR of CRLF is not line content"
    assert offset_at(data, table, 1, 99, "utf-16") == 6
    assert offset_at(data, table, 9, 0, "utf-16") == len(data)
    assert offset_at(data, table, -1, 5, "utf-16") == 0
    assert position_at(data, table, 999, "utf-16") == (2, 0)


def test_lone_surrogates_round_trip() -> None:
    text = "a\ud800b"
    data = encode_text(text)
    table = LineTable(data)
    assert offset_at(data, table, 0, 2, "utf-16") == 4
    assert position_at(data, table, 4, "utf-16") == (0, 2)
