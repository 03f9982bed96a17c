"""Answer reuse for the repository commands: the stored answer of unchanged inputs, as an :class:`AssistResult`.

:func:`lookup` keys a command's inputs (user, task, instruction, the digest's
hash, the task's model tiers and the local model; :func:`lsp_server.tasks.answer_store.answer_key`)
and returns the stored answer as a result marked ``from_cache`` at no cost
(its footer says "cached"); :func:`keep` stores an answer that was used.
The store lives under the data directory (``<data_dir>/answers``).
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.types import Usage
from lsp_server.analysis.scope import ScopeReport
from lsp_server.host import Host
from lsp_server.requests import AssistResult, RouteExplanation
from lsp_server.tasks.answer_store import AnswerStore, StoredAnswer, answer_key, store_in
from lsp_server.tasks.repository import Digest
from routing.policy import RouteDecision, RouteTarget
from routing.tasks import TaskKind

REUSED = "answer reused: the digest, task, instruction and model tiers are unchanged (no model call, no cost)"


@dataclass(frozen=True, slots=True)
class Reuse:
    """Where a command's answer is (or would be) stored, and the answer found there."""

    store: AnswerStore
    key: str
    found: StoredAnswer | None


def lookup(ls: Host, task: TaskKind, instruction: str, digest: Digest) -> Reuse:
    """The stored answer for these inputs, if any."""
    settings = ls.session.settings
    policy = settings.routing.for_team(settings.team).tasks.get(task.value)
    tiers = [policy.model_dump() if policy is not None else None, ls.assistant.runtime.local_state().model]
    key = answer_key(settings.user, task.value, instruction, digest.text, tiers)
    store = store_in(settings.data_dir)
    return Reuse(store, key, store.get(key))


def reused_result(task: TaskKind, digest: Digest, stored: StoredAnswer) -> AssistResult:
    """``stored`` as the command's result: the route it came from, marked cached, at no cost."""
    scope = ScopeReport(
        "repository", None, "repository", "", (0, 0, 0, 0), (), (), digest.tokens, (REUSED,), task.value
    )
    target = RouteTarget(stored.target, stored.model, stored.cloud)
    decision = RouteDecision(target, (), digest.tokens, stored.completion_tokens, (REUSED,))
    return AssistResult(
        stored.text,
        RouteExplanation(task, scope, decision),
        target=stored.target,
        model=stored.model,
        usage=Usage(0, 0, stored.completion_tokens),
        from_cache=True,
    )


def keep(reuse: Reuse, result: AssistResult) -> None:
    """Store ``result`` (an answer that was used) for the next command with the same inputs."""
    if result.from_cache or not result.text.strip():
        return
    answer = StoredAnswer(
        result.text, result.target, result.model, result.cloud, result.usage.completion_tokens, result.cost_usd
    )
    reuse.store.put(reuse.key, answer)
