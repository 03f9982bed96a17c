"""The workspace symbol index: definitions, imports and exports of every source file.

:meth:`WorkspaceIndex.build` discovers the files of every workspace folder
(:mod:`.discovery`), reuses what is still valid (in memory, then the on-disk
:mod:`.cache` by mtime+size, then by content hash) and parses the rest, in a
process pool when there are many. It runs in a thread, never on the event
loop; requests meanwhile see whatever is already indexed (:attr:`ready` says
whether the first build finished). ``didChange``/``didSave``/watched-file
events go through :meth:`update_file`, :meth:`remove_file` and
:meth:`rename_file`; workspace-folder changes through :meth:`add_root` /
:meth:`remove_root` followed by another :meth:`build`.

No syntax trees are kept: only :class:`FileSymbols` values.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from lsp_server.analysis.cache import CachedFile, IndexCache, row_for
from lsp_server.analysis.discovery import CancelFlag, FoundFile, WorkspaceFilter
from lsp_server.analysis.documents import Document
from lsp_server.analysis.extract import content_hash, symbols_from_bytes
from lsp_server.analysis.indexbuild import IndexStats, ProgressCallback, is_cancelled, parse_files
from lsp_server.analysis.indexentry import IndexEntry
from lsp_server.analysis.languages import language_from_path
from lsp_server.analysis.paths import within
from lsp_server.analysis.positions import encode_text
from lsp_server.analysis.projectconfig import ConfigCache
from lsp_server.analysis.settings import AnalysisSettings
from lsp_server.analysis.symbols import Definition, FileSymbols, ImportRef
from lsp_server.analysis.worker import IndexedFile, read_source

logger = logging.getLogger(__name__)


class WorkspaceIndex:
    """Symbols of the workspace folders, kept fresh by file events."""

    def __init__(self, roots: Sequence[Path], settings: AnalysisSettings, *, confined: bool = False) -> None:
        self.settings = settings
        #: Read nothing outside the roots, links resolved (a network session's, see lsp_server.confinement).
        self.confined = confined
        self._lock = threading.RLock()
        self._build_lock = threading.Lock()
        self._roots: list[Path] = []
        self._filters: dict[str, WorkspaceFilter] = {}
        self._files: dict[str, IndexEntry] = {}
        self._by_name: dict[str, set[str]] = {}
        self._by_dir: dict[str, set[str]] = {}
        self._by_package: dict[str, set[str]] = {}
        self._overlay: dict[str, bytes] = {}
        self._touched: set[str] = set()
        self._ready = False
        self.configs = ConfigCache()
        """Project configuration files (go.mod, tsconfig.json, ...) for import resolution."""
        for root in roots:
            self.add_root(root)

    # -- roots -----------------------------------------------------------------

    @property
    def roots(self) -> tuple[Path, ...]:
        """The workspace folders (resolved)."""
        with self._lock:
            return tuple(self._roots)

    def add_root(self, root: Path) -> None:
        """Add a workspace folder; call :meth:`build` afterwards to index it."""
        resolved = Path(os.path.realpath(root))
        with self._lock:
            if resolved in self._roots:
                return
            self._roots.append(resolved)
            self._filters[str(resolved)] = WorkspaceFilter(resolved, self.settings)

    def remove_root(self, root: Path) -> None:
        """Remove a workspace folder and every file only it contained."""
        resolved = Path(os.path.realpath(root))
        with self._lock:
            if resolved not in self._roots:
                return
            self._roots.remove(resolved)
            self._filters.pop(str(resolved), None)
            for path in list(self._files):
                if self._filter_for(path) is None:
                    self._drop(path)

    def _filter_for(self, path: str) -> WorkspaceFilter | None:
        best: WorkspaceFilter | None = None
        for flt in self._filters.values():
            if flt.contains(path) and (best is None or len(flt.root) > len(best.root)):
                best = flt
        return best

    def root_of(self, path: str | Path) -> Path | None:
        """The workspace folder containing ``path`` (innermost), if any."""
        with self._lock:
            flt = self._filter_for(str(path))
        return Path(flt.root) if flt is not None else None

    def accepts(self, path: str | Path) -> bool:
        """Whether ``path`` belongs to the index (in a folder, not excluded, known language)."""
        with self._lock:
            flt = self._filter_for(str(path))
        return flt is not None and flt.accepts(str(path))

    # -- reading ---------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether a full build has completed (before that, answers are partial)."""
        return self._ready

    @property
    def file_count(self) -> int:
        """Number of indexed files."""
        return len(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def file(self, path: str | Path) -> FileSymbols | None:
        """Symbols of an indexed file."""
        key = str(path)
        entry = self._files.get(key)
        if entry is None and not os.path.isabs(key):
            key = os.path.abspath(key)
            entry = self._files.get(key)
        return entry.full(key, self._reparse) if entry is not None else None

    def _reparse(self, path: str, row: CachedFile) -> FileSymbols:
        """Symbols re-extracted from the file (its stored row was malformed)."""
        data = self.source_bytes(path) or b""
        return symbols_from_bytes(path, row.language, data, row.mtime_ns)

    def definitions_named(self, path: str | Path, name: str) -> tuple[Definition, ...]:
        """Definitions of ``name`` in one indexed file, top-level first (no full decode)."""
        key = str(path)
        entry = self._files.get(key)
        return entry.definitions_named(key, name, self._reparse) if entry is not None else ()

    def imports_of(self, path: str | Path) -> tuple[ImportRef, ...]:
        """Imports of one indexed file (no definitions are built)."""
        key = str(path)
        entry = self._files.get(key)
        return entry.imports(key, self._reparse) if entry is not None else ()

    def exports_of(self, path: str | Path) -> tuple[str, ...]:
        """Exported names of one indexed file."""
        key = str(path)
        entry = self._files.get(key)
        return entry.exports(key, self._reparse) if entry is not None else ()

    def file_meta(self, path: str | Path) -> CachedFile | None:
        """Hash, size, language, package and names of an indexed file (no decoding)."""
        entry = self._files.get(str(path))
        return entry.row if entry is not None else None

    def has_file(self, path: str | Path) -> bool:
        """Whether ``path`` is a workspace source file (the disk decides until :attr:`ready`)."""
        key = str(path)
        if key in self._files or key in self._overlay:
            return True
        if self._ready:
            return False
        return os.path.isfile(key) and self.accepts(key) and self._may_read(key)

    def paths(self) -> list[str]:
        """Paths of every indexed file, sorted."""
        with self._lock:
            return sorted(self._files)

    def files_mentioning(self, text: str) -> list[FileSymbols]:
        """Indexed files whose stored symbols contain ``text`` (e.g. an imported name)."""
        with self._lock:
            hits = [p for p, e in self._files.items() if text in e.row.data]
        return [s for s in (self.file(p) for p in sorted(hits)) if s is not None]

    def find_definitions(self, name: str) -> list[Definition]:
        """Definitions called ``name`` anywhere in the workspace (top-level first, by path)."""
        with self._lock:
            paths = sorted(self._by_name.get(name, ()))
        out: list[Definition] = []
        for path in paths:
            symbols = self.file(path)
            if symbols is not None:
                out.extend(symbols.definitions_named(name))
        out.sort(key=lambda d: (d.container != "", d.path, d.start_byte))
        return out

    def files_in_directory(self, directory: str | Path) -> list[FileSymbols]:
        """Indexed files directly inside ``directory``, by path."""
        with self._lock:
            paths = sorted(self._by_dir.get(str(directory), ()))
        return [s for s in (self.file(p) for p in paths) if s is not None]

    def files_in_package(self, package: str) -> list[FileSymbols]:
        """Indexed files declaring ``package`` (Java/Kotlin package, C# namespace, ...)."""
        with self._lock:
            paths = sorted(self._by_package.get(package, ()))
        return [s for s in (self.file(p) for p in paths) if s is not None]

    def source_bytes(self, path: str | Path) -> bytes | None:
        """Current content of a file: the open document's text if any, else the disk (inside the roots)."""
        key = str(path)
        overlay = self._overlay.get(key)
        if overlay is not None:
            return overlay
        if not self._may_read(key):
            return None
        read = read_source(key, self.settings.max_file_bytes)
        return read[0] if read is not None else None

    def _may_read(self, path: str) -> bool:
        """Whether ``path`` may be read from disk: always, unless confined and its links lead out of the roots."""
        return not self.confined or within(path, [str(root) for root in self.roots])

    # -- writing ---------------------------------------------------------------

    def _put(self, symbols: FileSymbols, row: CachedFile | None = None) -> None:
        self._put_entry(symbols.path, IndexEntry.from_row(row or row_for(symbols), symbols))

    def _put_entry(self, path: str, entry: IndexEntry) -> None:
        with self._lock:
            self._drop(path, keep_overlay=True)
            self._files[path] = entry
            by_name = self._by_name
            for name in entry.names:
                bucket = by_name.get(name)
                if bucket is None:
                    by_name[name] = {path}
                else:
                    bucket.add(path)
            self._by_dir.setdefault(os.path.dirname(path), set()).add(path)
            if entry.row.package:
                self._by_package.setdefault(entry.row.package, set()).add(path)

    def _drop(self, path: str, keep_overlay: bool = False) -> None:
        with self._lock:
            if not keep_overlay:
                self._overlay.pop(path, None)
            old = self._files.pop(path, None)
            if old is None:
                return
            for name in old.names:
                names = self._by_name.get(name)
                if names is not None:
                    names.discard(path)
                    if not names:
                        del self._by_name[name]
            bucket = self._by_dir.get(os.path.dirname(path))
            if bucket is not None:
                bucket.discard(path)
            if old.row.package:
                pkg = self._by_package.get(old.row.package)
                if pkg is not None:
                    pkg.discard(path)

    def _cache_for(self, path: str) -> IndexCache | None:
        flt = self._filter_for(path)
        if flt is None:
            return None
        return IndexCache(self.settings.cache_dir(), Path(flt.root))

    def update_file(self, path: Path, text: str | None = None) -> None:
        """Re-index one file from the disk, or from ``text`` (an open document's content).

        Cheap when the content hash did not change. ``text`` that differs from
        the file on disk (unsaved edits) becomes the file's content for the
        index until the file is updated again without it or with its saved
        text (``didSave``, ``didClose``); text equal to the disk is a save.
        """
        key = os.path.realpath(path)
        with self._lock:
            self._touched.add(key)
        if not self.accepts(key):  # outside the folders (links resolved), excluded, or no known language
            self._drop(key)
            return
        read = read_source(key, self.settings.max_file_bytes)
        if text is not None:
            data, mtime_ns = encode_text(text), 0
            saved = read is not None and read[0] == data
            if saved and read is not None:
                mtime_ns = read[1]
        else:
            if read is None:
                self.remove_file(Path(key))
                return
            (data, mtime_ns), saved = read, True
        if not self.accepts(key) or len(data) > self.settings.max_file_bytes:
            self._drop(key)
            return
        with self._lock:
            if saved:
                self._overlay.pop(key, None)
            else:
                self._overlay[key] = data
        self._index_bytes(key, data, mtime_ns, persist=saved)

    def update_document(self, path: Path, doc: Document) -> None:
        """Re-index an open document from its current tree (no reparse)."""
        key = os.path.realpath(path)
        data = doc.source
        if doc.language is None or not self.accepts(key):
            return
        if len(data) > self.settings.max_file_bytes:
            self._drop(key)
            return
        with self._lock:
            self._touched.add(key)
            self._overlay[key] = data
        digest = content_hash(data)
        current = self._files.get(key)
        if current is not None and current.row.content_hash == digest:
            return
        symbols = symbols_from_bytes(key, doc.language, data, 0, tree=doc.tree, digest=digest)
        self._put(symbols)

    def _index_bytes(self, key: str, data: bytes, mtime_ns: int, persist: bool) -> None:
        language = language_from_path(key)
        if language is None:
            return
        digest = content_hash(data)
        current = self._files.get(key)
        if current is not None and current.row.content_hash == digest:
            if persist and current.row.mtime_ns != mtime_ns:
                row = replace(current.row, mtime_ns=mtime_ns)
                self._put_entry(key, IndexEntry(row, current.names, current.symbols))
                cache = self._cache_for(key)
                if cache is not None:
                    cache.store([(key, row)])
            return
        symbols = symbols_from_bytes(key, language, data, mtime_ns, digest=digest)
        row = row_for(symbols)
        self._put(symbols, row)
        cache = self._cache_for(key) if persist else None
        if cache is not None:
            cache.store([(key, row)])

    def remove_file(self, path: Path) -> None:
        """Forget a deleted file (and its cache row)."""
        key = os.path.realpath(path) if os.path.isabs(path) else os.path.abspath(path)
        with self._lock:
            self._touched.add(key)
            known = key in self._files
            self._drop(key)
        cache = self._cache_for(key) if known else None
        if cache is not None:
            cache.store((), [key])

    def rename_file(self, old: Path, new: Path) -> None:
        """A file moved: forget the old path, index the new one."""
        self.remove_file(old)
        self.update_file(new)

    # -- building --------------------------------------------------------------

    async def build(
        self,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | asyncio.Event | None = None,
    ) -> IndexStats:
        """Index every workspace folder in a thread; ``progress`` runs on the event loop."""
        loop = asyncio.get_running_loop()
        report: ProgressCallback | None = None
        if progress is not None:
            callback = progress

            def report(done: int, total: int, message: str) -> None:
                loop.call_soon_threadsafe(callback, done, total, message)

        return await asyncio.to_thread(self.build_sync, report, cancel)

    def build_sync(self, progress: ProgressCallback | None = None, cancel: CancelFlag | None = None) -> IndexStats:
        """:meth:`build` in the calling thread (benchmarks, tests, CLI)."""
        started = time.perf_counter()
        with self._build_lock:
            with self._lock:
                self._touched = set()
                filters = list(self._filters.values())
            found: dict[str, FoundFile] = {}
            limit = self.settings.max_index_files
            for flt in filters:
                for item in flt.walk(cancel=cancel, limit=limit):
                    # discovery descends into real directories only: only the file itself may be a link out
                    if self.confined and os.path.islink(item.path) and not self._may_read(item.path):
                        continue
                    found.setdefault(item.path, item)
            if is_cancelled(cancel):
                return self._stats(started, len(found), 0, 0, 0, 0, True)
            with self._lock:
                gone = [p for p in self._files if p not in found and p not in self._overlay]
                for path in gone:
                    self._drop(path)
                todo = [
                    f for f in found.values() if not _same(self._files.get(f.path), f) and f.path not in self._overlay
                ]
            unchanged = len(found) - len(todo)
            cached = self._load_caches(filters) if todo else {}
            from_cache = 0
            to_parse: list[tuple[str, str]] = []
            # Largest files first: the pool's last batches are then small and both workers finish together.
            todo.sort(key=lambda f: f.size, reverse=True)
            for item in todo:
                row = cached.get(item.path)
                if row is not None and row.mtime_ns == item.mtime_ns and row.size == item.size:
                    self._put_row(item.path, row)
                    from_cache += 1
                    continue
                to_parse.append((item.path, row.content_hash if row is not None else ""))
            parsed, parsed_count, cancelled = self._parse_all(to_parse, cached, progress, cancel)
            removed_rows = [p for p in gone if p not in found]
            self._store_rows(parsed, removed_rows)
            if not cancelled:
                self._ready = True
            stats = self._stats(started, len(found), parsed_count, from_cache, unchanged, len(gone), cancelled)
        logger.info(
            "indexed %d files (%d parsed, %d from cache) in %.2fs",
            stats.files,
            stats.parsed,
            stats.from_cache,
            stats.seconds,
        )
        return stats

    def _stats(
        self,
        started: float,
        files: int,
        parsed: int,
        from_cache: int,
        unchanged: int,
        removed: int,
        cancelled: bool,
    ) -> IndexStats:
        with self._lock:
            definitions = sum(e.row.names.count("\n") + bool(e.row.names) for e in self._files.values())
        return IndexStats(
            files=files,
            parsed=parsed,
            from_cache=from_cache,
            unchanged=unchanged,
            removed=removed,
            definitions=definitions,
            seconds=time.perf_counter() - started,
            cancelled=cancelled,
        )

    def _load_caches(self, filters: list[WorkspaceFilter]) -> dict[str, CachedFile]:
        rows: dict[str, CachedFile] = {}
        for flt in filters:
            rows.update(IndexCache(self.settings.cache_dir(), Path(flt.root)).load())
        return rows

    def _put_row(self, path: str, row: CachedFile) -> bool:
        """Install a cached row unless an editor update superseded it."""
        with self._lock:
            if path in self._touched or path in self._overlay:
                return True
        self._put_entry(path, IndexEntry.from_row(row))
        return True

    def _parse_all(
        self,
        tasks: list[tuple[str, str]],
        cached: dict[str, CachedFile],
        progress: ProgressCallback | None,
        cancel: CancelFlag | None,
    ) -> tuple[list[tuple[str, CachedFile]], int, bool]:
        """Index ``tasks``; rows to store, files actually parsed, whether cancelled."""
        rows: list[tuple[str, CachedFile]] = []
        parsed = 0
        if not tasks:
            if progress is not None:
                progress(0, 0, "index up to date")
            return rows, 0, False

        def accept(results: list[IndexedFile]) -> None:
            nonlocal parsed
            for item in results:
                row = item.row
                if row is not None:
                    parsed += 1
                else:
                    previous = cached.get(item.path)
                    if previous is None:
                        continue
                    row = replace(previous, mtime_ns=item.mtime_ns, size=item.size)
                self._put_row(item.path, row)
                rows.append((item.path, row))

        completed = parse_files(tasks, self.settings.max_file_bytes, self.settings.workers(), accept, progress, cancel)
        return rows, parsed, not completed

    def _store_rows(self, rows: list[tuple[str, CachedFile]], removed: Iterable[str]) -> None:
        grouped: dict[str, tuple[list[tuple[str, CachedFile]], list[str]]] = {}
        with self._lock:
            for path, row in rows:
                flt = self._filter_for(path)
                if flt is not None:
                    grouped.setdefault(flt.root, ([], []))[0].append((path, row))
            for path in removed:
                flt = self._filter_for(path)
                if flt is not None:
                    grouped.setdefault(flt.root, ([], []))[1].append(path)
        for root, (changed, deleted) in grouped.items():
            IndexCache(self.settings.cache_dir(), Path(root)).store(changed, deleted)


def _same(entry: IndexEntry | None, found: FoundFile) -> bool:
    return entry is not None and entry.row.mtime_ns == found.mtime_ns and entry.row.size == found.size
