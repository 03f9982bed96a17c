"""Shared fixtures of the inference tests: tiny local models and an offline hub.

Tiny models are built once per session (a few seconds in all) under a
session temp directory, in the real Hugging Face format, by
:func:`inference.testing.tiny_models.build_tiny_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inference.testing.tiny_models import build_tiny_model

TinyModelFactory = Callable[[str], Path]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModelFactory:
    """``tiny_model(family)`` -> directory of that family's tiny model (built on first use)."""
    root = tmp_path_factory.mktemp("tiny-models")
    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            built[family] = build_tiny_model(root / family, family)
        return built[family]

    return get


@pytest.fixture
def hub_offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No network to the Hugging Face hub, as on an air-gapped machine."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    yield
