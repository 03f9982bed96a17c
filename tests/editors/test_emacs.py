"""editors/emacs/hybrid-assist.el: Eglot in real `emacs --batch` against the real server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.editors._runner import run_editor
from tests.lsp.harness import server_env, write_config

REPO = Path(__file__).resolve().parents[2]
EL = REPO / "editors" / "emacs" / "hybrid-assist.el"
DRIVER = Path(__file__).with_name("emacs_driver.el")
SERVER = str(Path(sys.executable).with_name("hybrid-assist"))


def _emacs() -> str:
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.skip("emacs is not installed (apt-get install emacs-nox elpa-eglot)")
    return emacs


def _eglot(
    tmp_path: Path, doc: str, reply: str = "return a + b", extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run emacs_driver.el on ``doc`` (project/demo.py) against the server with the instant engine's ``reply``."""
    emacs = _emacs()
    project = tmp_path / "project"
    project.mkdir()
    source = project / "demo.py"
    source.write_text(doc, encoding="utf-8")
    out = tmp_path / "result.json"
    editor = {"HA_OUT": str(out), "HA_FILE": str(source), "HA_EL": str(EL), "HA_SERVER": SERVER, "HOME": str(tmp_path)}
    local = f'backend = "instant"\ninstant_reply = {json.dumps(reply)}\n'  # a TOML basic string: newlines too
    env = server_env(tmp_path, write_config(tmp_path, local=local), {**editor, **(extra or {})})
    result, proc = run_editor("emacs", [emacs, "--batch", "-l", str(DRIVER)], env, project, out)
    assert "error" not in result, (result, proc.stderr[-3000:])
    return result


def test_eglot_hover_completion_and_route(tmp_path: Path) -> None:
    result = _eglot(tmp_path, "def total(a, b):\n    \n")
    assert result["mode"] == "python-mode"
    assert result["connected"] is True
    assert result["contact"] == [SERVER, "lsp"]
    assert "return a + b" in result["hover"] and "via local" in result["hover"], result
    # without markdown-mode Eglot asks for plain text: no fences, rules or HTML in the hover
    assert result["hover_formats"] == ["plaintext"] and result["hover_kind"] == "plaintext", result
    assert not any(mark in result["hover"] for mark in ("```", "\n---", "<sub>", "</sub>", "**")), result
    assert result["completion"] == ["return a + b"], result
    assert result["target"] == "local", result
    assert result["review_target"] == "local", result  # hybrid.review ran on the instant engine
    assert "local" in result["route_text"]


def test_eglot_completion_at_point_replaces_the_typed_word(tmp_path: Path) -> None:
    """Eglot's completion-at-point at ``x = na|`` (the model continues ``me + 1``) yields ``x = name + 1``."""
    result = _eglot(tmp_path, "def total(a, b):\n    \nx = na\n", reply="me + 1", extra={"HA_CAPF_LINE": "3"})
    assert result["capf_line"] == "x = name + 1", result


def test_eglot_docstring_action_changes_the_buffer(tmp_path: Path) -> None:
    """Eglot 1.9 never resolves code actions: the docstring action runs as hybrid.runAction and edits the buffer."""
    answer = '```python\ndef total(a, b):\n    """Return the sum of a and b."""\n    return a + b\n```\n'
    result = _eglot(tmp_path, "def total(a, b):\n    return a + b\n", reply=answer, extra={"HA_ACTION_LINE": "2"})
    assert result["action_command"] == "hybrid.runAction" and result["action_data"] is None, result  # no data
    assert result["action_result"] == {"task": "docstring", "edit": True, "applied": True}, result
    assert result["action_changed"] is True
    assert result["text_after"] == 'def total(a, b):\n    """Return the sum of a and b."""\n    return a + b\n', result


def test_el_byte_compiles_without_warnings(tmp_path: Path) -> None:
    """hybrid-assist.el compiles against the installed Eglot with every warning an error."""
    copy = tmp_path / EL.name
    shutil.copy(EL, copy)
    setup = "(progn (package-initialize) (setq byte-compile-error-on-warn t))"
    argv = [_emacs(), "--batch", "--eval", setup, "-f", "batch-byte-compile", str(copy)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0 and copy.with_suffix(".elc").exists(), proc.stderr[-3000:]


def test_el_registers_server_programs() -> None:
    text = EL.read_text(encoding="utf-8")
    assert "eglot-server-programs" in text and "python-mode" in text
    assert '("hybrid-assist" "lsp")' in text


async def test_eglot_sends_the_key_to_a_shared_server(tmp_path: Path) -> None:
    """``hybrid-assist-server-address``: Eglot connects over TCP with the key from a file or the environment."""
    from tests.gateway.harness import add_user
    from tests.lsp.harness import TcpServer

    emacs = _emacs()
    project = tmp_path / "project"
    project.mkdir()
    source = project / "demo.py"
    source.write_text("def total(a, b):\n    \n", encoding="utf-8")
    env = server_env(tmp_path, write_config(tmp_path, '[server]\nauth = "keys"\n'))
    key = add_user(env, "olga")
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n", encoding="utf-8")
    async with TcpServer(env) as server:
        runs: dict[str, dict[str, str]] = {
            "file": {"HA_KEY_FILE": str(key_file)},
            "env": {"HYBRID_ASSIST_KEY": key},
            "wrong": {"HYBRID_ASSIST_KEY": "ha_0123456789ab_nope"},
        }
        results = {}
        for name, extra in runs.items():
            out = tmp_path / f"{name}.json"
            editor_env = {
                **env,
                "HA_OUT": str(out),
                "HA_FILE": str(source),
                "HA_EL": str(EL),
                "HA_SERVER": SERVER,
                "HOME": str(tmp_path),
                "HA_PORT": str(server.port),
                **extra,
            }
            results[name], _ = run_editor("emacs", [emacs, "--batch", "-l", str(DRIVER)], editor_env, project, out)
        for name in ("file", "env"):
            result = results[name]
            assert "error" not in result and result["connected"] is True, (name, result)
            assert result["contact"] == ["127.0.0.1", server.port], result
            assert result["completion"] == ["return a + b"] and result["target"] == "local", result
        assert "error" in results["wrong"] and results["wrong"].get("connected") is None, results["wrong"]
        await asyncio.sleep(0.5)
        assert any("unknown API key" in line for line in server.stderr_lines)
