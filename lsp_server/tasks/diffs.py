"""Unified diffs from a model: split per file, and apply to a text by matching each hunk's lines.

Models number hunks unreliably (relative to the snippet they were shown, or
to the whole file, or not at all), so a hunk is placed where its old lines
(context and removals) occur in the text, the occurrence nearest the line
its header names winning; a hunk whose old lines occur nowhere does not apply
and :class:`DiffError` says which line was not found. Trailing whitespace is
ignored when matching; the text's own lines are kept for context lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HUNK = re.compile(r"^@@+ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@+")


class DiffError(ValueError):
    """The diff is malformed or does not apply to the text."""


@dataclass(frozen=True, slots=True)
class Hunk:
    """One ``@@`` section: its old-side start line (1-based, 0 when unknown) and its lines with their marks."""

    old_start: int
    lines: tuple[tuple[str, str], ...]  # (" " | "-" | "+", text without the line break)

    @property
    def old_lines(self) -> list[str]:
        return [text for mark, text in self.lines if mark != "+"]

    @property
    def new_lines(self) -> list[str]:
        return [text for mark, text in self.lines if mark != "-"]


@dataclass(frozen=True, slots=True)
class FileDiff:
    """The hunks for one file; ``old_path``/``new_path`` without ``a/``/``b/`` (``None`` for /dev/null)."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[Hunk, ...]

    @property
    def path(self) -> str | None:
        return self.new_path or self.old_path


def _strip_prefix(raw: str) -> str | None:
    name = raw.strip().split("\t")[0].strip()
    if name == "/dev/null":
        return None
    if name.startswith(("a/", "b/")):
        name = name[2:]
    return name or None


def parse_diff(text: str) -> list[FileDiff]:
    """The per-file diffs of ``text``; hunks before any ``---``/``+++`` header belong to an unnamed file."""
    files: list[FileDiff] = []
    old_path: str | None = None
    new_path: str | None = None
    hunks: list[Hunk] = []
    current: list[tuple[str, str]] | None = None
    start = 0
    named = False

    def close_hunk() -> None:
        nonlocal current
        if current is not None:
            if not any(mark != " " for mark, _ in current):
                current = None
                return
            hunks.append(Hunk(start, tuple(current)))
        current = None

    def close_file() -> None:
        nonlocal hunks
        close_hunk()
        if hunks:
            files.append(FileDiff(old_path, new_path, tuple(hunks)))
        hunks = []

    lines = text.splitlines()
    if not any(line.startswith(("@@", "--- ")) for line in lines) and all(
        line[:1] in ("", " ", "-", "+") for line in lines
    ):
        lines = ["@@ -0,0 +0,0 @@", *lines]  # bare +/- lines: one hunk placed by its content
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            close_file()
            old_path, new_path, named = _strip_prefix(line[4:]), _strip_prefix(lines[i + 1][4:]), True
            i += 2
            continue
        if line.startswith(("diff --git ", "index ", "new file mode", "deleted file mode")):
            i += 1
            continue
        if line.startswith("@@"):
            close_hunk()
            match = _HUNK.match(line)
            start = int(match.group(1)) if match else 0
            current = []
            i += 1
            continue
        if current is not None:
            if line.startswith("\\"):  # "\ No newline at end of file"
                pass
            elif line[:1] in (" ", "-", "+"):
                current.append((line[0], line[1:]))
            elif line == "":
                current.append((" ", ""))
            else:
                raise DiffError(f"line {i + 1} of the diff is not part of a hunk: {line[:80]!r}")
        i += 1
    close_file()
    if not files:
        raise DiffError("the diff has no hunks")
    if not named and len(files) == 1:
        return [FileDiff(None, None, files[0].hunks)]
    return files


def _find(lines: list[str], needle: list[str], hint: int) -> int | None:
    """Index in ``lines`` where ``needle`` occurs (trailing whitespace ignored), nearest ``hint``."""
    if not needle:
        return max(0, min(hint, len(lines)))
    stripped = [line.rstrip() for line in lines]
    target = [line.rstrip() for line in needle]
    found = [i for i in range(len(lines) - len(needle) + 1) if stripped[i : i + len(needle)] == target]
    if not found:
        return None
    return min(found, key=lambda i: (abs(i - hint), i))


def apply_hunks(text: str, hunks: tuple[Hunk, ...] | list[Hunk]) -> str:
    """``text`` with every hunk applied in order; :class:`DiffError` when one does not apply."""
    ends_with_newline = text.endswith("\n") or not text
    lines = text.splitlines()
    offset = 0  # how far earlier hunks moved the lines
    cursor = 0  # hunks apply in order and never overlap
    for number, hunk in enumerate(hunks, 1):
        old = hunk.old_lines
        hint = max(0, hunk.old_start - 1 + offset)
        tail = lines[cursor:]
        at = _find(tail, old, hint - cursor)
        if at is None:
            missing = next(
                (line for line in old if line.rstrip() not in {t.rstrip() for t in tail}), old[0] if old else ""
            )
            raise DiffError(f"hunk {number} does not apply: the line {missing.strip()!r} is not in the code")
        at += cursor
        new = hunk.new_lines
        # keep the text's own spelling of context lines (the model may have lost trailing spaces)
        kept: list[str] = []
        k = at
        for mark, line in hunk.lines:
            if mark == " ":
                kept.append(lines[k])
                k += 1
            elif mark == "-":
                k += 1
            else:
                kept.append(line)
        lines[at : at + len(old)] = kept
        offset += len(new) - len(old)
        cursor = at + len(kept)
    result = "\n".join(lines)
    if lines and ends_with_newline:
        result += "\n"
    return result


def apply_diff(text: str, diff: str) -> str:
    """``text`` after the single-file unified diff ``diff``; :class:`DiffError` if it does not apply."""
    files = parse_diff(diff)
    if len(files) != 1:
        raise DiffError(f"expected a diff of one file, got {len(files)}")
    return apply_hunks(text, files[0].hunks)
