"""Database plumbing shared by the sandbox CRM and ERP.

Both sandbox systems keep their records with SQLAlchemy 2.x (asyncio) in a database of their own,
SQLite by default and PostgreSQL (or anything SQLAlchemy speaks) when given its URL. This module
holds what they share:

* ``Database``: the engine, configured so that concurrent writers serialise correctly on SQLite
  (WAL, ``BEGIN IMMEDIATE`` for write transactions, statements run inline: ``sqlite_inline``)
  and PostgreSQL (row locks taken by the callers with ``SELECT ... FOR UPDATE``);
* ``UnitOfWork``: one transaction, rolled back unless committed;
* ``Database.run``: runs an operation in a unit of work, re-running it when a concurrent
  transaction took the same unique key first (the re-run then finds and returns the winner's row);
* ``ExactDecimal`` and ``UtcDateTime``: column types that round-trip ``Decimal`` and aware
  ``datetime`` values exactly on every backend;
* the translation of driver errors into ``domain.errors``, so no SQLAlchemy error ever leaves
  the adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, cast

from sqlalchemy import (
    DateTime,
    Dialect,
    MetaData,
    Numeric,
    String,
    exc,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from adapters.sandbox import sqlite_inline
from domain.errors import InvalidRecord, PeyvandError, SystemUnavailable

__all__ = [
    "Database",
    "SandboxSystem",
    "DuplicateKey",
    "ExactDecimal",
    "UnitOfWork",
    "UtcDateTime",
    "translate_error",
]

T = TypeVar("T")

CONFLICT_ATTEMPTS = 3
"""How often ``Database.run`` re-runs an operation that lost a race for a unique key."""


# PostgreSQL SQLSTATEs that mean "try again": serialization failure, deadlock, lock timeout,
# admin shutdown, crash shutdown, cannot connect now, too many connections.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"})


class DuplicateKey(InvalidRecord):
    """A unique key (an idempotency reference) was taken by a concurrent transaction.

    ``Database.run`` catches it and re-runs the operation, which then finds the committed row; it
    only escapes as an ``InvalidRecord`` when re-running does not help.
    """


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` column that round-trips exactly on every backend.

    PostgreSQL stores it as unconstrained ``NUMERIC`` (the value comes back with the scale it was
    written with). SQLite has no decimal type: its NUMERIC affinity turns values into binary
    floats, and SQLAlchemy warns about that, so the sandbox stores the decimal's text instead.
    Arithmetic and comparisons are done in Python, never in SQL, so text storage costs nothing.

    A stored value that is not a number comes back as the raw text, so that reading it into a
    record reports the field as invalid instead of failing somewhere inside the driver.
    """

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric())

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            value = Decimal(str(value))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return cast(Decimal, value)  # let the record's validation name the bad field

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no time zone, so a naive value read from it is UTC by construction.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs a timezone-aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


def translate_error(error: BaseException, system: str) -> PeyvandError:
    """The ``domain.errors`` kind of a driver or SQLAlchemy error.

    Args:
        error: What SQLAlchemy or the driver raised.
        system: "crm" or "erp", recorded on the domain error.

    Returns:
        ``DuplicateKey`` for a unique (or other integrity) violation, ``InvalidRecord`` for a value
        the database refuses, and ``SystemUnavailable`` for everything else: connection failures,
        timeouts, "database is locked", serialization failures and deadlocks are transient by
        nature, and a missing table or similar misconfiguration is fixed by an operator while
        the callers back off and retry, which is the behaviour wanted from a remote system.
    """
    if isinstance(error, exc.IntegrityError):
        return DuplicateKey(
            f"{system}: a unique key or integrity rule was violated",
            problems=[_orig(error)],
            system=system,
        )
    if isinstance(error, exc.DataError):
        return InvalidRecord(
            f"{system}: the database refused a value", problems=[_orig(error)], system=system
        )
    if isinstance(error, exc.DBAPIError):
        sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        reason = (
            "transient database error" if sqlstate in _TRANSIENT_SQLSTATES else "database error"
        )
        if error.connection_invalidated:
            reason = "connection to the database lost"
        return SystemUnavailable(f"{system}: {reason}: {_orig(error)}", system=system)
    if isinstance(error, exc.TimeoutError):
        return SystemUnavailable(f"{system}: no database connection free: {error}", system=system)
    return SystemUnavailable(f"{system}: database unavailable: {error!r}", system=system)


def _orig(error: exc.StatementError) -> str:
    """The driver's own message, without SQLAlchemy's statement dump (it may hold customer data)."""
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)


