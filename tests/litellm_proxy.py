"""LiteLLM's proxy (pinned, in a venv of its own): a proxy we did not write, in front of the wire servers.

The venv is ``bench/.venv-litellm`` with ``litellm[proxy]==1.108.7``, made or
reused by ``scripts/litellm-venv.sh`` (which ``scripts/test-services.sh`` runs,
so CI has it; the benchmarks use the same venv). A test that finds it missing
runs the script itself; when that cannot install, the test fails with the
script's error (a skipped test would hide a broken set-up in CI).

:func:`litellm_proxy` starts ``litellm --config`` on a loopback port with the
given ``model_list`` and yields its root URL; the key is :data:`MASTER_KEY`
(LiteLLM refuses to start without one).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "litellm-venv.sh"
MASTER_KEY = "sk-litellm-test-master"
#: LiteLLM imports a lot; on a loaded 2-core machine its first start takes ~10 s.
_START_TIMEOUT_S = 180.0


def litellm_binary() -> Path:
    """The pinned proxy's executable, installed on first use; fails the test when it cannot be installed."""
    done = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"LiteLLM's proxy could not be installed by {SCRIPT.name}: {done.stderr.strip()[-500:]}")
    venv = Path(done.stdout.strip().splitlines()[-1])
    return (venv if venv.is_absolute() else ROOT / venv) / "bin" / "litellm"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def litellm_proxy(model_list: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """LiteLLM's proxy serving ``model_list``; yields ``http://127.0.0.1:PORT``."""
    binary = litellm_binary()
    work = Path(tempfile.mkdtemp(prefix="hybrid-litellm-"))
    config = work / "litellm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_list": list(model_list),
                "litellm_settings": {"telemetry": False},
                "general_settings": {"master_key": MASTER_KEY},
            }
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "OPENAI_", "ANTHROPIC_"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", DISABLE_SCHEMA_UPDATE="True")
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    log = work / "litellm.log"
    command = [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    with log.open("wb") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=work)
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"LiteLLM exited ({child.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{root}/health/liveliness", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"LiteLLM not ready after {_START_TIMEOUT_S:g} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield root
    finally:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
