"""Fixtures: a small workspace, a test configuration, and a client talking to the real server process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pytest_lsp import LanguageClient

from tests.lsp.harness import init_params, server_env, start_stdio, write_config

MAIN_PY = '''"""Sample module."""
from helpers import add


def total(a, b):
    return add(a, b)


class Greeter:
    def greet(self, name):
        return "hello " + name
'''

HELPERS_PY = '''def add(a, b):
    """Add two numbers."""
    return a + b
'''


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "main.py").write_text(MAIN_PY, encoding="utf-8")
    (root / "helpers.py").write_text(HELPERS_PY, encoding="utf-8")
    return root


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path, write_config(tmp_path))


@pytest_asyncio.fixture(params=["neovim", "visual-studio-code"])
async def client(request: pytest.FixtureRequest, env: dict[str, str], workspace: Path) -> AsyncIterator[LanguageClient]:
    """An initialized session with the Neovim or VS Code capability profile."""
    lsp = await start_stdio(env)
    await lsp.initialize_session(init_params(workspace, request.param))
    yield lsp
    await lsp.shutdown_session()
    await lsp.stop()


@pytest_asyncio.fixture
async def stop_later() -> AsyncIterator[list[LanguageClient]]:
    """The clients a test started (appended to this list), shut down and stopped after it."""
    clients: list[LanguageClient] = []
    yield clients
    for started in clients:
        await started.shutdown_session()
        await started.stop()  # type: ignore[no-untyped-call]
