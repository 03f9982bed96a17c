"""Running an editor headless against the real server: its driver writes a JSON result file the tests read."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest


def run_editor(
    name: str, argv: list[str], env: Mapping[str, str], cwd: Path, out: Path
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Run ``argv`` (the editor ``name``) in ``cwd``; the JSON object its driver wrote to ``out``, and the process."""
    try:
        proc = subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name} hung: {exc.stdout!r} {exc.stderr!r}")
    assert out.exists(), f"{name} wrote no result (rc {proc.returncode}): {proc.stdout} {proc.stderr}"
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result, proc
