"""Resolving one edit code action: ask, interpret the answer as checked file changes, report, build the edit.

Not a handler: :mod:`lsp_server.handlers.actions` turns the ``codeAction/resolve``
request into a call of :func:`resolve_edit`. A :class:`Resolver` holds the
request, the answers so far and how an answer becomes file changes (a region
of the document by default; renames through the tree; a test file; several
files). The files an answer may touch keep to their lane
(:mod:`lsp_server.tasks.file_policy`): the tests action writes only a test file
of the document's language; a multi-file refactor changes only files shown to
the model and creates only source files, the refused ones said with the edit.
:func:`~lsp_server.tasks.checked.checked_changes` sends a malformed or
unparsable answer back once with the reason, then refuses it — cheap first:
a cloud tier's rejected answer is retried by the task's next tier
(``[routing.tasks.NAME] tiers``; :func:`lsp_server.long_commands.next_tier`). The user is
told what happened (the answer's prose, the refusal, why there is no edit)
with the route footer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lsprotocol import types

from lsp_server.analysis.documents import Document
from lsp_server.analysis.languages import language_from_path
from lsp_server.analysis.paths import path_to_uri, uri_to_path
from lsp_server.edits import workspace_edit
from lsp_server.host import Host
from lsp_server.long_commands import next_tier
from lsp_server.outcomes import watch_resolved
from lsp_server.requests import AssistRequest, AssistResult
from lsp_server.tasks.action_inputs import (
    MULTI_FILE_MAX_BYTES,
    WorkspaceFiles,
    fix_instruction,
    focus_range,
    multi_file_instruction,
    read_disk,
    relative,
    rename_note,
    root_of,
    tests_instruction,
)
from lsp_server.tasks.answers import ParsedAnswer, parse_answer
from lsp_server.tasks.checked import Outcome, checked_changes
from lsp_server.tasks.edits import (
    AnswerError,
    FileChange,
    NoEdit,
    appended_change,
    apply_replacements,
    check_change,
    file_changes,
    region_change,
)
from lsp_server.tasks.file_policy import FilePolicy, describe_refusals, languages_of
from lsp_server.tasks.migration import HOW_TO_NAME
from lsp_server.tasks.naming import parse_renames, plan_renames
from lsp_server.tasks.testfiles import existing_test_file, path_for_tests
from routing.tasks import TaskKind


class _ShownFiles(WorkspaceFiles):
    """The multi-file refactor's files, remembering which files' text the instruction showed the model.

    :func:`multi_file_instruction` shows a file it could read within
    ``MULTI_FILE_MAX_BYTES`` and stops reading at its limit, so the files read
    so are exactly the files shown.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._shown: list[str] | None = []

    def read(self, uri: str) -> str | None:
        text = super().read(uri)
        if self._shown is not None and text is not None and len(text.encode("utf-8")) <= MULTI_FILE_MAX_BYTES:
            self._shown.append(uri)
        return text

    def stop_recording(self) -> list[str]:
        """The URIs shown so far; later reads (applying the answer) are not showing."""
        shown, self._shown = self._shown or [], None
        return shown


