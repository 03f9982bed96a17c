"""Turn settings into backends: one table, one constructor signature, ``constructor(name, settings)``.

Every backend is built from its settings section — ``[local]``
(:class:`~inference.settings.LocalSettings`, by its ``backend`` kind) or a
``[providers.NAME]`` table (:class:`~inference.settings.ProviderSettings`, by
its ``kind``) — as ``constructor(name, settings)``, where the constructor is
the backend class or, for the ``[local]`` OpenAI-compatible server, the
classmethod that reads ``[local]``. Heavy libraries (torch, vLLM, the SDKs)
are imported only when a backend of that kind is built.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from inference.backend import Backend
from inference.settings import LocalSettings, ProviderSettings

__all__ = ["BACKENDS", "BuiltBackends", "build_backend", "build_backends", "resolve_local_kind"]

logger = logging.getLogger(__name__)

Section = Literal["local", "providers"]


class BackendConstructor(Protocol):
    """What every registered constructor is: ``(name, settings of its section) -> Backend``."""

    def __call__(self, name: str, settings: Any, /) -> Backend: ...


#: (settings section, kind) -> "module:attribute" of the constructor, called as ``constructor(name, settings)``.
BACKENDS: Mapping[tuple[Section, str], str] = {
    ("local", "instant"): "inference.instant:InstantBackend",
    ("local", "vllm"): "inference.local.vllm_backend:VllmBackend",
    ("local", "transformers"): "inference.local.transformers_backend:TransformersBackend",
    ("local", "openai-compatible"): "inference.remote.openai_compatible:OpenAICompatibleBackend.from_local_settings",
    ("providers", "openai"): "inference.remote.openai_backend:OpenAIBackend",
    ("providers", "anthropic"): "inference.remote.anthropic_backend:AnthropicBackend",
    ("providers", "gemini"): "inference.remote.gemini_backend:GeminiBackend",
    ("providers", "openai-compatible"): "inference.remote.openai_compatible:OpenAICompatibleBackend",
}


def _constructor(spec: str) -> BackendConstructor:
    module_name, _, attribute = spec.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    owner = target if isinstance(target, type) else getattr(target, "__self__", None)
    if not (isinstance(owner, type) and issubclass(owner, Backend)):
        raise TypeError(f"{spec} does not build a Backend")
    return cast(BackendConstructor, target)


def resolve_local_kind(settings: LocalSettings) -> str:
    """The concrete local backend kind: ``auto`` becomes vllm (GPU + vLLM) or transformers."""
    if settings.backend != "auto":
        return settings.backend
    from inference.models import choose_local_backend

    return choose_local_backend(settings)


def build_backend(name: str, settings: LocalSettings | ProviderSettings) -> Backend:
    """The backend of one settings section: ``[local]`` or ``[providers.NAME]``; ImportError without its library."""
    if isinstance(settings, LocalSettings):
        key: tuple[Section, str] = ("local", resolve_local_kind(settings))
    else:
        key = ("providers", settings.kind)
    spec = BACKENDS.get(key)
    if spec is None:
        raise ValueError(f"no backend of kind {key[1]!r} in [{key[0]}]")
    return _constructor(spec)(name, settings)


@dataclass(frozen=True, slots=True)
class BuiltBackends:
    """The backends that could be built; ``local_error`` says why the local engine is missing."""

    backends: dict[str, Backend] = field(default_factory=dict)
    local_error: str = ""


def build_backends(local: LocalSettings | None, providers: Mapping[str, ProviderSettings]) -> BuiltBackends:
    """``{"local": ..., "openai": ..., ...}``: ``[local]`` (unless None) and every enabled provider.

    A backend whose library is not installed is left out: the local engine with the reason in
    ``local_error``, a provider with a warning in the log.
    """
    backends: dict[str, Backend] = {}
    local_error = ""
    if local is not None:
        try:
            backends["local"] = build_backend("local", local)
        except ImportError as exc:
            local_error = (
                f"the {local.backend} engine's library is not installed ({exc.name or exc}); "
                "install the `cpu` extra (pip install 'hybrid-assist[cpu]') or the `vllm` extra on a GPU machine"
            )
            logger.warning("local engine unavailable: %s", local_error)
    for name, provider in providers.items():
        if not provider.enabled or (name == "overflow" and not provider.base_url):
            continue
        try:
            backends[name] = build_backend(name, provider)
        except ImportError as exc:
            logger.warning("provider %s unavailable: %s", name, exc)
    return BuiltBackends(backends, local_error)
