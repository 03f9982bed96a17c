"""Where local models come from: local directories and the Hugging Face cache.

:func:`resolve_model_path` turns the ``[local] model`` setting (a directory
or a hub id) into a directory on disk, looking in the Hugging Face cache
first and downloading only when allowed; :func:`pull_model` downloads on
purpose (``hybrid-assist models pull``); :func:`list_cached_models` shows
what the cache holds. :func:`has_gpu` and :func:`choose_local_backend` pick
the engine. Nothing here imports torch or huggingface_hub at import time.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from inference.errors import ModelNotAvailableError
from inference.settings import LocalSettings

__all__ = [
    "CachedModel",
    "choose_local_backend",
    "has_gpu",
    "list_cached_models",
    "model_remedy",
    "pull_model",
    "resolve_model_path",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedModel:
    """One model repository in the Hugging Face cache."""

    repo_id: str
    size_bytes: int
    path: Path  # snapshot directory of ``revision``
    revision: str  # commit hash


def model_remedy(model: str) -> str:
    """What the user should do when ``model`` is not on this machine."""
    return (
        f"run `hybrid-assist models pull {model}` on a machine with network "
        "(and copy the Hugging Face cache here if this one has none), "
        "or set [local] model to a local directory"
    )


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def _cache_arg(cache_dir: str) -> str | None:
    return str(Path(cache_dir).expanduser()) if cache_dir else None


def resolve_model_path(model: str, *, cache_dir: str = "", allow_download: bool) -> Path:
    """The directory holding ``model`` (a local directory or a hub id).

    A hub id is looked up in the Hugging Face cache without network first;
    when it is not there and ``allow_download`` is true it is downloaded.
    Raises :class:`ModelNotAvailableError` saying what to do otherwise.
    """
    if not model:
        raise ModelNotAvailableError("no local model configured; set [local] model")
    if _looks_like_path(model):
        path = Path(model).expanduser()
        if path.is_dir() and (path / "config.json").is_file():
            return path.resolve()
        raise ModelNotAvailableError(
            f"local model directory {path} does not exist or has no config.json; "
            "set [local] model to a Hugging Face model directory or a hub id"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model, cache_dir=_cache_arg(cache_dir), local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        pass
    if not allow_download:
        raise ModelNotAvailableError(
            f"model {model} is not in the Hugging Face cache and downloads are off "
            f"([local] download = false); {model_remedy(model)}"
        )
    try:
        return pull_model(model, cache_dir)
    except ModelNotAvailableError:
        raise
    except (HfHubHTTPError, ValueError) as exc:  # pragma: no cover - network-dependent
        raise ModelNotAvailableError(f"cannot download {model}: {exc}; {model_remedy(model)}") from exc


def pull_model(model: str, cache_dir: str = "") -> Path:
    """Download ``model`` from the hub into the cache (or find it there) and return its directory."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        return Path(snapshot_download(model, cache_dir=_cache_arg(cache_dir)))
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise ModelNotAvailableError(
            f"model {model} does not exist on the hub or needs access rights ({type(exc).__name__}); "
            "check the id, or log in with `hf auth login`"
        ) from exc
    except (LocalEntryNotFoundError, OSError) as exc:
        raise ModelNotAvailableError(
            f"model {model} is not cached and cannot be downloaded here (no network or "
            f"HF_HUB_OFFLINE=1); {model_remedy(model)}"
        ) from exc


def list_cached_models(cache_dir: str = "") -> list[CachedModel]:
    """Model repositories in the Hugging Face cache, largest first (newest revision each)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(_cache_arg(cache_dir))
    except CacheNotFound:
        return []
    models: list[CachedModel] = []
    for repo in info.repos:
        if repo.repo_type != "model" or not repo.revisions:
            continue
        newest = max(repo.revisions, key=lambda r: r.last_modified)
        models.append(
            CachedModel(
                repo_id=repo.repo_id,
                size_bytes=repo.size_on_disk,
                path=Path(newest.snapshot_path),
                revision=newest.commit_hash,
            )
        )
    return sorted(models, key=lambda m: (-m.size_bytes, m.repo_id))


@cache
def has_gpu() -> bool:
    """True when torch is installed and sees a CUDA device (torch is imported only here)."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def _vllm_importable() -> bool:
    return importlib.util.find_spec("vllm") is not None


def choose_local_backend(settings: LocalSettings) -> str:
    """The engine for ``[local]``: the explicit setting, else vLLM with a GPU, else transformers."""
    if settings.backend != "auto":
        return settings.backend
    if settings.device != "cpu" and has_gpu() and _vllm_importable():
        return "vllm"
    return "transformers"
