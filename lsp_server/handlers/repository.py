"""Long, repository-wide ``workspace/executeCommand`` commands, with progress and cancel.

Commands and their one optional argument object (every key optional):

* ``hybrid.review``, ``hybrid.securityAudit``, ``hybrid.performance`` —
  ``{scope: "repository" | "diff" | "file", uri, uris, diff, instruction}``:
  findings published as diagnostics (source ``hybrid-review``, code
  ``review``, ``security`` or ``performance``), a suggested replacement
  becoming a quick fix (:func:`review_fix_actions`);
* ``hybrid.architecture``, ``hybrid.documentation``, ``hybrid.apiIntegration``
  — ``{uri, uris, instruction}``: a Markdown document written to
  ``docs/hybrid-assist/{architecture,documentation,api-integration}.md`` in
  the first workspace folder and opened with ``window/showDocument``;
* ``hybrid.generateTestSuite`` — ``{uri, uris, instruction}``: test files
  sent to the editor as one WorkspaceEdit with ``workspace/applyEdit``.

The default scope is "diff" when a ``diff`` is given, "file" when a ``uri``
is, else "repository"; "diff" reviews ``diff`` or, without it, ``git diff
HEAD`` of the workspace (an error outside a git repository).
Every command reports ``$/progress`` (when the editor can show it) and stops
on ``window/workDoneProgress/cancel``, aborting the model's generation; it
then returns ``{"cancelled": true}``. Otherwise it returns a JSON
summary: what was sent (``digest``), what came back (counts, paths,
``problems``), and the route (``route``: target, model, cost, latency,
footer), or ``error`` when the answer was empty or malformed (the previous
findings are then left as they were).

Files matching ``[sensitive] path_globs`` never enter these prompts (they
are listed under ``digest.withheld``). Documents are written by the server
and opened with ``window/showDocument``; generated tests are never written
behind the editor's back: the editor applies them.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import display_path, path_to_uri, uri_to_path
from lsp_server.analysis.positions import LineTable, encode_text, position_at
from lsp_server.handlers.review import SOURCE, publish, review_fix_actions, review_store, stored_finding
from lsp_server.handlers.workspace import create_progress
from lsp_server.requests import AssistRequest, AssistResult
from lsp_server.server import HybridLanguageServer
from lsp_server.tasks.findings import (
    GeneratedFile,
    LocatedFinding,
    MalformedAnswerError,
    locate,
    markdown_document,
    parse_findings,
    parse_generated_files,
)
from lsp_server.tasks.repository import (
    Digest,
    SourceFile,
    build_digest,
    changed_files,
    source_lines,
    split_diff,
    task_instruction,
)
from lsp_server.tasks.testfiles import path_for_tests
from routing.sensitivity import sensitive_path_reasons
from routing.tasks import TaskKind

__all__ = ["COMMANDS", "SOURCE", "register", "review_fix_actions"]

logger = logging.getLogger(__name__)

REVIEW = "hybrid.review"
SECURITY_AUDIT = "hybrid.securityAudit"
PERFORMANCE = "hybrid.performance"
ARCHITECTURE = "hybrid.architecture"
DOCUMENTATION = "hybrid.documentation"
API_INTEGRATION = "hybrid.apiIntegration"
GENERATE_TEST_SUITE = "hybrid.generateTestSuite"

FINDING_COMMANDS: dict[str, tuple[TaskKind, str]] = {
    REVIEW: (TaskKind.REVIEW, "review"),
    SECURITY_AUDIT: (TaskKind.SECURITY, "security"),
    PERFORMANCE: (TaskKind.PERFORMANCE, "performance"),
}
"""command → (task, diagnostic code)."""
DOCUMENT_COMMANDS: dict[str, tuple[TaskKind, str]] = {
    ARCHITECTURE: (TaskKind.ARCHITECTURE, "architecture.md"),
    DOCUMENTATION: (TaskKind.DOCUMENTATION, "documentation.md"),
    API_INTEGRATION: (TaskKind.API_INTEGRATION, "api-integration.md"),
}
"""command → (task, file name under :data:`DOCS_DIR`)."""
COMMANDS: tuple[str, ...] = (*FINDING_COMMANDS, *DOCUMENT_COMMANDS, GENERATE_TEST_SUITE)
DOCS_DIR = Path("docs") / "hybrid-assist"
SCOPES = ("repository", "diff", "file")
MAX_READ_BYTES = 2_000_000
"""Files larger than this are listed but never read into a prompt."""
PROMPT_RESERVE_TOKENS = 1_500
"""Tokens of the repository budget kept for the instructions and the answer format."""
GIT_TIMEOUT_S = 30.0


class RequestFailedError(JsonRpcException):
    """LSP ``RequestFailed``: the arguments were valid but the command cannot run (e.g. not a git repository)."""

    CODE = -32803
    MESSAGE = "Request failed"


@dataclass(slots=True)
class Target:
    """What a command works on, from its argument."""

    scope: str = "repository"
    uris: list[str] = field(default_factory=list)
    diff: str = ""
    instruction: str = ""


def parse_target(command: str, args: tuple[Any, ...], *, scoped: bool) -> Target:
    """The :class:`Target` of ``args`` (none, or one object); InvalidParams naming the problem."""
    if not args or args[0] is None:
        return Target()
    if len(args) != 1 or not isinstance(args[0], dict):
        raise JsonRpcInvalidParams(f"{command} takes at most one argument, an object")
    arg: dict[str, Any] = args[0]
    uris: list[str] = []
    raw_uris = arg.get("uris", [])
    if not isinstance(raw_uris, list) or not all(isinstance(u, str) for u in raw_uris):
        raise JsonRpcInvalidParams(f"{command}: 'uris' must be a list of URIs")
    uris += raw_uris
    if arg.get("uri") is not None:
        if not isinstance(arg["uri"], str):
            raise JsonRpcInvalidParams(f"{command}: 'uri' must be a string")
        uris.insert(0, arg["uri"])
    for uri in uris:
        if not uri.startswith("file:"):
            raise JsonRpcInvalidParams(f"{command}: {uri!r} is not a file URI")
    diff, instruction = arg.get("diff", ""), arg.get("instruction", "")
    if not isinstance(diff, str) or not isinstance(instruction, str):
        raise JsonRpcInvalidParams(f"{command}: 'diff' and 'instruction' must be strings")
    scope = arg.get("scope")
    if scope is None:
        scope = "diff" if diff else "file" if uris else "repository"
    if scope not in SCOPES:
        raise JsonRpcInvalidParams(f"{command}: scope must be one of {', '.join(SCOPES)} (got {scope!r})")
    if not scoped and scope == "diff":
        raise JsonRpcInvalidParams(f"{command} does not take a diff")
    if scope == "file" and not uris:
        raise JsonRpcInvalidParams(f"{command}: scope 'file' needs a 'uri'")
    return Target(scope, uris, diff, instruction)


async def git_diff(root: Path) -> str:
    """``git diff HEAD`` of ``root`` (staged and unstaged changes; the index only before a first commit)."""

    async def git(*argv: str) -> tuple[int, str, str]:
        try:
            proc = await asyncio.create_subprocess_exec(
                "git",
                "-C",
                str(root),
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise RequestFailedError("cannot review a diff: git is not installed") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
            raise
        return proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace").strip()

    code, out, err = await git("diff", "--no-color", "--no-ext-diff", "HEAD", "--")
    if code != 0 and "not a git repository" in err.lower():
        raise RequestFailedError(f"cannot review a diff: {root} is not a git repository")
    if code != 0 and ("unknown revision" in err or "ambiguous argument 'HEAD'" in err):
        code, out, err = await git("diff", "--no-color", "--no-ext-diff", "--cached", "--")
    if code != 0:
        raise RequestFailedError(f"cannot review a diff: git diff failed: {err or f'exit status {code}'}")
    return out


# -- gathering the repository -------------------------------------------------------


@dataclass(slots=True)
class Gathered:
    """The files a command shows the model, and how to read them."""

    root: Path | None
    files: list[SourceFile]
    focus: list[str]  # absolute paths
    include_others: bool
    diff: str
    withheld: list[str]
    texts: dict[str, str]  # open documents' text by absolute path (unsaved edits win)
    client_uris: dict[str, str]  # absolute path → the URI the editor uses for it
    root_aliases: dict[str, str] = field(default_factory=dict)  # resolved root → the root as the editor names it

    def read(self, path: str) -> str | None:
        text = self.texts.get(path)
        if text is not None:
            return text
        try:
            if os.path.getsize(path) > MAX_READ_BYTES:
                return None
            with open(path, encoding="utf-8", errors="replace", newline="") as handle:
                return handle.read()
        except OSError:
            return None

    def uri_for(self, path: str) -> str:
        """The URI of ``path`` as the editor spells it (its open document's, or under its root's name)."""
        known = self.client_uris.get(path)
        if known is not None:
            return known
        for real, alias in self.root_aliases.items():
            if real != alias and path.startswith(real.rstrip(os.sep) + os.sep):
                return path_to_uri(alias.rstrip(os.sep) + path[len(real.rstrip(os.sep)) :])
        return path_to_uri(path)


def _realpath(uri: str) -> str:
    return os.path.realpath(uri_to_path(uri))


async def gather(ls: HybridLanguageServer, target: Target, *, scoped: bool) -> Gathered:
    """The workspace files, focus and diff of ``target`` (builds the index first when it is not ready)."""
    session = ls.session
    index = session.index
    if index is not None and not index.ready:
        await index.build()
    roots = list(index.roots) if index is not None else [Path(os.path.realpath(r)) for r in session.roots]
    root = roots[0] if roots else None
    if root is None and target.scope != "file":
        raise RequestFailedError("this command needs a workspace folder")
    settings = session.settings.sensitive
    root_names = [str(r) for r in roots]

    def sensitive(path: str) -> bool:
        return bool(sensitive_path_reasons(Path(path).as_posix(), settings.path_globs, root_names))

    texts: dict[str, str] = {}
    client_uris: dict[str, str] = {}
    for doc in session.documents:
        if doc.uri.startswith("file:"):
            path = _realpath(doc.uri)
            texts[path] = doc.text
            client_uris[path] = doc.uri

    def listing() -> tuple[list[SourceFile], list[str]]:
        files: list[SourceFile] = []
        withheld: list[str] = []
        for path in index.paths() if index is not None else []:
            if sensitive(path):
                withheld.append(display_path(path, roots))
                continue
            symbols = index.file(path) if index is not None else None
            language, definitions = (symbols.language, symbols.definitions) if symbols else ("", ())
            files.append(SourceFile(path, display_path(path, roots), language, definitions))
        return files, withheld

    files, withheld = await asyncio.to_thread(listing)  # symbols are decoded per file: off the event loop
    focus: list[str] = []
    diff = ""
    include_others = target.scope == "repository" or not scoped
    if target.scope == "file" or (not scoped and target.uris):
        focus = [_realpath(u) for u in target.uris]
        include_others = False
    elif target.scope == "diff":
        assert root is not None
        raw = target.diff or await git_diff(root)
        if not raw.strip():
            raise RequestFailedError(f"nothing to review: {root} has no changes against HEAD (untracked files aside)")
        kept = []
        for rel, chunk in split_diff(raw) or [("", raw)]:
            if rel and sensitive(os.path.realpath(root / rel)):
                withheld.append(rel)
            else:
                kept.append(chunk)
        diff = "".join(kept)
        focus = [os.path.realpath(root / rel) for rel in changed_files(diff)]
        include_others = False
    known = {f.path for f in files}
    for path in focus:
        if sensitive(path):
            withheld.append(display_path(path, roots))
        elif path not in known:
            files.append(SourceFile(path, display_path(path, roots)))
    focus = [p for p in focus if not sensitive(p)]
    unreadable = [p for p in focus if p not in texts and not os.path.isfile(p)]
    if unreadable and target.scope != "diff":
        raise RequestFailedError(f"cannot read {unreadable[0]}: no such file")
    if target.scope != "repository" and scoped and not focus:
        raise RequestFailedError("nothing to review: every file in scope is sensitive or missing")
    aliases = {os.path.realpath(r): str(r) for r in session.roots}
    return Gathered(root, files, focus, include_others, diff, sorted(set(withheld)), texts, client_uris, aliases)


def digest_for(ls: HybridLanguageServer, task: TaskKind, gathered: Gathered) -> Digest:
    """The repository digest of ``gathered`` within the session's repository token budget."""
    settings = ls.session.settings
    routing = settings.routing.for_team(settings.team)
    policy = routing.tasks.get(task.value)
    output = policy.max_output_tokens if policy is not None else 512
    budget = max(1_000, settings.analysis.repository_max_tokens - output - PROMPT_RESERVE_TOKENS)
    local = ls.assistant.runtime.local
    counter = local.token_counter() if local is not None else None
    header = f"Repository: {gathered.root.name}" if gathered.root is not None else ""
    kwargs: dict[str, Any] = {"count": counter} if counter is not None else {}
    return build_digest(
        gathered.files,
        gathered.read,
        budget=budget,
        focus=gathered.focus,
        include_others=gathered.include_others,
        diff=gathered.diff,
        header=header,
        **kwargs,
    )


