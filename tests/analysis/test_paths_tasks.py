"""URI/path conversion and the task table."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

import pytest

from lsp_server.analysis.paths import NotAFileUriError, normalize_uri, path_to_uri, uri_to_path
from lsp_server.analysis.tasks import (
    MULTI_FILE_TASKS,
    REPOSITORY_WIDE_TASKS,
    TaskKind,
    parse_task,
)


def test_percent_encoding_round_trip() -> None:
    path = Path("/tmp/my project/naïve #1.py")
    uri = path_to_uri(path)
    assert uri == "file:///tmp/my%20project/na%C3%AFve%20%231.py"
    assert uri_to_path(uri) == path


def test_windows_drive_letters() -> None:
    assert uri_to_path("file:///c%3A/Users/x/a.py").as_posix() == "C:/Users/x/a.py"
    assert uri_to_path("file:///C:/Users/x/a.py").as_posix() == "C:/Users/x/a.py"
    assert path_to_uri(PureWindowsPath("C:\\Users\\x\\a b.py")) == "file:///c%3A/Users/x/a%20b.py"
    assert normalize_uri("file:///C:/Users/x/a.py") == "file:///c%3A/Users/x/a.py"


def test_non_file_uris() -> None:
    with pytest.raises(NotAFileUriError):
        uri_to_path("untitled:Untitled-1")
    assert normalize_uri("untitled:Untitled-1") == "untitled:Untitled-1"
    with pytest.raises(ValueError):
        path_to_uri("relative/path.py")


def test_task_table() -> None:
    assert {t.value for t in TaskKind} == {
        "completion",
        "inline_completion",
        "explain",
        "docstring",
        "naming",
        "refactor",
        "tests",
        "fix",
        "review",
        "multi_file_refactor",
        "architecture",
        "documentation",
        "security",
        "migration",
        "performance",
        "api_integration",
    }
    assert TaskKind.ARCHITECTURE in REPOSITORY_WIDE_TASKS
    assert TaskKind.COMPLETION not in REPOSITORY_WIDE_TASKS
    assert {TaskKind.MULTI_FILE_REFACTOR} == MULTI_FILE_TASKS
    assert parse_task("review") is TaskKind.REVIEW
    with pytest.raises(ValueError, match="expected one of"):
        parse_task("poetry")
