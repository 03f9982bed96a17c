"""Running the gateway for tests: a config with the instant engine, users from the CLI, a real server process.

:class:`GatewayProcess` starts ``python -m hybrid_assist.cli gateway serve`` on
a free port and waits until ``/readyz`` answers 200; ``add_user`` runs the
admin CLI against the same configuration and returns the key printed on its
last line.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.lsp.harness import OPENAI_DISABLED, cloud_providers, instant_local, server_env

CLI = [sys.executable, "-m", "hybrid_assist.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


OPENAI_KEY_ENV = "GATEWAY_TEST_OPENAI_KEY"


def gateway_config(
    tmp: Path, extra: str = "", *, reply: str = "return a + b", delay_ms: float = 0.0, openai_url: str = ""
) -> Path:
    """A TOML config: the instant engine, the ledger under ``tmp``; OpenAI at ``openai_url`` or no cloud at all."""
    openai = (
        f'[providers.openai]\nbase_url = "{openai_url}"\napi_key_env = "{OPENAI_KEY_ENV}"\nmax_retries = 0\n'
        if openai_url
        else OPENAI_DISABLED
    )
    config = tmp / "gateway.toml"
    config.write_text(
        f"""
data_dir = "{tmp / "data"}"

[local]
{instant_local(reply, delay_ms)}
{cloud_providers(openai)}{extra}
""",
        encoding="utf-8",
    )
    return config


def gateway_env(tmp: Path, extra: str = "", **options: object) -> dict[str, str]:
    """Environment of a gateway (and its admin CLI) on a fresh config and data directory under ``tmp``."""
    return server_env(tmp, gateway_config(tmp, extra, **options))  # type: ignore[arg-type]


def parse_sse(text: str) -> list[tuple[str, object]]:
    """``(event, data)`` pairs of a server-sent event stream (``message`` when unnamed; JSON data decoded)."""
    import json

    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            joined = "\n".join(data)
            events.append((name, joined if joined == "[DONE]" else json.loads(joined)))
    return events


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\nstdout:{result.stdout}\nstderr:{result.stderr}")
    return result


def add_user(env: dict[str, str], name: str, *, team: str = "default", admin: bool = False) -> str:
    """``gateway users add``; the API key is the last line it prints."""
    args = ["gateway", "users", "add", name, "--team", team] + (["--admin"] if admin else [])
    return cli(env, *args).stdout.strip().splitlines()[-1]


class GatewayProcess:
    """``hybrid-assist gateway serve`` as a child process on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.env = env
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [*CLI, "gateway", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gateway exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gateway not ready after {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        return self._log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


ANTHROPIC_KEY_ENV = "GATEWAY_TEST_ANTHROPIC_KEY"


@contextmanager
def anthropic_gateway(
    tmp: Path, wire_url: str, model: str, reply: str = "return a + b"
) -> Iterator[tuple[GatewayProcess, str]]:
    """A gateway process: the instant engine answering ``reply`` locally, Anthropic at ``wire_url`` serving ``model``
    (no other cloud); yields it ready and alice's key (team red)."""
    config = tmp / "gateway.toml"
    config.write_text(
        f'data_dir = "{tmp / "data"}"\n[local]\n{instant_local(reply)}\n'
        f'[providers.anthropic]\nkind = "anthropic"\nbase_url = "{wire_url}"\napi_key_env = "{ANTHROPIC_KEY_ENV}"\n'
        f'models = ["{model}"]\ndefault_model = "{model}"\nmax_retries = 0\n'
        "[providers.openai]\nenabled = false\n[providers.gemini]\nenabled = false\n",
        encoding="utf-8",
    )
    with gateway_process(server_env(tmp, config, {ANTHROPIC_KEY_ENV: "sk-ant-test"}), tmp) as started:
        yield started


@contextmanager
def gateway_process(env: dict[str, str], tmp: Path, team: str = "red") -> Iterator[tuple[GatewayProcess, str]]:
    """A gateway process on ``env`` (log under ``tmp``), ready, and the key of user alice of ``team``."""
    key = add_user(env, "alice", team=team)
    server = GatewayProcess(env, tmp / "gateway.log")
    try:
        server.wait_ready()
        yield server, key
    finally:
        server.stop()
