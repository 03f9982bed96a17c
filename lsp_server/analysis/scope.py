"""Scope measurement: how far a request at a position reaches.

For (document, position, task) :func:`measure_scope` finds the enclosing unit
(:mod:`.units`), the names it references (:mod:`.docanalysis`), where each
resolves (:mod:`.resolve`) and from that the :class:`ScopeReport` level:

* ``repository`` when the task is repository-wide by nature
  (:data:`~.tasks.REPOSITORY_WIDE_TASKS`), or the unit needs more than
  ``repository_max_files`` other workspace files or more than
  ``repository_max_tokens`` tokens of context;
* ``multi_file`` when it uses definitions from other workspace files (listed
  in ``files``), and always for ``multi_file_refactor`` (which then lists the
  files that use the unit);
* ``single_file`` otherwise. Plain-text documents (unknown language, no tree)
  are always ``single_file`` unless the task is repository-wide.

Right after an edit inside one top-level statement the unit is measured in
that statement parsed alone (:meth:`.Document.local_syntax`), the same as in
the full tree but without reparsing the file; a ``module`` unit needs the full
tree.

``unit_range`` is ``(start_line, start_col, end_line, end_col)``, 0-based,
columns in UTF-8 bytes (tree-sitter points); use ``Document.position_at`` to
turn byte offsets into LSP positions of another encoding.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lsp_server.analysis.docanalysis import FileLocals, Reference, references_in, visible_locals
from lsp_server.analysis.documents import Document
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.langspec import spec_for
from lsp_server.analysis.paths import NotAFileUriError, display_path, path_to_uri, uri_to_path
from lsp_server.analysis.resolve import (
    LOCAL,
    UNRESOLVED,
    ConfigCache,
    Resolution,
    ResolutionKind,
    ResolveContext,
    Resolver,
    external,
    resolver_for,
)
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.analysis.symbols import Definition
from lsp_server.analysis.tasks import (
    COMPLETION_TASKS,
    MULTI_FILE_TASKS,
    REPOSITORY_WIDE_TASKS,
    TaskKind,
    parse_task,
)
from lsp_server.analysis.tokens import BYTES_PER_TOKEN, estimate_bytes
from lsp_server.analysis.units import Unit, enclosing_unit

logger = logging.getLogger(__name__)

ScopeLevel = Literal["single_file", "multi_file", "repository"]

WINDOW_BYTES = 8_192
"""Half-width of the window measured around the cursor in very large units."""
LARGE_UNIT_BYTES = 65_536
"""Units larger than this are measured in a window around the cursor. For completion
tasks the window is the completion context itself (``context_max_tokens`` of text,
``PREFIX_SHARE`` of it before the cursor) as soon as the unit is larger: nothing
outside it reaches the model."""
PREFIX_SHARE = 0.75
"""Share of a completion context before the cursor (the rest is the suffix)."""
MAX_DEFINITION_TOKENS = 1_500
"""Cap on the tokens one referenced definition adds to the needed context."""
MAX_FILE_ONLY_TOKENS = 500
"""Tokens assumed for a dependency on a file without a specific definition."""
MAX_REASONS = 8


@dataclass(frozen=True, slots=True)
class DefinitionRef:
    """The definition a symbol resolved to: name, kind, 0-based line, container."""

    name: str
    kind: str
    line: int
    container: str = ""
    signature: str = ""

    @property
    def qualified_name(self) -> str:
        """``Container.name`` for members, ``name`` otherwise."""
        return f"{self.container}.{self.name}" if self.container else self.name

    def to_json(self) -> dict[str, object]:
        """JSON form."""
        return {
            "name": self.name,
            "kind": self.kind,
            "line": self.line,
            "container": self.container,
            "signature": self.signature,
        }


@dataclass(frozen=True, slots=True)
class ResolvedSymbol:
    """One referenced name and where it resolves.

    ``file`` is the ``file://`` URI of the defining workspace file (workspace
    resolutions only); ``member`` the attribute used on it (``cfg.load``);
    ``occurrences`` how often the unit uses it.
    """

    name: str
    resolution: ResolutionKind
    file: str | None
    definition: DefinitionRef | None
    detail: str
    member: str | None = None
    occurrences: int = 1
    definition_bytes: int = 0

    @property
    def label(self) -> str:
        """``name`` or ``name.member`` as used in the code."""
        return f"{self.name}.{self.member}" if self.member else self.name

    def to_json(self) -> dict[str, object]:
        """JSON form."""
        return {
            "name": self.name,
            "member": self.member,
            "resolution": self.resolution,
            "file": self.file,
            "definition": self.definition.to_json() if self.definition else None,
            "detail": self.detail,
            "occurrences": self.occurrences,
        }


@dataclass(frozen=True, slots=True)
class ScopeReport:
    """How far a request reaches, and why."""

    level: ScopeLevel
    language: str | None
    unit_kind: str
    unit_name: str
    unit_range: tuple[int, int, int, int]
    symbols: tuple[ResolvedSymbol, ...]
    files: tuple[str, ...]
    context_tokens: int
    reasons: tuple[str, ...]
    task: str = ""
    index_ready: bool = True

    def to_json(self) -> dict[str, object]:
        """``{"level","language","unit":{...},"symbols":[...],"files":[...],...}``."""
        start_line, start_col, end_line, end_col = self.unit_range
        return {
            "level": self.level,
            "language": self.language,
            "task": self.task,
            "unit": {
                "kind": self.unit_kind,
                "name": self.unit_name,
                "range": {
                    "start": {"line": start_line, "column": start_col},
                    "end": {"line": end_line, "column": end_col},
                },
            },
            "symbols": [s.to_json() for s in self.symbols],
            "files": list(self.files),
            "context_tokens": self.context_tokens,
            "reasons": list(self.reasons),
            "index_ready": self.index_ready,
        }


def _doc_path(doc: Document) -> str | None:
    cached = doc.scratch.get("scope.path")
    if isinstance(cached, tuple) and cached[0] == doc.uri:
        return cached[1]  # type: ignore[no-any-return]
    try:
        path: str | None = os.path.realpath(uri_to_path(doc.uri))
    except (NotAFileUriError, ValueError):
        path = None
    doc.scratch["scope.path"] = (doc.uri, path)
    return path


@functools.lru_cache(maxsize=8192)
def _uri_path(uri: str) -> Path:
    return uri_to_path(uri)


def _definition_ref(definition: Definition | None) -> DefinitionRef | None:
    if definition is None:
        return None
    return DefinitionRef(
        definition.name,
        definition.kind,
        definition.start_line,
        definition.container,
        definition.signature,
    )


class _Measurer:
    """Resolves the references of one unit."""

    def __init__(self, resolver: Resolver, locals_: FileLocals, language: str) -> None:
        self.resolver = resolver
        self.locals = locals_
        self.builtins = spec_for(language).builtins

    def resolve(self, ref: Reference) -> Resolution:
        loc = self.locals
        if ref.segments:
            by_path = self.resolver.resolve_path(list(ref.segments), loc.bindings, loc.by_local)
            if by_path is not None:
                return by_path
        imports = loc.by_local.get(ref.name)
        if imports:
            first: Resolution | None = None
            for imported in imports:
                resolved = self.resolver.resolve_import(imported, ref.member)
                if resolved.kind == "workspace":
                    return resolved
                first = first or resolved
            assert first is not None
            return first
        if ref.name in loc.bindings:
            return LOCAL
        if ref.name in self.builtins:
            return external("builtin")
        fallback = self.resolver.resolve_unbound(ref.name, ref.member, loc.imports)
        if fallback is not None:
            return fallback
        for star in loc.stars:
            via_star = self.resolver.resolve_star(star, ref.name)
            if via_star is not None:
                return via_star
        return UNRESOLVED


def _plain_text_report(doc: Document, byte_offset: int, task: TaskKind, settings: AnalysisSettings) -> ScopeReport:
    line = doc.point_at(byte_offset)[0]
    window = settings.context_max_tokens * 4
    start = max(0, byte_offset - window)
    end = min(len(doc.source), byte_offset + window // 2)
    level: ScopeLevel = "repository" if task in REPOSITORY_WIDE_TASKS else "single_file"
    reasons = [f"task `{task}` is repository-wide"] if level == "repository" else []
    reasons.append("plain text (no syntax tree): context by lines")
    return ScopeReport(
        level=level,
        language=doc.language,
        unit_kind="module",
        unit_name="",
        unit_range=(line, 0, line, len(doc.line_text(line).encode("utf-8", "surrogatepass"))),
        symbols=(),
        files=(),
        context_tokens=estimate_bytes(end - start),
        reasons=tuple(reasons),
        task=str(task),
    )


def _dependents(index: WorkspaceIndex, doc_path: str | None, unit_name: str) -> tuple[str, ...]:
    """Workspace files that import ``unit_name`` or the document's module."""
    if not unit_name or doc_path is None:
        return ()
    stem = os.path.splitext(os.path.basename(doc_path))[0]
    found: list[str] = []
    for symbols in index.files_mentioning(unit_name):
        if symbols.path == doc_path:
            continue
        for ref in symbols.imports:
            if unit_name in (ref.name, ref.local) or stem in ref.module.replace("\\", "/").split("/")[-1].split("."):
                found.append(symbols.path)
                break
    return tuple(found[:50])