class UnitOfWork:
    """One database transaction: commit explicitly, or everything is rolled back.

    Obtained from ``Database.unit_of_work``.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.committed = False

    async def commit(self) -> None:
        """Commit the transaction; the unit of work is finished afterwards."""
        await self.session.commit()
        self.committed = True


class Database:
    """An async SQLAlchemy engine set up for correct concurrent use.

    Args:
        url: A SQLAlchemy URL: ``sqlite+aiosqlite:///path.db``, ``postgresql+asyncpg://…``.
        system: "crm" or "erp", named in the errors raised.

    Raises:
        ValueError: The URL is malformed or names a driver that is missing or not async.
    """

    def __init__(self, url: str, *, system: str) -> None:
        self.system = system
        try:
            parsed = make_url(url)
            self.is_sqlite = parsed.get_backend_name() == "sqlite"
            self.is_postgres = parsed.get_backend_name() == "postgresql"
            if self.is_sqlite:
                self.engine = create_async_engine(
                    parsed, async_creator=sqlite_inline.inline_creator(lambda: self.engine, parsed)
                )
                sqlite_inline.configure(self.engine)
            else:
                self.engine = create_async_engine(parsed, pool_pre_ping=True)
        except (exc.SQLAlchemyError, ImportError) as error:
            # A configuration mistake, found at start-up: not a domain error of any port call.
            raise ValueError(f"{system}: unusable database URL: {error}") from error
        # The same pool, but connections checked out through ``_writer`` carry an execution
        # option that the SQLite "begin" hook reads to take the write lock up front.
        self._writer = self.engine.execution_options(**{sqlite_inline.WRITE_OPTION: True})
        self._read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self._writer, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool) -> AsyncIterator[UnitOfWork]:
        """A transaction that is rolled back unless ``UnitOfWork.commit`` was called.

        Args:
            write: Whether the transaction writes. On SQLite a write transaction takes the
                database's write lock when it begins, so that two writers never both read the
                same stock and then both decrement it; read transactions do not block anyone.

        Raises:
            PeyvandError: Driver errors, translated by ``translate_error``; domain errors raised
                inside the block pass through unchanged.
        """
        maker = self._write_sessions if write else self._read_sessions
        # No lock of our own serialises SQLite writers: a transaction runs from BEGIN IMMEDIATE
        # to COMMIT without yielding to the event loop (``sqlite_inline``), so two transactions
        # of this process never overlap, and a queue here would only add a loop iteration per
        # hand-over.
        async with self._translated(), self._session(maker) as session:
            uow = UnitOfWork(session)
            try:
                yield uow
            finally:
                if not uow.committed:
                    await session.rollback()

    @asynccontextmanager
    async def _translated(self) -> AsyncIterator[None]:
        """Driver and SQLAlchemy errors raised inside become ``domain.errors``; domain errors
        raised by the caller pass through unchanged."""
        try:
            yield
        except exc.SQLAlchemyError as error:
            raise translate_error(error, self.system) from error
        except (OSError, TimeoutError) as error:
            # asyncpg reports a refused or dropped connection as a plain OSError.
            raise SystemUnavailable(
                f"{self.system}: cannot reach the database: {error}", system=self.system
            ) from error

    @asynccontextmanager
    async def _session(
        self, maker: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[AsyncSession]:
        if not self.is_sqlite:
            async with maker() as session:
                yield session
            return
        # The session's own exit closes it in a task of its own, shielded from cancellation,
        # which costs every call a trip through the event loop. On SQLite closing runs inline
        # and cannot be interrupted halfway, so it is simply awaited.
        session = maker()
        try:
            yield session
        finally:
            await session.close()

    async def run(
        self, operation: Callable[[AsyncSession], Awaitable[T]], *, write: bool = True
    ) -> T:
        """Run ``operation`` in a unit of work and commit it.

        When a concurrent transaction commits the same unique key (the same idempotency
        reference) first, the operation is run again in a fresh transaction: it then sees the
        committed row and returns it, which is exactly what the losing caller should get.

        Args:
            operation: Does the work with the session; must not commit itself, and must await
                nothing but the session: on SQLite a transaction that yields to the event loop
                while it holds the write lock stalls this process's other writers.
            write: See ``unit_of_work``.
        """

        async def attempt() -> T:
            async with self.unit_of_work(write=write) as uow:
                result = await operation(uow.session)
                await uow.commit()
            return result

        return await self._rerun_on_duplicate(attempt)

    async def run_core(
        self, operation: Callable[[AsyncConnection], Awaitable[T]], *, write: bool = True
    ) -> T:
        """``run`` for an operation that needs only Core statements.

        It gets a connection in a transaction instead of an ORM session, whose bookkeeping (the
        session, its transaction, the flush at commit) costs more than the statements of the
        calls an order makes. Re-run on a duplicate key, rollback unless it returns, and error
        translation are those of ``run``.

        Args:
            operation: Does the work with the connection; must not commit itself, and must await
                nothing but the connection (see ``run``: a SQLite writer holds the write lock).
            write: See ``unit_of_work``.
        """

        async def attempt() -> T:
            engine = self._writer if write else self.engine
            async with self._translated(), engine.connect() as conn, conn.begin():
                return await operation(conn)

        return await self._rerun_on_duplicate(attempt)

    async def _rerun_on_duplicate(self, attempt: Callable[[], Awaitable[T]]) -> T:
        for number in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return await attempt()
            except DuplicateKey as error:
                if number == CONFLICT_ATTEMPTS:
                    raise InvalidRecord(
                        error.message, problems=error.problems, system=self.system
                    ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def create_schema(self, metadata: MetaData) -> None:
        """Create the tables of ``metadata`` that are missing; safe to call concurrently."""
        async with self.unit_of_work(write=True) as uow:
            conn = await uow.session.connection()
            if self.is_postgres:
                # Two workers starting together would otherwise race to create the same tables.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:name))"),
                    {"name": f"peyvand-schema-{self.system}"},
                )
            await conn.run_sync(metadata.create_all)
            await uow.commit()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


class SandboxSystem:
    """What the sandbox CRM and ERP share: their own database and an emulated network delay.

    Args:
        url: SQLAlchemy URL of the system's own database, such as ``sqlite+aiosqlite:///x.db``.
        latency: Seconds every port call waits first, to behave like a remote system.

    Raises:
        ValueError: ``url`` is malformed or names a missing or non-async driver.
    """

    system: str = ""
    metadata: MetaData

    def __init__(self, url: str, *, latency: float = 0.0) -> None:
        self._db = Database(url, system=self.system)
        self.latency = latency

    async def _remote_call(self) -> None:
        if self.latency > 0:
            await asyncio.sleep(self.latency)

    async def create_schema(self) -> None:
        """Create the system's tables if they do not exist yet."""
        await self._db.create_schema(self.metadata)

    async def close(self) -> None:
        """Release the database connections."""
        await self._db.dispose()
