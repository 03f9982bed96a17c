"""From a model's answer to checked file changes: apply to a copy, re-parse, refuse what breaks the file.

Everything here is pure (no pygls, no I/O but what a :class:`FileSource`
does). An edit task's answer becomes a list of :class:`FileChange` (old and
new text of each file); each new text is parsed with tree-sitter for the
file's language and refused with an :class:`AnswerError` when it has a
syntax error that the old text did not have (errors already in the file are
not held against the answer). Malformed answers — an unclosed fence
(truncated output), a diff that does not apply — are :class:`AnswerError`
too, marked ``retry`` so that the caller asks the model once more with the
reason; an answer with no code at all is :class:`NoEdit` (the model answered
in prose, which is shown to the user). A multi-file answer changes only the
files its :class:`~lsp_server.tasks.file_policy.FilePolicy` accepts; the
others are returned as refusals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn, Protocol

from tree_sitter import Node

from lsp_server.analysis.languages import SUPPORTED_LANGUAGES, new_parser
from lsp_server.tasks.answers import CodeBlock, ParsedAnswer
from lsp_server.tasks.diffs import DiffError, apply_diff, apply_hunks, parse_diff
from lsp_server.tasks.file_policy import FilePolicy, Refusal


class AnswerError(Exception):
    """The answer cannot become a safe edit; ``retry`` when asking again with ``reason`` may help."""

    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class NoEdit(Exception):
    """The answer holds no code to apply (the model answered in prose)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Replacement:
    """Replace bytes ``[start, end)`` of a file's UTF-8 source with ``text``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file's text before (``None``: the file is created) and after the edit.

    ``replacements`` are the exact edits when the task computed them (renames);
    otherwise the editor gets the smallest whole-line range that differs.
    """

    uri: str
    old: str | None
    new: str
    replacements: tuple[Replacement, ...] | None = None

    def edits(self) -> list[Replacement]:
        """The edits that turn ``old`` into ``new`` (one insertion at 0 for a new file)."""
        if self.replacements is not None:
            return list(self.replacements)
        if self.old is None:
            return [Replacement(0, 0, self.new)]
        return [narrow(self.old, self.new)] if self.old != self.new else []


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """The first syntax error of a text: 0-based line and byte column, and what is wrong."""

    line: int
    column: int
    message: str
    signature: tuple[str, str]

    line_text: str = ""

    def describe(self) -> str:
        near = f" in `{self.line_text.strip()[:80]}`" if self.line_text.strip() else ""
        return f"line {self.line + 1}, column {self.column + 1}: {self.message}{near}"


class FileSource(Protocol):
    """How a multi-file task sees the workspace."""

    def uri_for(self, path: str) -> str | None:
        """The URI of a path named by the model, ``None`` when it is outside the workspace."""

    def read(self, uri: str) -> str | None:
        """The current text (the editor's when open), ``None`` when the file does not exist."""

    def language(self, uri: str) -> str | None:
        """The tree-sitter language of the file, ``None`` for plain text."""


# -- replacements --------------------------------------------------------------------


def apply_replacements(source: bytes, replacements: Sequence[Replacement]) -> bytes:
    """``source`` with non-overlapping ``replacements`` applied (any order given)."""
    out = source
    for rep in sorted(replacements, key=lambda r: r.start, reverse=True):
        out = out[: rep.start] + rep.text.encode("utf-8") + out[rep.end :]
    return out


def narrow(old: str, new: str) -> Replacement:
    """The smallest whole-line replacement (UTF-8 byte offsets into ``old``) that turns ``old`` into ``new``."""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(a), len(b)) - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    start = sum(len(line.encode("utf-8")) for line in a[:prefix])
    end = len(old.encode("utf-8")) - sum(len(line.encode("utf-8")) for line in a[len(a) - suffix :])
    return Replacement(start, end, "".join(b[prefix : len(b) - suffix]))


# -- syntax check --------------------------------------------------------------------


