"""Turn settings into backends: one class per engine or provider kind, looked up in a table.

Heavy libraries (torch, vLLM, the SDKs) are imported only when a backend of
that kind is built.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping

from inference.backend import Backend
from inference.settings import LocalSettings, ProviderSettings

logger = logging.getLogger(__name__)

#: local backend kind -> "module:Class"; each class takes (settings: LocalSettings, name: str)
LOCAL_BACKENDS: Mapping[str, str] = {
    "vllm": "inference.local.vllm_backend:VllmBackend",
    "transformers": "inference.local.transformers_backend:TransformersBackend",
}
#: provider kind -> "module:Class"; each class takes (name: str, settings: ProviderSettings)
PROVIDER_BACKENDS: Mapping[str, str] = {
    "openai": "inference.remote.openai_backend:OpenAIBackend",
    "anthropic": "inference.remote.anthropic_backend:AnthropicBackend",
    "gemini": "inference.remote.gemini_backend:GeminiBackend",
    "openai-compatible": "inference.remote.openai_compatible:OpenAICompatibleBackend",
}


def _load_class(spec: str) -> type[Backend]:
    module_name, _, class_name = spec.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{spec} is not a Backend")
    return cls


def resolve_local_kind(settings: LocalSettings) -> str:
    """The concrete local backend kind: ``auto`` becomes vllm (GPU + vLLM) or transformers."""
    if settings.backend != "auto":
        return settings.backend
    from inference.models import choose_local_backend

    return choose_local_backend(settings)


def build_local_backend(settings: LocalSettings, name: str = "local") -> Backend:
    """The on-premises engine named by ``settings.backend``."""
    kind = resolve_local_kind(settings)
    if kind == "instant":
        from inference.instant import InstantBackend

        return InstantBackend(settings.instant_reply, name=name, token_delay_s=settings.instant_token_delay_ms / 1000.0)
    if kind == "openai-compatible":
        from inference.remote.openai_compatible import OpenAICompatibleBackend

        return OpenAICompatibleBackend.from_local_settings(name, settings)
    return _load_class(LOCAL_BACKENDS[kind])(settings, name)  # type: ignore[call-arg]


def build_provider_backend(name: str, settings: ProviderSettings) -> Backend:
    """The backend of one ``[providers.NAME]`` table."""
    return _load_class(PROVIDER_BACKENDS[settings.kind])(name, settings)  # type: ignore[call-arg]


def build_backends(local: LocalSettings, providers: Mapping[str, ProviderSettings]) -> dict[str, Backend]:
    """``{"local": ..., "openai": ..., ...}`` for every enabled provider."""
    backends: dict[str, Backend] = {"local": build_local_backend(local)}
    for name, provider in providers.items():
        if not provider.enabled:
            continue
        if name == "overflow" and not provider.base_url:
            continue
        backends[name] = build_provider_backend(name, provider)
    return backends
