"""Code actions: listed cheaply, computed only on ``codeAction/resolve``, edits checked before they are offered.

Resolving an edit task asks the assistant, turns the answer into file
changes (:mod:`lsp_server.tasks.edits`), applies them to a copy and
re-parses it; an answer that is malformed or breaks the syntax is sent back
once with the reason, then refused with a message and no edit
(:mod:`lsp_server.tasks.checked`). Edits are only ever returned as a
``WorkspaceEdit`` for the editor to apply: one file edited in place uses
``changes``; other files (generated tests) and several files use
``documentChanges`` (``CreateFile`` for new files, versioned ``TextDocumentEdit``).
Migration targets come from marker comments or the action's data
(:mod:`lsp_server.tasks.migration`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from lsp_server.analysis.documents import Document
from lsp_server.analysis.languages import language_from_path
from lsp_server.analysis.paths import path_to_uri, uri_to_path
from lsp_server.requests import AssistRequest, AssistResult
from lsp_server.server import HybridLanguageServer
from lsp_server.tasks.answers import ParsedAnswer, parse_answer
from lsp_server.tasks.checked import Outcome, checked_changes
from lsp_server.tasks.edits import (
    AnswerError,
    FileChange,
    NoEdit,
    Replacement,
    appended_change,
    apply_replacements,
    check_change,
    file_changes,
    region_change,
)
from lsp_server.tasks.migration import HOW_TO_NAME, migration_targets
from lsp_server.tasks.naming import parse_renames, plan_renames
from lsp_server.tasks.testfiles import path_for_tests
from routing.tasks import REPOSITORY_TASKS, TaskKind

logger = logging.getLogger(__name__)

#: task -> (title, code action kind); order is the order shown to the user
ACTIONS: dict[TaskKind, tuple[str, str]] = {
    TaskKind.EXPLAIN: ("AI: explain this code", types.CodeActionKind.Empty),
    TaskKind.DOCSTRING: ("AI: add or refresh the docstring", types.CodeActionKind.RefactorRewrite),
    TaskKind.NAMING: ("AI: suggest better names", types.CodeActionKind.RefactorRewrite),
    TaskKind.REFACTOR: ("AI: refactor the selection", types.CodeActionKind.RefactorRewrite),
    TaskKind.FIX: ("AI: fix this problem", types.CodeActionKind.QuickFix),
    TaskKind.TESTS: ("AI: generate tests", types.CodeActionKind.Refactor),
    TaskKind.MULTI_FILE_REFACTOR: ("AI: refactor across files", types.CodeActionKind.Refactor),
    TaskKind.MIGRATION: ("AI: migrate this code", types.CodeActionKind.Refactor),
}

#: Other files' text given to a multi-file refactor: at most this many files, this many bytes each.
MULTI_FILE_LIMIT = 6
MULTI_FILE_MAX_BYTES = 40_000


def _range_json(r: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def list_actions(doc: Document, rng: types.Range, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """The unresolved actions offered for ``rng`` (no model call, no edit yet)."""
    actions: list[types.CodeAction] = []
    for task, (title, kind) in ACTIONS.items():
        base: dict[str, Any] = {"uri": doc.uri, "task": task.value, "range": _range_json(rng)}
        if task == TaskKind.FIX:
            if not diagnostics:
                continue
            first = diagnostics[0]
            data = {**base, "diagnostic": first.message, "diagnostic_line": first.range.start.line}
            fix_title = f"AI: fix “{first.message[:60]}”"
            actions.append(types.CodeAction(title=fix_title, kind=kind, diagnostics=[first], data=data))
            continue
        if task == TaskKind.MIGRATION:
            for target in migration_targets(doc.text):
                actions.append(
                    types.CodeAction(title=f"AI: migrate to {target}", kind=kind, data={**base, "target": target})
                )
            continue
        actions.append(types.CodeAction(title=title, kind=kind or None, data=base))
    return actions


class _Workspace:
    """The files a multi-file answer may touch: open documents first, then the disk, inside the roots."""

    def __init__(self, ls: HybridLanguageServer, doc: Document) -> None:
        self.ls = ls
        self.doc = doc
        self.root = _root_of(ls, doc)

    def uri_for(self, path: str) -> str | None:
        if self.root is None:
            return None
        candidate = Path(path)
        resolved = (candidate if candidate.is_absolute() else self.root / candidate).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            return None
        return path_to_uri(resolved)

    def read(self, uri: str) -> str | None:
        open_doc = self.ls.document(uri)
        if open_doc is not None:
            return open_doc.text
        return _read_disk(uri)

    def language(self, uri: str) -> str | None:
        open_doc = self.ls.document(uri)
        if open_doc is not None:
            return open_doc.language
        return language_from_path(uri)


def _read_disk(uri: str, max_bytes: int = 2_000_000) -> str | None:
    if not uri.startswith("file:"):
        return None
    path = uri_to_path(uri)
    try:
        if not path.is_file() or path.stat().st_size > max_bytes:
            return None
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _root_of(ls: HybridLanguageServer, doc: Document) -> Path | None:
    if not doc.uri.startswith("file:"):
        return None
    path = uri_to_path(doc.uri)
    roots = [r for r in ls.session.roots if path.is_relative_to(r)]
    return max(roots, key=lambda r: len(r.parts)) if roots else path.parent


def _relative(root: Path | None, uri: str) -> str:
    if root is None or not uri.startswith("file:"):
        return uri
    path = uri_to_path(uri)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _focus_range(doc: Document, source: bytes, request: AssistRequest, result: AssistResult) -> tuple[int, int]:
    """The byte range of the code the model was shown (mirrors the assistant's choice of focus)."""
    if request.selection is not None:
        return request.selection
    if request.task in REPOSITORY_TASKS or request.task == TaskKind.MULTI_FILE_REFACTOR:
        return 0, len(source)
    sl, sc, el, ec = result.explanation.scope.unit_range
    start, end = doc.offset_at(sl, sc, "utf-8"), doc.offset_at(el, ec, "utf-8")
    return (start, end) if end > start else (0, len(source))


class _Resolver:
    """One ``codeAction/resolve`` of an edit task: its request, the answers so far, the interpretation."""

    def __init__(self, ls: HybridLanguageServer, doc: Document, task: TaskKind, start: int, end: int) -> None:
        self.ls = ls
        self.doc = doc
        self.task = task
        self.source = doc.source
        self.start = start
        self.selection = (start, end) if end > start else None
        self.instruction = ""
        self.results: list[AssistResult] = []
        self.interpret: Callable[[ParsedAnswer], list[FileChange]] = self._region
        self.note = ""  # said with the edit (e.g. which renames were skipped)

    def request(self, extra: str = "") -> AssistRequest:
        instruction = "\n\n".join(p for p in (self.instruction, extra) if p)
        return AssistRequest(self.task, self.doc.uri, self.start, selection=self.selection, instruction=instruction)

    async def ask(self, extra: str) -> str | None:
        request = self.request(extra)
        result = await self.ls.assistant.run(self.ls.session, self.doc, request)
        self.results.append(result)
        if result.notice:
            self.ls.tell_once(result.notice, types.MessageType.Warning)
        if not result.text:
            return None
        if self.doc.source != self.source:
            raise AnswerError("the document changed while the answer was computed; run the action again", retry=False)
        return result.text

    def focus(self) -> tuple[int, int]:
        return _focus_range(self.doc, self.source, self.request(), self.results[-1])

    # -- interpretations (answer -> checked changes) ----------------------------------
    def _region(self, answer: ParsedAnswer) -> list[FileChange]:
        start, end = self.focus()
        return [region_change(answer, self.doc.uri, self.source, start, end, self.doc.language)]

    def naming(self, answer: ParsedAnswer) -> list[FileChange]:
        renames = parse_renames(answer.text)
        if not renames:
            raise NoEdit("no rename suggested")
        tree = self.doc.tree
        if tree is None:
            raise NoEdit("renames need a syntax tree, and this document has none")
        plan = plan_renames(tree.root_node, self.source, renames)
        self.note = "\n".join(
            [f"renamed {r.old} → {r.new}" + (f": {r.reason}" if r.reason else "") for r in plan.applied]
            + [f"skipped {s}" for s in plan.skipped]
        )
        if not plan.replacements:
            raise NoEdit("no suggested rename applies: " + "; ".join(plan.skipped))
        old = self.source.decode("utf-8", "replace")
        new = apply_replacements(self.source, plan.replacements).decode("utf-8", "replace")
        change = FileChange(self.doc.uri, old, new, plan.replacements)
        check_change(change, self.doc.language)
        return [change]

    def tests_into(self, test_uri: str, old: str | None, language: str | None) -> None:
        def interpret(answer: ParsedAnswer) -> list[FileChange]:
            return [appended_change(answer, test_uri, old, language)]

        self.interpret = interpret

    def multi_file(self, workspace: _Workspace) -> None:
        def interpret(answer: ParsedAnswer) -> list[FileChange]:
            return file_changes(answer, self.doc.uri, workspace)

        self.interpret = interpret


def _setup_tests(resolver: _Resolver, ls: HybridLanguageServer, doc: Document) -> None:
    root = _root_of(ls, doc)
    if not doc.uri.startswith("file:"):
        raise NoEdit("tests can only be generated for a file on disk")
    test_path = path_for_tests(uri_to_path(doc.uri), doc.language, root)
    test_uri = path_to_uri(test_path)
    open_doc = ls.document(test_uri)
    old = open_doc.text if open_doc is not None else _read_disk(test_uri)
    language = open_doc.language if open_doc is not None else language_from_path(test_path)
    name = _relative(root, test_uri)
    if old is None:
        resolver.instruction = f"The tests go in a new file, `{name}`."
    else:
        resolver.instruction = (
            f"The tests are appended to the existing file `{name}`, shown here; answer only the new code "
            f"to append (imports it lacks included), not the file's current content:\n```{language or ''}\n{old}\n```"
        )
    resolver.tests_into(test_uri, old, language)


def _setup_multi_file(resolver: _Resolver, ls: HybridLanguageServer, doc: Document) -> None:
    workspace = _Workspace(ls, doc)
    scope = ls.assistant.explain(ls.session, doc, resolver.request()).scope
    parts = [f"The code shown last is the file `{_relative(workspace.root, doc.uri)}`."]
    shown = 0
    for uri in scope.files:
        if uri == doc.uri or shown >= MULTI_FILE_LIMIT:
            continue
        text = workspace.read(uri)
        if text is None or len(text.encode("utf-8")) > MULTI_FILE_MAX_BYTES:
            continue
        shown += 1
        language = workspace.language(uri) or ""
        parts.append(f"File: {_relative(workspace.root, uri)}\n```{language}\n{text}\n```")
    resolver.instruction = "\n\n".join(parts)
    resolver.multi_file(workspace)


def workspace_edit(ls: HybridLanguageServer, changes: tuple[FileChange, ...], uri: str) -> types.WorkspaceEdit:
    """The editor's view of ``changes`` (positions in the session's encoding).

    Only an edit of the action's own document ``uri`` alone uses ``changes``;
    anything else is versioned ``documentChanges`` (with ``CreateFile`` first for new files).
    """
    per_file: list[tuple[FileChange, list[types.TextEdit], int | None]] = []
    for change in changes:
        open_doc = ls.document(change.uri)
        if open_doc is not None and change.old is not None:
            converter = open_doc
        else:
            converter = Document(change.uri, change.old or "")
        edits = [_text_edit(ls, converter, rep) for rep in change.edits()]
        per_file.append((change, edits, open_doc.version if open_doc is not None else None))
    if len(per_file) == 1 and per_file[0][0].uri == uri and per_file[0][0].old is not None:
        change, edits, _ = per_file[0]
        return types.WorkspaceEdit(changes={change.uri: edits})
    document_changes: list[types.TextDocumentEdit | types.CreateFile | types.RenameFile | types.DeleteFile] = []
    for change, edits, version in per_file:
        if change.old is None:
            options = types.CreateFileOptions(overwrite=False, ignore_if_exists=False)
            document_changes.append(types.CreateFile(uri=change.uri, options=options))
            version = None
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=change.uri, version=version)
        document_changes.append(types.TextDocumentEdit(text_document=identifier, edits=list(edits)))
    return types.WorkspaceEdit(document_changes=document_changes)


