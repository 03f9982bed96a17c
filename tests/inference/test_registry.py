"""The one backend registry: every kind of both sections is built as ``constructor(name, settings)``."""

from __future__ import annotations

import pytest

from inference import registry
from inference.backend import Backend
from inference.instant import InstantBackend
from inference.local import TransformersBackend, VllmBackend
from inference.registry import BACKENDS, build_backend, build_backends
from inference.remote import AnthropicBackend, GeminiBackend, OpenAIBackend, OpenAICompatibleBackend
from inference.settings import LocalSettings, ProviderSettings

LOCAL = {
    "instant": InstantBackend,
    "vllm": VllmBackend,
    "transformers": TransformersBackend,
    "openai-compatible": OpenAICompatibleBackend,
}
PROVIDERS = {
    "openai": OpenAIBackend,
    "anthropic": AnthropicBackend,
    "gemini": GeminiBackend,
    "openai-compatible": OpenAICompatibleBackend,
}


def test_the_table_lists_every_kind_once() -> None:
    assert set(BACKENDS) == {("local", k) for k in LOCAL} | {("providers", k) for k in PROVIDERS}


@pytest.mark.parametrize("kind", sorted(LOCAL))
def test_each_local_kind_is_built_from_local_settings(kind: str) -> None:
    settings = LocalSettings.model_validate({"backend": kind, "base_url": "http://127.0.0.1:9/v1"})
    backend = build_backend("edge", settings)
    assert type(backend) is LOCAL[kind]
    assert backend.name == "edge" and backend.is_local


@pytest.mark.parametrize("kind", sorted(PROVIDERS))
def test_each_provider_kind_is_built_from_its_table(kind: str) -> None:
    settings = ProviderSettings.model_validate({"kind": kind, "base_url": "http://127.0.0.1:9/v1"})
    backend = build_backend("mine", settings)
    assert type(backend) is PROVIDERS[kind]
    assert backend.name == "mine" and not backend.is_local


def test_the_instant_engine_reads_its_reply_from_local_settings() -> None:
    backend = build_backend("local", LocalSettings(backend="instant", instant_reply="fixed answer"))
    assert isinstance(backend, InstantBackend) and backend._reply == "fixed answer"


def test_build_backends_leaves_out_disabled_providers_and_an_overflow_without_url() -> None:
    providers = {
        "openai": ProviderSettings(kind="openai"),
        "anthropic": ProviderSettings(kind="anthropic", enabled=False),
        "overflow": ProviderSettings(kind="openai-compatible"),
    }
    built = build_backends(LocalSettings(backend="instant"), providers)
    assert sorted(built.backends) == ["local", "openai"] and built.local_error == ""
    assert all(isinstance(b, Backend) for b in built.backends.values())
    assert sorted(build_backends(None, providers).backends) == ["openai"]


def test_a_missing_engine_library_is_a_reason_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BACKENDS", {**BACKENDS, ("local", "transformers"): "no_such_engine_lib:Engine"})
    built = build_backends(LocalSettings(backend="transformers"), {"openai": ProviderSettings(kind="openai")})
    assert sorted(built.backends) == ["openai"]
    assert "no_such_engine_lib" in built.local_error and "hybrid-assist[cpu]" in built.local_error
