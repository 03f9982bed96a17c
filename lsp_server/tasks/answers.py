"""Read a model's answer: fenced code blocks (with an optional file heading) out of Markdown.

A block's file is named either by the line just above its opening fence
(``### path``, ``File: path``, ``**path**`` or a lone ```` `path` ````) or in the
info string after the language (```` ```python main.py ```` or
```` ```python:main.py ````). An opening fence that is never closed marks the
answer as *truncated* (the model ran out of tokens); the partial block is
kept so that callers can say what was cut off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^(```+|~~~+)[^\n]*\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)
_OPEN = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})([^\n`]*)$")
_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s*(?:File:\s*)?|File:\s*|\*\*(?:File:\s*)?|`)?"
    r"`?(?P<path>[\w./\\-]+\.[\w]+|[\w./\\-]*/[\w.-]+)`?(?:\*\*|`)?:?\s*$"
)
# ``File: Makefile``: a bare name counts only after an explicit label (the file policy then refuses it by name)
_LABELLED = re.compile(r"^\s*(?:#{1,6}\s*)?(?:\*\*)?File:\s*(?:\*\*)?`?(?P<path>[^\s`*]+?)`?(?:\*\*)?:?\s*$", re.I)
_DIFF_LANGS = frozenset({"diff", "patch", "udiff"})


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """One fenced block: its language tag, its file (if named) and its body (ending in a newline)."""

    language: str
    body: str
    path: str | None = None
    closed: bool = True

    @property
    def is_diff(self) -> bool:
        """A unified diff, by its language tag or by its ``---``/``+++``/``@@`` lines."""
        if self.language.lower() in _DIFF_LANGS:
            return True
        lines = self.body.lstrip("\n").splitlines()
        return len(lines) >= 2 and (
            (lines[0].startswith("--- ") and lines[1].startswith("+++ ")) or lines[0].startswith("@@ ")
        )


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """Every block of an answer, in order, and whether the answer was cut off inside one."""

    blocks: tuple[CodeBlock, ...]
    truncated: bool
    text: str

    @property
    def prose(self) -> str:
        """The answer without its code blocks (what is shown to the user next to an edit)."""
        return re.sub(r"\n{3,}", "\n\n", _FENCE.sub("", self.text)).strip()


def _heading_path(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or len(stripped) > 300:
        return None
    if not (stripped.startswith(("#", "File:", "**", "`")) or stripped.lower().startswith("file:")):
        return None
    match = _HEADING.match(stripped) or _LABELLED.match(stripped)
    return match.group("path").replace("\\", "/") if match else None


def _info_path(info: str) -> tuple[str, str | None]:
    """Split an info string into (language, path): ``python main.py``, ``python:main.py``, ``main.py``."""
    info = info.strip()
    if not info:
        return "", None
    head, _, rest = info.partition(" ")
    if ":" in head and not rest:
        head, _, rest = head.partition(":")
    rest = rest.strip()
    if rest:
        return head, rest.split()[0]
    if "." in head or "/" in head:
        return "", head
    return head, None


def parse_answer(answer: str) -> ParsedAnswer:
    """The blocks of ``answer``; an unclosed fence ends the answer and sets ``truncated``."""
    lines = answer.splitlines(keepends=True)
    blocks: list[CodeBlock] = []
    previous = ""
    i = 0
    truncated = False
    while i < len(lines):
        match = _OPEN.match(lines[i].rstrip("\r\n"))
        if match is None:
            if lines[i].strip():
                previous = lines[i]
            i += 1
            continue
        fence, info = match.group(1), match.group(2)
        language, path = _info_path(info)
        if path is None:
            path = _heading_path(previous)
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and stripped.strip(fence[0]) == "":
                closed = True
                break
            body.append(lines[j])
            j += 1
        text = "".join(body)
        if text and not text.endswith("\n"):
            text += "\n"
        blocks.append(CodeBlock(language, text, path, closed))
        if not closed:
            truncated = True
            break
        previous = ""
        i = j + 1
    return ParsedAnswer(tuple(blocks), truncated, answer)


def code_blocks(answer: str) -> list[str]:
    """The contents of every closed fenced code block, in order (without the fences)."""
    return [b.body for b in parse_answer(answer).blocks if b.closed]


def first_code_block(answer: str) -> str | None:
    """The first closed code block of ``answer``, if any."""
    blocks = code_blocks(answer)
    return blocks[0] if blocks else None
