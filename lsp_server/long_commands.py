"""The machinery of long ``workspace/executeCommand`` commands: arguments, progress, cancel, the model call.

Not a handler: :mod:`lsp_server.handlers.repository` registers the commands
and says what each does with its answer. Here: :func:`parse_target` (the one
optional argument object; ``InvalidParams`` naming the problem),
:func:`with_progress` (:func:`lsp_server.progress.run_with_progress`, with
``{"cancelled": true}`` when the editor cancels), and :func:`repository_command`, the shared
skeleton of every repository command: gather the files, pack the digest, ask
the assistant, then hand the answer to the command's ``finish`` — or report
an empty or malformed answer as ``{"error": ..., "route": ...}``.

Cheap first: a command with a ``check`` whose answer came from a cloud tier
of the task (``[routing.tasks.NAME] tiers``) and fails the check asks the
task's next tier (:func:`escalate`); every call is its own ledger row (the
escalation's request id is the first one's with ``-tierN``), and the result
lists them under ``escalations``. Local first: an answer the local engine gave
(the policy keeps the task local) that fails its check asks the task's cloud
tiers from the first. Sensitive code is served on the premises, so it never
escalates.

Answer reuse: inputs unchanged since an answer that was used and passed its
check (:mod:`lsp_server.answer_reuse`) are answered from the stored result
at no cost, with ``"cached": true`` in the result and its route, and
"(cached)" in the footer; the command's ``finish`` runs as usual (findings
published again, the document written again).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from lsp_server.analysis.documents import Document
from lsp_server.analysis.languages import main_language
from lsp_server.analysis.paths import path_to_uri
from lsp_server.answer_reuse import keep, lookup, reused_result
from lsp_server.host import Host
from lsp_server.outcomes import record_checks
from lsp_server.progress import Report, only_the_work_was_cancelled, run_with_progress
from lsp_server.requests import AssistRequest, AssistResult
from lsp_server.tasks.findings import MalformedAnswerError
from lsp_server.tasks.gathering import SCOPES, CommandFailure, Gathered, Target, digest_for, gather
from lsp_server.tasks.repository import Digest
from routing.escalation import tier_after
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
        "cached": result.from_cache,
        "footer": result.footer(),
    }


async def ask(
    ls: Host,
    task: TaskKind,
    digest: Digest,
    instruction: str,
    root: Path | None,
    tier: int | None = None,
    request_id: str = "",
    failed: AssistResult | None = None,
) -> AssistResult:
    """Run ``task`` on ``digest`` through the assistant (routing, budgets, redaction, fallbacks).

    ``tier`` (an escalation) asks the task's cloud tiers from that one on: ``failed``, a cheaper tier's or the
    local engine's answer, failed its check.
    """
    base = root if root is not None else Path(tempfile.gettempdir())
    uri = path_to_uri(base / ".hybrid-assist" / f"{task.value}.md")  # a name for the prompt, never written
    doc = Document(uri, digest.text, "markdown")
    request = AssistRequest(
        task,
        uri,
        0,
        selection=(0, len(doc.source)),
        instruction=instruction,
        tier=tier or 0,
        escalation=tier is not None,
        escalate_after=(failed.target, failed.model) if failed is not None else None,
        language=main_language(digest.included),  # for the ledger: the digest's files' main language
    )
    if request_id:
        request = dataclasses.replace(request, request_id=request_id)
    return await ls.assistant.run(ls.session, doc, request)


#: In gateway mode the tiers are the gateway's: at most this many escalations are asked of it.
MAX_GATEWAY_ESCALATIONS = 4


def next_tier(ls: Host, task: TaskKind, result: AssistResult, tier: int) -> int | None:
    """The tier to ask when ``result`` (asked of ``tier`` on) fails its check; None: no escalation.

    A cloud tier's answer escalates to a tier after the one that served it; the first answer, given on the
    premises because the policy keeps the task local, to the first cloud tier — never one kept local because
    the code is sensitive (:func:`routing.escalation.tier_after`). In gateway mode the gateway knows the tiers:
    the next number is asked, naming the failing answer (``escalate_after``), until the gateway has none left.
    """
    if not result.text.strip() or result.from_cache:
        return None
    decision = result.explanation.decision
    if not result.cloud and (tier > 0 or decision.local_only):
        return None
    if ls.assistant.serving.routes_remotely:
        return tier + 1 if tier + 1 < MAX_GATEWAY_ESCALATIONS else None
    if not result.cloud and not any(t.cloud for t in decision.chain()):  # no usable cloud target on the route
        return None
    settings = ls.session.settings
    policy = settings.routing.for_team(settings.team).tasks.get(task.value)
    order = policy.order if policy is not None else ()
    return tier_after(order, result.target, result.model, ls.assistant.runtime.providers, start=tier)


async def escalate(
    ls: Host,
    task: TaskKind,
    digest: Digest,
    instruction: str,
    gathered: Gathered,
    result: AssistResult,
    check: Callable[[str], str],
    report: Report,
) -> tuple[AssistResult, list[dict[str, object]]]:
    """While ``check`` rejects an answer and a tier remains (:func:`next_tier`), ask the next one (each once).

    Returns the answer to use and, for each rejected answer, where it came from, why and what it cost.
    """
    rejected: list[dict[str, object]] = []
    tier = 0
    first_id = result.request_id
    asked: set[int] = set()
    while (following := next_tier(ls, task, result, tier)) is not None and following not in asked:
        asked.add(following)
        problem = check(result.text)
        if not problem:
            break
        rejected.append({**_served(result), "problem": problem})
        logger.info(
            "%s: %s:%s rejected (%s); asking tier %d", task.value, result.target, result.model, problem, following
        )
        report(f"the answer failed its check; asking tier {following + 1}", 50)
        again = await ask(
            ls,
            task,
            digest,
            instruction,
            gathered.root,
            following,
            request_id=f"{first_id}-tier{following + 1}",
            failed=result,
        )
        if not again.text.strip():  # the next tier gave nothing: the checked answer is still the better one
            rejected[-1]["next"] = again.empty_reason or "empty answer"
            break
        result, tier = again, following
    return result, rejected


def _served(result: AssistResult) -> dict[str, object]:
    return {
        "request_id": result.request_id,
        "target": result.target,
        "model": result.model,
        "cost_usd": round(result.cost_usd, 6),
    }


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
    check: Callable[[Gathered, Digest, str], str] | None = None,
) -> dict[str, object]:
    """Gather, digest, ask; then ``finish`` the answer, or report why there is none.

    ``check(gathered, digest, answer)`` says why an answer fails ("" when it passes): a cloud tier's
    failing answer is asked again of the next tier (:func:`escalate`).

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
    reuse = await asyncio.to_thread(lookup, ls, task, instruction, digest)
    escalations: list[dict[str, object]] = []
    if reuse.found is not None:  # unchanged inputs: the stored answer, no model call
        report("answer reused (inputs unchanged)", 20)
        result = reused_result(task, digest, reuse.found)
        await ls.assistant.record_reused(ls.session, result, digest.tokens, main_language(digest.included))
    else:
        report(f"asking the model ({digest.tokens} tokens of code)", 20)
        result = await ask(ls, task, digest, instruction, gathered.root)
        if check is not None:
            result, escalations = await escalate(
                ls, task, digest, instruction, gathered, result, lambda text: check(gathered, digest, text), report
            )
    if result.notice:
        ls.tell_once(result.notice, types.MessageType.Info)
    summary: dict[str, object] = {"scope": target.scope} if scoped else {}
    summary["digest"] = {**digest.to_json(), "withheld": gathered.withheld}
    if escalations:
        summary["escalations"] = escalations
    if check is not None:  # each checked answer's verdict, as ledger feedback
        record_checks(ls, task, escalations, result, check(gathered, digest, result.text))
    if result.from_cache:
        summary["cached"] = True
    try:
        if not result.text.strip():
            raise Unusable(result.empty_reason or "the model gave an empty answer")
        try:
            finished = await finish(Answered(gathered, digest, result))
            if "error" not in finished and not (check is not None and check(gathered, digest, result.text)):
                await asyncio.to_thread(keep, reuse, result)  # a used answer that passes its check
            return {**summary, **finished}
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
