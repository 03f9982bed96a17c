"""``POST /v1/feedback``: the editor accepted or rejected a completion the gateway served.

The body is ``{"request_id": <the id of the done event>, "accepted": bool,
"task": "inline_completion", "kind": "completion"}``; ``kind`` (optional) says
what the verdict is about: ``completion``, ``code_action`` (an AI code
action's edit applied or not), ``quick_fix`` (a review quick fix) or
``check`` (a checked answer passed or failed). A user can mark only their own requests: the
ledger row must exist and belong to the caller (404 otherwise, so another
user's request ids are not even confirmed). The mark is counted in the
metrics and stored beside the ledger row, as in embedded mode.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.errors import ApiError
from gateway.fields import get_bool, get_str, invalid
from gateway.http import caller, json_body
from routing.tasks import TaskKind
from routing.usage.ledger import FEEDBACK_KINDS


async def feedback(request: Request) -> Response:
    gateway, principal = await caller(request)
    body = await json_body(request, gateway)
    request_id = get_str(body, "request_id", "request_id", required=True)
    if "accepted" not in body:
        raise invalid("accepted", "is required")
    accepted = get_bool(body, "accepted", "accepted")
    task = get_str(body, "task", "task", default=TaskKind.INLINE_COMPLETION.value)
    try:
        TaskKind(task)
    except ValueError:
        raise invalid("task", f"unknown task {task!r}") from None
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
