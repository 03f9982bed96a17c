"""Is this code sensitive? Path globs mark whole files as on-premises only.

A glob is matched against the file's absolute POSIX path and against its
path relative to each workspace root, so ``**/secrets/**`` and ``.env*``
both work as users expect.

A request carries the text of its document and, as context, text from other
files (definitions, the files of a multi-file refactor, an existing test
file). :meth:`SensitiveRules.check` applies the rules to all of them, once,
for the language server and the gateway alike: a sensitive document keeps
the request on the premises; sensitive context does too under
``[sensitive] context = "keep_local"``, while under ``"withhold"`` the
request may leave with that content withheld (the caller replaces it).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

ContextMode = Literal["keep_local", "withhold"]

WITHHELD = "withheld: sensitive file"
"""What a withheld definition or file says in place of its content."""


def sensitive_path_reasons(path: str, globs: Sequence[str], roots: Iterable[str] = ()) -> tuple[str, ...]:
    """Reasons ``path`` is sensitive (empty when it is not)."""
    matched = _match(path, globs, roots)
    if matched is None:
        return ()
    return (f"sensitive path: {PurePosixPath(path).name} matches {matched!r}; kept on the premises",)


def _match(path: str, globs: Sequence[str], roots: Iterable[str]) -> str | None:
    """The first glob ``path`` matches (None: none does)."""
    if not path:
        return None
    candidates = {path}
    candidates.add(PurePosixPath(path).name)
    for root in roots:
        root = root.rstrip("/") + "/"
        if path.startswith(root):
            candidates.add(path[len(root) :])
    for pattern in globs:
        bare = pattern[3:] if pattern.startswith("**/") else pattern
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern) or fnmatch.fnmatchcase(candidate, bare):
                return pattern
    return None


@dataclass(frozen=True, slots=True)
class ContextCheck:
    """What the sensitivity rules make of one request's files."""

    reasons: tuple[str, ...] = ()
    """Why the request stays on the premises (empty: it may leave)."""
    withheld: tuple[str, ...] = ()
    """Context files (as given) whose content must be withheld if the request leaves."""
    notes: tuple[str, ...] = ()
    """What was withheld and why, for the route's reasons."""

    @property
    def sensitive(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True, slots=True)
class SensitiveRules:
    """``[sensitive] path_globs`` and ``context`` applied to a request's files (absolute POSIX paths)."""

    globs: tuple[str, ...]
    roots: tuple[str, ...] = ()
    context: ContextMode = "keep_local"

    def reasons(self, path: str) -> tuple[str, ...]:
        """Why ``path`` itself is sensitive (empty: it is not)."""
        return sensitive_path_reasons(path, self.globs, self.roots)

    def is_sensitive(self, path: str) -> bool:
        return _match(path, self.globs, self.roots) is not None

    def display(self, path: str) -> str:
        """``path`` relative to the innermost root holding it (as given when none does)."""
        holding = [r.rstrip("/") + "/" for r in self.roots if path.startswith(r.rstrip("/") + "/")]
        return path[len(max(holding, key=len)) :] if holding else path

    def check(self, document: str, context: Iterable[str], *, may_withhold: bool = True) -> ContextCheck:
        """The rules applied to a request on ``document`` whose context comes from the files ``context``.

        ``may_withhold``: the caller can take content out of the request (the
        gateway, which gets the text already assembled, cannot: sensitive
        context keeps its requests on the premises whatever ``context`` says).
        """
        reasons = list(self.reasons(document))
        withheld: list[str] = []
        notes: list[str] = []
        withhold = may_withhold and self.context == "withhold"
        for path in dict.fromkeys(context):
            if not path or path == document:
                continue
            pattern = _match(path, self.globs, self.roots)
            if pattern is None:
                continue
            shown = self.display(path)
            why = f"sensitive path: {PurePosixPath(path).name} matches {pattern!r}"
            if withhold:
                withheld.append(path)
                notes.append(f"context from {shown} withheld ({why}): sent without that file's content")
            else:
                reasons.append(f"context from {shown} ({why}): kept on the premises")
        return ContextCheck(tuple(reasons), tuple(withheld), tuple(notes))
