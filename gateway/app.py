"""``create_app``: the gateway's Starlette application (served by uvicorn in ``gateway serve``).

The :class:`~gateway.state.Gateway` (database, engines, router, usage
control, users) is built by the composition root
(:mod:`hybrid_assist.gateway_app`) and handed in; the lifespan starts the
local engine in the background and, at shutdown, cancels open calls, stops
the engines and flushes the ledger. ``/healthz`` is liveness, ``/readyz`` is
503 while the local engine starts (and, unless ``[gateway_server]
ready_without_local``, when it failed, with the reason; and while the usage
database is down, with ``database``'s reason), ``/metrics`` is the
Prometheus exposition.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import admin, anthropic_api, assist, feedback, openai_api, outage
from gateway.errors import ApiError, api_error_handler, error_body, http_error_handler
from gateway.hot_routes import HotRoutes
from gateway.http import gateway_of
from gateway.metrics import MetricsMiddleware
from gateway.state import Gateway

logger = logging.getLogger(__name__)


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    gateway = gateway_of(request)
    runtime = gateway.runtime
    state = runtime.local_state()
    local = {"available": state.available, "model": state.model, "reason": state.reason}
    database = outage.database_json(gateway)
    if not database["available"]:  # local requests are still served; this replica cannot take budgeted ones
        reason = str(database["reason"])
        return JSONResponse(
            {"ready": False, "local": local, "database": database, **error_body("not_ready", reason)}, status_code=503
        )
    if state.available:
        return JSONResponse({"ready": True, "local": local, "database": database})
    failed = bool(runtime.local_error) or runtime.local is None
    if failed and gateway.settings.gateway_server.ready_without_local:
        return JSONResponse({"ready": True, "local": local})
    reason = f"local engine failed: {state.reason}" if failed else state.reason
    body = {"ready": False, "local": local, **error_body("not_ready", reason)}
    return JSONResponse(body, status_code=503)


async def metrics(request: Request) -> Response:
    gateway = gateway_of(request)
    local = gateway.runtime.local
    if local is not None:
        gateway.usage_metrics.set_local_queue(local.load().queued)
    return Response(gateway.usage_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


ROUTES = [
    Route("/v1/chat/completions", openai_api.chat_completions, methods=["POST"]),
    Route("/v1/completions", openai_api.completions, methods=["POST"]),
    Route("/v1/assist", assist.assist, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/v1/route/explain", assist.explain, methods=["POST"]),
    Route("/v1/models", openai_api.list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", openai_api.retrieve_model, methods=["GET"]),
    Route("/v1/messages", anthropic_api.messages, methods=["POST"]),
    Route("/v1/messages/count_tokens", anthropic_api.count_tokens, methods=["POST"]),
    Route("/v1/usage/me", admin.my_usage, methods=["GET"]),
    Route("/v1/feedback", feedback.feedback, methods=["POST"]),
    Route("/v1/reused", feedback.reused, methods=["POST"]),
    Route("/v1/admin/users", admin.list_users, methods=["GET"]),
    Route("/v1/admin/users", admin.create_user, methods=["POST"]),
    Route("/v1/admin/users/{name}/revoke", admin.revoke_user, methods=["POST"]),
    Route("/v1/admin/users/{name}", admin.revoke_user, methods=["DELETE"]),
    Route("/v1/admin/keys/rotate", admin.rotate_key, methods=["POST"]),
    Route("/v1/admin/budgets", admin.set_budget, methods=["POST"]),
    Route("/v1/admin/usage", admin.admin_usage, methods=["GET"]),
    Route("/v1/admin/routing/learn", admin.learn_routing, methods=["POST"]),
    Route("/v1/admin/routing/learned", admin.revert_learned, methods=["DELETE"]),
]
ENDPOINTS = frozenset(r.path for r in ROUTES if "{" not in r.path)
#: Served by :class:`~gateway.hot_routes.HotRoutes` before the router (the router keeps them for 405s).
HOT_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/assist", "/v1/messages"})


def create_app(gateway: Gateway) -> Starlette:
    """The gateway application serving ``gateway`` (built by :func:`hybrid_assist.gateway_app.build_gateway`)."""
    built = gateway

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        built.runtime.start_local_in_background()
        for start in built.background:
            built.track(asyncio.create_task(start()))
        tune_for_latency()
        logger.info("gateway ready to accept requests; the local engine is starting in the background")
        try:
            yield
        finally:
            await built.close()

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        middleware=[
            Middleware(MetricsMiddleware, metrics=gateway.metrics),
            Middleware(HotRoutes, routes=[r for r in ROUTES if r.path in HOT_PATHS]),
        ],
        exception_handlers={ApiError: api_error_handler, HTTPException: http_error_handler, Exception: _internal},
    )
    app.state.gateway = gateway
    return app


def tune_for_latency() -> None:
    """Keep the event loop's pauses short: it answers every request, on one thread.

    - ``gc.freeze()``: what was loaded at start lives as long as the process; the
      collector's full passes no longer walk it (they paused requests for
      milliseconds to hundreds of milliseconds).
    - A 1 ms GIL switch interval (Python's default is 5 ms): the ledger writer's
      thread gives the interpreter back to the event loop within 1 ms.
    - The youngest generation is collected every 5,000 net allocations rather
      than 700 (issue 21.6): a request allocates a few hundred containers, so
      at 700 one request in 25 paused for a collection (0.5 ms of CPU each,
      1.7 ms every tenth, when the next generation is collected too), and
      collections took 1.6 % of the gateway's CPU as a proxy at 300
      requests/s; at 5,000, one in 430 pauses (2.6 ms) and 0.4 %.
    """
    gc.freeze()
    gc.set_threshold(5000, *gc.get_threshold()[1:])
    sys.setswitchinterval(0.001)


async def _internal(request: Request, exc: Exception) -> Response:
    if (unavailable := outage.as_api_error(gateway_of(request), exc)) is not None:
        return await api_error_handler(request, unavailable)
    logger.error("unhandled error", exc_info=exc)
    return JSONResponse(error_body("internal", f"internal error ({type(exc).__name__})"), status_code=500)
