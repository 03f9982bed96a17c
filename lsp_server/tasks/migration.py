"""Migration targets: named by the user in the file, or by the client in the code action's data.

The language server has no way to ask for free text, so the target comes
from either of:

- a marker comment anywhere in the document, ``hybrid-assist: migrate-to
  <target>`` (e.g. ``# hybrid-assist: migrate-to Python 3.12 with dataclasses``);
  each marker lists one "AI: migrate to <target>" code action;
- ``data["target"]`` of the code action, which a client may set or change
  before ``codeAction/resolve`` (an editor extension prompting the user).

Without either, no migration action is listed, and resolving one without a
target answers with a message saying how to name it.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"hybrid-assist:\s*migrate-to\s+(?P<target>[^\r\n]+)")
_CLOSERS = re.compile(r"\s*(?:\*/|-->|\*\)|#\})?\s*$")

HOW_TO_NAME = (
    "name the migration target with a comment in the file, e.g. "
    "`# hybrid-assist: migrate-to Python 3.12`, or in the code action's data (`target`)"
)


def migration_targets(text: str, limit: int = 5) -> list[str]:
    """The distinct targets named by marker comments in ``text``, in order (at most ``limit``)."""
    targets: list[str] = []
    for match in _MARKER.finditer(text):
        target = _CLOSERS.sub("", match.group("target")).strip()[:120]
        if target and target not in targets:
            targets.append(target)
        if len(targets) >= limit:
            break
    return targets
