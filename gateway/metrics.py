"""The gateway's own Prometheus metrics (requests by endpoint and status, durations, open streams).

They are registered on the :class:`routing.usage.metrics.UsageMetrics`
registry, so ``/metrics`` exports the router's and the gateway's metrics
together. :class:`MetricsMiddleware` observes every HTTP request; the
endpoint label is the route's path (or ``other``), so its values are bounded.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from routing.usage.metrics import Children

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry, endpoints: frozenset[str]) -> None:
        self.endpoints = endpoints
        self.requests = Counter(
            "hybrid_gateway_http_requests",
            "HTTP requests answered by the gateway, by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "hybrid_gateway_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer (whole streams included).",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.open_streams = Gauge("hybrid_gateway_open_streams", "Streaming answers in progress.", registry=registry)
        self.disconnects = Counter(
            "hybrid_gateway_client_disconnects",
            "Answers abandoned by the client before they were complete (the generation is aborted).",
            registry=registry,
        )
        self.auth_failures = Counter(
            "hybrid_gateway_auth_failures", "Requests refused for a missing, unknown or revoked key.", registry=registry
        )
        self.requests_by = Children(self.requests)
        self.duration_by = Children(self.duration)

    def endpoint_label(self, path: str) -> str:
        if path in self.endpoints:
            return path
        if path.startswith("/v1/admin/users/"):
            return "/v1/admin/users/{name}"
        return "other"


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI, so streams are timed to their end)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observe_send)
        finally:
            endpoint = self.metrics.endpoint_label(scope.get("path", ""))
            method = scope.get("method", "")
            self.metrics.requests_by(endpoint, method if method in _METHODS else "other", str(status)).inc()
            self.metrics.duration_by(endpoint).observe(time.perf_counter() - started)
            if status == 401:
                self.metrics.auth_failures.inc()
