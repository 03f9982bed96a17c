"""The project's own request and result types, between LSP handlers and the assistant.

Handlers translate LSP params into an :class:`AssistRequest` and an
:class:`AssistResult` back into LSP types; nothing else crosses that line.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from inference.types import Usage
from lsp_server.analysis.scope import ScopeReport
from routing.executor import Attempt
from routing.policy import RouteDecision
from routing.tasks import TaskKind


def new_request_id(prefix: str = "ha") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True, slots=True)
class AssistRequest:
    """One thing the user asked for, at one place in one document."""

    task: TaskKind
    uri: str
    byte_offset: int
    selection: tuple[int, int] | None = None  # byte offsets
    instruction: str = ""  # e.g. a migration target, a diagnostic message
    request_id: str = field(default_factory=new_request_id)
    context_uris: tuple[str, ...] = ()  # other files whose text ``instruction`` carries (e.g. a test file)
    tier: int = 0  # cheap first: the task's tier asked (0: the policy's choice; n: its nth cloud tier on)
    escalation: bool = False  # asked again after an answer failed its check: the cloud tiers only, from ``tier`` on
    escalate_after: tuple[str, str] | None = None  # the failing answer's (target, model), for the gateway's tiers
    reuse: bool = False  # answer reuse: a stored answer to the very same prompt is used (code actions' edits)
    language: str | None = None  # the language the ledger records (None: the document's; "": unknown or mixed)


@dataclass(frozen=True, slots=True)
class RouteExplanation:
    """What ``hybrid.explainRoute`` returns, before any model is called."""

    task: TaskKind
    scope: ScopeReport
    decision: RouteDecision
    withheld: tuple[str, ...] = ()  # URIs of sensitive context files whose content is withheld from the request

    def to_json(self) -> dict[str, object]:
        return {
            "task": self.task.value,
            "scope": self.scope.to_json(),
            "route": self.decision.to_json(),
            "estimate": {
                "input_tokens": self.decision.input_tokens,
                "output_tokens": self.decision.output_tokens,
                "cost_usd": round(self.decision.cost_usd, 6),
            },
        }


@dataclass(frozen=True, slots=True)
class AssistResult:
    """The answer to an :class:`AssistRequest`, with where it ran and what it cost."""

    text: str
    explanation: RouteExplanation
    target: str = ""  # where it actually ran (may differ from the decision after a fallback)
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    attempts: tuple[Attempt, ...] = ()
    empty_reason: str = ""  # why there is no text, for the user
    notice: str = ""  # a one-time message for the user (fallback, overload...)
    multiline: bool = False
    from_cache: bool = False  # served from the completion cache or a stored answer, no engine call
    reuse_key: str = ""  # where the answer is stored once it was used (answer reuse; "": not kept)
    request_id: str = ""

    @property
    def cloud(self) -> bool:
        return any(t.target == self.target and t.cloud for t in self.explanation.decision.chain())

    def footer(self) -> str:
        """The one-line route footer under hover and code-action answers."""
        where = "cloud" if self.cloud else "on-premises"
        target = self.target or self.explanation.decision.target
        model = self.model or self.explanation.decision.model
        fallback = " (fallback)" if len(self.attempts) > 1 else " (cached)" if self.from_cache else ""
        return f"via {target}{fallback} · {model or 'n/a'} · {where} · ${self.cost_usd:.4f} · {self.latency_ms:.0f} ms"

    def to_json(self) -> dict[str, object]:
        data = self.explanation.to_json()
        data.update(
            {
                "text": self.text,
                "usage": {
                    "prompt_tokens": self.usage.prompt_tokens,
                    "cached_tokens": self.usage.cached_tokens,
                    "completion_tokens": self.usage.completion_tokens,
                    "cost_usd": round(self.cost_usd, 6),
                },
                "latency_ms": round(self.latency_ms, 1),
                "ttft_ms": None if self.ttft_ms is None else round(self.ttft_ms, 1),
                "served_by": {"target": self.target, "model": self.model},
                "attempts": [
                    {"target": a.target, "model": a.model, "outcome": a.outcome, "detail": a.detail}
                    for a in self.attempts
                ],
                "empty_reason": self.empty_reason,
                "from_cache": self.from_cache,
            }
        )
        return data
