"""``hybrid-assist report`` shows the current workspace's requests (``--all``: every workspace's), failures too.

Through the real entry point: two workspaces write to one ledger (the data
directory every checkout of a user shares); a report in one shows only its
requests, ``--workspace`` picks the other, ``--all`` shows both, and the header
says which. A request no target could serve (no local model, no keys) is in
the ledger with its reason at no cost, and in the report's failed column.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from routing.usage.database import ledger_url
from routing.usage.ledger import Ledger
from tests.cli.test_cli import CLI, run
from tests.lsp.harness import server_env, write_config

SOURCE = "def area(width: float, height: float) -> float:\n    return width * height\n"


def workspace(root: Path, *, git: bool) -> Path:
    """A workspace with one source file (``pkg/shapes.py``); a git repository when ``git``."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "shapes.py").write_text(SOURCE, encoding="utf-8")
    if git:
        subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)
    return root.resolve()


def complete(env: dict[str, str], root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``complete`` at the end of the file's first line (the workspace: the file's git root, else its folder)."""
    return run(env, "complete", str(root / "pkg" / "shapes.py"), "--line", "0", "--character", "10", *extra)


def report(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CLI, "report", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def totals(env: dict[str, str], cwd: Path, *args: str) -> tuple[str | None, int, int]:
    data = json.loads(report(env, cwd, "--format", "json", *args).stdout)
    return data["workspace"], data["total"]["requests"], data["total"]["failed"]


def test_a_report_shows_its_own_workspace_and_all_of_them_with_all(tmp_path: Path) -> None:
    env = server_env(tmp_path, write_config(tmp_path))
    alpha = workspace(tmp_path / "alpha", git=True)
    beta = workspace(tmp_path / "beta", git=False)
    complete(env, alpha)
    complete(env, alpha)
    complete(env, beta)  # not a repository: the file's folder (beta/pkg) is its workspace

    # in a sub-folder of alpha's repository: alpha's requests only (the git root is the workspace)
    assert totals(env, alpha / "pkg") == (str(alpha), 2, 0)
    table = report(env, alpha / "pkg").stdout
    assert f"workspace {alpha}" in table.splitlines()[0]
    assert "not shown: 1 request(s) of other workspaces in this period (--all shows them)" in table
    assert totals(env, beta / "pkg") == (str(beta / "pkg"), 1, 0)
    assert totals(env, alpha, "--workspace", str(beta / "pkg")) == (str(beta / "pkg"), 1, 0)
    assert totals(env, alpha, "--all") == (None, 3, 0)
    everything = report(env, alpha, "--all").stdout
    assert "all workspaces" in everything.splitlines()[0] and "not shown" not in everything
    # a workspace with no requests of its own shows none (not the user's other checkouts')
    assert totals(env, workspace(tmp_path / "gamma", git=True)) == (str((tmp_path / "gamma").resolve()), 0, 0)


def test_a_request_no_target_could_serve_is_recorded_with_its_reason_at_no_cost(tmp_path: Path) -> None:
    local = f'backend = "transformers"\nmodel = "{tmp_path / "no-such-model"}"\ndownload = false\n'
    env = server_env(tmp_path, write_config(tmp_path, local=local))
    alpha = workspace(tmp_path / "alpha", git=True)
    result = run(
        env, "complete", str(alpha / "pkg" / "shapes.py"), "--line", "0", "--character", "10", "--wait", "60",
        check=False,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr

    with Ledger.open(ledger_url("", str(tmp_path / "data"))) as ledger:
        [entry] = ledger.entries()
    assert entry.outcome == "no_target" and entry.target == "none"
    assert entry.reason.startswith("local engine unavailable") and "no-such-model" in entry.reason
    assert entry.cost_usd == 0.0 and entry.workspace == str(alpha)
    assert totals(env, alpha) == (str(alpha), 1, 1)  # the report's failed column counts it