def _problem(node: Node, source: bytes) -> SyntaxProblem:
    row, column = node.start_point
    line_start = source.rfind(b"\n", 0, node.start_byte) + 1
    line_end = source.find(b"\n", node.start_byte)
    line = source[line_start : line_end if line_end >= 0 else len(source)].decode("utf-8", "replace")
    if node.is_missing:
        return SyntaxProblem(row, column, f"missing `{node.type}`", ("missing", node.type), line)
    text = source[node.start_byte : node.end_byte].decode("utf-8", "replace")
    snippet = " ".join(text.split())[:60]
    return SyntaxProblem(row, column, f"unexpected `{snippet}`", ("error", snippet), line)


def syntax_problems(language: str | None, source: bytes) -> list[SyntaxProblem]:
    """Every error and missing node of ``source`` parsed as ``language``, in document order."""
    if language is None or language not in SUPPORTED_LANGUAGES:
        return []
    tree = new_parser(language).parse(source)
    if not tree.root_node.has_error:
        return []
    problems: list[SyntaxProblem] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            problems.append(_problem(node, source))
            continue
        stack.extend(child for child in reversed(node.children) if child.has_error or child.is_missing)
    return problems


def new_syntax_problem(language: str | None, before: bytes | None, after: bytes) -> SyntaxProblem | None:
    """The first syntax error of ``after`` that ``before`` did not already have, if any."""
    found = syntax_problems(language, after)
    if not found:
        return None
    remaining = Counter(p.signature for p in syntax_problems(language, before)) if before is not None else Counter()
    for problem in found:
        if remaining[problem.signature] > 0:
            remaining[problem.signature] -= 1
            continue
        return problem
    return None


def check_change(change: FileChange, language: str | None, label: str = "") -> None:
    """Raise :class:`AnswerError` when ``change`` makes its file fail to parse."""
    before = change.old.encode("utf-8") if change.old is not None else None
    problem = new_syntax_problem(language, before, change.new.encode("utf-8"))
    if problem is not None:
        where = f"{label} " if label else ""
        raise AnswerError(f"the edited {where}file does not parse ({language}): {problem.describe()}")


# -- answers -> text -----------------------------------------------------------------


def match_newlines(text: str, like: str | None) -> str:
    """``text`` with ``like``'s line breaks (models answer with ``\\n``; a CRLF file stays CRLF)."""
    if like is None or "\r\n" not in like:
        return text
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _usable_blocks(answer: ParsedAnswer) -> list[CodeBlock]:
    if answer.truncated:
        _truncated(answer)
    closed = [b for b in answer.blocks if b.closed]
    if not closed:
        raise NoEdit("the answer has no code block")
    return closed


def _truncated(answer: ParsedAnswer) -> NoReturn:
    cut = answer.blocks[-1].body.rstrip("\n").rsplit("\n", 1)[-1]
    raise AnswerError(f"the answer was cut off inside a code block (it ends with {cut[-60:]!r})")


def _min_indent(lines: list[str]) -> int | None:
    widths = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    return min(widths) if widths else None


def fit_indentation(code: str, region: str, indent: str) -> str:
    """``code`` shaped like ``region``: same final newline, same indentation as the file.

    ``indent`` is what precedes the region on its first line (the region's own
    first line carries no indentation of its own). A model that indented the
    first line like the rest of the file gets that indentation removed; one
    that dedented the whole block gets ``indent`` added back to the lines
    after the first.
    """
    if not region.endswith("\n") and code.endswith("\n"):
        code = code[:-1]
    if not indent:
        return code
    lines = code.split("\n")
    if lines[0].startswith(indent):
        if all(not line.strip() or line.startswith(indent) for line in lines[1:]):
            return code[len(indent) :]
        return code
    have, want = _min_indent(lines[1:]), _min_indent(region.split("\n")[1:])
    if have is not None and want is not None and have + len(indent) == want:
        return "\n".join([lines[0], *(indent + line if line.strip() else line for line in lines[1:])])
    return code


def region_text(answer: ParsedAnswer, region: str, indent: str = "") -> str:
    """The new text of ``region`` from an answer holding one code block or one diff against it."""
    block = _usable_blocks(answer)[0]
    if block.is_diff:
        try:
            return apply_diff(region, block.body)
        except DiffError as exc:
            raise AnswerError(f"the diff does not apply: {exc}") from None
    return fit_indentation(block.body, region, indent)