class Resolver:
    """One ``codeAction/resolve`` of an edit task: its request, the answers so far, the interpretation."""

    def __init__(self, ls: Host, doc: Document, task: TaskKind, start: int, end: int) -> None:
        self.ls = ls
        self.doc = doc
        self.task = task
        self.source = doc.source
        self.start = start
        self.selection = (start, end) if end > start else None
        self.instruction = ""
        self.context_uris: tuple[str, ...] = ()  # other files whose text the instruction carries
        self.results: list[AssistResult] = []
        self.interpret: Callable[[ParsedAnswer], list[FileChange]] = self._region
        self.note = ""  # said with the edit (e.g. which renames were skipped)
        self.tier = 0  # cheap first: the task's tier asked (a rejected cloud tier's answer is retried by the next)

    def request(self, extra: str = "") -> AssistRequest:
        instruction = "\n\n".join(p for p in (self.instruction, extra) if p)
        return AssistRequest(
            self.task,
            self.doc.uri,
            self.start,
            selection=self.selection,
            instruction=instruction,
            context_uris=self.context_uris,
            tier=self.tier,
            reuse=True,  # the same prompt again (nothing it shows changed): the stored, used answer
        )

    async def ask(self, extra: str) -> str | None:
        if extra and self.results:  # a retry after a rejected answer: a cloud tier's goes to the next tier
            following = next_tier(self.ls, self.task, self.results[-1], self.tier)
            self.tier = self.tier if following is None else following
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

    # -- interpretations (answer -> checked changes) ----------------------------------
    def _region(self, answer: ParsedAnswer) -> list[FileChange]:
        start, end = focus_range(self.doc, self.source, self.request(), self.results[-1])
        return [region_change(answer, self.doc.uri, self.source, start, end, self.doc.language)]

    def naming(self, answer: ParsedAnswer) -> list[FileChange]:
        renames = parse_renames(answer.text)
        if not renames:
            raise NoEdit("no rename suggested")
        tree = self.doc.tree
        if tree is None:
            raise NoEdit("renames need a syntax tree, and this document has none")
        plan = plan_renames(tree.root_node, self.source, renames)
        self.note = rename_note(plan)
        if not plan.replacements:
            raise NoEdit("no suggested rename applies: " + "; ".join(plan.skipped))
        old = self.source.decode("utf-8", "replace")
        new = apply_replacements(self.source, plan.replacements).decode("utf-8", "replace")
        change = FileChange(self.doc.uri, old, new, plan.replacements)
        check_change(change, self.doc.language)
        return [change]

    # -- set-ups per task (instruction and interpretation) -----------------------------
    def setup_tests(self) -> None:
        root = root_of(self.doc.uri, self.ls.session.roots)
        if not self.doc.uri.startswith("file:"):
            raise NoEdit("tests can only be generated for a file on disk")
        source = uri_to_path(self.doc.uri)
        test_path = path_for_tests(source, self.doc.language, root)
        if not self.ls.session.client.can_create_files and self.ls.document(path_to_uri(test_path)) is None:
            existing = None if test_path.is_file() else existing_test_file(source, self.doc.language, root)
            if existing is not None:  # the editor cannot create the usual test file: append to this one
                usual = relative(root, path_to_uri(test_path))
                self.note = f"Appended to {relative(root, path_to_uri(existing))}: the editor cannot create {usual}."
                test_path = existing
        test_uri = path_to_uri(test_path)
        languages = {self.doc.language} if self.doc.language else set()
        refusal = FilePolicy.for_tests(root, languages).check_path(test_path)
        if refusal is not None:  # e.g. the document is itself under .github/, or the test file is executable
            raise NoEdit(f"no tests generated: refused {refusal.describe()}")
        confinement = self.ls.session.confinement
        if not confinement.allows(test_path):
            raise NoEdit(confinement.refusal(test_path, "write tests to"))
        open_doc = self.ls.document(test_uri)
        old = open_doc.text if open_doc is not None else read_disk(test_uri, confinement)
        language = open_doc.language if open_doc is not None else language_from_path(test_path)
        withheld = False
        if old is not None:  # its text goes with the request: checked as the request's context
            self.context_uris = (test_uri,)
            withheld = test_uri in self.ls.assistant.explain(self.ls.session, self.doc, self.request()).withheld
        self.instruction = tests_instruction(relative(root, test_uri), old, language, withheld=withheld)
        self.interpret = lambda answer: [appended_change(answer, test_uri, old, language)]

    def setup_multi_file(self) -> None:
        session = self.ls.session
        root = root_of(self.doc.uri, session.roots)
        files = _ShownFiles(self.ls.document, root, session.confinement)
        explanation = self.ls.assistant.explain(self.ls.session, self.doc, self.request())
        self.instruction = multi_file_instruction(self.doc, files, explanation.scope.files, explanation.withheld)
        shown = [uri_to_path(uri) for uri in (self.doc.uri, *files.stop_recording()) if uri.startswith("file:")]
        indexed = session.index.paths() if session.index is not None else []
        languages = languages_of([*indexed, *shown]) | ({self.doc.language} if self.doc.language else set())
        policy = FilePolicy.for_changes(root, languages, shown)

        def interpret(answer: ParsedAnswer) -> list[FileChange]:
            changes, refused = file_changes(answer, self.doc.uri, files, policy)
            self.note = describe_refusals(refused)
            return changes

        self.interpret = interpret

    def report(self, outcome: Outcome, title: str) -> None:
        """Tell the user what came of the answer (refused, no edit, or the prose said with the edit)."""
        ls = self.ls
        result = self.results[-1] if self.results else None
        footer = result.footer() if result is not None else ""
        if result is not None and not result.text and not outcome.changes:
            ls.show_message(f"hybrid-assist: no answer ({result.empty_reason}). {footer}", types.MessageType.Warning)
        elif outcome.refused:
            tried = " (after one retry)" if outcome.attempts > 1 else ""
            message = f"hybrid-assist: {title}: no edit, the answer was refused{tried}: {outcome.refused}. {footer}"
            ls.show_message(message, types.MessageType.Warning)
        elif outcome.no_edit:
            body = outcome.answer.strip() or outcome.no_edit
            ls.show_message(f"{body}\n\n({outcome.no_edit}) {footer}", types.MessageType.Info)
        else:
            said = "\n\n".join(p for p in (self.note, parse_answer(outcome.answer).prose) if p)
            if result is not None and result.from_cache:  # said even without prose: no model was asked
                said = "\n\n".join(p for p in (said, f"{title}: the answer to the same code was reused") if p)
            if said:
                ls.show_message(f"{said}\n\n{footer}", types.MessageType.Info)