async def ask(
    ls: HybridLanguageServer, task: TaskKind, digest: Digest, instruction: str, root: Path | None
) -> AssistResult:
    """Run ``task`` on ``digest`` through the assistant (routing, budgets, redaction, fallbacks)."""
    base = root if root is not None else Path(tempfile.gettempdir())
    uri = path_to_uri(base / ".hybrid-assist" / f"{task.value}.md")  # a name for the prompt, never written
    doc = Document(uri, digest.text, "markdown")
    request = AssistRequest(task, uri, 0, selection=(0, len(doc.source)), instruction=instruction)
    return await ls.assistant.run(ls.session, doc, request)


def route_json(result: AssistResult) -> dict[str, object]:
    """The route footer data of ``result``."""
    decision = result.explanation.decision
    return {
        "target": result.target or decision.target,
        "model": result.model or decision.model,
        "cloud": result.cloud,
        "cost_usd": round(result.cost_usd, 6),
        "latency_ms": round(result.latency_ms, 1),
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "attempts": [{"target": a.target, "outcome": a.outcome} for a in result.attempts],
        "footer": result.footer(),
    }


def _max_output(ls: HybridLanguageServer, task: TaskKind) -> int:
    settings = ls.session.settings
    policy = settings.routing.for_team(settings.team).tasks.get(task.value)
    return policy.max_output_tokens if policy is not None else 512


