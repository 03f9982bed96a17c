"""The machinery of long ``workspace/executeCommand`` commands: arguments, progress, cancel, the model call.

Not a handler: :mod:`lsp_server.handlers.repository` registers the commands
and says what each does with its answer. Here: :func:`parse_target` (the one
optional argument object; ``InvalidParams`` naming the problem),
:func:`with_progress` (:func:`lsp_server.progress.run_with_progress`, with
``{"cancelled": true}`` when the editor cancels), and :func:`repository_command`, the shared
skeleton of every repository command: gather the files, pack the digest, ask
the assistant, then hand the answer to the command's ``finish`` — or report
an empty or malformed answer as ``{"error": ..., "route": ...}``.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from lsp_server.analysis.documents import Document
from lsp_server.analysis.paths import path_to_uri
from lsp_server.host import Host
from lsp_server.progress import Report, only_the_work_was_cancelled, run_with_progress
from lsp_server.requests import AssistRequest, AssistResult
from lsp_server.tasks.findings import MalformedAnswerError
from lsp_server.tasks.gathering import SCOPES, CommandFailure, Gathered, Target, digest_for, gather
from lsp_server.tasks.repository import Digest
from routing.tasks import TaskKind

logger = logging.getLogger(__name__)

__all__ = ["Report", "RequestFailedError", "Unusable", "parse_target", "repository_command", "with_progress"]


class RequestFailedError(JsonRpcException):
    """LSP ``RequestFailed``: the arguments were valid but the command cannot run (e.g. not a git repository)."""

    CODE = -32803
    MESSAGE = "Request failed"


class Unusable(Exception):
    """The answer cannot be used; the reason is told to the user and returned as ``error``."""


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


async def with_progress(
    ls: Host, title: str, body: Callable[[Report], Awaitable[dict[str, object]]]
) -> dict[str, object]:
    """Run ``body`` under a cancellable ``$/progress`` token; ``{"cancelled": true}`` when the editor cancels."""
    try:
        return await run_with_progress(ls, title, body)
    except asyncio.CancelledError:
        if only_the_work_was_cancelled():
            return {"cancelled": True}
        raise  # the command itself was cancelled (shutdown), not just its work
    except CommandFailure as exc:
        raise RequestFailedError(str(exc)) from None


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


async def ask(ls: Host, task: TaskKind, digest: Digest, instruction: str, root: Path | None) -> AssistResult:
    """Run ``task`` on ``digest`` through the assistant (routing, budgets, redaction, fallbacks)."""
    base = root if root is not None else Path(tempfile.gettempdir())
    uri = path_to_uri(base / ".hybrid-assist" / f"{task.value}.md")  # a name for the prompt, never written
    doc = Document(uri, digest.text, "markdown")
    request = AssistRequest(task, uri, 0, selection=(0, len(doc.source)), instruction=instruction)
    return await ls.assistant.run(ls.session, doc, request)


@dataclass(frozen=True, slots=True)
class Answered:
    """A repository command's answer: what was shown, and what came back (non-empty text)."""

    gathered: Gathered
    digest: Digest
    result: AssistResult


async def repository_command(
    ls: Host,
    command: str,
    target: Target,
    report: Report,
    *,
    scoped: bool,
    ask_with: Callable[[Gathered], tuple[TaskKind, str]],
    finish: Callable[[Answered], Awaitable[dict[str, object]]],
) -> dict[str, object]:
    """Gather, digest, ask; then ``finish`` the answer, or report why there is none.

    ``ask_with(gathered)`` is the task and the instruction. An unscoped command
    needs a workspace folder. ``finish`` raises :class:`Unusable` (or
    :class:`MalformedAnswerError`) for an answer it cannot use; the summary
    (``scope`` for scoped commands, ``digest``) leads the returned JSON.
    """
    report("collecting files", 5)
    gathered = await gather(ls.session, target, scoped=scoped)
    if not scoped and gathered.root is None:
        raise CommandFailure(f"{command} needs a workspace folder")
    task, instruction = ask_with(gathered)
    local = ls.assistant.runtime.local
    counter = local.token_counter() if local is not None else None
    limit = ls.assistant.input_limit(ls.session, task).tokens  # the digest fits the window that will serve it
    digest = await asyncio.to_thread(digest_for, ls.session.settings, counter, task, gathered, limit)
    report(f"asking the model ({digest.tokens} tokens of code)", 20)
    result = await ask(ls, task, digest, instruction, gathered.root)
    if result.notice:
        ls.tell_once(result.notice, types.MessageType.Info)
    summary: dict[str, object] = {"scope": target.scope} if scoped else {}
    summary["digest"] = {**digest.to_json(), "withheld": gathered.withheld}
    try:
        if not result.text.strip():
            raise Unusable(result.empty_reason or "the model gave an empty answer")
        try:
            return {**summary, **await finish(Answered(gathered, digest, result))}
        except MalformedAnswerError as exc:
            raise Unusable(f"unusable answer: {exc}") from None
    except Unusable as exc:
        ls.show_message(f"hybrid-assist: {command}: {exc}", types.MessageType.Warning)
        return {**summary, "error": str(exc), "route": route_json(result)}


async def show_document(ls: Host, uri: str, path: Path) -> bool:
    """Open ``uri`` in the editor (``window/showDocument``), or tell the user where it is."""
    if await ls.show_document(uri):
        return True
    ls.show_message(f"hybrid-assist: wrote {path}", types.MessageType.Info)
    return False
