"""Read a model's answer: fenced code blocks out of Markdown."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^(```+|~~~+)[^\n]*\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)


def code_blocks(answer: str) -> list[str]:
    """The contents of every fenced code block, in order (without the fences)."""
    return [m.group(2) for m in _FENCE.finditer(answer)]


def first_code_block(answer: str) -> str | None:
    blocks = code_blocks(answer)
    return blocks[0] if blocks else None
