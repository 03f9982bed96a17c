"""The task identifiers analysis understands, and how far each reaches by nature.

Scope measurement starts from the task: some tasks are repository-wide by
their nature, whatever the cursor position; the rest are measured from the
code around the cursor.

| task                  | reach by nature                                   |
| --------------------- | ------------------------------------------------- |
| completion            | measured (single_file or multi_file)              |
| inline_completion     | measured                                          |
| explain               | measured                                          |
| docstring             | measured                                          |
| naming                | measured                                          |
| refactor              | measured                                          |
| tests                 | measured                                          |
| fix                   | measured                                          |
| multi_file_refactor   | at least multi_file (measured, then raised)       |
| review                | repository (a review of the repository)           |
| architecture          | repository                                        |
| documentation         | repository (comprehensive documentation)          |
| security              | repository (security audit)                       |
| migration             | repository                                        |
| performance           | repository (performance analysis)                 |
| api_integration       | repository                                        |

Single-unit variants of the repository tasks exist under their own names:
``docstring`` documents one unit, ``refactor`` and ``fix`` change one unit,
``explain`` explains one unit. The identifiers and the repository-wide set are defined once, in
:mod:`routing.tasks`; this module re-exports them for analysis.
"""

from __future__ import annotations

from routing.tasks import COMPLETION_TASKS, REPOSITORY_TASKS, TaskKind, parse_task

REPOSITORY_WIDE_TASKS: frozenset[TaskKind] = REPOSITORY_TASKS
"""Tasks whose scope is the repository whatever the cursor position."""

MULTI_FILE_TASKS: frozenset[TaskKind] = frozenset({TaskKind.MULTI_FILE_REFACTOR})
"""Tasks whose scope is at least ``multi_file``."""

__all__ = ["COMPLETION_TASKS", "MULTI_FILE_TASKS", "REPOSITORY_WIDE_TASKS", "TaskKind", "parse_task"]
