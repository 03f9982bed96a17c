"""Remote model backends: the cloud providers' SDKs and OpenAI-compatible servers.

Public API: :class:`OpenAIBackend`, :class:`AnthropicBackend`,
:class:`GeminiBackend` (one class per provider, each on its official SDK),
:class:`OpenAICompatibleBackend` (remote vLLM servers, cloud GPU overflow; one
or several base URLs) and :class:`RetryTiming` (backoff parameters). Each
backend is built as ``Backend(name, settings)`` from a
:class:`~inference.settings.ProviderSettings`; SDKs are imported only with
their backend's module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inference.remote._retry import RetryTiming

if TYPE_CHECKING:
    from inference.remote.anthropic_backend import AnthropicBackend
    from inference.remote.gemini_backend import GeminiBackend
    from inference.remote.openai_backend import OpenAIBackend
    from inference.remote.openai_compatible import OpenAICompatibleBackend

__all__ = [
    "AnthropicBackend",
    "GeminiBackend",
    "OpenAIBackend",
    "OpenAICompatibleBackend",
    "RetryTiming",
]

_MODULES = {
    "AnthropicBackend": "inference.remote.anthropic_backend",
    "GeminiBackend": "inference.remote.gemini_backend",
    "OpenAIBackend": "inference.remote.openai_backend",
    "OpenAICompatibleBackend": "inference.remote.openai_compatible",
}


def __getattr__(name: str) -> Any:
    """Import a backend's module (and its SDK) only when that backend is asked for."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
