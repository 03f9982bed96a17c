"""Layered configuration: defaults < overlay < user TOML < workspace TOML < environment < editor options.

The overlay is a layer derived from the others, given by the application
(``SettingsLoader(..., overlay=...)``): ``hybrid_assist.settings`` reads the
learned routing overlay that ``hybrid-assist routing learn --apply`` adopted
(``<data_dir>/routing-learned.toml``). It sits right above the defaults, so
anything a person wrote in a TOML file, the environment or the editor wins
over what was learned.

Each layer is a nested dict of overrides with a name saying where it came
from. :class:`SettingsLoader` deep-merges them onto the defaults of a root
pydantic model it is given (the application's, assembled at the top: this
module knows no section of it) and validates the result; a value that fails validation is dropped from every
layer (so that key falls back to its default) and reported in
:attr:`LoadedSettings.problems` — an invalid value never stops the server.

API keys are not settings: providers name the environment variable or file
that holds them, and nothing here reads or prints a key.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

ENV_PREFIX = "HYBRID_ASSIST_"
ENV_CONFIG_FILE = "HYBRID_ASSIST_CONFIG"
WORKSPACE_FILE = "hybrid-assist.toml"
#: Keys under which editors commonly nest this server's settings.
EDITOR_SECTIONS = ("hybrid-assist", "hybridAssist", "hybrid_assist")
_MAX_FIX_ROUNDS = 50
#: Values of keys named like these are never echoed back in messages.
_SECRET_NAME = re.compile(r"key|token|secret|password|credential", re.IGNORECASE)

ModelT = TypeVar("ModelT", bound=BaseModel)
#: Given the other layers' values merged, the overlay layer and a problem reading it (either may be None).
OverlaySource = Callable[[Mapping[str, Any]], tuple["ConfigLayer | None", "str | None"]]
#: What a :class:`LoadedSettings` holds; covariant, so a reader may ask only for the sections it needs.
SettingsT_co = TypeVar("SettingsT_co", covariant=True)


@dataclass(frozen=True, slots=True)
class ConfigLayer:
    """One source of overrides."""

    source: str  # e.g. "user TOML ~/.config/hybrid-assist/config.toml"
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LoadedSettings(Generic[SettingsT_co]):
    """Validated settings plus what was wrong with the input."""

    settings: SettingsT_co
    problems: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


def user_config_path() -> Path:
    """The user TOML file: ``$HYBRID_ASSIST_CONFIG``, else ``$XDG_CONFIG_HOME/hybrid-assist/config.toml``."""
    explicit = os.environ.get(ENV_CONFIG_FILE)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hybrid-assist" / "config.toml"


def read_toml_layer(path: Path, source: str) -> tuple[ConfigLayer | None, str | None]:
    """The TOML file as a layer; ``(None, problem)`` when it cannot be read or parsed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return None, f"cannot read {source} {path}: {exc}; ignoring that file"
    return ConfigLayer(f"{source} {path}", data), None