def _window(unit: Unit, task: TaskKind, offset: int, settings: AnalysisSettings) -> tuple[int, int] | None:
    """The part of the unit that is measured (None: all of it)."""
    if task in COMPLETION_TASKS:
        reach = settings.context_max_tokens * BYTES_PER_TOKEN
        before, after = int(reach * PREFIX_SHARE), int(reach * (1 - PREFIX_SHARE))
    else:
        before = after = WINDOW_BYTES
        if unit.kind != "module" and unit.end_byte - unit.start_byte <= LARGE_UNIT_BYTES:
            return None
    if unit.kind != "module" and unit.end_byte - unit.start_byte <= before + after:
        return None
    return max(unit.start_byte, offset - before), min(unit.end_byte, offset + after)


def measure_scope(
    doc: Document,
    byte_offset: int,
    task: str,
    index: WorkspaceIndex | None,
    settings: AnalysisSettings,
    *,
    selection: tuple[int, int] | None = None,
) -> ScopeReport:
    """Measure the scope of ``task`` at ``byte_offset`` (or ``selection``, byte offsets)."""
    kind = parse_task(task)
    byte_offset = max(0, min(byte_offset, len(doc.source)))
    if not doc.has_tree or doc.language is None:
        return _plain_text_report(doc, byte_offset, kind, settings)
    local = None
    if selection is not None:
        unit = enclosing_unit(doc, min(selection), max(selection))
    else:
        local = doc.local_syntax(byte_offset)
        unit = enclosing_unit(doc, byte_offset, local=local)
        if local is not None and (unit.kind == "module" or not local.covers(unit.start_byte, unit.end_byte)):
            local = None
            unit = enclosing_unit(doc, byte_offset)
    start, end = unit.start_byte, unit.end_byte
    window = _window(unit, kind, byte_offset, settings)
    if window is not None:
        start, end = window
    references = references_in(doc, start, end, local=local)
    locals_ = visible_locals(doc, unit.node, window, unit.ancestors, local=local)
    doc_path = _doc_path(doc)
    roots = tuple(str(r) for r in index.roots) if index is not None else ()
    ctx = ResolveContext(
        doc_path=doc_path,
        language=doc.language,
        index=index,
        settings=settings,
        configs=index.configs if index is not None else ConfigCache(),
        roots=roots,
    )
    measurer = _Measurer(resolver_for(ctx, locals_.package), locals_, doc.language)
    symbols = _resolve_all(references, measurer, doc_path)
    return _report(doc, unit, kind, symbols, index, settings, doc_path, start, end)


