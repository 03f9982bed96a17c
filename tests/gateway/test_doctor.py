"""``hybrid-assist doctor`` in gateway mode: reachability, readiness and the user's key, checked for real."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.harness import add_user, free_port
from tests.gateway.test_lsp_gateway_mode import RunningGateway, start_gateway
from tests.lsp.harness import server_env, write_config


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    running = start_gateway(tmp_path)
    yield running
    running.process.stop()


def doctor(tmp: Path, url: str, key: str | None) -> tuple[int, list[dict[str, Any]]]:
    directory = tmp / "developer"
    directory.mkdir(exist_ok=True)
    env = server_env(directory, write_config(directory, f'[gateway]\nurl = "{url}"\nconnect_timeout_s = 2.0\n'))
    if key is not None:
        env["HYBRID_ASSIST_GATEWAY_KEY"] = key
    proc = subprocess.run(
        [sys.executable, "-m", "hybrid_assist.cli", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, json.loads(proc.stdout)


def _gateway_check(checks: list[dict[str, Any]]) -> dict[str, Any]:
    found = [c for c in checks if c["name"].startswith("gateway ")]
    assert len(found) == 1, checks
    return found[0]


def test_doctor_accepts_a_ready_gateway_and_a_valid_key(tmp_path: Path, gateway: RunningGateway) -> None:
    key = add_user(gateway.env, "alice")
    rc, checks = doctor(tmp_path, gateway.url, key)
    check = _gateway_check(checks)
    assert rc == 0 and check["ok"] is True, checks
    assert "user alice" in check["detail"]
    assert not any(c["name"] == "local engine" for c in checks), "gateway mode checks no local engine"


def test_doctor_names_a_refused_key(tmp_path: Path, gateway: RunningGateway) -> None:
    rc, checks = doctor(tmp_path, gateway.url, "ha_not-a-real-key")
    check = _gateway_check(checks)
    assert rc == 1 and check["ok"] is False
    assert "refused this key" in check["detail"] and "admin" in check["remedy"]


def test_doctor_names_a_missing_key_and_an_unreachable_gateway(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    rc, checks = doctor(tmp_path, url, None)
    assert rc == 1 and "no key" in _gateway_check(checks)["detail"]
    rc, checks = doctor(tmp_path, url, "ha_some-key")
    check = _gateway_check(checks)
    assert rc == 1 and check["detail"].startswith("unreachable"), check
