"""Project configuration files import resolution needs, read once and kept fresh.

``go.mod`` (module path), ``tsconfig.json``/``jsconfig.json`` (``baseUrl``,
``paths``, ``extends``), ``Cargo.toml`` (crate root) and ``composer.json``
(PSR-4 prefixes). Each is found by walking up from the importing file (never
above the filesystem root) and re-read when its mtime changes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_LOOKUP_TTL = 2.0
_JSON_COMMENT = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_GO_MODULE = re.compile(r"^\s*module\s+(\S+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class TsConfig:
    """The path-mapping part of a tsconfig.json (after ``extends``)."""

    path: str
    base_url: str | None
    paths: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class GoModule:
    """A Go module: its path and the directory holding go.mod."""

    module: str
    directory: str


def parse_jsonc(text: str) -> object:
    """JSON with comments and trailing commas (tsconfig style)."""
    stripped = _JSON_COMMENT.sub(lambda m: m.group(1) or "", text)
    return json.loads(_TRAILING_COMMA.sub(r"\1", stripped))


class ConfigCache:
    """Finds and caches project configuration files by directory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._parsed: dict[str, tuple[int, object]] = {}

    def find_upwards(self, start_dir: str, name: str) -> str | None:
        """Nearest ``name`` in ``start_dir`` or its ancestors."""
        key = (start_dir, name)
        now = time.monotonic()
        with self._lock:
            hit = self._found.get(key)
        if hit is not None and now - hit[0] < _LOOKUP_TTL:
            return hit[1]
        directory = start_dir
        found: str | None = None
        while True:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                found = candidate
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        with self._lock:
            self._found[key] = (now, found)
        return found

    def _load(self, path: str) -> object:
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return None
        with self._lock:
            hit = self._parsed.get(path)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            return None
        value: object
        if path.endswith(".json"):
            try:
                value = parse_jsonc(text)
            except ValueError as exc:
                logger.debug("unreadable %s: %s", path, exc)
                value = None
        else:
            value = text
        with self._lock:
            self._parsed[path] = (mtime, value)
        return value

    def go_module(self, file_dir: str) -> GoModule | None:
        """The Go module containing ``file_dir``."""
        gomod = self.find_upwards(file_dir, "go.mod")
        if gomod is None:
            return None
        text = self._load(gomod)
        if not isinstance(text, str):
            return None
        match = _GO_MODULE.search(text)
        if match is None:
            return None
        return GoModule(match.group(1).strip('"'), os.path.dirname(gomod))

    def tsconfig(self, file_dir: str) -> TsConfig | None:
        """The tsconfig.json (or jsconfig.json) governing ``file_dir``."""
        path = self.find_upwards(file_dir, "tsconfig.json") or self.find_upwards(file_dir, "jsconfig.json")
        if path is None:
            return None
        base_url: str | None = None
        paths: dict[str, tuple[str, ...]] = {}
        chain: list[str] = []
        current: str | None = path
        while current is not None and current not in chain and len(chain) < 5:
            chain.append(current)
            data = self._load(current)
            if not isinstance(data, dict):
                break
            options = data.get("compilerOptions")
            directory = os.path.dirname(current)
            if isinstance(options, dict):
                if base_url is None and isinstance(options.get("baseUrl"), str):
                    base_url = os.path.normpath(os.path.join(directory, options["baseUrl"]))
                raw_paths = options.get("paths")
                if isinstance(raw_paths, dict):
                    anchor = base_url or directory
                    for pattern, targets in raw_paths.items():
                        if pattern in paths or not isinstance(targets, list):
                            continue
                        paths[pattern] = tuple(
                            os.path.normpath(os.path.join(anchor, t)) for t in targets if isinstance(t, str)
                        )
            extends = data.get("extends")
            current = None
            if isinstance(extends, str) and extends.startswith("."):
                target = os.path.normpath(os.path.join(directory, extends))
                current = target if target.endswith(".json") else target + ".json"
        return TsConfig(path, base_url, tuple(paths.items()))

    def cargo_dir(self, file_dir: str) -> str | None:
        """Directory of the Cargo.toml of the crate containing ``file_dir``."""
        found = self.find_upwards(file_dir, "Cargo.toml")
        return os.path.dirname(found) if found is not None else None

    def composer_psr4(self, file_dir: str) -> list[tuple[str, str]]:
        """``(namespace prefix, directory)`` pairs from the nearest composer.json."""
        path = self.find_upwards(file_dir, "composer.json")
        if path is None:
            return []
        data = self._load(path)
        if not isinstance(data, dict):
            return []
        out: list[tuple[str, str]] = []
        directory = os.path.dirname(path)
        for section in ("autoload", "autoload-dev"):
            autoload = data.get(section)
            if not isinstance(autoload, dict):
                continue
            psr4 = autoload.get("psr-4")
            if not isinstance(psr4, dict):
                continue
            for prefix, dirs in psr4.items():
                for d in dirs if isinstance(dirs, list) else [dirs]:
                    if isinstance(d, str):
                        out.append((prefix, os.path.normpath(os.path.join(directory, d))))
        out.sort(key=lambda item: -len(item[0]))
        return out
