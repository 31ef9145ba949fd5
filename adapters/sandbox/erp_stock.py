"""Stock of the sandbox ERP: levels, replenishment, reservations and their release.

Each function is one transaction's worth of work on an ``AsyncSession``; ``SandboxERP`` runs it
through ``Database.run``. Stock rows are always locked (``FOR UPDATE``, in ``lock_stock``'s
order; on SQLite the transaction holds the write lock) before they are read for a decision, which
is what keeps concurrent reservations from overselling. The hot path, ``reserve``, writes with
Core statements: the ORM's flush cost more than the SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.erp_records import (
    SYSTEM,
    lock_stock,
    not_found,
    reservation_by_reference,
    reservation_lines,
    reservation_record,
    warehouses_in_order,
)
from adapters.sandbox.erp_schema import (
    ProductRow,
    ReservationLineRow,
    ReservationRow,
    StockRow,
    WarehouseRow,
)
from adapters.sandbox.statements import Executor, insert_once, table_of
from domain.errors import IdempotencyConflict, InsufficientStock, InvalidRecord, InvalidState
from domain.models import Reservation, ReservationRequest, ReservationStatus, StockLevel
from domain.money import ZERO
from domain.rules import allocate

_STOCK = table_of(StockRow)
_WAREHOUSES = table_of(WarehouseRow)
# Built once: building a statement costs more than running it on SQLite.
# A product's stock rows, locked in ``lock_stock``'s order, with each warehouse's place in the
# ERP's order: one statement where reading stock, then warehouses, took two.
_STOCK_OF_PRODUCT = (
    select(_STOCK.c.warehouse, _STOCK.c.on_hand, _STOCK.c.reserved, _WAREHOUSES.c.sort_order)
    .join(_WAREHOUSES, _WAREHOUSES.c.code == _STOCK.c.warehouse)
    .where(_STOCK.c.sku == bindparam("sku"))
    .order_by(_STOCK.c.sku, _STOCK.c.warehouse)
    .with_for_update(of=_STOCK)
)
_SET_RESERVED = (
    update(_STOCK)
    .where(_STOCK.c.sku == bindparam("s"), _STOCK.c.warehouse == bindparam("w"))
    .values(reserved=bindparam("level"))
)
_ADD_LINES = insert(table_of(ReservationLineRow))
_SET_RESERVATION = (
    update(table_of(ReservationRow))
    .where(table_of(ReservationRow).c.id == bindparam("i"))
    .values(status=bindparam("status"))
)


async def stock_levels(session: AsyncSession, skus: Sequence[str]) -> list[StockLevel]:
    """See ``SandboxERP.get_stock``."""
    wanted = list(dict.fromkeys(skus))
    order = {w.code: i for i, w in enumerate(await warehouses_in_order(session))}
    rows = list(await session.scalars(select(StockRow).where(StockRow.sku.in_(wanted))))
    rank = {sku: i for i, sku in enumerate(wanted)}
    rows.sort(key=lambda r: (rank[r.sku], order.get(r.warehouse, len(order))))
    return [
        StockLevel(sku=r.sku, warehouse=r.warehouse, on_hand=r.on_hand, reserved=r.reserved)
        for r in rows
    ]


async def set_stock(session: AsyncSession, sku: str, warehouse: str, on_hand: Decimal) -> None:
    """See ``SandboxERP.set_stock``."""
    if await session.get(ProductRow, sku) is None:
        raise not_found("product", sku)
    if await session.get(WarehouseRow, warehouse) is None:
        raise not_found("warehouse", warehouse)
    row = (await lock_stock(session, [sku])).get((sku, warehouse))
    reserved = row.reserved if row is not None else ZERO
    if on_hand < reserved:
        raise InvalidState(
            f"stock of {sku} in {warehouse} cannot go to {on_hand}: {reserved} is reserved",
            kind="stock",
            key=f"{sku}@{warehouse}",
            state=f"reserved={reserved}",
            system=SYSTEM,
        )
    if row is None:
        session.add(StockRow(sku=sku, warehouse=warehouse, on_hand=on_hand, reserved=ZERO))
    else:
        row.on_hand = on_hand


async def reserve(session: Executor, request: ReservationRequest) -> Reservation:
    """See ``SandboxERP.reserve``."""
    if request.quantity <= ZERO:
        existing = await reservation_by_reference(session, request.reference)
        if existing is None:
            raise InvalidRecord(
                f"reservation {request.reference}: quantity must be positive",
                problems=[f"quantity: must be positive, got {request.quantity}"],
                system=SYSTEM,
            )
        return await _the_same(session, existing, request)
    rows = (await session.execute(_STOCK_OF_PRODUCT, {"sku": request.sku})).all()
    # The reservation row next, in one statement that also settles idempotency; it is undone
    # with everything else when the stock is short. Without stock rows the product may not
    # exist, and the row would break its foreign key: look the reference up instead.
    reservation_id = None
    if rows:
        reservation_id = await insert_once(
            session,
            ReservationRow,
            {
                "reference": request.reference,
                "sku": request.sku,
                "quantity": request.quantity,
                "status": ReservationStatus.ACTIVE.value,
                "created_at": datetime.now(UTC),
            },
            "reference",
            returning="id",
        )
    if reservation_id is None:
        existing = await reservation_by_reference(session, request.reference)
        if existing is not None:
            return await _the_same(session, existing, request)

    in_erp_order = sorted(rows, key=lambda r: (r.sort_order, r.warehouse))
    available = [(r.warehouse, r.on_hand - r.reserved) for r in in_erp_order]
    lines = allocate(request.quantity, available, list(dict.fromkeys(request.warehouses)))
    if lines is None:
        total = sum((max(quantity, ZERO) for _, quantity in available), ZERO)
        raise InsufficientStock(
            f"only {total} of {request.quantity} {request.sku} available",
            sku=request.sku,
            requested=str(request.quantity),
            available=str(total),
            system=SYSTEM,
        )
    assert reservation_id is not None  # there is stock, so the row was inserted
    reserved = {r.warehouse: r.reserved for r in rows}
    # Decimals are stored as text on SQLite, so the new level is computed here, under the lock,
    # and written as a value (never ``reserved + :quantity`` in SQL).
    await session.execute(
        _SET_RESERVED,
        [
            {"s": request.sku, "w": ln.warehouse, "level": reserved[ln.warehouse] + ln.quantity}
            for ln in lines
        ],
    )
    await session.execute(
        _ADD_LINES,
        [
            {
                "reservation_id": reservation_id,
                "position": position,
                "warehouse": line.warehouse,
                "quantity": line.quantity,
            }
            for position, line in enumerate(lines)
        ],
    )
    return Reservation(
        reference=request.reference,
        sku=request.sku,
        quantity=request.quantity,
        lines=lines,
        status=ReservationStatus.ACTIVE,
    )


async def _the_same(
    session: Executor, existing: Row[Any], request: ReservationRequest
) -> Reservation:
    """The reservation already made under the request's reference, if it asked the same."""
    if existing.sku != request.sku or existing.quantity != request.quantity:
        raise IdempotencyConflict(
            f"reservation {request.reference} exists for {existing.quantity} "
            f"{existing.sku}, not {request.quantity} {request.sku}",
            reference=request.reference,
            system=SYSTEM,
        )
    return await reservation_record(session, existing)


async def release(session: AsyncSession, reference: str) -> Reservation | None:
    """See ``SandboxERP.release``."""
    row = await reservation_by_reference(session, reference, lock=True)
    if row is None:
        return None
    if row.status == ReservationStatus.CONSUMED.value:
        raise InvalidState(
            f"reservation {reference} is consumed (shipped)",
            kind="reservation",
            key=reference,
            state=row.status,
            system=SYSTEM,
        )
    if row.status == ReservationStatus.ACTIVE.value:
        stock = await lock_stock(session, [row.sku])
        for line in await reservation_lines(session, row):
            level = stock[(row.sku, line.warehouse)]
            level.reserved = level.reserved - line.quantity
        await session.execute(
            _SET_RESERVATION, {"i": row.id, "status": ReservationStatus.RELEASED.value}
        )
        released = await reservation_record(session, row)
        return released.model_copy(update={"status": ReservationStatus.RELEASED})
    return await reservation_record(session, row)