def _text_edit(ls: HybridLanguageServer, doc: Document, rep: Replacement) -> types.TextEdit:
    encoding = ls.session.encoding
    sl, sc = doc.position_at(rep.start, encoding)
    el, ec = doc.position_at(rep.end, encoding)
    rng = types.Range(start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec))
    return types.TextEdit(range=rng, new_text=rep.text)


def _footer(resolver: _Resolver) -> str:
    return resolver.results[-1].footer() if resolver.results else ""


def _report(ls: HybridLanguageServer, resolver: _Resolver, outcome: Outcome, title: str) -> None:
    footer = _footer(resolver)
    if outcome.refused:
        tried = " (after one retry)" if outcome.attempts > 1 else ""
        message = f"hybrid-assist: {title}: no edit, the answer was refused{tried}: {outcome.refused}. {footer}"
        ls.show_message(message, types.MessageType.Warning)
    elif outcome.no_edit:
        body = outcome.answer.strip() or outcome.no_edit
        ls.show_message(f"{body}\n\n({outcome.no_edit}) {footer}", types.MessageType.Info)
    else:
        said = "\n\n".join(p for p in (resolver.note, parse_answer(outcome.answer).prose) if p)
        if said:
            ls.show_message(f"{said}\n\n{footer}", types.MessageType.Info)


