"""What became of the answers the editor was given, recorded as ledger feedback (routing that learns, #14.6).

The ledger knows each request's route, cost and outcome; the learner
(``hybrid-assist routing learn``) also needs to know whether the answer was
any good. Besides the completions' accept/reject (``kind`` ``completion``,
:mod:`lsp_server.handlers.completion`), this module records:

- ``code_action``: a resolved AI code action's edit (``codeAction/resolve``,
  or ``hybrid.runAction`` applying it) shows up in its document within
  :attr:`OutcomeWatch.window_s` (accepted), or the window passes or the
  document closes first (not accepted);
- ``quick_fix``: the same for the quick fixes of ``hybrid-review`` findings,
  watched from when they are offered; the verdict is the review request's
  (the one whose answer published the finding);
- ``check``: a checked answer failed its check (an edit that did not apply
  or parse and was asked again; a cheap tier's answer escalated to the next
  tier) or, for repository commands, passed it.

Matching reads the document after each ``didChange`` (or ``didOpen``, for a
file the edit creates), never the change events themselves, so it holds
whether the editor sends the whole document or increments, in one event or
several: an edit is seen when every text it inserts (what it writes beyond
what its range held, trimmed of surrounding whitespace) occurs in the
document more often than when the edit was made (as many more times as the
edit writes it) — or, for an edit that only deletes, when the deleted text
occurs less often. An edit that changes only whitespace is not watched. A request accepted once in
a session is never marked not accepted later by another of its watches.

:class:`OutcomeWatch` is the per-session state (:attr:`Session.outcomes`);
the functions below it are the handlers' hooks (each takes a ``Host``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import normalize_uri
from lsp_server.analysis.positions import PositionEncoding

if TYPE_CHECKING:
    from lsp_server.host import Host
    from lsp_server.requests import AssistResult
    from lsp_server.review import StoredFinding
    from lsp_server.tasks.checked import Outcome
    from routing.tasks import TaskKind

logger = logging.getLogger(__name__)

#: How long an offered edit may take to show up in its document (seconds).
WINDOW_S = 120.0
#: How many review findings' requests, and accepted requests, a session remembers.
REMEMBERED = 4096
CODE_ACTION = "code_action"
QUICK_FIX = "quick_fix"
CHECK = "check"

#: Records the verdict of one watch (True: the edit was applied).
Record = Callable[[bool], None]


@dataclass(slots=True)
class _Needle:
    """A text an applied edit changes the count of in one document: up (inserted) or down (deleted)."""

    text: bytes
    baseline: int  # occurrences when the edit was made
    inserted: bool

    def seen_in(self, source: bytes) -> bool:
        count = source.count(self.text)
        return count > self.baseline if self.inserted else count < self.baseline


@dataclass(slots=True)
class _Watch:
    request_id: str
    primary: str  # the normalised URI whose closing ends the watch
    needles: dict[str, list[_Needle]]  # normalised URI -> what must change there
    record: Record
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class OutcomeWatch:
    """The edits of one session waiting to show up in their documents, and the review findings' requests."""

    window_s: float = WINDOW_S
    _watches: dict[str, _Watch] = field(default_factory=dict)  # key -> watch
    _accepted: dict[str, None] = field(default_factory=dict)  # request ids applied in this session (oldest first)
    _finding_requests: dict[str, tuple[str, str]] = field(default_factory=dict)  # finding id -> (request id, task)

    def expect(
        self,
        key: str,
        request_id: str,
        primary: str,
        edits: dict[str, list[tuple[str, str]]],
        documents: Callable[[str], Document | None],
        record: Record,
    ) -> bool:
        """Watch for ``edits`` (URI -> (replaced text, new text) pairs) to show up; False when there is nothing
        to watch for (or ``key`` is watched already: a quick fix offered again keeps its first window)."""
        if key in self._watches:
            return False
        needles: dict[str, list[_Needle]] = {}
        for uri, pairs in edits.items():
            doc = documents(uri)
            found = _needles(pairs, doc.source if doc is not None else b"")
            if found:
                needles[normalize_uri(uri)] = found
        if not needles:
            return False
        watch = _Watch(request_id, normalize_uri(primary), needles, record)
        self._watches[key] = watch
        watch.timer = asyncio.get_running_loop().call_later(self.window_s, self._settle, key, False)
        return True

    def seen(self, doc: Document) -> None:
        """``doc`` changed (or opened): settle the watches whose edits it now shows."""
        if not self._watches:
            return
        uri = normalize_uri(doc.uri)
        for key, watch in list(self._watches.items()):
            needles = watch.needles.get(uri)
            if needles and all(n.seen_in(doc.source) for n in needles):
                self._settle(key, True)

    def closed(self, uri: str) -> None:
        """``uri`` closed: its watches end unapplied."""
        key_uri = normalize_uri(uri)
        for key, watch in list(self._watches.items()):
            if watch.primary == key_uri:
                self._settle(key, False)

    def pending(self) -> int:
        return len(self._watches)

    def note_findings(self, request_id: str, task: str, findings: Iterable[StoredFinding]) -> None:
        """``findings`` were published from the answer of ``request_id`` (their quick fixes' verdict is its)."""
        for finding in findings:
            if finding.fix is not None:
                self._finding_requests[finding.id] = (request_id, task)
        _forget_oldest(self._finding_requests)

    def finding_request(self, finding_id: str) -> tuple[str, str] | None:
        """The request (and its task) whose answer published the finding ``finding_id``."""
        return self._finding_requests.get(finding_id)

    def _settle(self, key: str, applied: bool) -> None:
        watch = self._watches.pop(key, None)
        if watch is None:
            return
        if watch.timer is not None:
            watch.timer.cancel()
        if applied:
            self._accepted[watch.request_id] = None
            _forget_oldest(self._accepted)
        elif watch.request_id in self._accepted:
            return  # applied through another watch (another quick fix of the same review): keep that
        try:
            watch.record(applied)
        except Exception:  # a verdict lost is not worth a broken didChange
            logger.exception("recording the outcome of %s failed", watch.request_id)


