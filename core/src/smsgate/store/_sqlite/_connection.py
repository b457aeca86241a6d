"""The SQLite store's connections: the writer thread with group commit, the reader threads, migrations.

Every write runs on the one writer thread; concurrent writes are committed together in one transaction, each
in its own savepoint, and each caller's `await` returns only after its data is on disk. Reads run on reader
threads with connections of their own: in WAL mode a read never waits for the writer and never holds it up.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..._events import timestamp as _ts
from ...errors import StoreUnavailable
from .._migrations import missing
from ._migrations import SQLITE

T = TypeVar("T")
log = logging.getLogger("smsgate.store")


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply the SQLite migrations this file lacks, in one BEGIN IMMEDIATE transaction; the versions applied."""
    conn.execute("BEGIN IMMEDIATE")  # another process opening the file at once waits here, then finds it done
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at TEXT NOT NULL)")
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        done = []
        for migration in missing(applied, SQLITE):
            for statement in migration.statements:
                conn.execute(statement)
            if migration.step is not None:
                migration.step(conn)
            conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?,?,?)",
                         (migration.version, migration.name, _ts()))
            done.append(migration.version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done


_ANALYSIS_LIMIT = 1000


_FIRST_OPTIMIZE = 60.0


_OPTIMIZE_EVERY = 3600.0


def _optimize(conn: sqlite3.Connection) -> None:
    """`PRAGMA optimize`: refresh the planner's statistics of tables whose size changed much (SQLite's advice for
    long-lived connections). The plans do not depend on it (the indexes fit the queries either way); it keeps
    the planner's estimates of what it may choose among close."""
    try:
        conn.execute("PRAGMA optimize")
    except sqlite3.Error:
        log.exception("PRAGMA optimize failed")


def _settle(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in settled:
        if future.done():  # its caller was cancelled; the write itself stands
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def _use_wal(conn: sqlite3.Connection, wait: float = 10.0) -> None:
    """Switch a read-write connection's file to WAL, waiting while another process opens the same new file."""
    # switching a new file to WAL needs it to itself, and SQLite answers SQLITE_BUSY at once there, without its
    # busy handler: two processes opening one new file together (serve --split's two) must take turns
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _connect_readonly(path: str) -> sqlite3.Connection:
    """An existing database opened for reading only (a `mode=ro` URI): no schema, no journal change, no file made."""
    conn = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("SELECT 1 FROM messages LIMIT 1")  # not an smsgate database: say so at open, not at first read
    return conn


class _Writer:
    """One thread owns the connection; concurrent jobs are committed together (group commit)."""

    _STOP = object()

    def __init__(self, path: str, synchronous: str, readonly: bool = False) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ready: Future[None] = Future()
        # a reader takes no write lock: a deferred BEGIN, so it never holds up a running gateway's writes
        self._begin = "BEGIN" if readonly else "BEGIN IMMEDIATE"
        self._thread = threading.Thread(target=self._run, args=(path, synchronous, readonly), name="smsgate-store",
                                        daemon=True)
        self._thread.start()
        self._ready.result()

    def _run(self, path: str, synchronous: str, readonly: bool) -> None:
        try:
            if readonly:
                conn = _connect_readonly(path)
            else:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA busy_timeout=10000")
                _use_wal(conn)
                conn.execute(f"PRAGMA synchronous={synchronous}")
                # Savepoints (one per job of a group commit) keep the pages each job first changes in a
                # sub-journal, which SQLite spills to a temporary file past 64 KiB: two write() calls per page,
                # ~40 per message sent, more than the WAL itself. In memory it is a copy per page.
                conn.execute("PRAGMA temp_store=MEMORY")
                # statistics from a bounded sample: ANALYZE of a million rows in milliseconds, not seconds
                conn.execute(f"PRAGMA analysis_limit={_ANALYSIS_LIMIT}")
                migrate(conn)
        except Exception as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        next_optimize = time.monotonic() + _FIRST_OPTIMIZE
        while True:
            try:
                job = self._jobs.get(timeout=max(0.0, next_optimize - time.monotonic()))
            except queue.Empty:
                job = None
            if not readonly and time.monotonic() >= next_optimize:
                next_optimize = time.monotonic() + _OPTIMIZE_EVERY
                _optimize(conn)
            if job is None:
                continue
            if job is self._STOP:
                break
            batch = [job]
            while len(batch) < 512:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is self._STOP:
                    self._jobs.put(more)
                    break
                batch.append(more)
            self._execute(conn, batch)
        conn.close()

    def _execute(self, conn: sqlite3.Connection,
                 batch: list[tuple[Callable[[sqlite3.Connection], Any], Any, bool]]) -> None:
        results: list[tuple[Any, Any, BaseException | None]] | None = None
        if all(rerunnable for _fn, _waiter, rerunnable in batch):
            results = self._run_plain(conn, batch)
        if results is None:
            results = self._run_isolated(conn, batch)
        self._answer(results)

    def _run_plain(self, conn: sqlite3.Connection,
                   batch: list[tuple[Callable[[sqlite3.Connection], Any], Any, bool]]
                   ) -> list[tuple[Any, Any, BaseException | None]] | None:
        """A batch of jobs that may run twice, without a savepoint each (a savepoint journals every page its job
        first touches and costs two statements more, a quarter of an inbound message's writer time); None when
        a job failed, after rolling the whole batch back, so `_run_isolated` runs it again."""
        results: list[tuple[Any, Any, BaseException | None]] = []
        try:
            conn.execute(self._begin)
            for fn, waiter, _rerunnable in batch:
                results.append((waiter, fn(conn), None))
        except Exception:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return None
        try:
            conn.execute("COMMIT")
        except Exception as exc:  # as `_run_isolated`'s: nothing of the batch is stored, the callers answer 503
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failed = StoreUnavailable(f"{type(exc).__name__}: {exc}") if isinstance(exc, sqlite3.Error) else exc
            return [(waiter, None, failed) for _fn, waiter, _rerunnable in batch]
        return results

    def _run_isolated(self, conn: sqlite3.Connection,
                      batch: list[tuple[Callable[[sqlite3.Connection], Any], Any, bool]]
                      ) -> list[tuple[Any, Any, BaseException | None]]:
        """The batch with each job in a savepoint of its own, so one failing job fails alone."""
        results: list[tuple[Any, Any, BaseException | None]] = []
        try:
            conn.execute(self._begin)
            for fn, waiter, _rerunnable in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = fn(conn)
                except Exception as exc:  # one bad job must not undo its neighbours
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    if isinstance(exc, sqlite3.OperationalError):  # locked, disk I/O, full: not the job's fault
                        exc = StoreUnavailable(f"{type(exc).__name__}: {exc}")
                    results.append((waiter, None, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((waiter, value, None))
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # the commit itself failed (disk full, I/O error, locked past busy_timeout): nothing of the batch is
            # stored, and the callers answer 503 so aggregators retry
            failed = StoreUnavailable(f"{type(exc).__name__}: {exc}") if isinstance(exc, sqlite3.Error) else exc
            results = [(waiter, None, failed) for _fn, waiter, _rerunnable in batch]
        return results

    def _answer(self, results: list[tuple[Any, Any, BaseException | None]]) -> None:
        # Only now is the data on disk. Event-loop callers are woken with one call per loop and batch: a
        # call_soon_threadsafe per job (what asyncio.wrap_future does) wakes the loop once per job, which cost
        # as much of the writer thread's time as committing.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for waiter, value, error in results:
            if isinstance(waiter, Future):
                if error is not None:
                    waiter.set_exception(error)
                else:
                    waiter.set_result(value)
            else:
                loop, future = waiter
                by_loop.setdefault(loop, []).append((future, value, error))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # the loop closed while its caller waited: nobody is left to tell
                pass

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Queue `fn` for the writer thread; the returned future resolves once its transaction committed."""
        fut: Future[T] = Future()
        self._jobs.put((fn, fut, False))
        return fut

    def submit_async(self, fn: Callable[[sqlite3.Connection], T], *, rerunnable: bool = False
                     ) -> asyncio.Future[T]:
        """`submit` for the running event loop, without a concurrent future in between. `rerunnable`: `fn` only
        writes to the database (what else it changes comes out the same when it runs again), so a batch of
        such jobs may run without a savepoint each and be rolled back and run again when one fails."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, (loop, future), rerunnable))
        return future

    def stop(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(self._STOP)
            self._thread.join(timeout=30)


class _Readers:
    """Threads that read, each with a connection of its own (`query_only`): in WAL mode a read sees the last
    commit, never waits for the writer and never delays it, so a listing cannot stall callbacks being stored."""

    def __init__(self, path: str, threads: int = 2) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="smsgate-read")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn = self._conn()
            conn.execute("BEGIN")  # one snapshot for every statement of the read
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # locked, disk I/O: not the caller's fault
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from None

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)` on a reader thread, in one read transaction."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, fn)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
