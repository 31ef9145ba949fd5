"""The sandbox on SQLite waits for another process's write lock without stalling its event loop.

Its statements run on the event loop's thread (``adapters.sandbox.sqlite_inline``), so a wait
inside SQLite would stop everything else the worker does; ``BEGIN IMMEDIATE`` is retried with
``asyncio.sleep`` instead. A plain ``sqlite3`` connection holding the lock stands in for the CLI
or a second worker process.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest
from sqlalchemy.engine import make_url

from adapters.sandbox import SandboxERP, sqlite_inline
from domain.errors import SystemUnavailable
from domain.models import ErpProduct
from tests.conftest import DbFactory


@pytest.fixture
async def erp(make_db_url: DbFactory) -> AsyncIterator[SandboxERP]:
    impl = SandboxERP(await make_db_url("sqlite"))
    await impl.create_schema()
    yield impl
    await impl.close()


@pytest.fixture
def other_process(erp: SandboxERP) -> Iterator[sqlite3.Connection]:
    """A connection of "another process" holding the database's write lock."""
    path = make_url(str(erp._db.engine.url)).database
    assert path
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    yield conn
    conn.close()


async def test_a_writer_waits_for_the_lock_while_the_loop_runs_on(
    erp: SandboxERP, other_process: sqlite3.Connection
) -> None:
    write = asyncio.create_task(erp.upsert_warehouse("W1", "Warehouse 1", 2))
    longest_gap = 0.0
    for _ in range(20):
        before = time.monotonic()
        await asyncio.sleep(0.01)
        longest_gap = max(longest_gap, time.monotonic() - before)
    assert not write.done()
    # SQLite's own busy handler would have held the loop for its whole timeout (30 s); a busy
    # machine may delay a tick, never by seconds.
    assert longest_gap < 1.0

    other_process.execute("COMMIT")
    await asyncio.wait_for(write, timeout=5)

    await erp.upsert_product(
        ErpProduct(sku="SKU-1", name="Widget", list_price=Decimal("1.00"), currency="EUR")
    )
    await erp.set_stock("SKU-1", "W1", Decimal(5))  # RecordNotFound had the write been lost
    assert await erp.stock_snapshot() == {("SKU-1", "W1"): (Decimal(5), Decimal(0))}


async def test_a_writer_gives_up_after_the_busy_timeout(
    erp: SandboxERP, other_process: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inline, "SQLITE_BUSY_TIMEOUT_SECONDS", 0.2)

    with pytest.raises(SystemUnavailable, match="database is locked"):
        await erp.upsert_warehouse("W1", "Warehouse 1", 2)

    other_process.execute("ROLLBACK")
    await erp.upsert_warehouse("W1", "Warehouse 1", 2)  # the lock is free again


async def test_readers_are_not_held_up_by_the_lock(
    erp: SandboxERP, other_process: sqlite3.Connection
) -> None:
    assert await erp.customers_count() == 0  # WAL: a reader passes a held write lock