Report = Callable[[str, int], None]


async def with_progress(
    ls: HybridLanguageServer, title: str, body: Callable[[Report], Awaitable[dict[str, object]]]
) -> dict[str, object]:
    """Run ``body`` under a cancellable ``$/progress`` token; ``{"cancelled": true}`` when the editor cancels."""
    token = await create_progress(ls, title)

    def report(message: str, percentage: int) -> None:
        if token is not None:
            value = types.WorkDoneProgressReport(message=message, percentage=percentage)
            ls.work_done_progress.report(token, value)

    work: asyncio.Task[dict[str, object]] = ls.spawn(body(report))
    if token is not None:
        ls.progress_tasks[token] = work
    message = "done"
    try:
        return await work
    except asyncio.CancelledError:
        message = "cancelled"
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # the command itself was cancelled (shutdown), not just its work
        return {"cancelled": True}
    except BaseException:
        message = "failed"
        raise
    finally:
        if token is not None:
            ls.progress_tasks.pop(token, None)
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))


def _failure(ls: HybridLanguageServer, command: str, reason: str, result: AssistResult) -> dict[str, object]:
    ls.show_message(f"hybrid-assist: {command}: {reason}", types.MessageType.Warning)
    return {"error": reason, "route": route_json(result)}


def _notice(ls: HybridLanguageServer, result: AssistResult) -> None:
    if result.notice:
        ls.tell_once(result.notice, types.MessageType.Info)


