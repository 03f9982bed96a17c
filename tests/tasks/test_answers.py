"""Reading answers: fenced blocks, their file headings, diffs, and cut-off output."""

from __future__ import annotations

from lsp_server.tasks.answers import CodeBlock, code_blocks, first_code_block, parse_answer


def test_blocks_with_language_and_prose() -> None:
    answer = "Use a generator.\n\n```python\nx = [i for i in y]\n```\n\nDone."
    parsed = parse_answer(answer)
    assert parsed.blocks == (CodeBlock("python", "x = [i for i in y]\n"),)
    assert not parsed.truncated
    assert parsed.prose == "Use a generator.\n\nDone."
    assert first_code_block(answer) == "x = [i for i in y]\n"


def test_file_headings_in_every_supported_spelling() -> None:
    answer = (
        "### src/a.py\n```python\na = 1\n```\n"
        "File: b.py\n```python\nb = 2\n```\n"
        "**c.py**\n```\nc = 3\n```\n"
        "```python d.py\nd = 4\n```\n"
        "```python:e.py\ne = 5\n```\n"
        "Some words first\n```python\nf = 6\n```\n"
    )
    assert [b.path for b in parse_answer(answer).blocks] == ["src/a.py", "b.py", "c.py", "d.py", "e.py", None]


def test_unclosed_fence_is_truncation() -> None:
    parsed = parse_answer("Here:\n```python\ndef f(:\n    return (")
    assert parsed.truncated
    assert parsed.blocks == (CodeBlock("python", "def f(:\n    return (\n", None, closed=False),)
    assert code_blocks("Here:\n```python\ndef f(:\n") == []


def test_longer_fences_and_tildes_hold_inner_fences() -> None:
    answer = "````markdown\n```python\nx = 1\n```\n````\n~~~\ny\n~~~\n"
    assert code_blocks(answer) == ["```python\nx = 1\n```\n", "y\n"]


def test_diff_blocks_are_recognised_by_tag_or_shape() -> None:
    tagged, bare, code = parse_answer(
        "```diff\n-a\n+b\n```\n```\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n```\n```python\n-1\n```\n"
    ).blocks
    assert tagged.is_diff and bare.is_diff and not code.is_diff


def test_no_blocks() -> None:
    parsed = parse_answer("The code is fine as it is.")
    assert parsed.blocks == () and not parsed.truncated and parsed.prose == "The code is fine as it is."