def _forget_oldest(remembered: dict[str, Any]) -> None:
    """Keep a long session's memory bounded: the oldest entries beyond :data:`REMEMBERED` go."""
    for key in list(itertools.islice(remembered, max(0, len(remembered) - REMEMBERED))):
        del remembered[key]


def _needles(pairs: Sequence[tuple[str, str]], source: bytes) -> list[_Needle]:
    """What applying ``pairs`` (replaced text, new text) changes the count of in ``source``."""
    inserted: Counter[bytes] = Counter()
    deleted: Counter[bytes] = Counter()
    for old, new in pairs:
        if "".join(old.split()) == "".join(new.split()):
            continue  # only whitespace changes: nothing to count (an editor may reformat it anyway)
        added, removed = _difference(old, new)
        if added.strip():
            inserted[added.strip().encode("utf-8")] += 1
        elif removed.strip():
            deleted[removed.strip().encode("utf-8")] += 1
    if inserted:
        return [_Needle(text, source.count(text) + times - 1, True) for text, times in inserted.items()]
    return [_Needle(text, source.count(text) - times + 1, False) for text, times in deleted.items()]


def _difference(old: str, new: str) -> tuple[str, str]:
    """(what ``new`` adds, what it removes) once the text both share at the start and the end is taken away."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0
    while end < limit - start and old[len(old) - 1 - end] == new[len(new) - 1 - end]:
        end += 1
    return new[start : len(new) - end], old[start : len(old) - end]


def text_edits(edit: types.WorkspaceEdit) -> dict[str, list[types.TextEdit]]:
    """URI -> the text edits of ``edit``, whether it carries ``changes`` or ``documentChanges``."""
    per_uri: dict[str, list[types.TextEdit]] = {uri: list(edits) for uri, edits in (edit.changes or {}).items()}
    for change in edit.document_changes or ():
        if isinstance(change, types.TextDocumentEdit):
            per_uri.setdefault(change.text_document.uri, []).extend(
                e for e in change.edits if isinstance(e, types.TextEdit)
            )
    return per_uri


def edit_pairs(
    edit: types.WorkspaceEdit, documents: Callable[[str], Document | None], encoding: PositionEncoding
) -> dict[str, list[tuple[str, str]]]:
    """URI -> (the text each edit replaces, now; its new text)."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    for uri, edits in text_edits(edit).items():
        doc = documents(uri)
        for e in edits:
            old = ""
            if doc is not None:
                start = doc.offset_at(e.range.start.line, e.range.start.character, encoding)
                end = doc.offset_at(e.range.end.line, e.range.end.character, encoding)
                old = doc.text_between(start, end)
            pairs.setdefault(uri, []).append((old, e.new_text))
    return pairs


