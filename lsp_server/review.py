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
Not a handler: :mod:`lsp_server.handlers.repository` publishes findings,
:mod:`lsp_server.handlers.actions` offers their fixes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from lsprotocol import types

from lsp_server.analysis.documents import DocumentStore
from lsp_server.analysis.paths import normalize_uri
from lsp_server.analysis.positions import LineTable, PositionEncoding, encode_text, position_at
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
