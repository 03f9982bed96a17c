"""Prompts of the repository-wide commands: a repository digest packed within a token budget.

A digest is Markdown the model reads as the "code" of a repository task::

    ## Files (N)            every workspace file, relative paths
    ## Outline              definitions and signatures per file, from the index
    ## Diff                 the reviewed diff, when there is one
    ## Contents             whole files with numbered lines, focus files first

Each section has a share of the budget (the list and the outline are capped,
more tightly in a focused digest, a file's or a diff's; the diff may take
half), and whatever is left goes to file contents: focus files first (the
reviewed file, the files a diff touches), then, when the task wants them,
the other files in list order, each whole or not at all (a focus file that
alone does not fit is cut at a line, and says so).
Numbered lines are what findings cite, so a finding maps back to exact lines.

:func:`task_instruction` is the answer format each task asks for; the
findings and generated-file formats are parsed by :mod:`.findings`. The test
suite's format replaces the ``tests`` task's default single-file format
(:func:`~lsp_server.tasks.prompts.with_answer_format`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lsp_server.analysis.symbols import Definition
from lsp_server.analysis.tokens import TokenCounter, estimate_tokens
from lsp_server.tasks.prompts import ANSWER_FORMAT_HEADING, with_answer_format
from routing.tasks import TaskKind

LIST_SHARE = 0.10
"""Largest share of the budget the file list may take."""
OUTLINE_SHARE = 0.25
"""Largest share of the budget the outline may take."""
FOCUSED_LIST_SHARE = 0.05
FOCUSED_OUTLINE_SHARE = 0.10
"""The shares of a focused digest (a file's or a diff's, ``include_others`` false): a smaller map of the rest
of the repository and more room for the focus files, so that a file or diff review fits the local window
(the reference design's review assistance runs locally)."""
DIFF_SHARE = 0.50
"""Largest share of the budget the diff may take."""
MAX_OUTLINE_PER_FILE = 40
"""Definitions listed per file at most (top-level ones first)."""
BUDGET_STEP = 2_000
"""Budgets of ``2 * BUDGET_STEP`` tokens or more are taken in whole steps (rounded down), so commands whose
answer budgets differ a little (review 1,500, performance 2,000, security 2,500 tokens) pack the same digest
of the same code: their prompts share a byte-identical prefix, which the providers' prompt caches serve."""

FINDINGS_TASKS: frozenset[TaskKind] = frozenset({TaskKind.REVIEW, TaskKind.SECURITY, TaskKind.PERFORMANCE})
"""Tasks answered with a JSON array of findings (published as diagnostics)."""
DOCUMENT_TASKS: frozenset[TaskKind] = frozenset(
    {TaskKind.ARCHITECTURE, TaskKind.DOCUMENTATION, TaskKind.API_INTEGRATION}
)
"""Tasks answered with a Markdown document (written to the workspace)."""

_FINDINGS_FORMAT = (
    "Answer with at most three sentences of summary, then exactly one fenced ```json block holding a JSON "
    "array of findings (an empty array when there is nothing to report). Each finding is an object with "
    '"file" (the path exactly as listed under Files), "line" and "end_line" (the first and last line concerned, '
    'as numbered under Contents), "severity" ("error", "warning", "info" or "hint"), "message" (one sentence: '
    'the problem and why it matters), optionally "code" (a short identifier such as a CWE number) and '
    'optionally "replacement" (the complete new text of lines "line" to "end_line", which replaces exactly '
    "those lines, indentation included). Report only lines whose contents are shown."
)

_TASK_FOCUS: dict[TaskKind, str] = {
    TaskKind.REVIEW: (
        "Review the code above: bugs, unhandled errors and edge cases, misleading names, dead code and "
        "maintainability problems."
    ),
    TaskKind.SECURITY: (
        "Audit the code above for security vulnerabilities: injection, path traversal, unsafe deserialization, "
        "hard-coded secrets, weak cryptography, missing authentication or authorization checks, unsafe "
        'subprocess or eval use. Use "error" for exploitable problems; put the CWE identifier in "code".'
    ),
    TaskKind.PERFORMANCE: (
        "Find performance problems in the code above: needless quadratic work, repeated I/O or queries in "
        "loops, blocking calls in async code, avoidable copies and allocations. Say what to do instead."
    ),
    TaskKind.ARCHITECTURE: (
        "Write a Markdown document analysing the architecture of this repository: purpose, components and "
        "their responsibilities, dependencies between them, data flow, strengths, risks, and concrete "
        "recommended improvements. Refer to files by their listed paths. Answer with the document only."
    ),
    TaskKind.DOCUMENTATION: (
        "Write comprehensive Markdown documentation of this repository: purpose, installation and setup, "
        "each module and its public API (with signatures), configuration, and usage examples. Refer to files "
        "by their listed paths. Answer with the document only."
    ),
    TaskKind.API_INTEGRATION: (
        "Write a Markdown report on the external APIs and services this repository uses or should use: how "
        "each is integrated today (files, calls), and recommendations on authentication, error handling, "
        "retries and timeouts, rate limits, pagination, versioning and testing, with code references. "
        "Answer with the document only."
    ),
    TaskKind.TESTS: (
        "Write a complete test suite for the code above in the project's language and test framework: "
        "normal cases, edge cases and error cases, one test file per module tested, following the "
        "repository's existing test layout."
    ),
}

SUITE_FORMAT = (
    f"{ANSWER_FORMAT_HEADING} for each test file, a line `File: <relative path>` (relative to the workspace "
    "root) followed by one fenced code block holding the whole file (imports included), and nothing else "
    "between them; no other code blocks. At most two sentences of explanation, first."
)
"""The test suite's multi-file format; it replaces the single test file of the ``tests`` code action."""


def task_instruction(task: TaskKind, extra: str = "", *, tests_path: str | None = None) -> str:
    """What ``task`` asks of the model, answer format included; ``extra`` is the user's own request.

    ``tests_path`` is where a test suite for one source file goes by convention.
    """
    parts = [_TASK_FOCUS.get(task, "Help with the repository above.")]
    if task in FINDINGS_TASKS:
        parts.append(_FINDINGS_FORMAT)
    if task == TaskKind.TESTS and tests_path:
        parts.append(f"Put the tests in `{tests_path}`.")
    if extra.strip():
        parts.append(f"The user adds: {extra.strip()}")
    text = "\n".join(parts)
    return with_answer_format(text, SUITE_FORMAT) if task == TaskKind.TESTS else text


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A workspace file a digest may show: where it is, how it is shown, what it defines."""

    path: str  # absolute path (how the text is read)
    display: str  # relative POSIX path shown to the model (how findings name it)
    language: str = ""
    definitions: tuple[Definition, ...] = ()


@dataclass(frozen=True, slots=True)
class Digest:
    """A packed repository digest and what it holds."""

    text: str
    tokens: int
    listed: int  # files named in the file list
    included: tuple[str, ...]  # display paths whose contents are shown (cut or not)
    cut: tuple[str, ...]  # display paths shown only in part
    omitted: tuple[str, ...]  # focus or content files that did not fit at all
    truncated: bool  # some section was cut to fit the budget

    def to_json(self) -> dict[str, object]:
        return {
            "tokens": self.tokens,
            "listed": self.listed,
            "included": list(self.included),
            "cut": list(self.cut),
            "omitted": list(self.omitted),
            "truncated": self.truncated,
        }


def source_lines(text: str) -> list[str]:
    """The lines of ``text`` as an editor numbers them (``\n`` breaks; a final break ends the last line)."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def number_lines(text: str, first: int = 1) -> str:
    """``text`` with each line prefixed by its 1-based number (``  12| code``)."""
    lines = source_lines(text)
    width = len(str(first + len(lines)))
    return "\n".join(f"{n:>{width}}| {line}" for n, line in enumerate(lines, start=first))


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _fenced(header: str, body: str, language: str) -> str:
    fence = fence_for(body)
    return f"### {header}\n{fence}{language}\n{body}\n{fence}"


def _take_lines(lines: Sequence[str], budget: int, count: TokenCounter) -> list[str]:
    """The leading ``lines`` whose total fits ``budget`` tokens."""
    out: list[str] = []
    used = 0
    for line in lines:
        cost = count(line) + 1
        if used + cost > budget:
            break
        out.append(line)
        used += cost
    return out


def _outline_lines(file: SourceFile) -> list[str]:
    definitions = sorted(file.definitions, key=lambda d: (d.container != "", d.start_line))
    lines = [f"{file.display}:"]
    for d in definitions[:MAX_OUTLINE_PER_FILE]:
        signature = " ".join((d.signature or f"{d.kind} {d.qualified_name}").split())
        lines.append(f"  L{d.start_line + 1} {signature[:200]}")
    if len(definitions) > MAX_OUTLINE_PER_FILE:
        lines.append(f"  … {len(definitions) - MAX_OUTLINE_PER_FILE} more definitions")
    return lines


def build_digest(
    files: Sequence[SourceFile],
    read: Callable[[str], str | None],
    *,
    budget: int,
    focus: Sequence[str] = (),
    include_others: bool = True,
    diff: str = "",
    header: str = "",
    count: TokenCounter = estimate_tokens,
) -> Digest:
    """Pack ``files`` (list, outline, contents) and ``diff`` into at most about ``budget`` tokens
    (in whole :data:`BUDGET_STEP` steps from ``2 * BUDGET_STEP`` up).

    ``focus`` are absolute paths whose contents come first; ``include_others``
    whether the contents of the other files follow while the budget lasts;
    ``read`` returns a file's current text (None when unreadable).
    """
    if budget >= 2 * BUDGET_STEP:
        budget -= budget % BUDGET_STEP
    sections: list[str] = [header] if header else []
    used = count(header)
    truncated = False

    listing = [f"- {f.display}" + (f" ({f.language})" if f.language else "") for f in files]
    list_share, outline_share = (
        (LIST_SHARE, OUTLINE_SHARE) if include_others else (FOCUSED_LIST_SHARE, FOCUSED_OUTLINE_SHARE)
    )
    kept = _take_lines(listing, int(budget * list_share), count)
    if len(kept) < len(listing):
        truncated = True
        kept.append(f"- … {len(listing) - len(kept)} more files")
    if listing:
        section = f"## Files ({len(files)})\n" + "\n".join(kept)
        sections.append(section)
        used += count(section)

    outline = [line for f in files if f.definitions for line in _outline_lines(f)]
    if outline:
        lines = _take_lines(outline, int(budget * outline_share), count)
        truncated = truncated or len(lines) < len(outline)
        section = "## Outline (definitions, 1-based lines)\n" + "\n".join(lines)
        sections.append(section)
        used += count(section)

    if diff.strip():
        diff_lines = diff.rstrip("\n").splitlines()
        lines = _take_lines(diff_lines, int(budget * DIFF_SHARE), count)
        if len(lines) < len(diff_lines):
            truncated = True
            lines.append(f"… diff cut here ({len(diff_lines) - len(lines)} more lines)")
        body = "\n".join(lines)
        fence = fence_for(body)
        section = f"## Diff\n{fence}diff\n{body}\n{fence}"
        sections.append(section)
        used += count(section)

    by_path = {f.path: f for f in files}
    focus_files = [by_path.get(p) or SourceFile(p, p) for p in dict.fromkeys(focus)]
    order = list(focus_files)
    if include_others:
        focus_set = set(focus)
        order += [f for f in files if f.path not in focus_set]
    included: list[str] = []
    cut: list[str] = []
    omitted: list[str] = []
    contents: list[str] = []
    remaining = budget - used - count("## Contents (numbered lines)\n")
    for position, file in enumerate(order):
        text = read(file.path)
        if text is None or not text.strip():
            continue
        block = _fenced(file.display, number_lines(text), file.language)
        cost = count(block) + 1
        if cost <= remaining:
            contents.append(block)
            included.append(file.display)
            remaining -= cost
            continue
        is_focus = position < len(focus_files)
        if is_focus and not included and remaining > 0:
            numbered = number_lines(text).splitlines()
            lines = _take_lines(numbered, remaining - count(_fenced(file.display, "", file.language)) - 16, count)
            if lines:
                note = f"… cut here: lines {len(lines) + 1}-{len(numbered)} are not shown"
                contents.append(_fenced(f"{file.display} (first {len(lines)} lines)", "\n".join([*lines, note]), ""))
                included.append(file.display)
                cut.append(file.display)
                remaining = 0
                truncated = True
                continue
        truncated = True
        omitted.append(file.display)
    if contents:
        sections.append("## Contents (numbered lines)\n" + "\n\n".join(contents))
    text = "\n\n".join(sections)
    return Digest(
        text=text,
        tokens=count(text),
        listed=len(files),
        included=tuple(included),
        cut=tuple(cut),
        omitted=tuple(omitted),
        truncated=truncated,
    )


def split_diff(diff: str) -> list[tuple[str, str]]:
    """``diff`` cut into one ``(path, text)`` per file (path: the new name, or the old one for a deletion).

    Files start at ``diff --git`` lines, or, in a plain unified diff, at a
    ``--- `` line followed by ``+++ ``. Text before the first file is dropped.
    """
    lines = diff.splitlines(keepends=True)
    git = any(line.startswith("diff --git ") for line in lines)

    def starts_file(i: int) -> bool:
        if git:
            return lines[i].startswith("diff --git ")
        return lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")

    starts = [i for i in range(len(lines)) if starts_file(i)]
    out: list[tuple[str, str]] = []
    for n, start in enumerate(starts):
        chunk = "".join(lines[start : starts[n + 1] if n + 1 < len(starts) else len(lines)])
        names = changed_files(chunk) or _old_names(chunk)
        out.append((names[0] if names else "", chunk))
    return out


def _old_names(chunk: str) -> list[str]:
    for line in chunk.splitlines():
        if line.startswith("--- ") and line[4:].strip() != "/dev/null":
            name = line[4:].split("\t", 1)[0].strip().strip('"')
            return [name[2:] if name.startswith("a/") else name]
    return []


def changed_files(diff: str) -> list[str]:
    """Relative paths of the files a unified diff leaves behind (deleted files excluded), in order."""
    out: list[str] = []
    for line in diff.splitlines():
        if not line.startswith("+++ "):
            continue
        target = line[4:].split("\t", 1)[0].strip()
        if target == "/dev/null":
            continue
        if target.startswith('"') and target.endswith('"'):
            target = target[1:-1]
        if target.startswith("b/"):
            target = target[2:]
        if target and target not in out:
            out.append(target)
    return out
