"""Reading and locking the sandbox ERP's rows: the building blocks of ``SandboxERP``.

Lock order, kept by every operation so that PostgreSQL never deadlocks: sales order, then
return authorization, then restock or credit note, then reservations (by reference), then stock
rows (by SKU, then warehouse code), then a number range.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
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


def product_record(row: ProductRow) -> ErpProduct:
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


def sales_order_record(row: SalesOrderRow) -> SalesOrder:
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


def invoice_record(row: InvoiceRow) -> Invoice:
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


async def reservation_lines(session: AsyncSession, row: ReservationRow) -> list[ReservationLineRow]:
    """The per-warehouse lines of a reservation, in allocation order."""
    lines = await session.scalars(
        select(ReservationLineRow)
        .where(ReservationLineRow.reservation_id == row.id)
        .order_by(ReservationLineRow.position)
    )
    return list(lines)


async def reservation_record(session: AsyncSession, row: ReservationRow) -> Reservation:
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
    session: AsyncSession, reference: str, *, lock: bool = False
) -> ReservationRow | None:
    """The reservation made under ``reference``, locked for update when asked."""
    query = select(ReservationRow).where(ReservationRow.reference == reference)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def sales_order_by(
    session: AsyncSession, *, number: str | None = None, reference: str | None = None, lock: bool
) -> SalesOrderRow | None:
    """The sales order with the given number or reference, locked for update when asked."""
    query = select(SalesOrderRow)
    if number is not None:
        query = query.where(SalesOrderRow.number == number)
    if reference is not None:
        query = query.where(SalesOrderRow.reference == reference)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def lock_stock(session: AsyncSession, skus: Iterable[str]) -> dict[tuple[str, str], StockRow]:
    """Lock the stock rows of ``skus`` (PostgreSQL ``FOR UPDATE``; SQLite holds the write lock).

    The rows are locked in one fixed order, by SKU then warehouse code, so two transactions
    locking overlapping products wait for each other instead of deadlocking.
    """
    rows = await session.scalars(
        select(StockRow)
        .where(StockRow.sku.in_(sorted(set(skus))))
        .order_by(StockRow.sku, StockRow.warehouse)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {(row.sku, row.warehouse): row for row in rows}


async def warehouses_in_order(session: AsyncSession) -> list[WarehouseRow]:
    """Every warehouse, in the ERP's own order."""
    rows = await session.scalars(
        select(WarehouseRow).order_by(WarehouseRow.sort_order, WarehouseRow.code)
    )
    return list(rows)


async def next_number(
    session: AsyncSession,
    name: str,
    prefix: str,
    taken: type[ErpBase],
) -> str:
    """The next free number of a number range, such as "SO-000042".

    The range's row stays locked until the transaction ends, so numbers are handed out without
    gaps or duplicates. Numbers already used by records loaded from elsewhere (seeded customers)
    are skipped.
    """
    counter = await session.get(CounterRow, name, with_for_update=True, populate_existing=True)
    if counter is None:
        # A concurrent first use inserts the same row; the loser re-runs (``Database.run``).
        counter = CounterRow(name=name, value=0)
        session.add(counter)
        await session.flush()
    value = counter.value
    while True:
        value += 1
        candidate = f"{prefix}{value:06d}"
        if await session.get(taken, candidate) is None:
            break
    counter.value = value
    return candidate


def today() -> date:
    """The ERP's own today, used when a request carries no date."""
    return date.today()
