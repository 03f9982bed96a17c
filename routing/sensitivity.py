"""Is this code sensitive? Path globs mark whole files as on-premises only.

A glob is matched against the file's absolute POSIX path and against its
path relative to each workspace root, so ``**/secrets/**`` and ``.env*``
both work as users expect.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath


def sensitive_path_reasons(path: str, globs: Sequence[str], roots: Iterable[str] = ()) -> tuple[str, ...]:
    """Reasons ``path`` is sensitive (empty when it is not)."""
    if not path:
        return ()
    candidates = {path}
    name = PurePosixPath(path).name
    candidates.add(name)
    for root in roots:
        root = root.rstrip("/") + "/"
        if path.startswith(root):
            candidates.add(path[len(root) :])
    for pattern in globs:
        bare = pattern[3:] if pattern.startswith("**/") else pattern
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern) or fnmatch.fnmatchcase(candidate, bare):
                return (f"sensitive path: {name} matches {pattern!r}; kept on the premises",)
    return ()