# -- findings: review, security audit, performance -----------------------------------


async def run_findings(
    ls: HybridLanguageServer, command: str, task: TaskKind, kind: str, target: Target, report: Report
) -> dict[str, object]:
    report("collecting files", 5)
    gathered = await gather(ls, target, scoped=True)
    digest = await asyncio.to_thread(digest_for, ls, task, gathered)
    report(f"asking the model ({digest.tokens} tokens of code)", 20)
    result = await ask(ls, task, digest, task_instruction(task, target.instruction), gathered.root)
    _notice(ls, result)
    summary: dict[str, object] = {"scope": target.scope, "digest": {**digest.to_json(), "withheld": gathered.withheld}}
    if not result.text.strip():
        return {**summary, **_failure(ls, command, result.empty_reason or "the model gave an empty answer", result)}
    report("publishing findings", 90)
    try:
        parsed = parse_findings(result.text)
    except MalformedAnswerError as exc:
        return {**summary, **_failure(ls, command, f"unusable answer: {exc}", result)}
    shown = set(digest.included)
    by_display = {f.display: f.path for f in gathered.files if f.display in shown}
    lines_cache: dict[str, int | None] = {}

    def line_count(path: str) -> int | None:
        if path not in lines_cache:
            text = gathered.read(path)
            lines_cache[path] = None if text is None else len(source_lines(text))
        return lines_cache[path]

    problems = list(parsed.problems)
    located: list[LocatedFinding] = []
    for finding in parsed.findings:
        where = locate(finding, by_display, line_count)
        if isinstance(where, str):
            problems.append(where)
        else:
            located.append(where)
    stored = [
        stored_finding(item, kind, gathered.uri_for(item.path), gathered.read(item.path) or "", ls.session.encoding)
        for item in located
    ]
    scope = None if target.scope == "repository" else [gathered.uri_for(p) for p in gathered.focus]
    touched = review_store(ls).replace(kind, scope, stored)
    publish(ls, touched)
    per_file: dict[str, int] = {}
    for published in stored:
        per_file[published.uri] = per_file.get(published.uri, 0) + 1
    if problems:
        ls.show_message(
            f"hybrid-assist: {command}: {len(problems)} finding(s) skipped: {problems[0]}", types.MessageType.Info
        )
    return {
        **summary,
        "findings": len(stored),
        "fixes": sum(1 for s in stored if s.fix is not None),
        "files": per_file,
        "truncated": parsed.truncated,
        "problems": problems,
        "route": route_json(result),
    }


