"""``HotRoutes``: the endpoints nearly every request takes, dispatched without Starlette's router.

Starlette's router, its exception middleware and the wrappers it builds for
each request cost about 0.1 ms per request on the 2-core benchmark machine,
a tenth of the gateway's whole cost per request. This middleware sits
inside the metrics middleware and in front of the router. It serves the
OpenAI-compatible endpoints, ``/v1/messages`` and ``/v1/assist`` by exact path and method. It
answers errors the way the application does: an
:class:`~gateway.errors.ApiError` becomes its JSON error, Starlette's
``HTTPException`` becomes the JSON 4xx, and anything else goes on to the
application's 500 handler — except an error caused by the unreachable usage
database, which is the 503 of :mod:`gateway.outage`. Other paths, other methods on these paths (405),
and the lifespan go to the Starlette application unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import ApiError, api_error_handler, http_error_handler
from gateway.http import gateway_of
from gateway.outage import as_api_error

Endpoint = Callable[[Request], Awaitable[Response]]


class HotRoutes:
    def __init__(self, app: ASGIApp, routes: Iterable[Route]) -> None:
        """``routes``: plain (not parameterised) routes of the application, served here by exact path and method."""
        self.app = app
        self.endpoints: dict[tuple[str, str], Endpoint] = {
            (route.path, method): route.endpoint for route in routes for method in route.methods or ()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get((scope["path"], scope["method"])) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except ApiError as exc:
            response = await api_error_handler(request, exc)
        except HTTPException as exc:
            response = await http_error_handler(request, exc)
        except Exception as exc:  # the usage database down: 503 with Retry-After, not 500
            if (unavailable := as_api_error(gateway_of(request), exc)) is None:
                raise
            response = await api_error_handler(request, unavailable)
        await response(scope, receive, send)
