"""A background thread that writes queued items in batches, so producers never wait on the disk.

Producers call :meth:`BatchWriter.submit` (a lock and an append); the thread
takes up to ``batch_size`` items at a time — waiting up to
``flush_interval_s`` for a batch to fill — and hands them to ``write`` in one
call (one transaction). A transient failure (database locked or down) is
retried with backoff, keeping the batch; any other failure is retried item by
item so one bad row cannot take its batch with it. The backlog is bounded by
``max_pending``: beyond it, items are dropped and counted rather than letting
memory grow or blocking the caller.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
_MAX_BACKOFF_S = 5.0


class BatchWriter(Generic[T]):
    def __init__(
        self,
        write: Callable[[Sequence[T]], None],
        *,
        name: str,
        flush_interval_s: float = 0.05,
        batch_size: int = 1000,
        max_pending: int = 100_000,
        is_transient: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        self._write = write
        self._name = name
        self._interval = flush_interval_s
        self._batch_size = max(1, batch_size)
        self._max_pending = max_pending
        self._is_transient = is_transient
        self._cond = threading.Condition()
        self._pending: deque[T] = deque()
        self._submitted = 0
        self._done = 0  # committed, or given up on after an error
        self._dropped = 0
        self._failed = 0
        self._flush_waiters = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def failed(self) -> int:
        """Items the database refused permanently (logged, not retried)."""
        return self._failed

    def submit(self, item: T) -> bool:
        with self._cond:
            if self._closing:
                raise RuntimeError(f"{self._name} is closed")
            if len(self._pending) >= self._max_pending:
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    logger.error(
                        "%s: backlog full (%d); %d items dropped", self._name, self._max_pending, self._dropped
                    )
                return False
            self._pending.append(item)
            self._submitted += 1
            if self._thread is None:
                self._start()
            if len(self._pending) == 1 or len(self._pending) >= self._batch_size:
                self._cond.notify_all()
        return True

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything submitted so far is written; False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            target = self._submitted
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while self._done < target:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flush_waiters -= 1

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is pending (up to ``timeout_s``), then stop the thread."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        atexit.unregister(self.close)
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                lost = self._submitted - self._done
                logger.error("%s: %d items not written after %.0f s; giving up on them", self._name, lost, timeout_s)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                if len(self._pending) < self._batch_size and not self._closing and not self._flush_waiters:
                    self._cond.wait(self._interval)
                count = min(self._batch_size, len(self._pending))
                batch = [self._pending.popleft() for _ in range(count)]
            written = self._write_batch(batch)
            with self._cond:
                self._done += len(batch)
                self._failed += len(batch) - written
                self._cond.notify_all()

    def _write_batch(self, batch: list[T]) -> int:
        backoff = 0.05
        while True:
            try:
                self._write(batch)
                return len(batch)
            except Exception as exc:
                if not self._is_transient(exc):
                    return self._write_one_by_one(batch) if len(batch) > 1 else self._give_up(batch, exc)
                if self._closing and backoff >= _MAX_BACKOFF_S:
                    return self._give_up(batch, exc)
                logger.warning("%s: write failed (%s); retrying in %.2f s", self._name, type(exc).__name__, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    def _write_one_by_one(self, batch: list[T]) -> int:
        return sum(self._write_batch([item]) for item in batch)

    def _give_up(self, batch: list[T], exc: BaseException) -> int:
        logger.error("%s: %d items could not be written: %s", self._name, len(batch), exc)
        return 0
