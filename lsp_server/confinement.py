"""Confinement: the directories a session may read and write (``[server] allowed_roots``).

A multi-client server (``--tcp``/``--ws``) runs as one host user for many
editors, so a client must not pick what it reads: a workspace root (from
``initialize`` or ``workspace/didChangeWorkspaceFolders``) is accepted only
inside one of ``[server] allowed_roots``, and with none configured a network
session gets no root at all. Entries may name the session's user:
``{user}`` is replaced by the user of the session's key (without
authentication: the ``user`` of the server's own settings, never one the
client sends), and ``~`` is expanded afterwards, so ``/srv/src/{user}`` and
``~{user}/src`` give each user their own tree. Relative entries are ignored.

A confined session (any network session; a stdio session once
``allowed_roots`` is set) then reads and writes only inside its accepted
roots, judged after resolving links: :meth:`Confinement.allows` is the one
check the index, the repository digest, the on-disk fallbacks of code
actions and commands, and the documents the server writes all go through,
so a symlink inside a root pointing outside it is neither followed nor
written through. Documents the editor opens (``didOpen``) are served from
the text the editor sent wherever they live — that is not a read of the host
— but the server writes nothing outside the roots on their behalf. A stdio
session without ``allowed_roots`` is the editor's own process and is not
confined (:data:`UNCONFINED`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from lsp_server.analysis.paths import NotAFileUriError, uri_to_path, within

logger = logging.getLogger(__name__)

SETTING = "[server] allowed_roots"
_USER = "{user}"
NO_ALLOWED_ROOTS = (
    f"this server serves no workspace over the network until its admin sets {SETTING} (the directories "
    'workspaces may live in, e.g. allowed_roots = ["/srv/src/{user}"] in the server\'s config file, or '
    "HYBRID_ASSIST_SERVER__ALLOWED_ROOTS)"
)


def real(path: str | PurePath) -> str:
    """``path`` made absolute with every link resolved."""
    return os.path.realpath(os.fspath(path))


def _safe_user(user: str | None) -> str | None:
    """``user`` when it can stand for one path component, else None (no ``/``, ``..``, NUL, leading dot)."""
    if not user or user.startswith(".") or any(c in user for c in ("/", "\\", "\0")):
        return None
    return user


def expand_allowed(entries: Sequence[str], user: str | None) -> tuple[str, ...]:
    """The resolved directories of ``entries`` for ``user`` (``{user}``, then ``~``); unusable entries dropped."""
    safe = _safe_user(user)
    out: list[str] = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        if _USER in text:
            if safe is None:
                logger.warning("%s entry %r skipped: the session has no usable user name", SETTING, entry)
                continue
            text = text.replace(_USER, safe)
        text = os.path.expanduser(text)
        if not os.path.isabs(text):
            logger.warning("%s entry %r skipped: not an absolute path", SETTING, entry)
            continue
        resolved = real(text)
        if resolved not in out:
            out.append(resolved)
    return tuple(out)


def root_refusal(root: Path, allowed: tuple[str, ...], *, confined: bool) -> str | None:
    """Why the workspace root ``root`` is refused to a session allowed ``allowed``, or None when accepted."""
    if not confined:
        return None
    if not allowed:
        return f"hybrid-assist: workspace folder {root} refused: {NO_ALLOWED_ROOTS}"
    if within(root, allowed):
        return None
    return (
        f"hybrid-assist: workspace folder {root} refused: it is not inside the directories this server allows "
        f"({SETTING}: {', '.join(allowed)}; links resolved)"
    )


@dataclass(frozen=True, slots=True)
class Confinement:
    """Where a session may read and write: its accepted roots (resolved), or anywhere (``roots`` None)."""

    roots: tuple[str, ...] | None

    def allows(self, path: str | PurePath) -> bool:
        """Whether ``path`` may be read or written: it lies inside a root once its links are resolved."""
        return self.roots is None or within(path, self.roots)

    def allows_uri(self, uri: str) -> bool:
        """:meth:`allows` for a ``file:`` URI (other schemes name nothing on disk: refused when confined)."""
        if self.roots is None:
            return True
        try:
            return within(uri_to_path(uri), self.roots)
        except (NotAFileUriError, ValueError):
            return False

    def refusal(self, path: str | PurePath, action: str = "read") -> str:
        """The message for a refused ``action`` on ``path``."""
        return (
            f"hybrid-assist: will not {action} {path}: it is outside this session's workspace folders (links resolved)"
        )


UNCONFINED = Confinement(None)
"""A stdio session without ``allowed_roots``: the editor's own process, no confinement."""


def confinement_for(roots: Iterable[Path], *, confined: bool) -> Confinement:
    """The :class:`Confinement` of a session with workspace ``roots`` (already accepted)."""
    if not confined:
        return UNCONFINED
    resolved: list[str] = []
    for root in roots:
        path = real(root)
        if path not in resolved:
            resolved.append(path)
    return Confinement(tuple(resolved))
