"""The workspace index: discovery rules, cache, incremental updates, async build."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from lsp_server.analysis.documents import Document
from lsp_server.analysis.index import WorkspaceIndex
from lsp_server.analysis.paths import path_to_uri
from lsp_server.analysis.scope import measure_scope
from lsp_server.analysis.settings import AnalysisSettings
from tests.analysis.conftest import write_files

FILES = {
    ".gitignore": "generated/\n*.tmp.py\n!keep.tmp.py\n",
    "app/core.py": "def alpha():\n    return 1\n\nclass Beta:\n    def gamma(self):\n        return 2\n",
    "app/util.py": "from app.core import alpha\n\nLIMIT = 10\n",
    "app/sub/.gitignore": "local_only.py\n",
    "app/sub/local_only.py": "def hidden():\n    pass\n",
    "app/sub/visible.py": "def shown():\n    pass\n",
    "generated/out.py": "def gen():\n    pass\n",
    "scratch.tmp.py": "def scratch():\n    pass\n",
    "keep.tmp.py": "def kept():\n    pass\n",
    "build/lib.py": "def built():\n    pass\n",
    ".venv/lib/site.py": "def venv():\n    pass\n",
    "third_party/vendored.py": "def vendored():\n    pass\n",
    "README.md": "# not source\n",
}


def _settings(tmp_path: Path, **extra: object) -> AnalysisSettings:
    return AnalysisSettings(index_cache_dir=str(tmp_path / "cache"), **extra)  # type: ignore[arg-type]


def _root(tmp_path: Path) -> Path:
    root = Path(os.path.realpath(tmp_path / "ws"))
    root.mkdir(exist_ok=True)
    return root


def _names(index: WorkspaceIndex, root: Path) -> list[str]:
    return sorted(Path(p).relative_to(root).as_posix() for p in index.paths())


def test_discovery_respects_gitignore_excludes_and_size(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, {**FILES, "app/huge.py": "x = 1\n" * 1000})
    index = WorkspaceIndex([root], _settings(tmp_path, extra_excludes=["third_party/"], max_file_bytes=4000))
    stats = index.build_sync()
    assert _names(index, root) == ["app/core.py", "app/sub/visible.py", "app/util.py", "keep.tmp.py"]
    assert stats.files == 4 and stats.parsed == 4 and index.ready
    assert [d.qualified_name for d in index.find_definitions("gamma")] == ["Beta.gamma"]
    assert index.find_definitions("hidden") == []


def test_warm_restart_reads_only_changed_files(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, FILES)
    settings = _settings(tmp_path)
    assert WorkspaceIndex([root], settings).build_sync().parsed == 5
    warm = WorkspaceIndex([root], settings)
    stats = warm.build_sync()
    assert (stats.parsed, stats.from_cache) == (0, 5)
    assert warm.find_definitions("alpha")[0].signature == "def alpha()"
    (root / "app/core.py").write_text("def alpha2():\n    return 1\n")
    os.utime(root / "app/util.py", ns=(1, 1))
    third = WorkspaceIndex([root], settings)
    stats = third.build_sync()
    assert (stats.parsed, stats.from_cache) == (1, 3), "util.py: new mtime, same hash"
    assert third.find_definitions("alpha") == []
    assert len(third.find_definitions("alpha2")) == 1


def test_rebuild_in_memory_only_touches_changes(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, FILES)
    index = WorkspaceIndex([root], _settings(tmp_path))
    index.build_sync()
    (root / "app/new.py").write_text("def fresh():\n    pass\n")
    (root / "keep.tmp.py").unlink()
    stats = index.build_sync()
    assert (stats.parsed, stats.unchanged, stats.removed) == (1, 4, 1)
    assert index.find_definitions("kept") == []
    assert len(index.find_definitions("fresh")) == 1


def test_file_events_create_change_rename_delete(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, FILES)
    settings = _settings(tmp_path)
    index = WorkspaceIndex([root], settings)
    index.build_sync()
    created = root / "app/created.py"
    created.write_text("def made():\n    pass\n")
    index.update_file(created)
    assert [d.name for d in index.find_definitions("made")] == ["made"]
    created.write_text("def remade():\n    pass\n")
    index.update_file(created)
    assert index.find_definitions("made") == [] and index.find_definitions("remade")
    renamed = root / "app/renamed.py"
    created.rename(renamed)
    index.rename_file(created, renamed)
    assert [d.path for d in index.find_definitions("remade")] == [str(renamed)]
    renamed.unlink()
    index.remove_file(renamed)
    assert index.find_definitions("remade") == []
    index.update_file(root / "generated/out.py")
    assert index.find_definitions("gen") == [], "ignored files stay out on events too"
    reopened = WorkspaceIndex([root], settings)
    assert reopened.build_sync().parsed == 0, "events were persisted to the cache"


def test_unsaved_text_overlay_and_document_updates(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, FILES)
    index = WorkspaceIndex([root], _settings(tmp_path))
    index.build_sync()
    path = root / "app/util.py"
    index.update_file(path, "def typed_in_editor():\n    pass\n")
    assert index.find_definitions("typed_in_editor")
    assert index.source_bytes(path) == b"def typed_in_editor():\n    pass\n"
    index.build_sync()
    assert index.find_definitions("typed_in_editor"), "a rebuild keeps the editor's text"
    doc = Document(path_to_uri(path), "LIMIT = 10\ndef from_tree():\n    pass\n", "python")
    index.update_document(path, doc)
    assert index.find_definitions("from_tree") and not index.find_definitions("typed_in_editor")
    index.update_file(path)
    assert index.find_definitions("LIMIT") and not index.find_definitions("from_tree")
    index.update_file(path, "def unsaved():\n    pass\n")
    assert index.source_bytes(path) == b"def unsaved():\n    pass\n"
    index.update_file(path, path.read_text())
    assert index.source_bytes(path) == path.read_bytes(), "text equal to the disk is a save"
    assert index.find_definitions("LIMIT") and not index.find_definitions("unsaved")


def test_roots_can_be_added_and_removed(tmp_path: Path) -> None:
    first, second = _root(tmp_path), Path(os.path.realpath(tmp_path / "other"))
    write_files(first, FILES)
    write_files(second, {"lib.go": "package lib\n\nfunc Exported() {}\n"})
    index = WorkspaceIndex([first], _settings(tmp_path))
    index.build_sync()
    index.add_root(second)
    index.build_sync()
    assert [d.name for d in index.find_definitions("Exported")] == ["Exported"]
    assert index.files_in_package("lib")[0].path == str(second / "lib.go")
    index.remove_root(second)
    assert index.find_definitions("Exported") == []
    assert index.find_definitions("alpha")


async def test_async_build_reports_progress_on_the_loop(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, {f"pkg/m{i}.py": f"def f{i}():\n    pass\n" for i in range(30)})
    index = WorkspaceIndex([root], _settings(tmp_path))
    loop_thread = threading.get_ident()
    reports: list[tuple[int, int, str, int]] = []
    stats = await index.build(lambda d, t, m: reports.append((d, t, m, threading.get_ident())))
    await asyncio.sleep(0)
    assert stats.files == 30 and index.ready
    assert reports and reports[-1][:2] == (30, 30)
    assert {r[3] for r in reports} == {loop_thread}


def test_cancelled_build_keeps_partial_results(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, {f"pkg/m{i}.py": f"def f{i}():\n    pass\n" for i in range(40)})
    index = WorkspaceIndex([root], _settings(tmp_path))
    cancel = threading.Event()

    def progress(done: int, total: int, message: str) -> None:
        cancel.set()

    stats = index.build_sync(progress, cancel)
    assert stats.cancelled and not index.ready
    assert 0 < index.file_count < 40
    stats = index.build_sync()
    assert not stats.cancelled and index.ready and index.file_count == 40


async def test_async_build_honours_an_asyncio_event(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, {"a.py": "x = 1\n"})
    index = WorkspaceIndex([root], _settings(tmp_path))
    cancel = asyncio.Event()
    cancel.set()
    stats = await index.build(None, cancel)
    assert stats.cancelled and index.file_count == 0 and not index.ready


def test_requests_before_indexing_use_the_disk(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(
        root, {"a.py": "from b import helper\n\ndef f():\n    return helper()\n", "b.py": "def helper():\n    pass\n"}
    )
    settings = _settings(tmp_path)
    index = WorkspaceIndex([root], settings)
    text = (root / "a.py").read_text()
    doc = Document(path_to_uri(root / "a.py"), text, "python")
    report = measure_scope(doc, text.index("return"), "completion", index, settings)
    assert report.level == "multi_file" and not report.index_ready
    assert report.files == (path_to_uri(root / "b.py"),)
    assert any("still building" in r for r in report.reasons)


def test_process_pool_build(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, {f"pkg/m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(60)})
    index = WorkspaceIndex([root], _settings(tmp_path, index_workers=2))
    stats = index.build_sync()
    assert stats.parsed == 60
    assert [d.name for d in index.find_definitions("f59")] == ["f59"]


def test_corrupt_cache_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _root(tmp_path)
    write_files(root, FILES)
    settings = _settings(tmp_path)
    WorkspaceIndex([root], settings).build_sync()
    for db in (tmp_path / "cache").glob("*.sqlite"):
        db.write_bytes(b"this is not a database" * 100)
    for extra in (tmp_path / "cache").glob("*.sqlite-*"):
        extra.unlink()
    with caplog.at_level(logging.WARNING):
        stats = WorkspaceIndex([root], settings).build_sync()
    assert stats.parsed == 5
    assert any("cache" in r.message for r in caplog.records)


def test_malformed_cache_row_is_reparsed(tmp_path: Path) -> None:
    root = _root(tmp_path)
    write_files(root, FILES)
    settings = _settings(tmp_path)
    WorkspaceIndex([root], settings).build_sync()
    for db in (tmp_path / "cache").glob("*.sqlite"):
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE files SET data = '[1, 2' WHERE path LIKE '%core.py'")
    index = WorkspaceIndex([root], settings)
    assert index.build_sync().parsed == 0
    assert [d.name for d in index.find_definitions("alpha")] == ["alpha"]
