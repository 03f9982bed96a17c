"""Findings of the repository commands as diagnostics (source ``hybrid-review``) and their quick fixes.

Each session keeps a :class:`ReviewStore` (:attr:`Session.review`): per
finding kind (``review``, ``security``, ``performance``) and per document,
the findings last published. A new run replaces the findings of its kind in
the files it covered (all files for a repository-wide run) and republishes
every file whose set changed, so diagnostics are cleared or replaced, never
piled up; the kinds are merged per file, so a security audit does not wipe a
review.

A finding with a replacement carries a fix: :meth:`ReviewStore.quick_fixes`
turns it into a quick-fix code action for the editor's ``codeAction``
request, provided the lines it replaces still read as they did when the
finding was published (otherwise the fix is stale and is not offered).

Findings follow the edits of their open document (:meth:`ReviewStore.follow`,
called on ``didChange``, which republishes what changed): lines inserted or
deleted above a finding move it, its fix too; a finding whose lines were
edited is dropped (it no longer describes them) until the next run.
Not a handler: :mod:`lsp_server.handlers.repository` publishes findings,
:mod:`lsp_server.handlers.actions` offers their fixes.
"""

from __future__ import annotations

import copy
import difflib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace

from lsprotocol import types

from lsp_server.analysis.documents import DocumentStore
from lsp_server.analysis.paths import normalize_uri
from lsp_server.analysis.positions import LineTable, PositionEncoding, bytes_to_column, encode_text, position_at
from lsp_server.tasks.findings import LocatedFinding

SOURCE = "hybrid-review"
"""``Diagnostic.source`` of every finding."""