# -- documents: architecture, documentation, API integration ---------------------------


def write_document(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader never sees half a document)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_document(command: str, body: str, result: AssistResult, digest: Digest, truncated: bool) -> str:
    """The Markdown file of a document command: the model's document and where it came from."""
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<!-- generated by hybrid-assist ({command}) on {when}; edits are overwritten by the next run -->", body]
    if truncated:
        parts.append("> **Note:** the answer reached its length limit; the end of this document may be missing.")
    shown = f"{len(digest.included)} of {digest.listed} files shown in full" if digest.listed else "no files"
    parts.append(f"---\n_hybrid-assist · {result.footer()} · {shown}_")
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


async def show(ls: HybridLanguageServer, uri: str, path: Path) -> bool:
    """Open ``uri`` in the editor (``window/showDocument``), or tell the user where it is."""
    window = ls.client_capabilities.window
    if window is not None and window.show_document is not None and window.show_document.support:
        try:
            shown = await ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True))
            if shown.success:
                return True
        except Exception:  # the editor refused: say where the file is instead
            logger.debug("showDocument failed", exc_info=True)
    ls.show_message(f"hybrid-assist: wrote {path}", types.MessageType.Info)
    return False


async def run_document(
    ls: HybridLanguageServer, command: str, task: TaskKind, name: str, target: Target, report: Report
) -> dict[str, object]:
    report("collecting files", 5)
    gathered = await gather(ls, target, scoped=False)
    if gathered.root is None:
        raise RequestFailedError(f"{command} needs a workspace folder")
    digest = await asyncio.to_thread(digest_for, ls, task, gathered)
    report(f"asking the model ({digest.tokens} tokens of code)", 20)
    result = await ask(ls, task, digest, task_instruction(task, target.instruction), gathered.root)
    _notice(ls, result)
    summary: dict[str, object] = {"digest": {**digest.to_json(), "withheld": gathered.withheld}}
    if not result.text.strip():
        return {**summary, **_failure(ls, command, result.empty_reason or "the model gave an empty answer", result)}
    try:
        body = markdown_document(result.text)
    except MalformedAnswerError as exc:
        return {**summary, **_failure(ls, command, f"unusable answer: {exc}", result)}
    truncated = result.usage.completion_tokens >= _max_output(ls, task)
    report("writing the document", 90)
    path = gathered.root / DOCS_DIR / name
    text = render_document(command, body, result, digest, truncated)
    try:
        await asyncio.to_thread(write_document, path, text)
    except OSError as exc:
        return {**summary, **_failure(ls, command, f"cannot write {path}: {exc.strerror or exc}", result)}
    uri = path_to_uri(path)
    shown = await show(ls, uri, path)
    return {
        **summary,
        "path": str(path),
        "uri": uri,
        "shown": shown,
        "bytes": len(encode_text(text)),
        "truncated": truncated,
        "route": route_json(result),
    }


