"""What an edit code action tells the model beyond the code, and which files its answer may touch (no LSP).

* :class:`WorkspaceFiles`: the files a multi-file answer may name, open
  documents first, then the disk, never outside the workspace root (nor,
  links resolved, outside the session's roots when it is confined);
* the instructions of the tests action (a new file, or the existing test file
  to append to), the multi-file refactor (the other files' text) and the fix
  action (the diagnostic);
* :func:`focus_range`: the code the model was shown, which a single-region
  answer replaces; :func:`rename_note`: what a rename plan did and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from lsp_server.analysis.documents import Document
from lsp_server.analysis.languages import language_from_path
from lsp_server.analysis.paths import path_to_uri, uri_to_path
from lsp_server.confinement import Confinement
from lsp_server.requests import AssistRequest, AssistResult
from lsp_server.tasks.naming import RenamePlan
from routing.sensitivity import WITHHELD
from routing.tasks import REPOSITORY_TASKS, TaskKind

#: Other files' text given to a multi-file refactor: at most this many files, this many bytes each.
MULTI_FILE_LIMIT = 6
MULTI_FILE_MAX_BYTES = 40_000

OpenDocument = Callable[[str], Document | None]
"""The session's open document of a URI, if any."""


def read_disk(uri: str, confinement: Confinement, max_bytes: int = 2_000_000) -> str | None:
    """The UTF-8 text of the file ``uri`` on disk (None: not a file URI, outside ``confinement``, missing,
    too large, not UTF-8)."""
    if not uri.startswith("file:") or not confinement.allows_uri(uri):
        return None
    path = uri_to_path(uri)
    try:
        if not path.is_file() or path.stat().st_size > max_bytes:
            return None
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def root_of(uri: str, roots: Iterable[Path]) -> Path | None:
    """The innermost workspace root holding ``uri`` (the file's folder when none does; None: not a file)."""
    if not uri.startswith("file:"):
        return None
    path = uri_to_path(uri)
    holding = [r for r in roots if path.is_relative_to(r)]
    return max(holding, key=lambda r: len(r.parts)) if holding else path.parent


def relative(root: Path | None, uri: str) -> str:
    """``uri`` as a path relative to ``root`` when it is inside, for the prompt."""
    if root is None or not uri.startswith("file:"):
        return uri
    path = uri_to_path(uri)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


class WorkspaceFiles:
    """The files a multi-file answer may touch: open documents first, then the disk, inside the root."""

    def __init__(self, open_document: OpenDocument, root: Path | None, confinement: Confinement) -> None:
        self.open_document = open_document
        self.root = root
        self.confinement = confinement  # the session's: nothing outside its roots is read or named

    def uri_for(self, path: str) -> str | None:
        if self.root is None:
            return None
        candidate = Path(path)
        resolved = (candidate if candidate.is_absolute() else self.root / candidate).resolve()
        if not resolved.is_relative_to(self.root.resolve()) or not self.confinement.allows(resolved):
            return None
        return path_to_uri(resolved)

    def read(self, uri: str) -> str | None:
        open_doc = self.open_document(uri)
        return open_doc.text if open_doc is not None else read_disk(uri, self.confinement)

    def language(self, uri: str) -> str | None:
        open_doc = self.open_document(uri)
        return open_doc.language if open_doc is not None else language_from_path(uri)


def tests_instruction(name: str, old: str | None, language: str | None, *, withheld: bool = False) -> str:
    """Where generated tests go: the new file ``name``, or appended to its current text ``old``.

    ``withheld``: the existing file is sensitive and the request may leave the premises; it is not shown.
    """
    if old is None:
        return f"The tests go in a new file, `{name}`."
    if withheld:
        return f"The tests are appended to the existing file `{name}` ({WITHHELD}); answer only the new code to append."
    return (
        f"The tests are appended to the existing file `{name}`, shown here; answer only the new code "
        f"to append (imports it lacks included), not the file's current content:\n```{language or ''}\n{old}\n```"
    )


def multi_file_instruction(
    doc: Document, files: WorkspaceFiles, related: Iterable[str], withheld: Collection[str] = ()
) -> str:
    """The other files of a multi-file refactor (``related`` URIs, within the limits), before the code shown.

    A file in ``withheld`` (sensitive, on a request that may leave the premises) is named, never read.
    """
    parts = [f"The code shown last is the file `{relative(files.root, doc.uri)}`."]
    shown = 0
    for uri in related:
        if uri == doc.uri or shown >= MULTI_FILE_LIMIT:
            continue
        if uri in withheld:
            shown += 1
            parts.append(f"File: {relative(files.root, uri)} ({WITHHELD})")
            continue
        text = files.read(uri)
        if text is None or len(text.encode("utf-8")) > MULTI_FILE_MAX_BYTES:
            continue
        shown += 1
        language = files.language(uri) or ""
        parts.append(f"File: {relative(files.root, uri)}\n```{language}\n{text}\n```")
    return "\n\n".join(parts)


def fix_instruction(message: object, line: object) -> str:
    """The problem a fix action is about (its diagnostic's message and 0-based line, as sent)."""
    where = f" (line {int(line) + 1})" if isinstance(line, int) else ""
    return f"The problem to fix{where}: {message}"


def rename_note(plan: RenamePlan) -> str:
    """What a rename plan applied (with reasons) and skipped, one per line."""
    return "\n".join(
        [f"renamed {r.old} → {r.new}" + (f": {r.reason}" if r.reason else "") for r in plan.applied]
        + [f"skipped {s}" for s in plan.skipped]
    )


def focus_range(doc: Document, source: bytes, request: AssistRequest, result: AssistResult) -> tuple[int, int]:
    """The byte range of the code the model was shown (mirrors the assistant's choice of focus)."""
    if request.selection is not None:
        return request.selection
    if request.task in REPOSITORY_TASKS or request.task == TaskKind.MULTI_FILE_REFACTOR:
        return 0, len(source)
    sl, sc, el, ec = result.explanation.scope.unit_range
    start, end = doc.offset_at(sl, sc, "utf-8"), doc.offset_at(el, ec, "utf-8")
    return (start, end) if end > start else (0, len(source))
