"""Finding the source files of a workspace folder, the way git would see them.

Skips the configured directory names at any depth (``.git``, ``node_modules``,
``.venv``, ...), ``.gitignore`` matches (every ``.gitignore`` from the folder
down, deeper files taking precedence, negations honoured), the
``extra_excludes`` patterns (gitignore syntax, relative to the folder), files
of unknown languages and files over the size cap. Symbolic links to
directories are not followed (no cycles).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pathspec import GitIgnoreSpec

from lsp_server.analysis.languages import language_from_path
from lsp_server.analysis.settings import AnalysisSettings

logger = logging.getLogger(__name__)


class CancelFlag(Protocol):
    """Anything with ``is_set()``: ``threading.Event`` or ``asyncio.Event``."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A file discovery accepted: absolute path, modification time and size."""

    path: str
    mtime_ns: int
    size: int


def _read_gitignore(directory: str) -> GitIgnoreSpec | None:
    try:
        with open(os.path.join(directory, ".gitignore"), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return GitIgnoreSpec.from_lines(lines) if lines else None


def _relative(path: str, base: str) -> str:
    """POSIX-style ``path`` relative to ``base`` (a prefix of it in the walk)."""
    prefix = base.rstrip(os.sep) + os.sep
    rel = path[len(prefix) :] if path.startswith(prefix) else os.path.relpath(path, base)
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


class WorkspaceFilter:
    """Decides which paths under one workspace folder belong to the index."""

    def __init__(self, root: Path, settings: AnalysisSettings) -> None:
        self.root = str(root)
        self.settings = settings
        self._exclude_dirs = frozenset(settings.exclude_dirs)
        self._extra = GitIgnoreSpec.from_lines(settings.extra_excludes) if settings.extra_excludes else None
        self._gitignores: dict[str, GitIgnoreSpec | None] = {}
        self._lock = threading.Lock()

    def _gitignore(self, directory: str) -> GitIgnoreSpec | None:
        with self._lock:
            if directory not in self._gitignores:
                self._gitignores[directory] = _read_gitignore(directory)
            return self._gitignores[directory]

    def contains(self, path: str) -> bool:
        """Whether ``path`` is inside this folder."""
        return path == self.root or path.startswith(self.root.rstrip(os.sep) + os.sep)

    def _ignored(self, path: str, is_dir: bool, parents: list[str]) -> bool:
        rel = _relative(path, self.root)
        suffix = "/" if is_dir else ""
        if self._extra is not None and self._extra.match_file(rel + suffix):
            return True
        if not self.settings.respect_gitignore:
            return False
        for directory in reversed(parents):
            spec = self._gitignore(directory)
            if spec is None:
                continue
            sub = _relative(path, directory) + suffix
            result = spec.check_file(sub)
            if result.include is not None:
                return bool(result.include)
        return False

    def accepts(self, path: str, size: int | None = None) -> bool:
        """Whether a file at ``path`` (absolute) would be indexed."""
        if not self.contains(path) or path == self.root:
            return False
        if language_from_path(path) is None:
            return False
        if size is not None and size > self.settings.max_file_bytes:
            return False
        rel_parts = os.path.relpath(path, self.root).split(os.sep)
        if any(part in self._exclude_dirs for part in rel_parts[:-1]):
            return False
        parents = [self.root]
        current = self.root
        for part in rel_parts[:-1]:
            current = os.path.join(current, part)
            if self._ignored(current, True, parents):
                return False
            parents.append(current)
        return not self._ignored(path, False, parents)

    def walk(self, cancel: CancelFlag | None = None, limit: int = 0) -> Iterator[FoundFile]:
        """Every indexable file under the folder, depth-first, sorted per directory."""
        max_bytes = self.settings.max_file_bytes
        stack: list[tuple[str, list[str]]] = [(self.root, [])]
        count = 0
        while stack:
            if cancel is not None and cancel.is_set():
                return
            directory, parents = stack.pop()
            chain = [*parents, directory]
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                logger.debug("cannot list %s: %s", directory, exc)
                continue
            subdirs: list[str] = []
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name in self._exclude_dirs:
                            continue
                        if self._ignored(entry.path, True, chain):
                            continue
                        subdirs.append(entry.path)
                        continue
                    if not entry.is_file():
                        continue
                    if language_from_path(entry.name) is None:
                        continue
                    stat = entry.stat()
                except OSError:
                    continue
                if stat.st_size > max_bytes or self._ignored(entry.path, False, chain):
                    continue
                yield FoundFile(entry.path, stat.st_mtime_ns, stat.st_size)
                count += 1
                if limit and count >= limit:
                    logger.warning("stopped discovery of %s after %d files", self.root, count)
                    return
            stack.extend((sub, chain) for sub in reversed(subdirs))
