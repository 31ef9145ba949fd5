"""Reading and locking the sandbox ERP's rows: the building blocks of ``SandboxERP``.

Lock order, kept by every operation so that PostgreSQL never deadlocks: sales order, then
return authorization, then restock or credit note, then reservations (by reference), then stock
rows (by SKU, then warehouse code), then a number range.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.erp_schema import (
    CounterRow,
    CustomerRow,
    ErpBase,
    InvoiceRow,
    ProductRow,
    ReservationLineRow,
    ReservationRow,
    SalesOrderRow,
    StockRow,
    WarehouseRow,
)
from adapters.sandbox.statements import Executor, row_by, table_of
from domain.errors import RecordNotFound
from domain.models import (
    ErpCustomer,
    ErpProduct,
    Invoice,
    InvoiceStatus,
    Reservation,
    ReservationLine,
    ReservationStatus,
    SalesOrder,
    SalesOrderStatus,
)

SYSTEM = "erp"

# Built once: building a statement costs more than running it on SQLite. Customers by external
# reference, tax id, then e-mail (case-insensitive); several matches give the lowest id.
FIND_CUSTOMER = [
    select(CustomerRow).where(column == bindparam("v")).order_by(CustomerRow.customer_id).limit(1)
    for column in (CustomerRow.external_ref, CustomerRow.tax_id, func.lower(CustomerRow.email))
]
# The reads an order makes select Core rows: the ORM's loading costs more than the query.
_INVOICES, _PRODUCTS = table_of(InvoiceRow), table_of(ProductRow)
OPEN_INVOICES = select(_INVOICES.c.total, _INVOICES.c.amount_paid).where(
    _INVOICES.c.customer_id == bindparam("c"), _INVOICES.c.status == InvoiceStatus.OPEN.value
)
PRODUCTS = select(_PRODUCTS).where(_PRODUCTS.c.sku.in_(bindparam("skus", expanding=True)))


def not_found(kind: str, key: str) -> RecordNotFound:
    """The ``RecordNotFound`` of an ERP record."""
    return RecordNotFound(f"ERP {kind} {key!r} not found", kind=kind, key=key, system=SYSTEM)


def customer_record(row: CustomerRow) -> ErpCustomer:
    """The port's view of a customer row."""
    return ErpCustomer(
        customer_id=row.customer_id,
        external_ref=row.external_ref,
        name=row.name,
        tax_id=row.tax_id,
        email=row.email,
        currency=row.currency,
        credit_limit=row.credit_limit,
        blocked=row.blocked,
    )


def product_record(row: ProductRow | Row[Any]) -> ErpProduct:
    """The port's view of a product row."""
    return ErpProduct(
        sku=row.sku,
        name=row.name,
        unit=row.unit,
        list_price=row.list_price,
        currency=row.currency,
        category=row.category,
        active=row.active,
    )


def sales_order_record(row: SalesOrderRow | Row[Any]) -> SalesOrder:
    """The port's view of a sales order row."""
    return SalesOrder(
        number=row.number,
        reference=row.reference,
        customer_id=row.customer_id,
        currency=row.currency,
        status=SalesOrderStatus(row.status),
        net=row.net,
        tax=row.tax,
        total=row.total,
        promised_date=row.promised_date,
        shipped_at=row.shipped_at,
    )


def invoice_record(row: InvoiceRow | Row[Any]) -> Invoice:
    """The port's view of an invoice row."""
    return Invoice(
        number=row.number,
        reference=row.reference,
        sales_order_number=row.sales_order_number,
        customer_id=row.customer_id,
        currency=row.currency,
        net=row.net,
        tax=row.tax,
        total=row.total,
        amount_paid=row.amount_paid,
        issued_on=row.issued_on,
        due_date=row.due_date,
        status=InvoiceStatus(row.status),
    )


async def reservation_lines(session: Executor, row: Row[Any]) -> list[Row[Any]]:
    """The per-warehouse lines of a reservation, in allocation order (Core rows)."""
    return list((await session.execute(_RESERVATION_LINES, {"r": row.id})).all())


_LINES = table_of(ReservationLineRow)
_RESERVATION_LINES = (
    select(_LINES).where(_LINES.c.reservation_id == bindparam("r")).order_by(_LINES.c.position)
)


async def reservation_record(session: Executor, row: Row[Any]) -> Reservation:
    """The port's view of a reservation row, with its lines."""
    lines = await reservation_lines(session, row)
    return Reservation(
        reference=row.reference,
        sku=row.sku,
        quantity=row.quantity,
        lines=[ReservationLine(warehouse=line.warehouse, quantity=line.quantity) for line in lines],
        status=ReservationStatus(row.status),
    )


async def reservation_by_reference(
    session: Executor, reference: str, *, lock: bool = False
) -> Row[Any] | None:
    """The reservation row made under ``reference``, locked for update when asked.

    A Core row, read only: changes go through Core UPDATEs.
    """
    found = await session.execute(row_by(ReservationRow, "reference", lock), {"v": reference})
    row: Row[Any] | None = found.first()
    return row


