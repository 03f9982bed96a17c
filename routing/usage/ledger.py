"""The ledger: one row per request (who, what, where, tokens, cost, latency, outcome), plus feedback.

:meth:`Ledger.open` connects to SQLite or PostgreSQL and migrates the schema.
Three ways to write a :class:`LedgerEntry`:

- :meth:`Ledger.arecord` / :meth:`Ledger.submit` hand it to a background
  writer thread and return at once; the thread commits batches, so the
  request path never waits on the disk. :meth:`Ledger.flush` waits until
  everything handed over is committed.
- :meth:`Ledger.record` / :meth:`Ledger.record_many` write synchronously in
  one transaction (the CLI, tests, imports).

``usage_estimated`` marks a row whose token counts the backend counted
itself because the server reported none (migration ``0002``); the
aggregates count such rows (:attr:`UsageAggregate.estimated`). ``workspace``
(the session's workspace root, '' unknown) and ``reason`` (why a request
failed or was denied) came with migration ``0003``; the readers take a
``workspace`` to sum one workspace's requests (None: every workspace).
``language`` (the request's tree-sitter language id, '' unknown) and the
feedback's ``kind`` (what a verdict is about: :data:`FEEDBACK_KINDS`) came
with migration ``0004``, ``sensitive`` (kept on the premises because the
code is sensitive: the learner leaves such rows out) with ``0005``, for
routing that learns from outcomes.

Recording is idempotent by ``request_id``: a second row with the same id is
ignored. With a :class:`~routing.usage.journal.Journal` (the gateway's), a
batch the database cannot take because it is down goes to the journal
(fsynced) instead, and a thread probes the database every
``probe_interval_s`` while it is down or the journal holds rows, drains the
journal when it is back and marks :attr:`Ledger.health` up again. Without
one (the language server), the writer keeps the batch in memory (bounded by
``max_pending``) and retries it. The prompt itself is stored only when the ledger is opened with
``store_prompts=True``; otherwise only its SHA-256 is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, Engine, and_, case, func, or_, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from routing.usage._writer import BatchWriter
from routing.usage.database import (
    driver_insert_ignoring_conflicts,
    insert_ignoring_conflicts,
    open_engine,
    upgrade,
    write_transaction,
)
from routing.usage.errors import LedgerError
from routing.usage.models import ledger_feedback, ledger_requests, to_nanos, to_usd
from routing.usage.outage import DatabaseHealth, is_unavailable

if TYPE_CHECKING:
    from routing.usage.journal import Journal

logger = logging.getLogger(__name__)

#: The ledger's columns as written, in the order of :meth:`Ledger._values`.
_COLUMNS = (
    "request_id",
    "created_at",
    "user_name",
    "team",
    "task",
    "scope_level",
    "target",
    "model",
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "cost_nanousd",
    "latency_ms",
    "ttft_ms",
    "outcome",
    "fallback_chain",
    "prompt_sha256",
    "prompt_text",
    "usage_estimated",
    "workspace",
    "reason",
    "language",
    "sensitive",
)
#: How SQLAlchemy stores a DateTime in SQLite (always with microseconds, so that text order is time order).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"

#: What a feedback row is about: the editor accepted a completion; a resolved AI code action's edit was applied;
#: a review finding's quick fix was applied; a checked answer passed its check (False: refused, escalated).
FEEDBACK_KINDS = ("completion", "code_action", "quick_fix", "check")
REUSED = "reused"
"""The outcome of a row whose answer was reused without a model call (cost 0; its tokens are what a call
would have sent and received, priced by the report as the saving)."""

GroupBy = Literal["user", "team", "task", "route"]
_GROUP_COLUMNS = {
    "user": ledger_requests.c.user_name,
    "team": ledger_requests.c.team,
    "task": ledger_requests.c.task,
    "route": ledger_requests.c.target,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def prompt_digest(prompt: str) -> str:
    """Hex SHA-256 of the prompt's UTF-8 bytes (what the ledger keeps instead of the prompt)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One request as the ledger records it. ``target`` is the route that served it (or was tried last)."""

    request_id: str
    user: str
    team: str
    task: str
    target: str
    model: str = ""
    scope_level: str = ""
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0  # stored in whole nano-dollars
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    outcome: str = "ok"  # "ok", an error class name, "cancelled", "budget_exceeded", ...
    fallback_chain: tuple[str, ...] = ()  # targets tried, in order, e.g. ("anthropic", "openai")
    prompt_sha256: str = ""  # computed from ``prompt`` when empty
    prompt: str | None = None  # kept only when the ledger stores prompts
    time: datetime = field(default_factory=utcnow)
    usage_estimated: bool = False  # the token counts were estimated: the server reported none
    workspace: str = ""  # the session's workspace root ("": unknown, e.g. a gateway call without one)
    reason: str = ""  # why the request failed or was denied ("": served)
    language: str = ""  # the request's tree-sitter language id ("": unknown, or mixed as in a repository command)
    sensitive: bool = False  # kept on the premises because the code is sensitive (no choice of target)
    unsettled: bool = False  # served while the database was down, fail-open: charge the budget once written


