"""The task identifiers every layer shares, and which of them are repository-wide by nature.

The identifiers are a public contract: ``hybrid.explainRoute``, the CLI's
``--task`` and the policy tables use exactly these strings.
"""

from __future__ import annotations

import enum


class TaskKind(enum.StrEnum):
    COMPLETION = "completion"
    INLINE_COMPLETION = "inline_completion"
    EXPLAIN = "explain"
    DOCSTRING = "docstring"
    NAMING = "naming"
    REFACTOR = "refactor"
    TESTS = "tests"
    FIX = "fix"
    REVIEW = "review"
    MULTI_FILE_REFACTOR = "multi_file_refactor"
    ARCHITECTURE = "architecture"
    DOCUMENTATION = "documentation"
    SECURITY = "security"
    MIGRATION = "migration"
    PERFORMANCE = "performance"
    API_INTEGRATION = "api_integration"


#: Completion-like tasks: latency-critical, fill-in-the-middle, cheap to drop.
COMPLETION_TASKS: frozenset[TaskKind] = frozenset({TaskKind.COMPLETION, TaskKind.INLINE_COMPLETION})

#: Tasks whose natural reach is the whole repository (the reference design's cloud list).
REPOSITORY_TASKS: frozenset[TaskKind] = frozenset(
    {
        TaskKind.REVIEW,
        TaskKind.ARCHITECTURE,
        TaskKind.DOCUMENTATION,
        TaskKind.SECURITY,
        TaskKind.MIGRATION,
        TaskKind.PERFORMANCE,
        TaskKind.API_INTEGRATION,
    }
)


def parse_task(value: str) -> TaskKind:
    """The :class:`TaskKind` named ``value``; ``ValueError`` listing the valid names otherwise."""
    try:
        return TaskKind(value)
    except ValueError:
        names = ", ".join(t.value for t in TaskKind)
        raise ValueError(f"unknown task {value!r}; expected one of: {names}") from None
