"""Long, repository-wide ``workspace/executeCommand`` commands, with progress and cancel.

Commands and their one optional argument object (every key optional):

* ``hybrid.review``, ``hybrid.securityAudit``, ``hybrid.performance`` —
  ``{scope: "repository" | "diff" | "file", uri, uris, diff, instruction}``:
  findings published as diagnostics (source ``hybrid-review``, code
  ``review``, ``security`` or ``performance``), a suggested replacement
  becoming a quick fix (:func:`lsp_server.review.review_fix_actions`);
* ``hybrid.architecture``, ``hybrid.documentation``, ``hybrid.apiIntegration``
  — ``{uri, uris, instruction}``: a Markdown document written to
  ``docs/hybrid-assist/{architecture,documentation,api-integration}.md`` in
  the first workspace folder and opened with ``window/showDocument``;
* ``hybrid.generateTestSuite`` — ``{uri, uris, instruction}``: test files
  sent to the editor as one WorkspaceEdit with ``workspace/applyEdit``; only
  files in the test-suite lane (:mod:`lsp_server.tasks.file_policy`: test
  files of the suite's languages, never a dot-directory, configuration, an
  executable or a path leaving the workspace) — the others are listed under
  ``refused`` (``[{"path", "reason"}]``) and said in a warning.

The default scope is "diff" when a ``diff`` is given, "file" when a ``uri``
is, else "repository"; "diff" reviews ``diff`` or, without it, ``git diff
HEAD`` of the workspace (an error outside a git repository).
Every command reports ``$/progress`` (when the editor can show it) and stops
on ``window/workDoneProgress/cancel``, aborting the model's generation; it
then returns ``{"cancelled": true}``. Otherwise it returns a JSON
summary: what was sent (``digest``), what came back (counts, paths,
``problems``), and the route (``route``: target, model, cost, latency,
footer), or ``error`` when the answer was empty or malformed (the previous
findings are then left as they were). Cheap first: a cloud tier's answer that
fails its check is asked of the task's next tier (``escalations`` lists the
rejected ones). Unchanged inputs (digest, task, instruction, model tiers) are
answered from the stored result at no cost: ``"cached": true`` (and in
``route``; the footer says "(cached)"), :mod:`lsp_server.answer_reuse`.

Files matching ``[sensitive] path_globs`` never enter these prompts (they
are listed under ``digest.withheld``). A confined session (``[server]
allowed_roots``, :mod:`lsp_server.confinement`) reads, writes and edits
nothing outside its workspace folders, links resolved. Documents are written by the server
and opened with ``window/showDocument``; generated tests are never written
behind the editor's back: the editor applies them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from lsprotocol import types

from lsp_server.analysis.paths import path_to_uri
from lsp_server.analysis.positions import encode_text
from lsp_server.edits import suite_edit
from lsp_server.host import Host, Registrar
from lsp_server.long_commands import (
    Answered,
    Report,
    Unusable,
    parse_target,
    repository_command,
    route_json,
    show_document,
    with_progress,
)
from lsp_server.review import stored_finding
from lsp_server.tasks.answer_checks import findings_problem, generated_tests_problem
from lsp_server.tasks.command_results import (
    default_test_path,
    lane_files,
    locate_findings,
    render_document,
    suite_policy,
    write_document,
)
from lsp_server.tasks.findings import markdown_document, parse_findings, parse_generated_files
from lsp_server.tasks.gathering import Gathered, Target, max_output
from lsp_server.tasks.repository import Digest, task_instruction
from routing.tasks import TaskKind

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


Run = Callable[[Host, Target, Report], Awaitable[dict[str, object]]]
"""A command's body: ``run(ls, target, report)``."""


def _instruction(task: TaskKind, target: Target) -> Callable[[Gathered], tuple[TaskKind, str]]:
    """``ask_with`` for a command whose instruction depends only on its task and target."""
    return lambda gathered: (task, task_instruction(task, target.instruction))


# -- findings: review, security audit, performance -----------------------------------


async def run_findings(
    ls: Host, target: Target, report: Report, *, command: str, task: TaskKind, kind: str
) -> dict[str, object]:
    """Publish the findings of ``task`` as ``hybrid-review`` diagnostics with code ``kind``."""

    async def finish(answered: Answered) -> dict[str, object]:
        gathered, result = answered.gathered, answered.result
        report("publishing findings", 90)
        parsed = parse_findings(result.text)
        located, problems = locate_findings(parsed, answered.digest, gathered)
        encoding = ls.session.encoding
        stored = [
            stored_finding(item, kind, gathered.uri_for(item.path), gathered.read(item.path) or "", encoding)
            for item in located
        ]
        scope = None if target.scope == "repository" else [gathered.uri_for(p) for p in gathered.focus]
        store = ls.session.review
        ls.session.outcomes.note_findings(result.request_id, task.value, stored)  # whose quick fixes they are
        for uri in store.replace(kind, scope, stored):  # an empty list clears a file
            ls.publish_diagnostics(uri, store.diagnostics(uri))
        per_file: dict[str, int] = {}
        for published in stored:
            per_file[published.uri] = per_file.get(published.uri, 0) + 1
        if problems:
            skipped = f"{len(problems)} finding(s) skipped: {problems[0]}"
            ls.show_message(f"hybrid-assist: {command}: {skipped}", types.MessageType.Info)
        return {
            "findings": len(stored),
            "fixes": sum(1 for s in stored if s.fix is not None),
            "files": per_file,
            "truncated": parsed.truncated,
            "problems": problems,
            "route": route_json(result),
        }

    return await repository_command(
        ls,
        command,
        target,
        report,
        scoped=True,
        ask_with=_instruction(task, target),
        finish=finish,
        check=lambda gathered, digest, text: findings_problem(text, digest, gathered),
    )