@dataclass(frozen=True, slots=True)
class UsageAggregate:
    """Sums over the requests of one (group key, task, target, model) in a period."""

    key: str
    task: str
    target: str
    model: str
    requests: int
    failed: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    cost_nanousd: int
    accepted: int  # the user's verdicts (completions, code actions, quick fixes), not the checks'
    rejected: int
    estimated: int = 0  # requests whose token counts were estimated
    reused: int = 0  # answers reused without a model call (their tokens are in the reused_* sums, not above)
    reused_input_tokens: int = 0
    reused_output_tokens: int = 0
    check_failed: int = 0  # answers that failed their check (a cheap tier's, escalated)
    check_failed_nanousd: int = 0  # what those cost
    check_failed_input_tokens: int = 0
    check_failed_output_tokens: int = 0

    @property
    def cost_usd(self) -> float:
        return to_usd(self.cost_nanousd)


class Ledger:
    """The request ledger on one database. Thread-safe; use one per process."""

    def __init__(
        self,
        engine: Engine,
        *,
        store_prompts: bool = False,
        flush_interval_s: float = 0.05,
        batch_size: int = 1000,
        max_pending: int = 100_000,
        journal: Journal | None = None,
        health: DatabaseHealth | None = None,
        probe_interval_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.store_prompts = store_prompts
        self.journal = journal
        self.health = health if health is not None else DatabaseHealth()
        self._unmigrated = False  # opened by open_when_possible before its schema could be made
        #: Called (in the writer's thread) with the written rows that were served unbudgeted (``unsettled``).
        self.on_unsettled: Callable[[Sequence[LedgerEntry]], None] | None = None
        self._driver_sql = driver_insert_ignoring_conflicts(
            engine.dialect.name, ledger_requests, _COLUMNS, "request_id"
        )
        self._writer: BatchWriter[LedgerEntry] = BatchWriter(
            self._write_entries,
            name="ledger-writer",
            flush_interval_s=flush_interval_s,
            batch_size=batch_size,
            max_pending=max_pending,
            is_transient=lambda exc: _is_transient(exc) or isinstance(exc, OSError),
        )
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None
        if journal is not None:
            self._keeper = threading.Thread(
                target=self._keep_journal, args=(journal, probe_interval_s), name="ledger-journal", daemon=True
            )
            self._keeper.start()

    @classmethod
    def open(cls, url: str, *, store_prompts: bool = False, **writer_options: Any) -> Ledger:
        """Connect to ``url`` (SQLite file or PostgreSQL) and bring its schema up to date."""
        return cls(open_engine(url), store_prompts=store_prompts, **writer_options)

    @classmethod
    def open_when_possible(cls, url: str, **options: Any) -> Ledger:
        """:meth:`open`, or, when the database cannot be created or migrated now (a read-only directory, a full
        disk, a server that is down), a ledger whose rows wait in memory (bounded) and which creates its schema
        at its first successful write. :class:`LedgerError` only for a URL that can never work."""
        try:
            return cls.open(url, **options)
        except LedgerError as exc:
            reason = exc.message
            engine = open_engine(url, migrate=False)  # LedgerError again: the URL itself is wrong
        logger.error("the ledger cannot be prepared now (%s); rows are kept in memory until it can", reason)
        ledger = cls(engine, **options)
        ledger.migrate_before_writing()
        ledger.health.failed(reason)
        return ledger

    def migrate_before_writing(self) -> None:
        """Bring the schema up to date before the next write (it could not be done when the ledger opened)."""
        self._unmigrated = True

    # --- writing -----------------------------------------------------------------------------------------------

    def record(self, entry: LedgerEntry) -> None:
        """Write one entry now, in its own transaction."""
        self.record_many((entry,))

    def record_many(self, entries: Iterable[LedgerEntry]) -> None:
        """Write entries now, in one transaction; :class:`LedgerError` if the database refuses."""
        rows = [self._row(e) for e in entries]
        if not rows:
            return
        try:
            self._write_rows(rows)
        except SQLAlchemyError as exc:
            raise LedgerError(f"cannot write to the ledger: {exc}") from None

    def submit(self, entry: LedgerEntry) -> bool:
        """Hand ``entry`` to the writer thread without waiting; False if the backlog was full and it was dropped."""
        return self._writer.submit(entry)  # converted to a row in the writer thread

    async def arecord(self, entry: LedgerEntry) -> None:
        """Record from the event loop: queued for the writer thread, never blocks on the disk."""
        self.submit(entry)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every submitted entry is committed; False on timeout."""
        return self._writer.flush(timeout_s)

    @property
    def dropped(self) -> int:
        """Entries dropped because the writer's backlog was full (the database was too slow or down)."""
        return self._writer.dropped

    def record_feedback(
        self, request_id: str, accepted: bool, *, time: datetime | None = None, kind: str = "completion"
    ) -> None:
        """Record the outcome of a request's answer: accepted (True) or not, and what of (``kind``, one of
        :data:`FEEDBACK_KINDS`); one verdict per request, the latest report wins."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"unknown feedback kind {kind!r}; expected one of: {', '.join(FEEDBACK_KINDS)}")
        values = {"accepted": accepted, "created_at": _naive_utc(time or utcnow()), "kind": kind}
        for _ in range(3):
            try:
                with write_transaction(self.engine) as connection:
                    updated = connection.execute(
                        ledger_feedback.update().where(ledger_feedback.c.request_id == request_id).values(**values)
                    )
                    if updated.rowcount == 0:
                        connection.execute(ledger_feedback.insert().values(request_id=request_id, **values))
                return
            except IntegrityError:  # another process inserted it first: update on the next round
                continue
            except SQLAlchemyError as exc:
                raise LedgerError(f"cannot record feedback in the ledger: {exc}") from None
        raise LedgerError(f"cannot record feedback for request {request_id!r}: concurrent updates kept conflicting")

    def close(self, timeout_s: float = 10.0) -> None:
        """Commit what is pending (waiting up to ``timeout_s``), stop the writer and release the database."""
        self._writer.close(timeout_s)
        self._stopping.set()
        if self._keeper is not None:
            self._keeper.join(timeout_s)
        self.engine.dispose()

    # --- the journal -------------------------------------------------------------------------------------------

    def _keep_journal(self, journal: Journal, interval_s: float) -> None:
        """While the database is down or rows wait in the journal: probe it, drain the journal when it is back."""
        while not self._stopping.wait(interval_s):
            if self.health.available and not journal.entries:
                continue
            try:
                with self.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                journal.drain(self._write_now)
            except Exception as exc:
                if is_unavailable(exc):
                    self.health.failed(exc)
                else:
                    logger.exception("draining the ledger journal failed")
                continue
            self.health.recovered()

    def drain_journal(self) -> int:
        """Write the journal's rows now (the database must be up); returns how many."""
        return 0 if self.journal is None else self.journal.drain(self._write_now)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _values(self, entry: LedgerEntry) -> tuple[Any, ...]:
        """The row of ``entry``, in :data:`_COLUMNS` order."""
        digest = entry.prompt_sha256 or (prompt_digest(entry.prompt) if entry.prompt is not None else "")
        return (
            entry.request_id,
            _naive_utc(entry.time),
            entry.user,
            entry.team,
            entry.task,
            entry.scope_level,
            entry.target,
            entry.model,
            entry.input_tokens,
            entry.cached_tokens,
            entry.output_tokens,
            to_nanos(entry.cost_usd),
            entry.latency_ms,
            entry.ttft_ms,
            entry.outcome,
            json.dumps(list(entry.fallback_chain)),
            digest,
            entry.prompt if self.store_prompts else None,
            entry.usage_estimated,
            entry.workspace,
            entry.reason,
            entry.language,
            entry.sensitive,
        )

    def _row(self, entry: LedgerEntry) -> dict[str, Any]:
        return dict(zip(_COLUMNS, self._values(entry), strict=True))

    def _write_entries(self, entries: Sequence[LedgerEntry]) -> None:
        """The writer thread's batches: to the database, or to the journal while the database is down."""
        if self.journal is not None and not self.health.available:
            self.journal.append(entries)  # OSError: the writer keeps the batch and retries
            return
        try:
            self._write_now(entries)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self.health.failed(exc)
            if self.journal is None:
                raise  # kept in memory and retried by the writer
            self.journal.append(entries)
            return
        if self.journal is None:
            self.health.recovered()

    def _write_now(self, entries: Sequence[LedgerEntry]) -> None:
        if self._unmigrated:
            upgrade(self.engine)
            self._unmigrated = False
        self._insert(entries)
        unsettled = [e for e in entries if e.unsettled]
        if unsettled and self.on_unsettled is not None:
            self.on_unsettled(unsettled)

    def _insert(self, entries: Sequence[LedgerEntry]) -> None:
        """Driver-level ``executemany`` where the dialect allows it.

        The thread holds the interpreter while it prepares rows, and the event loop
        waits for it meanwhile; the driver path keeps that to a few microseconds a row.
        """
        if self._driver_sql is None:
            self._write_rows([self._row(e) for e in entries])
            return
        rows = [self._values(e) for e in entries]
        if self.engine.dialect.name == "sqlite":  # SQLAlchemy's text form of a DateTime on SQLite
            rows = [(r[0], r[1].strftime(_SQLITE_DATETIME), *r[2:]) for r in rows]
        with write_transaction(self.engine) as connection:
            connection.exec_driver_sql(self._driver_sql, rows)

    def _write_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        with write_transaction(self.engine) as connection:
            statement = insert_ignoring_conflicts(connection, ledger_requests, ["request_id"])
            connection.execute(statement, list(rows))

    # --- reading -----------------------------------------------------------------------------------------------

    def get(self, request_id: str) -> LedgerEntry | None:
        """The entry recorded for ``request_id``, if any."""
        with self.engine.connect() as connection:
            row = connection.execute(select(ledger_requests).where(ledger_requests.c.request_id == request_id)).first()
        return _entry(row._mapping) if row is not None else None

    def entries(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        user: str | None = None,
        workspace: str | None = None,
        limit: int | None = None,
    ) -> list[LedgerEntry]:
        """Entries in ``[since, until)``, oldest first, optionally of one user or one workspace."""
        query = select(ledger_requests).where(*requests_in(since, until, workspace))
        if user is not None:
            query = query.where(ledger_requests.c.user_name == user)
        query = query.order_by(ledger_requests.c.created_at, ledger_requests.c.id).limit(limit)
        with self.engine.connect() as connection:
            return [_entry(row._mapping) for row in connection.execute(query)]

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(ledger_requests)).scalar_one())

    def feedback(self, request_id: str) -> bool | None:
        """The latest verdict on ``request_id`` (None: no feedback)."""
        value = self._feedback_value(request_id, "accepted")
        return None if value is None else bool(value)

    def feedback_kind(self, request_id: str) -> str | None:
        """What the latest verdict on ``request_id`` is about (:data:`FEEDBACK_KINDS`; None: no feedback)."""
        value = self._feedback_value(request_id, "kind")
        return None if value is None else str(value)

    def _feedback_value(self, request_id: str, column: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(ledger_feedback.c[column]).where(ledger_feedback.c.request_id == request_id)
            ).scalar()

    def aggregate(
        self, since: datetime | None, until: datetime | None, by: GroupBy, *, workspace: str | None = None
    ) -> list[UsageAggregate]:
        """Sums per (``by`` key, task, target, model) over ``[since, until)``, with feedback counts;
        ``workspace``: only that workspace's requests (see :func:`in_workspace`)."""
        if by not in _GROUP_COLUMNS:
            raise ValueError(f"cannot group by {by!r}; expected one of: {', '.join(_GROUP_COLUMNS)}")
        key = _GROUP_COLUMNS[by]
        r = ledger_requests.c
        accepted = ledger_feedback.c.accepted
        verdict = ledger_feedback.c.kind != "check"  # the user's, not a check's
        check_failed = and_(ledger_feedback.c.kind == "check", accepted.is_(False))
        reused = r.outcome == REUSED
        query = (
            select(
                key.label("key"),
                r.task,
                r.target,
                r.model,
                func.count().label("requests"),
                func.sum(case((and_(r.outcome != "ok", ~reused), 1), else_=0)).label("failed"),
                func.sum(case((reused, 0), else_=r.input_tokens)).label("input_tokens"),
                func.sum(r.cached_tokens).label("cached_tokens"),
                func.sum(case((reused, 0), else_=r.output_tokens)).label("output_tokens"),
                func.sum(r.cost_nanousd).label("cost"),
                func.sum(case((and_(verdict, accepted.is_(True)), 1), else_=0)).label("accepted"),
                func.sum(case((and_(verdict, accepted.is_(False)), 1), else_=0)).label("rejected"),
                func.sum(case((r.usage_estimated.is_(True), 1), else_=0)).label("estimated"),
                func.sum(case((reused, 1), else_=0)).label("reused"),
                func.sum(case((reused, r.input_tokens), else_=0)).label("reused_input"),
                func.sum(case((reused, r.output_tokens), else_=0)).label("reused_output"),
                func.sum(case((check_failed, 1), else_=0)).label("check_failed"),
                func.sum(case((check_failed, r.cost_nanousd), else_=0)).label("check_failed_cost"),
                func.sum(case((check_failed, r.input_tokens), else_=0)).label("check_failed_input"),
                func.sum(case((check_failed, r.output_tokens), else_=0)).label("check_failed_output"),
            )
            .select_from(ledger_requests.outerjoin(ledger_feedback, ledger_feedback.c.request_id == r.request_id))
            .where(*requests_in(since, until, workspace))
            .group_by(key, r.task, r.target, r.model)
            .order_by(key, r.task, r.target, r.model)
        )
        with self.engine.connect() as connection:
            return [
                UsageAggregate(
                    key=row.key,
                    task=row.task,
                    target=row.target,
                    model=row.model,
                    requests=int(row.requests),
                    failed=int(row.failed or 0),
                    input_tokens=int(row.input_tokens or 0),
                    cached_tokens=int(row.cached_tokens or 0),
                    output_tokens=int(row.output_tokens or 0),
                    cost_nanousd=int(row.cost or 0),
                    accepted=int(row.accepted or 0),
                    rejected=int(row.rejected or 0),
                    estimated=int(row.estimated or 0),
                    reused=int(row.reused or 0),
                    reused_input_tokens=int(row.reused_input or 0),
                    reused_output_tokens=int(row.reused_output or 0),
                    check_failed=int(row.check_failed or 0),
                    check_failed_nanousd=int(row.check_failed_cost or 0),
                    check_failed_input_tokens=int(row.check_failed_input or 0),
                    check_failed_output_tokens=int(row.check_failed_output or 0),
                )
                for row in connection.execute(query)
            ]