# -- generated test suite ----------------------------------------------------------------


def suite_edit(
    ls: HybridLanguageServer, root: Path, files: tuple[GeneratedFile, ...], gathered: Gathered
) -> tuple[types.WorkspaceEdit | None, list[dict[str, object]], str]:
    """The WorkspaceEdit creating or replacing ``files``; None and why when the editor cannot apply it."""
    caps = ls.client_capabilities.workspace
    edit_caps = caps.workspace_edit if caps is not None else None
    can_apply = caps is not None and bool(caps.apply_edit)
    can_create = (
        edit_caps is not None
        and bool(edit_caps.document_changes)
        and types.ResourceOperationKind.Create in (edit_caps.resource_operations or ())
    )
    changes: list[types.TextDocumentEdit | types.CreateFile] = []
    plain: dict[str, list[types.TextEdit]] = {}
    listed: list[dict[str, object]] = []
    creates = False
    for generated in files:
        path = root / generated.path
        real = os.path.realpath(path)
        uri = gathered.uri_for(real) if real in gathered.client_uris else path_to_uri(path)
        existing = gathered.read(real) if os.path.exists(real) or real in gathered.texts else None
        doc = ls.document(uri)
        if existing is None:
            creates = True
            changes.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False)))
            end = types.Position(line=0, character=0)
        else:
            data = encode_text(existing)
            line, character = position_at(data, LineTable(data), len(data), ls.session.encoding)
            end = types.Position(line=line, character=character)
        edit = types.TextEdit(
            range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=generated.content
        )
        version = doc.version if doc is not None and existing is not None else None
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=[edit]
            )
        )
        plain[uri] = [edit]
        listed.append({"path": generated.path, "uri": uri, "created": existing is None})
    if not can_apply:
        return None, listed, "the editor does not support workspace/applyEdit"
    if creates and not can_create:
        return None, listed, "the editor cannot create files through workspace/applyEdit"
    if edit_caps is not None and edit_caps.document_changes:
        return types.WorkspaceEdit(document_changes=changes), listed, ""
    return types.WorkspaceEdit(changes=plain), listed, ""


