"""``POST /v1/feedback`` (the editor accepted or rejected an answer the gateway served) and ``POST /v1/reused``.

The body is ``{"request_id": <the id of the done event>, "accepted": bool,
"task": "inline_completion", "kind": "completion"}``; ``kind`` (optional) says
what the verdict is about: ``completion``, ``code_action`` (an AI code
action's edit applied or not), ``quick_fix`` (a review quick fix) or
``check`` (a checked answer passed or failed). A user can mark only their own requests: the
ledger row must exist and belong to the caller (404 otherwise, so another
user's request ids are not even confirmed). The mark is counted in the
metrics and stored beside the ledger row, as in embedded mode.

``/v1/reused`` records an answer the language server reused without asking
the gateway (answer reuse: a repository command or code action whose inputs
are unchanged): ``{"request_id", "task", "scope_level", "target", "model",
"input_tokens", "output_tokens", "language", "workspace"}`` becomes the
caller's ledger row with outcome ``reused`` and cost 0, which the report
prices as saved by answer reuse. It costs nothing and moves no budget.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.calls import MAX_LANGUAGE_CHARS, MAX_WORKSPACE_CHARS, SCOPE_LEVELS, ledger_id
from gateway.errors import ApiError
from gateway.fields import get_bool, get_int, get_str, invalid
from gateway.http import caller, json_body
from routing.control import Outcome
from routing.policy import LOCAL, OVERFLOW
from routing.tasks import TaskKind
from routing.usage.ledger import FEEDBACK_KINDS, REUSED

MAX_REUSED_TOKENS = 10_000_000


async def reused(request: Request) -> Response:
    gateway, principal = await caller(request)
    body = await json_body(request, gateway)
    task = _task(body, required=True)
    scope_level = get_str(body, "scope_level", "scope_level", default="repository")
    if scope_level not in SCOPE_LEVELS:
        raise invalid("scope_level", f"must be one of {', '.join(SCOPE_LEVELS)}")
    target = get_str(body, "target", "target", required=True)
    if target not in (LOCAL, OVERFLOW) and target not in gateway.runtime.providers:
        raise invalid("target", f"unknown target {target!r}")
    model = get_str(body, "model", "model")[:128]
    tokens = [get_int(body, key, key, maximum=MAX_REUSED_TOKENS) or 0 for key in ("input_tokens", "output_tokens")]
    language = get_str(body, "language", "language", max_chars=MAX_LANGUAGE_CHARS)
    workspace = get_str(body, "workspace", "workspace", max_chars=MAX_WORKSPACE_CHARS)
    request_id = ledger_id(get_str(body, "request_id", "request_id") or "reuse")
    outcome = Outcome(
        request_id=request_id,
        user=principal.name,
        team=principal.team,
        task=task,
        scope_level=scope_level,
        target=target,
        model=model,
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        outcome=REUSED,
        workspace=workspace,
        reason="answer reused: inputs unchanged",
        language=language,
    )
    await gateway.service.record(outcome)
    return JSONResponse({"request_id": request_id})


async def feedback(request: Request) -> Response:
    gateway, principal = await caller(request)
    body = await json_body(request, gateway)
    request_id = get_str(body, "request_id", "request_id", required=True)
    if "accepted" not in body:
        raise invalid("accepted", "is required")
    accepted = get_bool(body, "accepted", "accepted")
    task = _task(body, default=TaskKind.INLINE_COMPLETION.value)
    kind = get_str(body, "kind", "kind", default="completion")
    if kind not in FEEDBACK_KINDS:
        raise invalid("kind", f"must be one of {', '.join(FEEDBACK_KINDS)}")
    ledger = gateway.ledger
    if ledger is None:
        raise ApiError(503, "not_ready", "the ledger is unavailable")
    await asyncio.to_thread(ledger.flush, 5.0)  # the row may still be in the writer's queue
    entry = await asyncio.to_thread(ledger.get, request_id)
    if entry is None or entry.user != principal.name:
        raise ApiError(404, "not_found", f"no request {request_id!r} of yours")
    await gateway.service.feedback(request_id, accepted, task, kind)
    return JSONResponse({"request_id": request_id, "accepted": accepted})


def _task(body: dict[str, Any], *, required: bool = False, default: str = "") -> str:
    """The body's ``task``: a task name (400 naming ``task`` otherwise)."""
    task = get_str(body, "task", "task", required=required, default=default)
    try:
        TaskKind(task)
    except ValueError:
        raise invalid("task", f"unknown task {task!r}") from None
    return task
