"""Run a :class:`RouteDecision`: call its targets in order until one answers, within a deadline.

Availability errors (:class:`inference.errors.RetryableError`, and an
authentication failure of one provider) move on to the next target and are
recorded as attempts; other errors reach the caller. A cancelled caller
aborts the generation in the engine (closing the stream and calling
``Backend.abort``), so a stale completion frees its GPU slot at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from inference.backend import Backend, collect
from inference.errors import AuthenticationError, InferenceError, RetryableError, UnavailableError
from inference.types import GenerationRequest, ToolCall, ToolCallDelta, Usage
from routing.circuit import CircuitBreakers
from routing.policy import RouteDecision, RouteTarget

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attempt:
    target: str
    model: str
    outcome: str  # "ok" | the error class name | "cancelled"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    text: str
    target: RouteTarget
    usage: Usage
    finish_reason: str
    ttft_ms: float | None
    latency_ms: float
    attempts: tuple[Attempt, ...]
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def fell_back(self) -> bool:
        return len(self.attempts) > 1


class NoTargetError(UnavailableError):
    """Every target of the decision failed or none was allowed; ``attempts`` says what happened."""

    def __init__(self, message: str, attempts: tuple[Attempt, ...] = ()) -> None:
        super().__init__(message)
        self.attempts = attempts


class RouteExecutor:
    """Calls backends for decisions, with fallbacks and circuit breakers."""

    def __init__(self, backends: Mapping[str, Backend], breakers: CircuitBreakers | None = None) -> None:
        self.backends = backends
        self.breakers = breakers or CircuitBreakers()

    async def execute(
        self,
        decision: RouteDecision,
        request: GenerationRequest,
        deadline_s: float,
        on_text: Callable[[str], None] | None = None,
        *,
        cloud_request: GenerationRequest | None = None,
        on_tool_call: Callable[[ToolCallDelta], None] | None = None,
    ) -> ExecutionResult:
        """Serve ``decision`` by its chain of targets within ``deadline_s``.

        Each target gets ``request`` with its own model filled in (targets that
        leave the premises get ``cloud_request`` instead when given: the
        request with its secrets redacted).

        With ``on_text`` the answer is forwarded as it streams (tool-call pieces
        through ``on_tool_call``); once a piece has been forwarded a failure is raised instead of falling back (the
        client already holds part of one target's answer).
        """
        attempts: list[Attempt] = []
        started = time.monotonic()
        forwarded = False

        def forward(text: str) -> None:
            nonlocal forwarded
            forwarded = True
            assert on_text is not None
            on_text(text)

        def forward_call(delta: ToolCallDelta) -> None:
            nonlocal forwarded
            forwarded = True
            assert on_tool_call is not None
            on_tool_call(delta)

        for target in decision.chain():
            backend = self.backends.get(target.target)
            if backend is None:
                attempts.append(Attempt(target.target, target.model, "UnavailableError", "not configured"))
                continue
            if not self.breakers.allows(target.target):
                attempts.append(Attempt(target.target, target.model, "CircuitOpen", "circuit open"))
                continue
            remaining = deadline_s - (time.monotonic() - started)
            if remaining <= 0:
                attempts.append(Attempt(target.target, target.model, "InferenceTimeoutError", "deadline passed"))
                break
            base = cloud_request if target.cloud and cloud_request is not None else request
            sent = dataclasses.replace(base, model=target.model)
            try:
                async with asyncio.timeout(remaining):  # no extra task, unlike wait_for on 3.11
                    result = await collect(
                        backend,
                        sent,
                        forward if on_text is not None else None,
                        forward_call if on_tool_call is not None else None,
                    )
            except asyncio.CancelledError:
                attempts.append(Attempt(target.target, target.model, "cancelled"))
                await _abort_quietly(backend, sent.request_id)
                raise
            except TimeoutError:
                await _abort_quietly(backend, sent.request_id)
                self.breakers.record_failure(target.target)
                attempts.append(Attempt(target.target, target.model, "InferenceTimeoutError", "deadline passed"))
                break
            except (RetryableError, AuthenticationError) as exc:
                self.breakers.record_failure(target.target)
                attempts.append(Attempt(target.target, target.model, type(exc).__name__, exc.message))
                if forwarded:  # part of this answer is with the client: no fallback, but say what was tried
                    raise NoTargetError(
                        f"{target.target} failed after part of its answer was sent ({exc.message})", tuple(attempts)
                    ) from exc
                logger.warning("target %s failed (%s); trying the next", target.target, type(exc).__name__)
                continue
            except InferenceError as exc:
                attempts.append(Attempt(target.target, target.model, type(exc).__name__, exc.message))
                raise
            self.breakers.record_success(target.target)
            attempts.append(Attempt(target.target, target.model, "ok"))
            return ExecutionResult(
                text=result.text,
                target=target,
                usage=result.usage,
                finish_reason=result.finish_reason,
                ttft_ms=result.ttft_ms,
                latency_ms=result.latency_ms,
                attempts=tuple(attempts),
                tool_calls=result.tool_calls,
            )
        reasons = "; ".join(f"{a.target}: {a.outcome} {a.detail}".strip() for a in attempts)
        raise NoTargetError(f"no target could serve the request ({reasons or 'none allowed'})", tuple(attempts))


async def _abort_quietly(backend: Backend, request_id: str) -> None:
    try:
        await asyncio.shield(backend.abort(request_id))
    except Exception:  # abort is best effort; the stream is already closed
        logger.debug("abort of %s failed", request_id, exc_info=True)
