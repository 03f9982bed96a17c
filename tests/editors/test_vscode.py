"""editors/vscode: build, lint, unit tests, generated settings, and the protocol test against the real server.

Runs npm in editors/vscode (``npm ci`` only when node_modules is missing or older than
package-lock.json). Skipped only when node or npm is not installed; VS Code itself is not needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXT = REPO / "editors" / "vscode"
SERVER = str(Path(sys.executable).with_name("hybrid-assist"))

pytestmark = pytest.mark.slow


def _npm() -> str:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    return npm


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYBRID_ASSIST_")}
    env.update(
        {
            "HYBRID_LSP_BIN": SERVER,
            "npm_config_audit": "false",
            "npm_config_fund": "false",
            "npm_config_update_notifier": "false",
            "CI": "1",
        }
    )
    return env


def _run(npm: str, *args: str, timeout: float = 180) -> str:
    try:
        proc = subprocess.run(
            [npm, *args],
            cwd=EXT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`npm {' '.join(args)}` timed out after {timeout}s:\n{exc.output or ''}")
    if proc.returncode != 0:
        pytest.fail(f"`npm {' '.join(args)}` failed with exit code {proc.returncode}:\n{proc.stdout}")
    return proc.stdout


def _node_modules_stale() -> bool:
    marker = EXT / "node_modules" / ".package-lock.json"  # written by npm on every install
    lock = EXT / "package-lock.json"
    return not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime


@pytest.fixture(scope="module")
def npm() -> str:
    npm = _npm()
    if _node_modules_stale():
        _run(npm, "ci", timeout=600)
    _run(npm, "run", "compile")
    return npm


@pytest.mark.timeout(900)
def test_lint(npm: str) -> None:
    _run(npm, "run", "lint")


def test_unit(npm: str) -> None:
    out = _run(npm, "test")
    assert "# fail 0" in out, out


def test_settings_generated_from_server_schema(npm: str) -> None:
    """package.json's contributes.configuration matches schema.json, which matches the server."""
    _run(npm, "run", "check-settings")


def test_protocol_against_real_server(npm: str) -> None:
    """The stdio session the extension relies on, and a keyed shared server reached with the extension's key code."""
    out = _run(npm, "run", "test:protocol")
    assert "# pass 2" in out and "# fail 0" in out, out


def test_check_settings_fails_when_stale(npm: str, tmp_path: Path) -> None:
    """A schema change not regenerated into package.json makes `check-settings` fail."""
    node = shutil.which("node")
    assert node is not None
    copy = tmp_path / "ext"
    shutil.copytree(EXT / "scripts", copy / "scripts")
    shutil.copytree(EXT / "out" / "src" / "core", copy / "out" / "src" / "core")
    shutil.copy(EXT / "package.json", copy / "package.json")
    schema = json.loads((EXT / "schema.json").read_text(encoding="utf-8"))
    schema["properties"]["brand_new"] = {"type": "boolean", "default": False, "description": "New."}
    (copy / "schema.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    env = {k: v for k, v in _env().items() if k != "HYBRID_LSP_BIN"}
    check = [node, "scripts/gen-settings.mjs", "--check"]
    stale = subprocess.run(check, cwd=copy, env=env, capture_output=True, text=True, timeout=60)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "package.json contributes.configuration is stale" in stale.stderr
    subprocess.run([node, "scripts/gen-settings.mjs"], cwd=copy, env=env, check=True, capture_output=True, timeout=60)
    assert (
        "hybridAssist.brand_new"
        in json.loads((copy / "package.json").read_text(encoding="utf-8"))["contributes"]["configuration"]["properties"]
    )
    fresh = subprocess.run(check, cwd=copy, env=env, capture_output=True, text=True, timeout=60)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