# -- documents: architecture, documentation, API integration ---------------------------


async def run_document(
    ls: Host, target: Target, report: Report, *, command: str, task: TaskKind, name: str
) -> dict[str, object]:
    """Write the Markdown document of ``task`` to :data:`DOCS_DIR` / ``name`` and show it."""

    async def finish(answered: Answered) -> dict[str, object]:
        result, root = answered.result, answered.gathered.root
        assert root is not None  # unscoped commands need a workspace folder
        body = markdown_document(result.text)
        truncated = result.usage.completion_tokens >= max_output(ls.session.settings, task)
        report("writing the document", 90)
        path = root / DOCS_DIR / name
        confinement = ls.session.confinement
        if not confinement.allows(path):  # e.g. docs/ is a link out of the workspace
            raise Unusable(confinement.refusal(path, "write"))
        text = render_document(command, body, result, answered.digest, truncated)
        try:
            await asyncio.to_thread(write_document, path, text)
        except OSError as exc:
            raise Unusable(f"cannot write {path}: {exc.strerror or exc}") from None
        uri = path_to_uri(path)
        shown = await show_document(ls, uri, path)
        return {
            "path": str(path),
            "uri": uri,
            "shown": shown,
            "bytes": len(encode_text(text)),
            "truncated": truncated,
            "route": route_json(result),
        }

    return await repository_command(
        ls, command, target, report, scoped=False, ask_with=_instruction(task, target), finish=finish
    )


# -- generated test suite ----------------------------------------------------------------


async def run_test_suite(ls: Host, target: Target, report: Report, *, command: str) -> dict[str, object]:
    """Send the generated test files to the editor as one WorkspaceEdit (``workspace/applyEdit``)."""
    task = TaskKind.TESTS

    def ask_with(gathered: Gathered) -> tuple[TaskKind, str]:
        return task, task_instruction(task, target.instruction, tests_path=default_test_path(gathered))

    async def finish(answered: Answered) -> dict[str, object]:
        gathered, result = answered.gathered, answered.result
        assert gathered.root is not None  # unscoped commands need a workspace folder
        parsed = parse_generated_files(result.text, default_test_path(gathered))
        report("applying the test suite", 90)
        files, refused = lane_files(suite_policy(gathered, answered.digest), parsed)
        refused_json = [r.as_json() for r in refused]
        if refused:
            said = "; ".join(r.describe() for r in refused)
            ls.show_message(f"hybrid-assist: {command}: refused {said}", types.MessageType.Warning)
        confinement = ls.session.confinement
        skipped = [
            confinement.refusal(f.path, "write") for f in files if not confinement.allows(gathered.root / f.path)
        ]
        files = [f for f in files if confinement.allows(gathered.root / f.path)]
        problems = [*parsed.problems, *skipped]
        if not files:
            error = f"no file can be written: {'; '.join([*problems, *(r.describe() for r in refused)])}"
            ls.show_message(f"hybrid-assist: {command}: {error}", types.MessageType.Warning)
            return {
                "error": error,
                "files": [],
                "applied": False,
                "failure_reason": error,
                "problems": problems,
                "refused": refused_json,
                "route": route_json(result),
            }
        edit, listed, reason = suite_edit(ls, gathered.root, tuple(files), gathered)
        applied, failure = False, reason
        if edit is not None:
            response = await ls.apply_edit(edit, "hybrid-assist: generated test suite")
            applied = bool(response.applied)
            failure = "" if applied else (response.failure_reason or "the editor did not apply the edit")
        if failure:
            ls.show_message(f"hybrid-assist: {command}: {failure}", types.MessageType.Warning)
        return {
            "files": listed,
            "applied": applied,
            "failure_reason": failure,
            "problems": problems,
            "refused": refused_json,
            "route": route_json(result),
        }

    def check(gathered: Gathered, digest: Digest, text: str) -> str:
        return generated_tests_problem(text, default_test_path(gathered))

    return await repository_command(
        ls, command, target, report, scoped=False, ask_with=ask_with, finish=finish, check=check
    )


def register(server: Registrar) -> None:
    def command(name: str, title: str, scoped: bool, run: Run) -> None:
        @server.command(name)
        async def execute(ls: Host, *args: Any) -> dict[str, object]:
            target = parse_target(name, args, scoped=scoped)
            return await with_progress(ls, title, lambda report: run(ls, target, report))

    for name, (task, kind) in FINDING_COMMANDS.items():
        command(name, f"hybrid-assist: {kind}", True, partial(run_findings, command=name, task=task, kind=kind))
    for name, (task, file_name) in DOCUMENT_COMMANDS.items():
        run = partial(run_document, command=name, task=task, name=file_name)
        command(name, f"hybrid-assist: {task.value}", False, run)
    command(
        GENERATE_TEST_SUITE, "hybrid-assist: test suite", False, partial(run_test_suite, command=GENERATE_TEST_SUITE)
    )