async def sales_order_by(
    session: Executor, *, number: str | None = None, reference: str | None = None, lock: bool
) -> Row[Any] | None:
    """The sales order row with the given number or reference, locked for update when asked.

    A Core row, read only: changes go through Core UPDATEs.
    """
    if (number is None) == (reference is None):
        raise ValueError("sales_order_by needs a number or a reference")
    column, value = ("number", number) if number is not None else ("reference", reference)
    found = await session.execute(row_by(SalesOrderRow, column, lock), {"v": value})
    row: Row[Any] | None = found.first()
    return row


async def lock_stock(session: AsyncSession, skus: Iterable[str]) -> dict[tuple[str, str], StockRow]:
    """Lock the stock rows of ``skus`` (PostgreSQL ``FOR UPDATE``; SQLite holds the write lock).

    The rows are locked in one fixed order, by SKU then warehouse code, so two transactions
    locking overlapping products wait for each other instead of deadlocking.
    """
    rows = await session.scalars(_LOCK_STOCK, {"skus": sorted(set(skus))})
    return {(row.sku, row.warehouse): row for row in rows}


async def lock_stock_rows(session: Executor, skus: Iterable[str]) -> dict[tuple[str, str], Any]:
    """``lock_stock`` for Core callers: the same rows, locks and order, as read-only Core rows
    (changes go through Core UPDATEs)."""
    rows = (await session.execute(_LOCK_STOCK_ROWS, {"skus": sorted(set(skus))})).all()
    return {(row.sku, row.warehouse): row for row in rows}


# Built once: building a statement costs more than running it on SQLite. Both lock the same
# rows in the same order, as ORM objects (``lock_stock``) or Core rows (``lock_stock_rows``).
def _locking(query: Select[Any]) -> Select[Any]:
    return (
        query.where(StockRow.sku.in_(bindparam("skus", expanding=True)))
        .order_by(StockRow.sku, StockRow.warehouse)
        .with_for_update()
    )


_LOCK_STOCK = _locking(select(StockRow)).execution_options(populate_existing=True)
_LOCK_STOCK_ROWS = _locking(select(table_of(StockRow)))


async def warehouses_in_order(session: AsyncSession) -> list[WarehouseRow]:
    """Every warehouse, in the ERP's own order."""
    rows = await session.scalars(
        select(WarehouseRow).order_by(WarehouseRow.sort_order, WarehouseRow.code)
    )
    return list(rows)


async def next_number(
    session: Executor,
    name: str,
    prefix: str,
    taken: type[ErpBase],
) -> str:
    """The next free number of a number range, such as "SO-000042".

    The range's row stays locked until the transaction ends, so numbers are handed out without
    gaps or duplicates: take the number as late in a transaction as possible. Numbers already
    used by records loaded from elsewhere (seeded customers) are skipped.
    """
    value = await session.scalar(_BUMP, {"n": name})
    if value is None:
        # First use of the range. A concurrent first use inserts the same row; the loser fails
        # on the primary key and re-runs (``Database.run``).
        await session.execute(insert(_RANGES), {"name": name, "value": 0})
        value = await session.scalar(_BUMP, {"n": name})
        assert value is not None
    free = value
    while await session.scalar(_taken(taken), {"k": f"{prefix}{free:06d}"}) is not None:
        free += 1
    if free != value:
        await session.execute(_SET_RANGE, {"n": name, "value": free})
    return f"{prefix}{free:06d}"


_RANGES = table_of(CounterRow)
# Built once: building a statement costs more than running it on SQLite. The increment locks
# the range's row, and integers, unlike the decimals, add exactly in SQL.
_BUMP = (
    update(_RANGES)
    .where(_RANGES.c.name == bindparam("n"))
    .values(value=_RANGES.c.value + 1)
    .returning(_RANGES.c.value)
)
_SET_RANGE = update(_RANGES).where(_RANGES.c.name == bindparam("n"))


@functools.cache
def _taken(model: type[ErpBase]) -> Select[Any]:
    key = inspect(model).primary_key[0]
    return select(key).where(key == bindparam("k"))


async def count_by_prefix(
    session: AsyncSession, columns: dict[str, Any], prefix: str
) -> dict[str, int]:
    """How many rows each reference column has that start with ``prefix``, by the dict's keys."""
    counts: dict[str, int] = {}
    for kind, column in columns.items():
        # Not LIKE: SQLite's LIKE ignores case, and references are case-sensitive.
        query = select(func.count()).where(func.substr(column, 1, len(prefix)) == prefix)
        counts[kind] = int(await session.scalar(query) or 0)
    return counts


def today() -> date:
    """The ERP's own today, used when a request carries no date."""
    return date.today()
