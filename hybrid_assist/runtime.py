"""The composition root: settings in, a ready :class:`RoutingRuntime` and :class:`Assistant` out."""

from __future__ import annotations

import logging

from hybrid_assist.config import HybridSettings
from inference.backend import Backend
from inference.registry import build_local_backend, build_provider_backend
from lsp_server.assistant import Assistant
from routing.runtime import RoutingRuntime

logger = logging.getLogger(__name__)


def build_runtime(settings: HybridSettings) -> RoutingRuntime:
    """Backends for ``settings``; a backend whose library is missing is left out with the reason."""
    backends: dict[str, Backend] = {}
    local_error = ""
    try:
        backends["local"] = build_local_backend(settings.local)
    except ImportError as exc:
        local_error = (
            f"the {settings.local.backend} engine's library is not installed ({exc.name or exc}); "
            "install the `cpu` extra (pip install 'hybrid-assist[cpu]') or the `vllm` extra on a GPU machine"
        )
        logger.warning("local engine unavailable: %s", local_error)
    for name, provider in settings.providers.items():
        if not provider.enabled or (name == "overflow" and not provider.base_url):
            continue
        try:
            backends[name] = build_provider_backend(name, provider)
        except ImportError as exc:
            logger.warning("provider %s unavailable: %s", name, exc)
    return RoutingRuntime(backends, settings.providers, local_error=local_error)


def build_assistant(settings: HybridSettings) -> Assistant:
    return Assistant(build_runtime(settings))