def env_layer(environ: Mapping[str, str] | None = None) -> ConfigLayer:
    """``HYBRID_ASSIST_SECTION__KEY=value`` variables; values are JSON when they parse, else strings."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_FILE or name.endswith("_KEY"):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        _set_path(values, path, value)
    return ConfigLayer("environment (HYBRID_ASSIST_*)", values)


def editor_layer(options: Any, source: str) -> ConfigLayer | None:
    """``initializationOptions`` / ``didChangeConfiguration`` settings as a layer.

    ``key`` (a multi-client server's session key, see ``lsp_server.auth``) is not a setting and is dropped.
    """
    if not isinstance(options, Mapping):
        return None
    for section in EDITOR_SECTIONS:
        if isinstance(options.get(section), Mapping):
            options = options[section]
            break
    values = {name: value for name, value in options.items() if name != "key"}
    return ConfigLayer(source, values) if values else None


class SettingsLoader(Generic[ModelT]):
    """Builds the root settings ``model`` from the layers that apply to one session."""

    def __init__(
        self, model: type[ModelT], environ: Mapping[str, str] | None = None, overlay: OverlaySource | None = None
    ) -> None:
        self.model = model
        self._environ = environ
        self._overlay = overlay

    def file_layers(self, workspace_roots: Iterable[Path] = ()) -> tuple[list[ConfigLayer], list[str]]:
        """User TOML then each workspace root's ``hybrid-assist.toml``, with problems reading them."""
        layers: list[ConfigLayer] = []
        problems: list[str] = []
        candidates = [(user_config_path(), "user config")]
        candidates += [(Path(root) / WORKSPACE_FILE, "workspace config") for root in workspace_roots]
        for path, source in candidates:
            layer, problem = read_toml_layer(path, source)
            if layer is not None:
                layers.append(layer)
            if problem:
                problems.append(problem)
        return layers, problems

    def load(
        self,
        workspace_roots: Iterable[Path] = (),
        editor_layers: Sequence[ConfigLayer] = (),
    ) -> LoadedSettings[ModelT]:
        layers, problems = self.file_layers(workspace_roots)
        layers.append(env_layer(self._environ))
        layers.extend(editor_layers)
        if self._overlay is not None:
            merged: dict[str, Any] = {}
            for layer in layers:
                _deep_merge(merged, layer.values)
            overlay, problem = self._overlay(merged)
            if overlay is not None:
                layers.insert(0, overlay)  # right above the defaults: every written layer wins over it
            if problem:
                problems.append(problem)
        return validate_layers(self.model, layers, problems)


def validate_layers(
    model: type[ModelT], layers: Sequence[ConfigLayer], problems: Sequence[str] = ()
) -> LoadedSettings[ModelT]:
    """Merge ``layers`` over ``model``'s defaults; drop and report each invalid value."""
    working = [copy.deepcopy(dict(layer.values)) for layer in layers]
    found = list(problems)
    for _ in range(_MAX_FIX_ROUNDS):
        merged: dict[str, Any] = model().model_dump(mode="json")
        for values in working:
            _deep_merge(merged, values)
        try:
            settings = model.model_validate(merged)
        except ValidationError as exc:
            if not _drop_invalid(exc, layers, working, found):
                found.append(f"configuration rejected ({exc.error_count()} errors); using defaults")
                return LoadedSettings(model(), tuple(found), ())
            continue
        return LoadedSettings(settings, tuple(found), tuple(layer.source for layer in layers))
    return LoadedSettings(model(), (*found, "configuration could not be repaired; using defaults"), ())


def _drop_invalid(
    exc: ValidationError,
    layers: Sequence[ConfigLayer],
    working: list[dict[str, Any]],
    found: list[str],
) -> bool:
    dropped_any = False
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        for index in range(len(working) - 1, -1, -1):
            removed = _remove_deepest(working[index], loc)
            if removed is None:
                continue
            key, value = removed
            reason = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            shown = json.dumps(value, default=str)
            if _SECRET_NAME.search(key):
                shown = "<hidden>"
            elif len(shown) > 80:
                shown = shown[:77] + "..."
            found.append(
                f"invalid setting `{key}` = {shown} (from {layers[index].source}): {reason}; using the default"
            )
            dropped_any = True
            break
    return dropped_any


def _remove_deepest(values: dict[str, Any], loc: list[str]) -> tuple[str, Any] | None:
    """Remove the longest prefix of ``loc`` present in ``values``; return its dotted key and value."""
    node: Any = values
    parents: list[tuple[dict[str, Any], str]] = []
    for part in loc:
        if isinstance(node, dict) and part in node:
            parents.append((node, part))
            node = node[part]
        else:
            break
    if not parents:
        return None
    container, last = parents[-1]
    value = container.pop(last)
    return ".".join(p for _, p in parents), value


def _deep_merge(target: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _set_path(values: dict[str, Any], path: list[str], value: Any) -> None:
    node = values
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value
