"""The Helix and JetBrains (LSP4IJ) configuration files are well-formed and start the right command."""

from __future__ import annotations

import json
import shlex
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HELIX = REPO / "editors" / "helix" / "languages.toml"
JETBRAINS = REPO / "editors" / "jetbrains" / "hybrid-assist.lsp4ij.json"


def test_helix_languages_toml() -> None:
    config = tomllib.loads(HELIX.read_text(encoding="utf-8"))
    server = config["language-server"]["hybrid-assist"]
    assert server["command"] == "hybrid-assist"
    assert server["args"] == ["lsp"]
    languages = {entry["name"]: entry for entry in config["language"]}
    assert {"python", "javascript", "typescript", "go", "rust"} <= set(languages)
    for entry in languages.values():
        assert "hybrid-assist" in entry["language-servers"], entry


def test_lsp4ij_template() -> None:
    template = json.loads(JETBRAINS.read_text(encoding="utf-8"))
    assert template["id"] == "hybrid-assist"
    assert template["name"]
    args = template["programArgs"]
    assert shlex.split(args["default"]) == ["hybrid-assist", "lsp"]
    assert shlex.split(args["windows"])[1:] == ["lsp"]
    for mapping in template["languageMappings"]:
        assert set(mapping) == {"language", "languageId"} and all(mapping.values())
    file_types = template["fileTypeMappings"]
    for mapping in file_types:
        assert mapping["fileType"]["name"] and mapping["languageId"]
        assert all(p.startswith("*.") for p in mapping["fileType"]["patterns"])
    by_language = {m["languageId"]: m["fileType"]["patterns"] for m in file_types}
    assert "*.py" in by_language["python"]
    assert {"python", "javascript", "typescript", "go", "rust"} <= set(by_language)
    assert {m["languageId"] for m in template["languageMappings"]} <= set(by_language)


JETBRAINS_TEAM = REPO / "editors" / "jetbrains" / "hybrid-assist-team.lsp4ij.json"


def _team_commands() -> dict[str, list[str]]:
    """The shared-server command lines of the Helix and LSP4IJ configurations."""
    helix = tomllib.loads(HELIX.read_text(encoding="utf-8"))["language-server"]["hybrid-assist-team"]
    jetbrains = json.loads(JETBRAINS_TEAM.read_text(encoding="utf-8"))["programArgs"]["default"]
    return {"helix": [helix["command"], *helix["args"]], "jetbrains": shlex.split(jetbrains)}


def test_team_server_configurations_relay_with_a_key_file_not_a_key() -> None:
    for name, argv in _team_commands().items():
        assert argv[:3] == ["hybrid-assist", "connect", "tcp://ai.example.internal:2087"], name
        assert argv[3:] == ["--key-file", "~/.config/hybrid-assist/key"], name
        assert not any(arg.startswith("ha_") for arg in argv)


async def test_team_server_command_lines_are_served_by_a_keyed_server(tmp_path: Path) -> None:
    """The configured relay, pointed at a real keyed server, reads ~/.config/hybrid-assist/key and is served."""
    import sys

    from pytest_lsp import ClientServerConfig, LanguageClient

    from tests.gateway.harness import add_user
    from tests.lsp.harness import TcpServer, command, init_params, server_env, write_config

    env = server_env(tmp_path, write_config(tmp_path, '[server]\nauth = "keys"\n'))
    key = add_user(env, "pat")
    key_file = tmp_path / ".config" / "hybrid-assist" / "key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text(key + "\n", encoding="utf-8")
    executable = str(Path(sys.executable).with_name("hybrid-assist"))
    async with TcpServer(env) as server:
        for argv in _team_commands().values():
            argv = [executable, argv[1], f"tcp://127.0.0.1:{server.port}", *argv[3:]]
            client = await ClientServerConfig(server_command=argv, server_env={**env, "HOME": str(tmp_path)}).start()
            assert isinstance(client, LanguageClient)
            await client.initialize_session(init_params(tmp_path))
            assert (await command(client, "hybrid.status"))["local"]["model"] == "instant"
            await client.shutdown_session()
            await client.stop()
