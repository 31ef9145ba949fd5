"""SQLite for the sandbox: statements run on the event loop's own thread, transactions begin
explicitly, and a writer waiting for another process's write lock waits without blocking.

Why not aiosqlite's thread: it hands every cursor, execute, fetch and close to a thread of its own
and the result back through the event loop, three or four round trips per statement. A write
transaction holds SQLite's single write lock across all of them, so under load (the event loop
shared with a Temporal worker, dozens of calls in flight) the lock was held for dozens of loop
iterations per write, and every other writer queued behind that. The statements themselves take
microseconds on a local file, so running them inline holds the lock only for the CPU time the
transaction needs: a transaction never yields to the loop between its ``BEGIN`` and its
``COMMIT``, and no two transactions of one process ever meet at the file lock.

The one wait that can be long, for the write lock held by another process (the CLI, a second
worker), is not left to SQLite's busy handler, which would sleep inside the event loop: the
connection's busy timeout is short, and ``BEGIN IMMEDIATE`` is retried with ``asyncio.sleep``
until ``SQLITE_BUSY_TIMEOUT_SECONDS`` have passed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

__all__ = ["SQLITE_BUSY_TIMEOUT_SECONDS", "WRITE_OPTION", "configure", "inline_creator"]

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite writer waits for the write lock before giving up (then SystemUnavailable)."""

WRITE_OPTION = "peyvand_write"
"""Execution option of connections whose transactions take the write lock when they begin."""

# What SQLite's own busy handler may spend blocking the event loop: enough for the rare reader
# that meets a checkpoint or a closing connection, short enough not to stall other work.
_INLINE_BUSY_MS = 5
_BACKOFF_START, _BACKOFF_MAX = 0.001, 0.05


class _Cursor:
    """The subset of ``aiosqlite.Cursor`` SQLAlchemy's aiosqlite dialect uses, run inline."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> _Cursor:
        self._cursor.execute(sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _RunNow:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's dialect uses directly to set
    the isolation level: the request is carried out at once."""

    def __init__(self) -> None:
        self.closed = False

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller, as aiosqlite would
            future.set_exception(error)


class _Connection:
    """The subset of ``aiosqlite.Connection`` SQLAlchemy's aiosqlite dialect uses, run inline."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._tx = _RunNow()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # The dialect skips commit and rollback once this is gone (closed).
        return None if self._tx.closed else self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if not self._tx.closed:
            self._tx.closed = True
            self._conn.close()

    def stop(self) -> None:
        """Force-close (SQLAlchemy's terminate)."""
        if not self._tx.closed:
            self._tx.closed = True
            self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


def inline_creator(engine: Callable[[], AsyncEngine], url: URL) -> Callable[[], Any]:
    """The ``async_creator`` of an engine whose SQLite statements run inline.

    Args:
        engine: Gives the engine once it exists, whose dialect turns ``url`` into the arguments
            of ``sqlite3.connect`` exactly as the aiosqlite driver would.
        url: The engine's URL.
    """

    async def connect() -> _Connection:
        args, kwargs = engine().dialect.create_connect_args(url)
        # SQLAlchemy begins every transaction itself (see ``configure``); the pool may close a
        # connection from another thread (garbage collection), which must not raise.
        kwargs.update(isolation_level=None, check_same_thread=False)
        kwargs.pop("timeout", None)
        open_file: Callable[..., sqlite3.Connection] = sqlite3.connect
        return _Connection(open_file(*args, **kwargs))

    return connect


def configure(engine: AsyncEngine) -> None:
    """Pragmas on every new connection, and explicit, non-blocking transaction begins.

    The sqlite3 module begins transactions lazily and only before writes, so two transactions
    could both read the same stock level and only then compete for the write lock. Every
    transaction therefore begins explicitly: ``BEGIN IMMEDIATE`` (the write lock at once) for
    writers, a plain deferred ``BEGIN`` for readers. WAL lets readers proceed while a writer
    holds the lock.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # Switching a new file to WAL needs the lock for a moment; a process starting beside
            # another may wait for it here, once per connection.
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA busy_timeout = {_INLINE_BUSY_MS}")
            # In WAL mode NORMAL still survives a crash of the process; it skips an fsync per
            # commit, which is what made every ERP write wait on the disk.
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        raw = conn.connection.driver_connection
        assert isinstance(raw, _Connection)
        # Straight to the driver: BEGIN through SQLAlchemy costs more than the statement itself.
        if not conn.get_execution_options().get(WRITE_OPTION, False):
            raw._conn.execute("BEGIN")
            return
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
        delay = _BACKOFF_START
        while True:
            try:
                raw._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from error
            # Another process holds the write lock: wait for it without blocking the loop.
            await_only(asyncio.sleep(delay))
            delay = min(delay * 2, _BACKOFF_MAX)
