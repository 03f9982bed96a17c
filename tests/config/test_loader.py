"""Configuration precedence, environment parsing and per-key fallback on invalid values."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybrid_assist.config import ConfigLayer, validate_layers
from hybrid_assist.config.loader import editor_layer, env_layer
from hybrid_assist.settings import HybridSettings, settings_loader


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("HYBRID_ASSIST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_defaults_are_valid() -> None:
    settings = HybridSettings()
    assert settings.local.backend == "auto"
    assert set(settings.providers) >= {"openai", "anthropic", "gemini", "overflow"}
    assert settings.providers["overflow"].enabled is False


def test_precedence_defaults_user_workspace_env_init_change(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = isolated / "xdg" / "hybrid-assist"
    user.mkdir(parents=True)
    (user / "config.toml").write_text(
        "[completion]\ndebounce_ms = 10\nmax_tokens = 10\ncache_size = 10\ncontext_tokens = 100\n"
        '[local]\nmodel = "user-model"\n'
    )
    workspace = isolated / "ws"
    workspace.mkdir()
    (workspace / "hybrid-assist.toml").write_text(
        "[completion]\nmax_tokens = 20\ncache_size = 20\ncontext_tokens = 200\n"
    )
    monkeypatch.setenv("HYBRID_ASSIST_COMPLETION__CACHE_SIZE", "30")
    monkeypatch.setenv("HYBRID_ASSIST_COMPLETION__CONTEXT_TOKENS", "300")
    init = editor_layer({"completion": {"context_tokens": 400}}, "initializationOptions")
    assert init is not None
    loaded = settings_loader().load([workspace], [init])
    c = loaded.settings.completion
    assert (c.debounce_ms, c.max_tokens, c.cache_size, c.context_tokens) == (10, 20, 30, 400)
    assert loaded.settings.local.model == "user-model"
    assert not loaded.problems
    change = editor_layer({"hybrid-assist": {"completion": {"context_tokens": 500}}}, "didChangeConfiguration")
    assert change is not None
    assert settings_loader().load([workspace], [init, change]).settings.completion.context_tokens == 500


def test_explicit_config_file(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = isolated / "explicit.toml"
    path.write_text('team = "platform"\n')
    monkeypatch.setenv("HYBRID_ASSIST_CONFIG", str(path))
    assert settings_loader().load().settings.team == "platform"


def test_invalid_value_falls_back_to_default_and_is_named(isolated: Path) -> None:
    layers = [
        ConfigLayer("workspace config", {"local": {"max_model_len": "lots", "model": "ok-model"}, "bogus": 1}),
        ConfigLayer("initializationOptions", {"completion": {"debounce_ms": -5}}),
    ]
    loaded = validate_layers(HybridSettings, layers)
    assert loaded.settings.local.max_model_len == HybridSettings().local.max_model_len
    assert loaded.settings.local.model == "ok-model"
    assert loaded.settings.completion.debounce_ms == HybridSettings().completion.debounce_ms
    text = "\n".join(loaded.problems)
    assert "`local.max_model_len`" in text and "workspace config" in text
    assert "`bogus`" in text and "unknown key" in text
    assert "`completion.debounce_ms`" in text and "initializationOptions" in text
    assert len(loaded.problems) == 3


def test_provider_override_merges_with_defaults(isolated: Path) -> None:
    loaded = validate_layers(
        HybridSettings, [ConfigLayer("t", {"providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}}})]
    )
    openai = loaded.settings.providers["openai"]
    assert openai.base_url == "http://127.0.0.1:9/v1"
    assert openai.kind == "openai" and "gpt-4o" in openai.prices


def test_new_provider_without_kind_is_dropped(isolated: Path) -> None:
    loaded = validate_layers(HybridSettings, [ConfigLayer("t", {"providers": {"mine": {"base_url": "http://x"}}})])
    assert "mine" not in loaded.settings.providers
    assert any("providers.mine" in p for p in loaded.problems)


def test_env_values_parse_as_json_or_string() -> None:
    layer = env_layer(
        {
            "HYBRID_ASSIST_LOCAL__MODEL": "Qwen/Qwen2.5-Coder-0.5B",
            "HYBRID_ASSIST_ROUTING__COMPLETION_SLO_MS": "250",
            "HYBRID_ASSIST_SENSITIVE__PATH_GLOBS": '["**/x/**"]',
            "HYBRID_ASSIST_GATEWAY_KEY": "secret-not-a-setting",
            "HYBRID_ASSIST_CONFIG": "/nowhere.toml",
            "OTHER": "1",
        }
    )
    assert layer.values == {
        "local": {"model": "Qwen/Qwen2.5-Coder-0.5B"},
        "routing": {"completion_slo_ms": 250},
        "sensitive": {"path_globs": ["**/x/**"]},
    }


def test_unreadable_toml_is_reported_not_fatal(isolated: Path) -> None:
    workspace = isolated / "ws"
    workspace.mkdir()
    (workspace / "hybrid-assist.toml").write_text("[completion\nbroken")
    loaded = settings_loader().load([workspace])
    assert loaded.settings == HybridSettings(user=loaded.settings.user)
    assert any("cannot read workspace config" in p for p in loaded.problems)


def test_api_keys_are_not_settings(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    loaded = validate_layers(HybridSettings, [ConfigLayer("t", {"providers": {"openai": {"api_key": "sk-inline"}}})])
    assert any("unknown key" in p for p in loaded.problems)
    assert "sk-inline" not in loaded.settings.model_dump_json()
    assert not any("sk-inline" in p for p in loaded.problems)
    assert "sk-test-123" not in loaded.settings.model_dump_json()
    assert loaded.settings.providers["openai"].api_key() == "sk-test-123"


def test_the_session_key_in_editor_options_is_not_a_setting() -> None:
    options = {"hybridAssist": {"key": "ha_0123456789ab_secret", "completion": {"max_tokens": 9}}}
    layer = editor_layer(options, "initializationOptions")
    assert layer is not None and dict(layer.values) == {"completion": {"max_tokens": 9}}
    assert editor_layer({"hybridAssist": {"key": "ha_0123456789ab_secret"}}, "didChangeConfiguration") is None
