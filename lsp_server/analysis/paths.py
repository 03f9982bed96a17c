"""Conversion between ``file://`` URIs (as editors send them) and paths.

Documents are keyed by URI, the workspace index by :class:`~pathlib.Path`.
Percent-encoding is decoded and produced as RFC 8089 expects; Windows drive
letters (``file:///c%3A/x``, ``file:///C:/x``) and UNC hosts are tolerated on
any platform, so URIs from a Windows editor survive a round trip.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from urllib.parse import quote, unquote, urlsplit

_DRIVE = re.compile(r"^/?([A-Za-z]):(/|$)")
_SAFE = "/:@!$&'()*+,;=-._~"


class NotAFileUriError(ValueError):
    """Raised when a URI does not use the ``file`` scheme."""


def uri_to_path(uri: str) -> Path:
    """Turn a ``file://`` URI into a local :class:`Path`.

    Raises :class:`NotAFileUriError` for other schemes (``untitled:``, ...).
    """
    parts = urlsplit(uri)
    if parts.scheme.lower() != "file":
        raise NotAFileUriError(f"not a file URI: {uri!r}")
    raw = unquote(parts.path)
    match = _DRIVE.match(raw)
    if match:
        rest = raw[match.end() :]
        windows = f"{match.group(1).upper()}:\\" + rest.replace("/", "\\")
        if os.name == "nt":
            return Path(windows)
        return Path(PureWindowsPath(windows).as_posix())
    if parts.netloc and parts.netloc.lower() != "localhost":
        unc = f"//{parts.netloc}{raw}"
        return Path(unc if os.name != "nt" else unc.replace("/", "\\"))
    return Path(raw)


@functools.lru_cache(maxsize=8192)
def path_to_uri(path: str | PurePath) -> str:
    """Turn a path into a normalised ``file://`` URI (absolute paths only)."""
    if isinstance(path, PureWindowsPath) or os.name == "nt":
        win = PureWindowsPath(path)
        if win.drive and not win.drive.startswith("\\\\"):
            body = win.as_posix()[len(win.drive) :]
            return "file:///" + win.drive[0].lower() + "%3A" + quote(body, safe=_SAFE)
        posix = win.as_posix()
    else:
        posix = PurePosixPath(path).as_posix()
    match = _DRIVE.match(posix)
    if match:
        body = posix[2:] if not posix.startswith("/") else posix[3:]
        return "file:///" + match.group(1).lower() + "%3A" + quote(body, safe=_SAFE)
    if posix.startswith("//"):
        host, _, rest = posix[2:].partition("/")
        return f"file://{host}/" + quote(rest, safe=_SAFE)
    if not posix.startswith("/"):
        raise ValueError(f"path must be absolute to become a URI: {path!s}")
    return "file://" + quote(posix, safe=_SAFE)


def normalize_uri(uri: str) -> str:
    """Canonical form of a file URI (so the same file always has one key)."""
    try:
        return path_to_uri(uri_to_path(uri))
    except ValueError:
        return uri


def display_path(path: str | PurePath, roots: list[Path] | tuple[Path, ...]) -> str:
    """``path`` relative to the first root containing it, POSIX-style."""
    text = str(path)
    for root in roots:
        prefix = str(root).rstrip(os.sep) + os.sep
        if text.startswith(prefix):
            rel = text[len(prefix) :]
            return rel.replace(os.sep, "/") if os.sep != "/" else rel
    p = Path(path)
    for root in roots:
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            continue
    return p.as_posix()


def within(path: str | PurePath, roots: Iterable[str]) -> bool:
    """Whether ``path``, links resolved, is one of ``roots`` (already resolved) or lies under one.

    The one confinement check of a session's reads and writes (see :mod:`lsp_server.confinement`).
    """
    target = os.path.realpath(os.fspath(path))
    return any(target == root or target.startswith(root.rstrip(os.sep) + os.sep) for root in roots)
