"""Reading the answers of repository-wide tasks: findings, generated files, Markdown documents.

Models do not always follow the format they were asked for, so parsing is
tolerant where the intent is clear and precise where it is not:

* findings are a JSON array in a ```json block (or a bare array, or an object
  with a ``findings`` array); common aliases (``path``, ``start_line``,
  ``description``, ``fix.replacement``...) and severities (``critical``,
  ``high``, ``low``...) are accepted; a block cut off mid-array (an answer
  that hit its token limit) yields the findings that are complete, with a
  note; an answer with no findings block at all, or one that is not JSON,
  raises :class:`MalformedAnswerError` with what was wrong;
* each finding is then checked against the files the model was shown
  (:func:`locate`): unknown files and lines past the end are rejected with
  the reason, not guessed;
* generated files are ``File: <path>`` lines each followed by a fenced block;
  paths must stay inside the workspace; an unterminated last block is dropped.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info", "hint"]

SEVERITIES: dict[str, Severity] = {
    "error": "error",
    "critical": "error",
    "blocker": "error",
    "high": "error",
    "major": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "moderate": "warning",
    "info": "info",
    "information": "info",
    "low": "info",
    "minor": "info",
    "note": "info",
    "hint": "hint",
    "suggestion": "hint",
    "nit": "hint",
    "style": "hint",
}

_OPEN_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([^\n`]*)$", re.MULTILINE)


class MalformedAnswerError(ValueError):
    """The answer does not hold what the task asked for; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem as the model reported it (lines 1-based, inclusive)."""

    file: str
    line: int
    end_line: int
    severity: Severity
    message: str
    code: str = ""
    replacement: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFindings:
    """The findings of an answer, the entries skipped and why, and whether the block was cut off."""

    findings: tuple[Finding, ...]
    problems: tuple[str, ...] = ()
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """A fenced block of an answer: info string, body, and whether its closing fence is missing."""

    info: str
    body: str
    start: int  # offset of the opening fence in the answer
    end: int  # offset just after the closing fence (the answer's end when unterminated)
    closed: bool


def fenced_blocks(answer: str) -> list[Block]:
    """Every fenced block of ``answer``, the last one possibly unterminated (a cut-off answer)."""
    blocks: list[Block] = []
    position = 0
    while True:
        opening = _OPEN_FENCE.search(answer, position)
        if opening is None:
            return blocks
        fence = opening.group(1)
        body_start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        match = closing.search(answer, body_start) if body_start <= len(answer) else None
        if match is None:
            info = opening.group(2).strip()
            blocks.append(Block(info, answer[body_start:], opening.start(), len(answer), False))
            return blocks
        body = answer[body_start : match.start()]
        blocks.append(Block(opening.group(2).strip(), body, opening.start(), match.end(), True))
        position = match.end()


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:80] + ("…" if len(flat) > 80 else "")


def _salvage(text: str) -> list[Any]:
    """The complete values at the start of a JSON array that was cut off."""
    start = text.find("[")
    if start < 0:
        return []
    decoder = json.JSONDecoder()
    items: list[Any] = []
    position = start + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            return items
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return items
        items.append(value)


def _findings_payload(answer: str) -> tuple[Any, list[str], bool]:
    """The decoded findings value, notes, and whether it was salvaged from a cut-off block."""
    blocks = fenced_blocks(answer)
    chosen = next((b for b in blocks if b.info.lower().startswith("json")), None)
    if chosen is None:
        chosen = next((b for b in blocks if b.body.lstrip().startswith(("[", "{"))), None)
    if chosen is not None:
        text, closed = chosen.body, chosen.closed
    elif answer.strip().startswith(("[", "{")):
        text, closed = answer.strip(), True
    else:
        raise MalformedAnswerError(f"the answer has no ```json block of findings (it reads: {_preview(answer)!r})")
    try:
        return json.loads(text), [], False
    except json.JSONDecodeError as exc:
        items = _salvage(text)
        cut_off = not closed or (
            exc.msg.startswith(("Expecting", "Unterminated")) and exc.pos >= len(text.rstrip()) - 1
        )
        if cut_off and not items:
            raise MalformedAnswerError(
                "the findings block is cut off before its first complete finding (the answer was truncated)"
            ) from None
        if cut_off:
            note = f"the findings block is cut off (the answer was truncated); {len(items)} complete findings kept"
            return items, [note], True
        raise MalformedAnswerError(
            f"the findings block is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _first(item: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in item and item[key] is not None:
            return item[key]
    return None


def _line_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("L").isdigit():
        return int(value.strip().lstrip("L"))
    return None


def _replacement(item: Mapping[str, Any]) -> str | None:
    value = _first(item, "replacement", "new_text", "suggested_replacement")
    fix = item.get("fix", item.get("suggested_fix"))
    if value is None and isinstance(fix, Mapping):
        value = _first(fix, "replacement", "new_text", "code")
    return value if isinstance(value, str) else None


def _finding(item: Any, number: int) -> Finding | str:
    """A :class:`Finding`, or why entry ``number`` (1-based) is unusable."""
    if not isinstance(item, Mapping):
        return f"finding {number}: not an object"
    file = _first(item, "file", "path", "filename", "file_path")
    if not isinstance(file, str) or not file.strip():
        return f"finding {number}: no file"
    line = _line_number(_first(item, "line", "start_line", "line_start", "start"))
    if line is None or line < 1:
        return f"finding {number} ({file}): no valid line number"
    end_line = _line_number(_first(item, "end_line", "line_end", "end"))
    if end_line is None or end_line < line:
        end_line = line
    message = _first(item, "message", "description", "issue", "title", "problem")
    if not isinstance(message, str) or not message.strip():
        return f"finding {number} ({file}:{line}): no message"
    raw_severity = str(_first(item, "severity", "level", "priority") or "warning").strip().lower()
    severity = SEVERITIES.get(raw_severity, "warning")
    code = _first(item, "code", "cwe", "rule", "id")
    return Finding(
        file=file.strip(),
        line=line,
        end_line=end_line,
        severity=severity,
        message=" ".join(message.split()),
        code=str(code).strip() if isinstance(code, str | int) and not isinstance(code, bool) else "",
        replacement=_replacement(item),
    )


def parse_findings(answer: str) -> ParsedFindings:
    """The findings of ``answer``; :class:`MalformedAnswerError` when it holds none in a usable form."""
    payload, problems, truncated = _findings_payload(answer)
    if isinstance(payload, Mapping):
        inner = _first(payload, "findings", "issues", "problems", "results")
        payload = inner if isinstance(inner, list) else [payload]
    if not isinstance(payload, list):
        raise MalformedAnswerError(f"the findings block holds {type(payload).__name__}, not an array of findings")
    findings: list[Finding] = []
    for number, item in enumerate(payload, start=1):
        parsed = _finding(item, number)
        if isinstance(parsed, Finding):
            findings.append(parsed)
        else:
            problems.append(parsed)
    return ParsedFindings(tuple(findings), tuple(problems), truncated)


@dataclass(frozen=True, slots=True)
class LocatedFinding:
    """A finding checked against a file the model was shown: absolute path, 0-based inclusive lines."""

    finding: Finding
    path: str
    start_line: int
    end_line: int


def normalize_display(path: str) -> str:
    """A model-written path as the digest writes paths (POSIX, no ``./``, ``a/``/``b/`` diff prefixes)."""
    text = path.strip().strip("`").replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    if text.startswith(("a/", "b/")) and len(text) > 2:
        text = text[2:]
    return posixpath.normpath(text) if text else text


def locate(finding: Finding, shown: Mapping[str, str], line_count: Callable[[str], int | None]) -> LocatedFinding | str:
    """``finding`` in one of the ``shown`` files (display path → absolute path), or why it cannot be.

    A path that is not shown verbatim is matched by a unique suffix
    (``app.py`` for ``src/app.py``). ``line_count`` gives a file's current
    number of lines (None when unreadable). Lines past the end are rejected;
    an end line past the end is clamped to the last line.
    """
    wanted = normalize_display(finding.file)
    path = shown.get(wanted) or shown.get(finding.file)
    if path is None:
        matches = [p for d, p in shown.items() if d.endswith("/" + wanted) or wanted.endswith("/" + d)]
        if len(matches) != 1:
            return f"{finding.file}:{finding.line}: not a file the review was shown"
        path = matches[0]
    lines = line_count(path)
    if lines is None:
        return f"{finding.file}:{finding.line}: the file cannot be read"
    if finding.line > lines:
        return f"{finding.file}:{finding.line}: past the end of the file ({lines} lines)"
    return LocatedFinding(finding, path, finding.line - 1, min(finding.end_line, lines) - 1)


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    """A file the model wrote: relative POSIX path and whole content."""

    path: str
    content: str


@dataclass(frozen=True, slots=True)
class ParsedFiles:
    """The files of an answer and the blocks skipped, with reasons."""

    files: tuple[GeneratedFile, ...]
    problems: tuple[str, ...] = ()
    unsafe: tuple[str, ...] = ()  # names that are not relative paths inside the workspace (absolute, ``..``)


_FILE_HEADER = re.compile(
    r"^(?:#{1,6}\s*)?(?:\*\*)?(?:(?:File|Path|Filename)\s*:\s*)?(?:\*\*)?\s*"
    r"`?([^\s`*:]+\.\w+|[^\s`*:]*/[^\s`*:]+)`?\s*(?:\*\*)?\s*:?$",
    re.IGNORECASE,
)
# ``File: Makefile``: a name without extension or folder counts only after an explicit label (then the
# file policy says why it is refused, rather than the block being skipped as prose)
_FILE_LABEL = re.compile(
    r"^(?:#{1,6}\s*)?(?:\*\*)?(?:File|Path|Filename)\s*:\s*(?:\*\*)?\s*`?([^\s`*:]+)`?\s*(?:\*\*)?\s*:?$",
    re.IGNORECASE,
)
_INFO_PATH = re.compile(r"(?:title|file|path)=[\"']?([\w./\\-]+\.\w+)|^[\w+-]*:([\w./\\-]+\.\w+)$")


def safe_relative_path(path: str) -> str | None:
    """``path`` as a relative POSIX path inside the workspace, or None (absolute, ``..``, empty)."""
    text = path.strip().replace("\\", "/")
    if not text or text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return None
    normal = posixpath.normpath(text)
    if normal in (".", "") or normal == ".." or normal.startswith("../"):
        return None
    return normal


def parse_generated_files(answer: str, default_path: str | None = None) -> ParsedFiles:
    """Files written as ``File: <path>`` followed by a fenced block; :class:`MalformedAnswerError` if none.

    An answer whose only block names no file is the file ``default_path``
    when one is given (a suite for one source file has an obvious place).
    Names that are not relative paths inside the workspace (absolute, ``..``)
    are returned in ``unsafe``, for the caller's file policy to refuse with a reason.
    """
    files: dict[str, GeneratedFile] = {}
    problems: list[str] = []
    unsafe: list[str] = []
    blocks = fenced_blocks(answer)
    previous_end = 0
    for block in blocks:
        preceding = answer[previous_end : block.start].strip()
        previous_end = block.end
        info_match = _INFO_PATH.search(block.info)
        last_line = preceding.rsplit("\n", 1)[-1].strip() if preceding else ""
        header = (_FILE_HEADER.match(last_line) or _FILE_LABEL.match(last_line)) if last_line else None
        if info_match is not None:
            name = info_match.group(1) or info_match.group(2)
        elif header is not None:
            name = header.group(1)
        else:
            continue  # prose example, not a file
        relative = safe_relative_path(name)
        if relative is None:
            unsafe.append(name)
            continue
        if not block.closed:
            problems.append(f"{relative}: cut off (the answer was truncated); skipped")
            continue
        content = block.body if block.body.endswith("\n") or not block.body else block.body + "\n"
        files[relative] = GeneratedFile(relative, content)
    unnamed = [b for b in blocks if b.closed and b.body.strip()]
    if not files and not problems and not unsafe and default_path is not None and len(unnamed) == 1:
        body = unnamed[0].body
        note = f"the answer named no file; its one code block becomes {default_path}"
        return ParsedFiles((GeneratedFile(default_path, body if body.endswith("\n") else body + "\n"),), (note,))
    if not files and not unsafe:
        reason = (
            "; ".join(problems) if problems else f"no `File: <path>` line before a code block ({_preview(answer)!r})"
        )
        raise MalformedAnswerError(f"the answer holds no generated file: {reason}")
    return ParsedFiles(tuple(files.values()), tuple(problems), tuple(unsafe))


def markdown_document(answer: str) -> str:
    """The Markdown document of an answer, without a ```markdown fence wrapping all of it."""
    lines = answer.strip().splitlines()
    if lines and re.fullmatch(r"(```+|~~~+)\s*(markdown|md)\s*", lines[0].strip(), re.IGNORECASE):
        fence = lines[0].strip()[0] * 3
        lines = lines[1:]
        if lines and lines[-1].strip().startswith(fence) and not lines[-1].strip().strip(fence[0]):
            lines = lines[:-1]
    text = "\n".join(lines).strip()
    if not text:
        raise MalformedAnswerError("the answer is empty")
    return text + "\n"
