"""Model resolution: local directories, the Hugging Face cache layout, remedies, engine choice."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference import models
from inference.errors import ModelNotAvailableError
from inference.models import (
    CachedModel,
    choose_local_backend,
    has_gpu,
    list_cached_models,
    pull_model,
    resolve_model_path,
)
from inference.settings import LocalSettings

REVISION = "0123456789abcdef0123456789abcdef01234567"


def make_fake_hf_cache(cache: Path, repo_id: str, files: dict[str, str]) -> Path:
    """The real hub cache layout: blobs by hash, refs/main, snapshots/<rev>/ symlinks."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    for name, content in files.items():
        data = content.encode()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    return snapshot


@pytest.fixture
def hf_cache(tmp_path: Path) -> tuple[Path, Path]:
    cache = tmp_path / "hub"
    snapshot = make_fake_hf_cache(
        cache,
        "acme/tiny-coder",
        {
            "config.json": json.dumps({"architectures": ["Qwen2ForCausalLM"]}),
            "model.safetensors": "x" * 1000,
        },
    )
    return cache, snapshot


@pytest.mark.usefixtures("hub_offline")
def test_cached_hub_model_is_listed_and_resolved_offline(hf_cache: tuple[Path, Path]) -> None:
    cache, snapshot = hf_cache
    listed = list_cached_models(str(cache))
    assert listed == [
        CachedModel(repo_id="acme/tiny-coder", size_bytes=listed[0].size_bytes, path=snapshot, revision=REVISION)
    ]
    assert listed[0].size_bytes >= 1000
    for allow in (False, True):
        path = resolve_model_path("acme/tiny-coder", cache_dir=str(cache), allow_download=allow)
        assert path == snapshot
        assert (path / "config.json").is_file()


@pytest.mark.usefixtures("hub_offline")
@pytest.mark.parametrize("allow_download", [False, True])
def test_unknown_hub_id_without_network_says_what_to_do(tmp_path: Path, allow_download: bool) -> None:
    with pytest.raises(ModelNotAvailableError) as info:
        resolve_model_path("acme/absent-coder", cache_dir=str(tmp_path), allow_download=allow_download)
    message = info.value.message
    assert "hybrid-assist models pull acme/absent-coder" in message
    assert "[local] model" in message


@pytest.mark.usefixtures("hub_offline")
def test_pull_without_network_raises_with_remedy(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="models pull acme/absent"):
        pull_model("acme/absent", str(tmp_path))


def test_local_directory_is_returned_as_is(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model_path(str(tmp_path), allow_download=False) == tmp_path.resolve()


def test_missing_local_directory_is_not_sent_to_the_hub(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        resolve_model_path(str(tmp_path / "nope"), allow_download=True)


def test_empty_model_setting_is_refused() -> None:
    with pytest.raises(ModelNotAvailableError, match="set \\[local\\] model"):
        resolve_model_path("", allow_download=True)


def test_list_of_missing_cache_is_empty(tmp_path: Path) -> None:
    assert list_cached_models(str(tmp_path / "no-cache")) == []


def test_explicit_backend_setting_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "has_gpu", lambda: True)
    assert choose_local_backend(LocalSettings(backend="transformers")) == "transformers"
    monkeypatch.setattr(models, "has_gpu", lambda: False)
    assert choose_local_backend(LocalSettings(backend="vllm")) == "vllm"


def test_auto_picks_vllm_only_with_gpu_and_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "_vllm_importable", lambda: True)
    monkeypatch.setattr(models, "has_gpu", lambda: True)
    assert choose_local_backend(LocalSettings()) == "vllm"
    assert choose_local_backend(LocalSettings(device="cpu")) == "transformers"
    monkeypatch.setattr(models, "_vllm_importable", lambda: False)
    assert choose_local_backend(LocalSettings()) == "transformers"
    monkeypatch.setattr(models, "_vllm_importable", lambda: True)
    monkeypatch.setattr(models, "has_gpu", lambda: False)
    assert choose_local_backend(LocalSettings()) == "transformers"


def test_has_gpu_agrees_with_torch() -> None:
    import torch

    assert has_gpu() is torch.cuda.is_available()


def test_importing_the_local_engines_loads_no_heavy_library() -> None:
    code = (
        "import sys, inference.models, inference.fim, inference.local, "
        "inference.local.transformers_backend, inference.local.vllm_backend, "
        "inference.testing.tiny_models\n"
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'huggingface_hub') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