def _resolve_all(references: list[Reference], measurer: _Measurer, doc_path: str | None) -> list[ResolvedSymbol]:
    out: list[ResolvedSymbol] = []
    seen: set[tuple[str, str | None]] = set()
    counts: dict[tuple[str, str | None], int] = {}
    for ref in references:
        counts[(ref.name, ref.member)] = counts.get((ref.name, ref.member), 0) + ref.count
    for ref in references:
        key = (ref.name, ref.member)
        if key in seen:
            continue
        seen.add(key)
        resolution = measurer.resolve(ref)
        files = tuple(f for f in resolution.files if f != doc_path)
        kind = resolution.kind
        if kind == "workspace" and not files:
            kind = "local"
        definition = resolution.definition
        out.append(
            ResolvedSymbol(
                name=ref.name,
                resolution=kind,
                file=path_to_uri(files[0]) if kind == "workspace" and files else None,
                definition=_definition_ref(definition) if kind == "workspace" else None,
                detail=resolution.detail,
                member=ref.member,
                occurrences=counts[key],
                definition_bytes=(definition.end_byte - definition.start_byte)
                if definition is not None and kind == "workspace"
                else 0,
            )
        )
    return out


def _report(
    doc: Document,
    unit: Unit,
    task: TaskKind,
    symbols: list[ResolvedSymbol],
    index: WorkspaceIndex | None,
    settings: AnalysisSettings,
    doc_path: str | None,
    start: int,
    end: int,
) -> ScopeReport:
    roots = index.roots if index is not None else ()
    files: dict[str, None] = {}
    reasons: list[str] = []
    needed = estimate_bytes(end - start)
    if task in COMPLETION_TASKS:
        needed = min(needed, settings.context_max_tokens)
    counted: set[tuple[str, str]] = set()
    for symbol in symbols:
        if symbol.resolution != "workspace" or symbol.file is None:
            continue
        files.setdefault(symbol.file, None)
        key = (symbol.file, symbol.definition.name if symbol.definition else "")
        if key in counted:
            continue
        counted.add(key)
        if symbol.definition is not None:
            needed += min(estimate_bytes(symbol.definition_bytes), MAX_DEFINITION_TOKENS)
        else:
            needed += MAX_FILE_ONLY_TOKENS
        if len(reasons) < MAX_REASONS:
            where = display_path(_uri_path(symbol.file), roots)
            what = symbol.definition.qualified_name if symbol.definition else symbol.label
            reasons.append(f"uses `{what}` from {where}")
    level: ScopeLevel
    if task in REPOSITORY_WIDE_TASKS:
        level = "repository"
        reasons.insert(0, f"task `{task}` is repository-wide")
    elif len(files) > settings.repository_max_files:
        level = "repository"
        reasons.insert(0, f"needs {len(files)} other files (limit {settings.repository_max_files})")
    elif needed > settings.repository_max_tokens:
        level = "repository"
        reasons.insert(0, f"needs ~{needed} tokens of context (limit {settings.repository_max_tokens})")
    elif files:
        level = "multi_file"
    else:
        level = "single_file"
        reasons.append("uses nothing from other workspace files")
    if task in MULTI_FILE_TASKS and level == "single_file":
        level = "multi_file"
        dependents = _dependents(index, doc_path, unit.name) if index is not None else ()
        for path in dependents:
            files.setdefault(path_to_uri(path), None)
        reasons.append(f"task `{task}` spans files" + (f"; {len(dependents)} use it" if dependents else ""))
    ready = index.ready if index is not None else True
    if not ready:
        reasons.append("workspace index still building: answer from what is known")
    return ScopeReport(
        level=level,
        language=doc.language,
        unit_kind=unit.kind,
        unit_name=unit.name,
        unit_range=unit.range,
        symbols=tuple(symbols),
        files=tuple(files),
        context_tokens=needed,
        reasons=tuple(reasons),
        task=str(task),
        index_ready=ready,
    )
