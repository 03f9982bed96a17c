"""Fixtures of the usage-control tests: a SQLite ledger file per test.

The real PostgreSQL server (``postgres_url``) is in :mod:`tests.postgres`,
registered for every test module by ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from routing.usage.database import open_engine


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'usage.sqlite3'}"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = open_engine(sqlite_url)
    yield engine
    engine.dispose()