_SEVERITY: dict[str, types.DiagnosticSeverity] = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A published finding: its diagnostic and, when it has one, its fix."""

    id: str
    kind: str
    uri: str  # as the client spells it
    diagnostic: types.Diagnostic
    fix: types.TextEdit | None
    original: str  # the text the fix replaces, as it was when published


class ReviewStore:
    """Published findings of one session: kind → normalised URI → findings."""

    def __init__(self) -> None:
        self.by_kind: dict[str, dict[str, list[StoredFinding]]] = {}

    def replace(self, kind: str, scope: Iterable[str] | None, new: Iterable[StoredFinding]) -> list[str]:
        """Replace the findings of ``kind`` in ``scope`` (URIs; None: everywhere) by ``new``.

        Returns the client URIs whose diagnostics changed (to publish again).
        """
        current = self.by_kind.setdefault(kind, {})
        grouped: dict[str, list[StoredFinding]] = {}
        for item in new:
            grouped.setdefault(normalize_uri(item.uri), []).append(item)
        keys = set(current) if scope is None else {normalize_uri(u) for u in scope}
        keys |= set(grouped)
        touched: dict[str, str] = {}
        for key in sorted(keys):
            old = current.pop(key, [])
            fresh = grouped.get(key, [])
            if fresh:
                current[key] = fresh
            if old or fresh:
                touched[key] = (fresh or old)[0].uri
        return list(touched.values())

    def for_uri(self, uri: str) -> list[StoredFinding]:
        """Every finding published for ``uri``, all kinds, in kind order."""
        key = normalize_uri(uri)
        return [f for kind in sorted(self.by_kind) for f in self.by_kind[kind].get(key, [])]

    def diagnostics(self, uri: str) -> list[types.Diagnostic]:
        """What to publish for ``uri`` (empty: clear the file's findings)."""
        return [f.diagnostic for f in self.for_uri(uri)]

    def follow(self, uri: str, change: TextChange, encoding: PositionEncoding) -> bool:
        """Move ``uri``'s findings past one edit of its text; True when any moved or was dropped.

        A finding below the edited range moves with the lines inserted or
        deleted above it, its fix with it; one whose lines were edited is
        dropped, its fix with it; one above the edit stays.
        """
        key = normalize_uri(uri)
        changed = False
        for by_uri in self.by_kind.values():
            findings = by_uri.get(key)
            if not findings:
                continue
            kept = [moved for f in findings if (moved := _followed(f, change, encoding)) is not None]
            changed = changed or kept != findings
            if kept:
                by_uri[key] = kept
            else:
                del by_uri[key]
        return changed

    def follow_text(self, uri: str, old: str, new: str, encoding: PositionEncoding) -> bool:
        """:meth:`follow` for a whole-document replacement: the line-level difference of ``old`` and ``new``."""
        if not self.for_uri(uri) or old == new:
            return False
        old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
        opcodes = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes()
        changed = False
        for tag, i1, i2, j1, j2 in reversed(opcodes):  # the last first: earlier positions stay valid
            if tag != "equal":
                start = types.Position(line=i1, character=0)
                change = TextChange(start, types.Position(line=i2, character=0), "".join(new_lines[j1:j2]))
                changed = self.follow(uri, change, encoding) or changed
        return changed


@dataclass(frozen=True, slots=True)
class TextChange:
    """One edit of a document's text: ``[start, end)`` (positions before the edit) replaced by ``text``."""

    start: types.Position
    end: types.Position
    text: str


def _key(p: types.Position) -> tuple[int, int]:
    return (p.line, p.character)


def _units(text: str, encoding: PositionEncoding) -> int:
    return bytes_to_column(encode_text(text), encoding)


def _shifted(p: types.Position, change: TextChange, encoding: PositionEncoding) -> types.Position:
    """Where ``p`` (at or after the change's end) is after ``change``."""
    lines = change.text.split("\n")
    line = change.start.line + len(lines) - 1
    if p.line != change.end.line:
        return types.Position(line=p.line + line - change.end.line, character=p.character)
    tail = _units(lines[-1], encoding) + (change.start.character if len(lines) == 1 else 0)
    return types.Position(line=line, character=tail + p.character - change.end.character)


def _followed(finding: StoredFinding, change: TextChange, encoding: PositionEncoding) -> StoredFinding | None:
    """``finding`` after ``change``: the same, moved, or None (its lines were edited)."""
    rng, fix = finding.diagnostic.range, finding.fix
    start, end = _key(change.start), _key(change.end)
    # before: the edit ends above the finding, or at its start with whole lines (inserted or deleted)
    before = end < _key(rng.start) or (end == _key(rng.start) and (not change.text or change.text.endswith("\n")))
    if before:

        def move(r: types.Range) -> types.Range:
            return types.Range(start=_shifted(r.start, change, encoding), end=_shifted(r.end, change, encoding))

        moved_fix = None if fix is None else types.TextEdit(range=move(fix.range), new_text=fix.new_text)
        diagnostic = copy.copy(finding.diagnostic)
        diagnostic.range = move(rng)
        return replace(finding, diagnostic=diagnostic, fix=moved_fix)
    if start == end == _key(rng.end) and change.text.startswith(("\n", "\r\n")):
        return finding  # new lines after its last line (Enter at its end): its fix still reads the same
    if start <= _key(rng.end):
        return None  # the finding's lines were edited: it no longer describes them
    return finding  # (a fix whose replaced text changed anyway is not offered: review_fix_actions checks it)


def _line_span(data: bytes, lines: LineTable, line: int) -> tuple[int, int]:
    """Byte offsets of ``line``'s content, without its ``\\r\\n``/``\\n``."""
    start, end = lines.line_start(line), lines.line_end(line)
    if end > start and data[end - 1 : end] == b"\r":
        end -= 1
    return start, end


def stored_finding(
    located: LocatedFinding, kind: str, uri: str, text: str, encoding: PositionEncoding
) -> StoredFinding:
    """The diagnostic (and fix) of ``located`` in the file whose current text is ``text``."""
    data = encode_text(text)
    lines = LineTable(data)
    last = lines.line_count - 1
    first_line, last_line = min(located.start_line, last), min(located.end_line, last)
    start = lines.line_start(first_line)
    end = _line_span(data, lines, last_line)[1]
    finding = located.finding

    def pos(offset: int) -> types.Position:
        line, character = position_at(data, lines, offset, encoding)
        return types.Position(line=line, character=character)

    fid = f"hr-{next(_ids)}"
    message = finding.message + (f" ({finding.code})" if finding.code else "")
    diagnostic = types.Diagnostic(
        range=types.Range(start=pos(start), end=pos(end)),
        message=message,
        severity=_SEVERITY[finding.severity],
        source=SOURCE,
        code=kind,
        data={"id": fid, "kind": kind, "fix": finding.replacement is not None},
    )
    fix: types.TextEdit | None = None
    original = ""
    if finding.replacement is not None:
        replacement = finding.replacement
        if last_line + 1 < lines.line_count:  # replace whole lines, line breaks included
            fix_end = lines.line_start(last_line + 1)
            if not replacement.endswith("\n"):
                replacement += "\r\n" if data[fix_end - 2 : fix_end] == b"\r\n" else "\n"
        else:
            fix_end = end
            replacement = replacement.rstrip("\r\n")
        original = data[start:fix_end].decode("utf-8", "replace")
        fix = types.TextEdit(range=types.Range(start=pos(start), end=pos(fix_end)), new_text=replacement)
    return StoredFinding(fid, kind, uri, diagnostic, fix, original)


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _current_text(documents: DocumentStore, uri: str, rng: types.Range, encoding: PositionEncoding) -> str | None:
    doc = documents.get(uri)
    if doc is None:
        return None
    start = doc.offset_at(rng.start.line, rng.start.character, encoding)
    end = doc.offset_at(rng.end.line, rng.end.character, encoding)
    return doc.source[start:end].decode("utf-8", "replace")


def review_fix_actions(
    store: ReviewStore, documents: DocumentStore, encoding: PositionEncoding, params: types.CodeActionParams
) -> list[types.CodeAction]:
    """Quick fixes for the ``hybrid-review`` findings a ``textDocument/codeAction`` request is about.

    The findings are those of the request's ``context.diagnostics`` (matched
    by the id in their ``data``), or, when the editor sends none of ours,
    those overlapping the requested range; a fix is offered only while the
    open document's lines still read as they did (positions in ``encoding``).
    Cheap: no model call, no disk.
    """
    findings = [f for f in store.for_uri(params.text_document.uri) if f.fix is not None]
    if not findings:
        return []
    ours = [d for d in params.context.diagnostics or [] if d.source == SOURCE]
    ids = {d.data.get("id") for d in ours if isinstance(d.data, dict)}
    if ids:
        chosen = [f for f in findings if f.id in ids]
    elif ours:
        keys = {(d.message, d.range.start.line) for d in ours}
        chosen = [f for f in findings if (f.diagnostic.message, f.diagnostic.range.start.line) in keys]
    else:
        chosen = [f for f in findings if _overlaps(f.diagnostic.range, params.range)]
    actions: list[types.CodeAction] = []
    for finding in chosen:
        assert finding.fix is not None
        if _current_text(documents, finding.uri, finding.fix.range, encoding) != finding.original:
            continue  # the lines changed since the review: the fix no longer applies
        title = f"Apply suggested fix: {finding.diagnostic.message}"
        actions.append(
            types.CodeAction(
                title=title if len(title) <= 90 else title[:89] + "…",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[finding.diagnostic],
                is_preferred=True,
                edit=types.WorkspaceEdit(changes={params.text_document.uri: [finding.fix]}),
            )
        )
    return actions