def _is_transient(exc: BaseException) -> bool:
    """Locked, unreachable or restarting database: worth retrying the same batch."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def in_workspace(workspace: str) -> ColumnElement[bool]:
    """Rows of ``workspace`` or of a folder inside it (a session may open a sub-folder of a repository)."""
    column = ledger_requests.c.workspace
    root = workspace.rstrip(os.sep) or os.sep  # "/src/a/" is "/src/a"
    inside = root if root.endswith(os.sep) else root + os.sep
    return or_(column == root, column.startswith(inside, autoescape=True))


def requests_in(since: datetime | None, until: datetime | None, workspace: str | None = None) -> list[Any]:
    """The ``WHERE`` conditions of the requests in ``[since, until)`` (open ends: None) of ``workspace`` (None: all)."""
    conditions: list[Any] = []
    if since is not None:
        conditions.append(ledger_requests.c.created_at >= _naive_utc(since))
    if until is not None:
        conditions.append(ledger_requests.c.created_at < _naive_utc(until))
    if workspace is not None:
        conditions.append(in_workspace(workspace))
    return [and_(*conditions)] if conditions else []


def _naive_utc(moment: datetime) -> datetime:
    """Aware -> naive UTC (the storage form); a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        request_id=row["request_id"],
        user=row["user_name"],
        team=row["team"],
        task=row["task"],
        target=row["target"],
        model=row["model"],
        scope_level=row["scope_level"],
        input_tokens=row["input_tokens"],
        cached_tokens=row["cached_tokens"],
        output_tokens=row["output_tokens"],
        cost_usd=to_usd(row["cost_nanousd"]),
        latency_ms=row["latency_ms"],
        ttft_ms=row["ttft_ms"],
        outcome=row["outcome"],
        fallback_chain=tuple(json.loads(row["fallback_chain"])),
        prompt_sha256=row["prompt_sha256"],
        prompt=row["prompt_text"],
        time=row["created_at"].replace(tzinfo=UTC),
        usage_estimated=bool(row["usage_estimated"]),
        workspace=row["workspace"],
        reason=row["reason"],
        language=row["language"],
        sensitive=bool(row["sensitive"]),
    )
