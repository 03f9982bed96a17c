"""Prometheus metrics of the request pipeline, in a registry of their own, with bounded labels.

Every :class:`UsageMetrics` owns a fresh :class:`CollectorRegistry` (never
the global one), so tests and several servers in one process do not clash;
:func:`start_metrics_server` serves it over HTTP. The dashboard in
``deploy/grafana/hybrid-assist.json`` uses exactly these names.

=============================================  =========  ==================================
metric                                         type       labels
=============================================  =========  ==================================
hybrid_assist_requests_total                   counter    target, task, outcome
hybrid_assist_request_duration_seconds         histogram  target, task
hybrid_assist_time_to_first_token_seconds      histogram  target, task
hybrid_assist_tokens_total                     counter    target, kind (input|cached|output)
hybrid_assist_cost_usd_total                   counter    target, task
hybrid_assist_fallbacks_total                  counter    from_target, to_target
hybrid_assist_circuit_state                    gauge      target (0 closed, 1 half-open, 2 open)
hybrid_assist_local_queue_depth                gauge      (none)
hybrid_assist_budget_remaining_usd             gauge      team
hybrid_assist_budget_blocked_total             counter    scope (user|team)
hybrid_assist_rate_limited_total               counter    (none)
hybrid_assist_completion_feedback_total        counter    task, outcome (accepted|rejected)
=============================================  =========  ==================================

Cardinality is bounded: ``task`` takes the :class:`~routing.tasks.TaskKind`
values (anything else is ``other``); ``target`` (local, overflow, provider
names, none), ``outcome`` (ok, an error class name, cancelled, ...) and
``team`` each keep their first N distinct values and fold the rest into
``other``. There are no per-user, per-file or per-prompt labels.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server
from prometheus_client.metrics import MetricWrapperBase

from inference.types import Usage
from routing.tasks import TaskKind

logger = logging.getLogger(__name__)

OTHER = "other"
MAX_TARGETS = 16
MAX_OUTCOMES = 24
MAX_TEAMS = 100
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(slots=True)
class _BoundedLabel:
    """Keeps the first ``limit`` distinct values of a label; later ones become ``other``."""

    name: str
    limit: int
    allowed: frozenset[str] | None = None  # a closed set: anything else is ``other``
    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, value: str) -> str:
        if self.allowed is not None:
            return value if value in self.allowed else OTHER
        if value in self.seen:
            return value
        with self.lock:
            if value in self.seen:
                return value
            if len(self.seen) >= self.limit:
                return OTHER
            self.seen.add(value)
            if len(self.seen) == self.limit:
                logger.warning(
                    "metrics label %r reached %d values; new ones are reported as %r", self.name, self.limit, OTHER
                )
            return value


M = TypeVar("M", bound=MetricWrapperBase)


class Children(Generic[M]):
    """A labelled metric's children, each looked up once.

    ``labels()`` validates its arguments and takes a lock on every call; on a
    path that runs for every request, a dictionary lookup is enough. The label
    values reaching it are already bounded (see :class:`_BoundedLabel`).
    """

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class UsageMetrics:
    """The metrics one server exports; the pipeline calls the ``observe_*`` and ``set_*`` methods."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._task = _BoundedLabel("task", len(TaskKind), allowed=frozenset(t.value for t in TaskKind))
        self._target = _BoundedLabel("target", MAX_TARGETS)
        self._outcome = _BoundedLabel("outcome", MAX_OUTCOMES)
        self._team = _BoundedLabel("team", MAX_TEAMS)
        r = self.registry
        self.requests = Counter(
            "hybrid_assist_requests",
            "Requests served, by route target, task and outcome.",
            ["target", "task", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "hybrid_assist_request_duration_seconds",
            "End-to-end latency of a request (fallbacks included).",
            ["target", "task"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "hybrid_assist_time_to_first_token_seconds",
            "Time from the request to the first streamed token.",
            ["target", "task"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "hybrid_assist_tokens",
            "Tokens processed, by target and kind (input, cached, output).",
            ["target", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "hybrid_assist_cost_usd", "Money spent on requests in US dollars.", ["target", "task"], registry=r
        )
        self.fallbacks = Counter(
            "hybrid_assist_fallbacks",
            "Requests moved from one target to the next after a failure.",
            ["from_target", "to_target"],
            registry=r,
        )
        self.circuit = Gauge(
            "hybrid_assist_circuit_state",
            "Circuit breaker per target: 0 closed, 1 half-open, 2 open.",
            ["target"],
            registry=r,
        )
        self.local_queue = Gauge(
            "hybrid_assist_local_queue_depth", "Requests waiting for the local engine.", registry=r
        )
        self.budget_remaining = Gauge(
            "hybrid_assist_budget_remaining_usd",
            "Monthly cloud budget left per team in US dollars.",
            ["team"],
            registry=r,
        )
        self.budget_blocked = Counter(
            "hybrid_assist_budget_blocked",
            "Cloud requests refused by a hard budget (served locally).",
            ["scope"],
            registry=r,
        )
        self.rate_limited = Counter(
            "hybrid_assist_rate_limited", "Requests refused by a per-user rate limit.", registry=r
        )
        self.feedback = Counter(
            "hybrid_assist_completion_feedback",
            "Completions the editor reported as accepted or rejected.",
            ["task", "outcome"],
            registry=r,
        )
        self._requests = Children(self.requests)
        self._latency = Children(self.latency)
        self._ttft = Children(self.ttft)
        self._tokens = Children(self.tokens)
        self._cost = Children(self.cost)
        self._circuit = Children(self.circuit)

    def observe_request(
        self,
        task: str,
        target: str,
        outcome: str,
        latency_s: float,
        ttft_s: float | None = None,
        usage: Usage | None = None,
        cost_usd: float = 0.0,
    ) -> None:
        """One finished request (any outcome)."""
        task, target = self._task(task), self._target(target)
        self._requests(target, task, self._outcome(outcome)).inc()
        self._latency(target, task).observe(max(0.0, latency_s))
        if ttft_s is not None:
            self._ttft(target, task).observe(max(0.0, ttft_s))
        if usage is not None:
            uncached = max(0, usage.prompt_tokens - usage.cached_tokens)
            self._tokens(target, "input").inc(uncached)
            self._tokens(target, "cached").inc(usage.cached_tokens)
            self._tokens(target, "output").inc(usage.completion_tokens)
        if cost_usd > 0:
            self._cost(target, task).inc(cost_usd)

    def observe_fallback(self, from_target: str, to_target: str) -> None:
        self.fallbacks.labels(self._target(from_target), self._target(to_target)).inc()

    def set_circuit(self, target: str, state: str) -> None:
        """``state`` is ``closed``, ``half_open`` or ``open`` (as :class:`routing.circuit.CircuitBreakers` says)."""
        if state not in CIRCUIT_STATES:
            raise ValueError(f"unknown circuit state {state!r}; expected one of {', '.join(CIRCUIT_STATES)}")
        self._circuit(self._target(target)).set(CIRCUIT_STATES[state])

    def set_local_queue(self, n: int) -> None:
        self.local_queue.set(n)

    def observe_feedback(self, accepted: bool, task: str = TaskKind.INLINE_COMPLETION.value) -> None:
        self.feedback.labels(self._task(task), "accepted" if accepted else "rejected").inc()

    def set_budget_remaining(self, team: str, usd: float) -> None:
        self.budget_remaining.labels(self._team(team)).set(usd)

    def observe_budget_blocked(self, scope: str) -> None:
        self.budget_blocked.labels("team" if scope == "team" else "user").inc()

    def observe_rate_limited(self) -> None:
        self.rate_limited.inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


@dataclass(frozen=True, slots=True)
class MetricsServer:
    """A running metrics endpoint; ``port`` is the bound port (useful when 0 was asked for)."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)


def start_metrics_server(registry: CollectorRegistry, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread; port 0 picks a free port."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    bound = server.server_address[1]
    logger.info("metrics at http://%s:%d/metrics", host, bound)
    return MetricsServer(host, int(bound), server, thread)