async def resolve_action(ls: HybridLanguageServer, action: types.CodeAction) -> types.CodeAction:
    """Compute ``action``'s edit (or message); the action comes back without an edit on any failure."""
    data = action.data if isinstance(action.data, dict) else {}
    doc = ls.document(str(data.get("uri", "")))
    try:
        task = TaskKind(str(data.get("task", "")))
        rng = ls.protocol._converter.structure(data["range"], types.Range)
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("cannot resolve code action: %s", exc)
        return action
    if doc is None:
        ls.show_message("hybrid-assist: the document is no longer open", types.MessageType.Warning)
        return action
    start, end = sorted((ls.offset(doc, rng.start), ls.offset(doc, rng.end)))
    resolver = _Resolver(ls, doc, task, start, end)
    if task == TaskKind.EXPLAIN:
        result = await ls.assistant.run(ls.session, doc, resolver.request())
        if result.notice:
            ls.tell_once(result.notice, types.MessageType.Warning)
        text = result.text.strip() or f"hybrid-assist: no answer ({result.empty_reason})"
        ls.show_message(f"{text}\n\n{result.footer()}", types.MessageType.Info)
        return action
    try:
        if task == TaskKind.FIX:
            resolver.selection = None  # the fix is to the unit around the problem, not to the range it flags
            line = data.get("diagnostic_line")
            where = f" (line {int(line) + 1})" if isinstance(line, int) else ""
            resolver.instruction = f"The problem to fix{where}: {data.get('diagnostic', '')}"
        elif task == TaskKind.MIGRATION:
            target = str(data.get("target") or "").strip()
            if not target:
                ls.show_message(f"hybrid-assist: {HOW_TO_NAME}", types.MessageType.Warning)
                return action
            resolver.instruction = f"Migration target: {target}"
        elif task == TaskKind.NAMING:
            resolver.interpret = resolver.naming
        elif task == TaskKind.TESTS:
            _setup_tests(resolver, ls, doc)
        elif task == TaskKind.MULTI_FILE_REFACTOR:
            _setup_multi_file(resolver, ls, doc)
        outcome = await checked_changes(resolver.ask, resolver.interpret)
    except (NoEdit, AnswerError) as exc:
        outcome = Outcome(refused=exc.reason) if isinstance(exc, AnswerError) else Outcome(no_edit=exc.reason)
    if not resolver.results or resolver.results[-1].text or outcome.changes:
        _report(ls, resolver, outcome, action.title)
    else:
        result = resolver.results[-1]
        ls.show_message(
            f"hybrid-assist: no answer ({result.empty_reason}). {result.footer()}", types.MessageType.Warning
        )
    if outcome.changes:
        action.edit = workspace_edit(ls, outcome.changes, doc.uri)
    return action


def register(server: HybridLanguageServer) -> None:
    options = types.CodeActionOptions(
        resolve_provider=True,
        code_action_kinds=sorted({kind for _, kind in ACTIONS.values() if kind}),
    )

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)
    def code_action(ls: HybridLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        doc = ls.document(params.text_document.uri)
        if doc is None:
            return []
        return list_actions(doc, params.range, list(params.context.diagnostics or []))

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: HybridLanguageServer, action: types.CodeAction) -> types.CodeAction:
        return await resolve_action(ls, action)