def region_change(
    answer: ParsedAnswer, uri: str, source: bytes, start: int, end: int, language: str | None
) -> FileChange:
    """The checked change of a document whose bytes ``[start, end)`` the answer replaces."""
    region = source[start:end].decode("utf-8", "replace")
    line_start = source.rfind(b"\n", 0, start) + 1
    before = source[line_start:start].decode("utf-8", "replace")
    indent = before if not before.strip() else ""
    old = source.decode("utf-8", "replace")
    new_region = match_newlines(region_text(answer, region, indent), old)
    new = (source[:start] + new_region.encode("utf-8") + source[end:]).decode("utf-8", "replace")
    change = FileChange(uri, old, new)
    if new == old:
        raise NoEdit("the answer leaves the code unchanged")
    check_change(change, language)
    return change


def appended_change(answer: ParsedAnswer, uri: str, old: str | None, language: str | None) -> FileChange:
    """A new file holding the answer's block, or ``old`` with the block appended (or a diff applied)."""
    block = _usable_blocks(answer)[0]
    if block.is_diff:
        try:
            new = apply_diff(old or "", block.body)
        except DiffError as exc:
            raise AnswerError(f"the diff does not apply: {exc}") from None
    elif old is None or not old.strip():
        new = block.body
    else:
        new = old.rstrip("\r\n") + "\n\n\n" + block.body.lstrip("\n")
    change = FileChange(uri, old, match_newlines(new, old))
    check_change(change, language)
    return change


def file_changes(
    answer: ParsedAnswer, default_uri: str, files: FileSource, policy: FilePolicy
) -> tuple[list[FileChange], list[Refusal]]:
    """One checked change per file the answer names that ``policy`` accepts, and the refusals of the others.

    An unnamed block is ``default_uri``'s (the user's document). A refused file's blocks and diffs are
    dropped before anything is applied or parsed; when every file is refused
    the answer is (:class:`AnswerError`, not worth a retry: the reasons say why).
    """
    blocks = _usable_blocks(answer)
    texts: dict[str, str] = {}
    originals: dict[str, str | None] = {}
    refused: dict[str, Refusal] = {}

    def current(uri: str) -> str | None:
        if uri not in originals:
            originals[uri] = files.read(uri)
        return texts.get(uri, originals[uri])

    def resolve(path: str | None) -> str | None:
        """The URI to change, or None when the file is refused (recorded in ``refused``)."""
        if path is None:
            return default_uri  # the user's own document, which the model did not choose
        if path in refused:
            return None
        refusal = policy.check(path)
        uri = files.uri_for(path) if refusal is None else None
        if refusal is None and uri is None:
            refusal = Refusal(path, "outside the workspace")
        if refusal is not None:
            refused[path] = refusal
            return None
        return uri

    for block in blocks:
        if block.is_diff:
            try:
                for diff in parse_diff(block.body):
                    uri = resolve(diff.path or block.path)
                    if uri is not None:
                        texts[uri] = apply_hunks(current(uri) or "", diff.hunks)
            except DiffError as exc:
                raise AnswerError(f"the diff does not apply: {exc}") from None
        else:
            uri = resolve(block.path)
            if uri is not None:
                current(uri)
                texts[uri] = block.body
    if refused and not texts:
        said = "; ".join(r.describe() for r in refused.values())
        raise AnswerError(f"every file the answer changes is refused: {said}", retry=False)
    texts = {uri: match_newlines(text, originals[uri]) for uri, text in texts.items()}
    changes = [FileChange(uri, originals[uri], text) for uri, text in texts.items() if originals[uri] != text]
    if not changes:
        raise NoEdit("the answer leaves every file unchanged")
    for change in changes:
        check_change(change, files.language(change.uri), _label(change.uri))
    return changes, list(refused.values())


def _label(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


Interpret = Callable[[ParsedAnswer], list[FileChange]]
