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
