"""Helpers for analysis tests: small projects written to disk, indexed and opened."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lsp_server.analysis.documents import Document
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.paths import path_to_uri, uri_to_path
from lsp_server.analysis.scope import ScopeReport, measure_scope
from lsp_server.analysis.settings import AnalysisSettings


@dataclass
class Project:
    """A project written by a test: its root, settings and built index."""

    root: Path
    settings: AnalysisSettings
    index: WorkspaceIndex

    def path(self, rel: str) -> Path:
        return self.root / rel

    def uri(self, rel: str) -> str:
        return path_to_uri(self.root / rel)

    def open(self, rel: str, language_id: str = "") -> Document:
        text = (self.root / rel).read_text(encoding="utf-8")
        return Document(self.uri(rel), text, language_id)

    def scope_at(self, rel: str, marker: str, task: str = "completion") -> ScopeReport:
        """Scope of ``task`` at the first occurrence of ``marker`` in file ``rel``."""
        doc = self.open(rel)
        index = doc.text.index(marker)
        offset = len(doc.text[:index].encode("utf-8"))
        return measure_scope(doc, offset, task, self.index, self.settings)


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


ProjectFactory = Callable[..., Project]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write ``files`` under a fresh root, index it and return the :class:`Project`."""

    def factory(files: dict[str, str], **settings: object) -> Project:
        root = Path(os.path.realpath(tmp_path / "ws"))
        root.mkdir(exist_ok=True)
        write_files(root, files)
        config = AnalysisSettings(index_cache_dir=str(tmp_path / "cache"), **settings)  # type: ignore[arg-type]
        index = WorkspaceIndex([root], config)
        index.build_sync()
        return Project(root, config, index)

    return factory


def rel_files(project: Project, report: ScopeReport) -> list[str]:
    """The report's files as paths relative to the project root, sorted."""
    return sorted(uri_to_path(uri).relative_to(project.root).as_posix() for uri in report.files)