# -- the handlers' hooks -----------------------------------------------------------------------------------


def recorder(ls: Host, request_id: str, task: str, kind: str) -> Record:
    """Records a verdict on ``request_id`` through the assistant (the ledger, or the gateway's)."""

    def record(accepted: bool) -> None:
        ls.spawn(ls.assistant.record_feedback(request_id, accepted, task, kind))

    return record


def watch_resolved(
    ls: Host,
    task: TaskKind,
    uri: str,
    results: Sequence[AssistResult],
    outcome: Outcome,
    edit: types.WorkspaceEdit | None,
) -> None:
    """A code action was resolved: its rejected answers failed their check; its edit is watched for."""
    for rejected in results[: len(outcome.reasons)]:  # each rejection reason is one answer's, in order
        recorder(ls, rejected.request_id, task.value, CHECK)(False)
    if edit is None or not results:
        return
    request_id = results[-1].request_id
    session = ls.session
    pairs = edit_pairs(edit, ls.document, session.encoding)
    record = recorder(ls, request_id, task.value, CODE_ACTION)
    session.outcomes.expect(request_id, request_id, uri, pairs, ls.document, record)


def watch_fixes(ls: Host, uri: str, actions: Sequence[types.CodeAction | types.Command]) -> None:
    """Review quick fixes were offered for ``uri``: each is watched for, as its review request's verdict."""
    session = ls.session
    findings = {_edit_key(f.fix): f.id for f in session.review.for_uri(uri) if f.fix is not None}
    for action in actions:
        if not isinstance(action, types.CodeAction) or action.edit is None:
            continue
        keys = (_edit_key(e) for edits in text_edits(action.edit).values() for e in edits)
        finding_id = next((findings[k] for k in keys if k in findings), None)
        source = session.outcomes.finding_request(finding_id) if finding_id is not None else None
        if source is None:
            continue
        request_id, task = source
        pairs = edit_pairs(action.edit, ls.document, session.encoding)
        record = recorder(ls, request_id, task, QUICK_FIX)
        session.outcomes.expect(f"{request_id}#{finding_id}", request_id, uri, pairs, ls.document, record)


def _edit_key(edit: types.TextEdit) -> tuple[int, int, int, int, str]:
    start, end = edit.range.start, edit.range.end
    return (start.line, start.character, end.line, end.character, edit.new_text)


def record_checks(
    ls: Host, task: TaskKind, escalations: Sequence[dict[str, object]], result: AssistResult, problem: str
) -> None:
    """A repository command's checked answers: each escalated one failed its check; the one used passed
    unless ``problem`` says why not."""
    for rejected in escalations:
        recorder(ls, str(rejected.get("request_id", "")), task.value, CHECK)(False)
    if result.text.strip() and not result.from_cache:
        recorder(ls, result.request_id, task.value, CHECK)(not problem)