def _default_test_path(gathered: Gathered) -> str | None:
    """Where the tests of the one focus file go by the language's convention (None: not one file)."""
    if len(gathered.focus) != 1 or gathered.root is None:
        return None
    focus = gathered.focus[0]
    language = next((f.language for f in gathered.files if f.path == focus), "") or None
    path = path_for_tests(Path(focus), language, gathered.root)
    try:
        return Path(os.path.realpath(path)).relative_to(os.path.realpath(gathered.root)).as_posix()
    except ValueError:
        return None


async def run_test_suite(ls: HybridLanguageServer, command: str, target: Target, report: Report) -> dict[str, object]:
    task = TaskKind.TESTS
    report("collecting files", 5)
    gathered = await gather(ls, target, scoped=False)
    if gathered.root is None:
        raise RequestFailedError(f"{command} needs a workspace folder")
    digest = await asyncio.to_thread(digest_for, ls, task, gathered)
    report(f"asking the model ({digest.tokens} tokens of code)", 20)
    result = await ask(ls, task, digest, task_instruction(task, target.instruction), gathered.root)
    _notice(ls, result)
    summary: dict[str, object] = {"digest": {**digest.to_json(), "withheld": gathered.withheld}}
    if not result.text.strip():
        return {**summary, **_failure(ls, command, result.empty_reason or "the model gave an empty answer", result)}
    try:
        parsed = parse_generated_files(result.text, _default_test_path(gathered))
    except MalformedAnswerError as exc:
        return {**summary, **_failure(ls, command, f"unusable answer: {exc}", result)}
    report("applying the test suite", 90)
    problems = list(parsed.problems)
    inside = os.path.realpath(gathered.root) + os.sep
    files = []
    for generated in parsed.files:
        real = os.path.realpath(gathered.root / generated.path)
        if not real.startswith(inside) or os.path.isdir(real):
            problems.append(f"{generated.path}: a directory, or outside the workspace through a link; skipped")
        else:
            files.append(generated)
    if not files:
        return {**summary, **_failure(ls, command, f"no file can be written: {'; '.join(problems)}", result)}
    edit, listed, reason = suite_edit(ls, gathered.root, tuple(files), gathered)
    applied, failure = False, reason
    if edit is not None:
        response = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label="hybrid-assist: generated test suite")
        )
        applied = bool(response.applied)
        failure = "" if applied else (response.failure_reason or "the editor did not apply the edit")
    if failure:
        ls.show_message(f"hybrid-assist: {command}: {failure}", types.MessageType.Warning)
    return {
        **summary,
        "files": listed,
        "applied": applied,
        "failure_reason": failure,
        "problems": problems,
        "route": route_json(result),
    }


def register(server: HybridLanguageServer) -> None:
    def findings_command(command: str, task: TaskKind, kind: str) -> None:
        @server.command(command)
        async def run(ls: HybridLanguageServer, *args: Any) -> dict[str, object]:
            target = parse_target(command, args, scoped=True)
            return await with_progress(
                ls, f"hybrid-assist: {kind}", lambda report: run_findings(ls, command, task, kind, target, report)
            )

    def document_command(command: str, task: TaskKind, name: str) -> None:
        @server.command(command)
        async def run(ls: HybridLanguageServer, *args: Any) -> dict[str, object]:
            target = parse_target(command, args, scoped=False)
            return await with_progress(
                ls, f"hybrid-assist: {task.value}", lambda report: run_document(ls, command, task, name, target, report)
            )

    for command, (task, kind) in FINDING_COMMANDS.items():
        findings_command(command, task, kind)
    for command, (task, name) in DOCUMENT_COMMANDS.items():
        document_command(command, task, name)

    @server.command(GENERATE_TEST_SUITE)
    async def generate_test_suite(ls: HybridLanguageServer, *args: Any) -> dict[str, object]:
        target = parse_target(GENERATE_TEST_SUITE, args, scoped=False)
        return await with_progress(
            ls, "hybrid-assist: test suite", lambda report: run_test_suite(ls, GENERATE_TEST_SUITE, target, report)
        )
