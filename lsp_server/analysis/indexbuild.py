"""The parsing step of an index build: many files, in a process pool when worth it.

Files are sent in batches to :func:`~.worker.index_batch` (``spawn`` start
method: safe with the server's threads; the entry point must be import-safe,
as console scripts are). Results are handed to ``accept`` on the calling
thread as they complete, so requests see them early.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from lsp_server.analysis.discovery import CancelFlag
from lsp_server.analysis.worker import IndexedFile, index_batch

ProgressCallback = Callable[[int, int, str], None]
POOL_THRESHOLD = 48
"""Files to parse before a process pool is worth its start-up time."""
INLINE_BATCH = 16


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What one :meth:`WorkspaceIndex.build` did."""

    files: int
    parsed: int
    from_cache: int
    unchanged: int
    removed: int
    definitions: int
    seconds: float
    cancelled: bool


def is_cancelled(cancel: CancelFlag | None) -> bool:
    """Whether ``cancel`` is set."""
    return cancel is not None and cancel.is_set()


def parse_files(
    tasks: list[tuple[str, str]],
    max_bytes: int,
    workers: int,
    accept: Callable[[list[IndexedFile]], None],
    progress: ProgressCallback | None,
    cancel: CancelFlag | None,
) -> bool:
    """Index ``(path, cached_hash)`` tasks; False when cancelled."""
    total = len(tasks)
    done = 0
    last_report = 0.0

    def report() -> None:
        nonlocal last_report
        now = time.monotonic()
        if progress is not None and (now - last_report > 0.2 or done == total):
            last_report = now
            progress(done, total, f"indexed {done}/{total} files")

    if total < POOL_THRESHOLD or workers < 2:
        for start in range(0, total, INLINE_BATCH):
            if is_cancelled(cancel):
                return False
            batch = tasks[start : start + INLINE_BATCH]
            results = index_batch(batch, max_bytes)
            done += len(batch)
            accept(results)
            report()
        return True
    size = max(8, min(48, total // (workers * 6) or 8))
    batches = [tasks[i : i + size] for i in range(0, total, size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: dict[Future[list[IndexedFile]], int] = {
            pool.submit(index_batch, batch, max_bytes): len(batch) for batch in batches
        }
        for future in as_completed(futures):
            if is_cancelled(cancel):
                pool.shutdown(wait=False, cancel_futures=True)
                return False
            done += futures[future]
            accept(future.result())
            report()
    return True
