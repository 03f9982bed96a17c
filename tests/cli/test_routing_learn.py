"""`hybrid-assist routing learn` as a user runs it: the proposal printed and written, `--apply` adopted."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from routing.usage.database import ledger_url
from routing.usage.ledger import Ledger
from tests.lsp.harness import server_env, write_config
from tests.routing.synthetic_ledger import record_refactor_cell

CLI = [sys.executable, "-m", "hybrid_assist.cli"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    return result


def record_cell(data: Path) -> None:
    with Ledger.open(ledger_url("", str(data))) as ledger:
        record_refactor_cell(ledger, datetime.now(UTC))


def test_routing_learn_prints_writes_and_applies_the_overlay(tmp_path: Path) -> None:
    env = server_env(tmp_path, write_config(tmp_path))
    data = tmp_path / "data"
    record_cell(data)

    shown = run(env, "routing", "learn", "--since", "30d")
    lines = shown.stdout.splitlines()
    assert "1 change(s) proposed" in lines[0] and "$8.00/month" in lines[0]
    [row] = [line for line in lines if line.startswith("refactor")]
    assert row.split()[:6] == ["refactor", "multi_file", "1024-4095", "python", "cloud", "local"]
    assert "196/200" in row and "197/200" in row and "+8.00" in row
    proposed = data / "routing-learned.proposed.toml"
    assert 'route = "local"' in proposed.read_text()
    assert not (data / "routing-learned.toml").exists()  # not adopted without --apply

    applied = json.loads(run(env, "routing", "learn", "--since", "7d", "--apply", "--json").stdout)
    [change] = [p for p in applied["proposals"] if p["action"] == "to_local"]
    assert change["local"]["successes"] == 196 and change["cloud"]["trials"] == 200
    assert applied["applied"] == str(data / "routing-learned.toml")

    shown_config = json.loads(run(env, "config", "show").stdout)
    [rule] = shown_config["routing"]["tasks"]["refactor"]["learned"]
    assert rule["route"] == "local" and rule["language"] == "python" and rule["min_context_tokens"] == 1024
    # learning again under the adopted overlay proposes nothing new and keeps the rule
    again = run(env, "routing", "learn", "--json")
    assert json.loads(again.stdout)["changes"] == 0
    assert 'route = "local"' in (data / "routing-learned.proposed.toml").read_text()


def test_routing_learn_refuses_a_bad_window(tmp_path: Path) -> None:
    env = server_env(tmp_path, write_config(tmp_path))
    result = subprocess.run(
        [*CLI, "routing", "learn", "--since", "yesterday"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "cannot read 'yesterday'" in result.stderr
