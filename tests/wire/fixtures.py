"""Pytest fixtures that start the wire test servers (one fresh server per test).

Use them from a test module with ``pytest_plugins = ["tests.wire.fixtures"]``
(pytest only accepts that line in a root conftest.py when it is not in the
rootdir, so the top-level ``tests/conftest.py`` is the place for everyone:
``pytest_plugins = ["tests.wire.fixtures"]``).

Fixtures: ``openai_server`` (:class:`~tests.wire.openai_server.OpenAIWireServer`,
also the OpenAI-compatible / vLLM imitation), ``openai_server_b`` (a second
one, for load-balancing tests), ``anthropic_server``
(:class:`~tests.wire.anthropic_server.AnthropicWireServer`) and
``gemini_server`` (:class:`~tests.wire.gemini_server.GeminiWireServer`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.wire.anthropic_server import AnthropicWireServer
from tests.wire.gemini_server import GeminiWireServer
from tests.wire.openai_server import OpenAIWireServer


@pytest.fixture
def openai_server() -> Iterator[OpenAIWireServer]:
    with OpenAIWireServer() as server:
        yield server


@pytest.fixture
def openai_server_b() -> Iterator[OpenAIWireServer]:
    with OpenAIWireServer() as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[AnthropicWireServer]:
    with AnthropicWireServer() as server:
        yield server


@pytest.fixture
def gemini_server() -> Iterator[GeminiWireServer]:
    with GeminiWireServer() as server:
        yield server
