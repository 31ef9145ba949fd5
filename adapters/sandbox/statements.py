"""Core statements for the sandbox's hot paths.

The ORM's unit of work (objects, a flush, the identity map) and building a statement anew for
every call each cost more than running the SQL on SQLite, so the calls an order makes write with
Core statements built once, executed with their parameters. These are the helpers they share.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Select, Table, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Executor = AsyncSession | AsyncConnection
"""What runs Core statements: an ORM session (``Database.run``) or a connection (``run_core``)."""

__all__ = ["Executor", "changed", "insert_once", "row_by", "table_of"]


def table_of(model: type[Any]) -> Table:
    """The table of a mapped class, for Core statements that skip the ORM's bookkeeping."""
    return cast(Table, model.__table__)


@functools.cache
def row_by(model: type[Any], column: str, lock: bool = False) -> Select[Any]:
    """A Core SELECT of ``model``'s table row whose ``column`` equals the parameter ``v``,
    ``FOR UPDATE`` when ``lock`` (PostgreSQL; a SQLite writer holds the database's lock).

    Reads that only look at a row take it as a Core row (attribute access by column name, the
    same column types) instead of an ORM object: no identity map, no instance to build.
    """
    table = table_of(model)
    query = select(table).where(table.c[column] == bindparam("v"))
    return query.with_for_update() if lock else query


async def changed(
    session: Executor, statement: Executable, parameters: dict[str, Any] | None = None
) -> int:
    """Execute an UPDATE or DELETE; how many rows it matched."""
    result = await session.execute(statement, parameters)
    return cast(CursorResult[Any], result).rowcount


async def insert_once(
    session: Executor,
    model: type[Any],
    values: dict[str, Any],
    key: str,
    returning: str,
) -> Any:
    """Insert a row unless one with the same unique ``key`` exists, in one statement.

    Args:
        returning: The column whose value for the new row is returned.

    Returns:
        ``returning`` of the new row, or None when the key was taken (the caller then reads the
        existing row). On PostgreSQL a concurrent insert of the same key that has not committed
        yet is waited for, so the answer is final and no ``DuplicateKey`` re-run is needed.
    """
    bind = session.get_bind() if isinstance(session, AsyncSession) else session
    dialect = bind.dialect.name
    statement = _insert_once(dialect, table_of(model), key, returning)
    if dialect not in ("sqlite", "postgresql"):
        # Other databases: look first; a concurrent duplicate still fails on the unique
        # constraint and ``Database.run`` re-runs the operation, which then finds the row.
        column = table_of(model).c[key]
        if await session.scalar(select(column).where(column == values[key])) is not None:
            return None
    return await session.scalar(statement, values)


@functools.cache
def _insert_once(dialect: str, table: Table, key: str, returning: str) -> Executable:
    """The statement of ``insert_once``, built once per table: building a statement costs more
    than running it on SQLite. Its columns are those of the parameters it is executed with."""
    column, result = table.c[key], table.c[returning]
    if dialect == "sqlite":
        lite = sqlite.insert(table).on_conflict_do_nothing(index_elements=[column])
        return lite.returning(result)
    if dialect == "postgresql":
        pg = postgresql.insert(table).on_conflict_do_nothing(index_elements=[column])
        return pg.returning(result)
    return insert(table).returning(result)