async def explain(ls: Host, doc: Document, request: AssistRequest) -> None:
    """Show the explanation of the requested code, with its route."""
    result = await ls.assistant.run(ls.session, doc, request)
    if result.notice:
        ls.tell_once(result.notice, types.MessageType.Warning)
    text = result.text.strip() or f"hybrid-assist: no answer ({result.empty_reason})"
    ls.show_message(f"{text}\n\n{result.footer()}", types.MessageType.Info)


async def resolve_edit(
    ls: Host, doc: Document, task: TaskKind, span: tuple[int, int], data: dict[str, Any], title: str
) -> types.WorkspaceEdit | None:
    """The checked edit of the action ``title`` (``task`` on the byte ``span``), or None; the user is told why."""
    resolver = Resolver(ls, doc, task, *span)
    if task == TaskKind.EXPLAIN:
        await explain(ls, doc, resolver.request())
        return None
    try:
        if task == TaskKind.FIX:
            resolver.selection = None  # the fix is to the unit around the problem, not to the range it flags
            resolver.instruction = fix_instruction(data.get("diagnostic", ""), data.get("diagnostic_line"))
        elif task == TaskKind.MIGRATION:
            target = str(data.get("target") or "").strip()
            if not target:
                ls.show_message(f"hybrid-assist: {HOW_TO_NAME}", types.MessageType.Warning)
                return None
            resolver.instruction = f"Migration target: {target}"
        elif task == TaskKind.NAMING:
            resolver.interpret = resolver.naming
        elif task == TaskKind.TESTS:
            resolver.setup_tests()
        elif task == TaskKind.MULTI_FILE_REFACTOR:
            resolver.setup_multi_file()
        outcome = await checked_changes(resolver.ask, resolver.interpret)
    except (NoEdit, AnswerError) as exc:
        outcome = Outcome(refused=exc.reason) if isinstance(exc, AnswerError) else Outcome(no_edit=exc.reason)
    resolver.report(outcome, title)
    edit = workspace_edit(ls, outcome.changes, doc.uri) if outcome.changes else None
    if outcome.changes and resolver.results:  # the answer passed the checks: reusable for the same prompt
        await ls.assistant.keep_answer(ls.session, resolver.results[-1])
    watch_resolved(ls, task, doc.uri, resolver.results, outcome, edit)  # applied or not: ledger feedback
    return edit
